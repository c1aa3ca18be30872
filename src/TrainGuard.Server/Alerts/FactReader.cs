using System.Globalization;
using System.Text;
using System.Text.Json;
using TrainGuard.Events;

namespace TrainGuard.Server.Alerts;

/// <summary>
/// One pass over an event's UTF-8 JSON with <see cref="Utf8JsonReader"/> that keeps the values of the fields
/// <see cref="EventFacts"/> needs and skips everything else: the field paths form a tree, each property name is
/// compared (as UTF-8, escapes honoured) with the names expected at its depth, and an object, array or value no path
/// leads into is skipped without being decoded. A field given twice keeps its last value, as a JSON object lookup does;
/// a path through a value that is not an object reads as absent.
/// </summary>
public static class FactReader
{
    /// <summary>The fields read, each with its dotted path in <see cref="Paths"/>.</summary>
    public enum Field
    {
        Id, Action, Timestamp, Ingested, Module, Outcome, Host, LoginUid, LoginName, UserId, UserName, SessionId, Pid,
        Executable, ProcessName, SignalName, TargetPid, TargetName, TargetUserAuditName, TargetUserName,
        TargetUserAuditId, FilePath, FileTargetPath, FileOwner, FileUid, AccountName, AccountGroupName, AccountId,
        AccountGroupId, UidZero, KeyFingerprint, KeyFile, KeyComment, LoginPhase, AuditKey, Baseline, ScanVerdict,
        CkptVerdict, FindingVerdict, SourceIp, SourcePort, FindingRule, Message, HeartbeatInterval, SessionUser,
        AttributionKind,
    }

    private static readonly string[] Paths =
    [
        "id", "event.action", "@timestamp", "event.ingested", "event.module", "event.outcome", "host.name", "user.audit.id",
        "user.audit.name", "user.id", "user.name", "process.session_id", "process.pid", "process.executable", "process.name",
        "trainguard.signal.name", "trainguard.target.pid", "trainguard.target.name", "trainguard.target.user.audit.name",
        "trainguard.target.user.name", "trainguard.target.user.audit.id", "file.path", "file.target_path", "file.owner",
        "file.uid", "user.target.name", "user.target.group.name", "user.target.id", "user.target.group.id",
        "trainguard.uid_zero", "trainguard.ssh.key_fingerprint", "trainguard.ssh.key_file", "trainguard.ssh.key_comment",
        "trainguard.login.phase", "trainguard.audit.key", "trainguard.snapshot.baseline", "trainguard.scan.verdict",
        "trainguard.ckpt.verdict", "trainguard.finding.verdict", "source.ip", "source.port", "trainguard.finding.rule",
        "message", "trainguard.agent.interval_seconds", "trainguard.attribution.session_user", "trainguard.attribution.kind",
    ];

    private static readonly Node Root = Build();

    /// <summary>The values of one event.</summary>
    /// <exception cref="JsonException">Not one JSON object, or malformed JSON.</exception>
    public static Values Read(ReadOnlySpan<byte> utf8)
    {
        var values = new Values(new string?[Paths.Length], new JsonValueKind[Paths.Length]);
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = CanonicalJson.MaxDepth });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException("an event is a JSON object");
        }

        Visit(ref reader, Root, values);
        if (reader.Read())
        {
            throw new JsonException("more than one JSON value");
        }

        return values;
    }

    private static void Visit(ref Utf8JsonReader reader, Node node, Values slots)
    {
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            Node? child = null;
            foreach (var candidate in node.Children)
            {
                if (reader.ValueTextEquals(candidate.Name))
                {
                    child = candidate;
                    break;
                }
            }

            reader.Read();
            if (child is null)
            {
                reader.Skip();
            }
            else if (reader.TokenType == JsonTokenType.StartObject && child.Children.Length > 0)
            {
                Visit(ref reader, child, slots);
            }
            else if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
            {
                reader.Skip();
                if (child.Slot >= 0)
                {
                    slots.Set(child.Slot, JsonValueKind.Undefined, null);
                }
            }
            else if (child.Slot >= 0)
            {
                Scalar(ref reader, child.Slot, slots);
            }
        }
    }

    private static void Scalar(ref Utf8JsonReader reader, int slot, Values slots)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                slots.Set(slot, JsonValueKind.String, reader.GetString());
                break;
            case JsonTokenType.Number:
                slots.Set(slot, JsonValueKind.Number, Encoding.UTF8.GetString(reader.ValueSpan));
                break;
            case JsonTokenType.True:
                slots.Set(slot, JsonValueKind.True, "true");
                break;
            case JsonTokenType.False:
                slots.Set(slot, JsonValueKind.False, "false");
                break;
            default:
                slots.Set(slot, JsonValueKind.Null, null);
                break;
        }
    }

    private static Node Build()
    {
        var root = new Builder(string.Empty);
        for (var slot = 0; slot < Paths.Length; slot++)
        {
            var current = root;
            foreach (var part in Paths[slot].Split('.'))
            {
                current = current.Child(part);
            }

            current.Slot = slot;
        }

        return root.Freeze();
    }

    /// <summary>The values of one event, by <see cref="Field"/>: each scalar's kind and text (a number's JSON text).</summary>
    public readonly struct Values(string?[] texts, JsonValueKind[] kinds)
    {
        /// <summary>A string, a number's JSON text, or <c>true</c>/<c>false</c>; null for anything else or nothing.</summary>
        public string? Text(Field field) => texts[(int)field];

        /// <summary>A whole number given as a number or as a decimal string (ids are strings).</summary>
        public long? Number(Field field) =>
            kinds[(int)field] is JsonValueKind.Number or JsonValueKind.String
            && long.TryParse(texts[(int)field], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? n : null;

        /// <summary>A finite number.</summary>
        public double? Double(Field field) =>
            kinds[(int)field] == JsonValueKind.Number && double.TryParse(texts[(int)field], NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) ? d : null;

        /// <summary>True only for the JSON literal <c>true</c>.</summary>
        public bool Flag(Field field) => kinds[(int)field] == JsonValueKind.True;

        internal void Set(int slot, JsonValueKind kind, string? text)
        {
            kinds[slot] = kind;
            texts[slot] = text;
        }
    }

    private sealed class Node(byte[] name, int slot, Node[] children)
    {
        public byte[] Name { get; } = name;

        public int Slot { get; } = slot;

        public Node[] Children { get; } = children;
    }

    private sealed class Builder(string name)
    {
        private readonly List<Builder> _children = [];

        public int Slot { get; set; } = -1;

        public Builder Child(string part)
        {
            var child = _children.Find(c => c.Name == part);
            if (child is null)
            {
                child = new Builder(part);
                _children.Add(child);
            }

            return child;
        }

        private string Name { get; } = name;

        public Node Freeze() => new(Encoding.UTF8.GetBytes(Name), Slot, [.. _children.Select(c => c.Freeze())]);
    }
}
