using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using TrainGuard.Agent.Common;
using TrainGuard.Agent.Detections;
using TrainGuard.Agent.Spool;
using TrainGuard.Events;

namespace TrainGuard.Agent.Sshd;

/// <summary>
/// The sshd collector: <c>auth.log</c> / syslog lines (RFC 3164 or RFC 3339 timestamps),
/// <c>journalctl -o short-iso</c>, <c>journalctl -o export</c> entries and bare <c>sshd -e</c>
/// output in; <c>user-login</c> / <c>user-logout</c> events out. With <c>LogLevel VERBOSE</c>,
/// "Accepted key ... found at FILE:LINE" is joined to the next "Accepted publickey" of the same
/// sshd process, so the event names the authorized_keys line that let the login in.
/// </summary>
public sealed class SshdCollector
{
    public const string Module = "sshd";

    private const int MaxPendingKeys = 1024;
    private const int MaxExportFields = 256;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly SshdCollectorOptions _options;
    private readonly Action<EventRecord> _sink;
    private readonly Dictionary<long, PendingKey> _pendingKeys = [];
    private readonly DateTimeOffset _reference;
    private readonly TimeZoneInfo _zone;
    private Dictionary<string, string>? _exportEntry;
    private long _exportLine;
    private bool _exportBroken;

    public SshdCollector(SshdCollectorOptions options, Action<EventRecord> sink)
    {
        _options = options;
        _sink = sink;
        _reference = options.ReferenceTime ?? DateTimeOffset.UtcNow;
        _zone = options.TimeZone ?? TimeZoneInfo.Utc;
    }

    public CollectorStats Stats { get; } = new();

    /// <summary>The <c>__CURSOR</c> of the last journal entry read (where a journal follower resumes).</summary>
    public string? LastJournalCursor { get; private set; }

    /// <summary>Lines the journal shows were written by a program other than sshd (each one an <c>sshd-log-forged</c> alert).</summary>
    public long Forged { get; private set; }

    /// <summary>Feeds one line (without its line feed).</summary>
    public void ProcessLine(ReadOnlySpan<byte> bytes, long lineNumber, bool terminated = true)
    {
        Stats.Lines++;
        if (bytes.Length > _options.MaxLineLength)
        {
            Stats.AddError(_options.SourcePath, lineNumber, $"line longer than {_options.MaxLineLength} bytes");
            return;
        }

        string line;
        try
        {
            line = StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            Stats.AddError(_options.SourcePath, lineNumber, "line is not valid UTF-8");
            return;
        }

        if (_exportEntry is not null || IsExportField(line))
        {
            ExportLine(line, lineNumber);
            return;
        }

        if (line.StartsWith('{'))
        {
            JsonLine(bytes, lineNumber);
            return;
        }

        if (line.Length == 0)
        {
            return;
        }

        if (line.AsSpan().ContainsAnyInRange('\0', '\u0008') || line.AsSpan().ContainsAnyInRange('\u000e', '\u001f'))
        {
            Stats.AddError(_options.SourcePath, lineNumber, "line contains control characters");
            return;
        }

        if (!terminated && !line.Contains(' ', StringComparison.Ordinal))
        {
            Stats.AddError(_options.SourcePath, lineNumber, "last line cut short");
            return;
        }

        ParseSyslogLine(line, lineNumber);
    }

    /// <summary>Reads a whole stream through <see cref="ProcessLine"/> and flushes a pending export entry.</summary>
    public void ProcessStream(Stream stream)
    {
        var reader = new LineReader(_options.MaxLineLength) { OverlongHandler = n => { Stats.Lines++; Stats.AddError(_options.SourcePath, n, $"line longer than {_options.MaxLineLength} bytes"); } };
        reader.Read(stream, ProcessLine);
        Flush();
    }

    /// <summary>Ends a journal export entry that was not followed by a blank line.</summary>
    public void Flush()
    {
        if (_exportEntry is not null)
        {
            EndExportEntry();
        }
    }

    /// <summary>Fuzz target: feeds every line of <paramref name="data"/>; must never throw.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        var collector = new SshdCollector(new SshdCollectorOptions { HostName = "fuzz", ReferenceTime = DateTimeOffset.UnixEpoch.AddYears(50) }, static _ => { });
        long number = 0;
        while (!data.IsEmpty)
        {
            var nl = data.IndexOf((byte)'\n');
            var line = nl < 0 ? data : data[..nl];
            data = nl < 0 ? [] : data[(nl + 1)..];
            collector.ProcessLine(line, ++number, nl >= 0);
        }

        collector.Flush();
    }

    private static bool IsExportField(string line)
    {
        var eq = line.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0)
        {
            return false;
        }

        for (var i = 0; i < eq; i++)
        {
            var c = line[i];
            if (!(char.IsAsciiLetterUpper(c) || char.IsAsciiDigit(c) || c == '_'))
            {
                return false;
            }
        }

        return true;
    }

    private void ExportLine(string line, long lineNumber)
    {
        if (line.Length == 0)
        {
            EndExportEntry();
            return;
        }

        if (_exportEntry is null)
        {
            _exportEntry = new Dictionary<string, string>(StringComparer.Ordinal);
            _exportLine = lineNumber;
            _exportBroken = false;
        }

        var eq = line.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0 || !IsExportField(line))
        {
            // Binary fields (name, newline, 64-bit length, data) cannot be read line by line.
            if (!_exportBroken)
            {
                Stats.AddError(_options.SourcePath, lineNumber, "journal export field without '=' (binary field?); entry skipped");
            }

            _exportBroken = true;
            return;
        }

        if (_exportEntry.Count >= MaxExportFields)
        {
            if (!_exportBroken)
            {
                Stats.AddError(_options.SourcePath, lineNumber, $"journal export entry has more than {MaxExportFields} fields; entry skipped");
            }

            _exportBroken = true;
            return;
        }

        _exportEntry[line[..eq]] = line[(eq + 1)..];
    }

    private void EndExportEntry()
    {
        var entry = _exportEntry!;
        _exportEntry = null;
        if (_exportBroken)
        {
            return;
        }

        JournalEntry(entry, _exportLine);
    }

    /// <summary>One entry of <c>journalctl -o json</c>: string fields, binary ones as arrays of byte values.</summary>
    private void JsonLine(ReadOnlySpan<byte> bytes, long lineNumber)
    {
        var entry = new Dictionary<string, string>(StringComparer.Ordinal);
        var ambiguous = new List<string>();
        try
        {
            using var doc = JsonDocument.Parse(bytes.ToArray(), new JsonDocumentOptions { MaxDepth = 4 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                Stats.AddError(_options.SourcePath, lineNumber, "journal JSON line is not an object");
                return;
            }

            foreach (var field in doc.RootElement.EnumerateObject())
            {
                if (entry.Count >= MaxExportFields)
                {
                    Stats.AddError(_options.SourcePath, lineNumber, $"journal JSON entry has more than {MaxExportFields} fields; entry skipped");
                    return;
                }

                if (field.Value.ValueKind == JsonValueKind.String)
                {
                    entry[field.Name] = field.Value.GetString()!;
                }
                else if (field.Value.ValueKind == JsonValueKind.Array && BinaryField(field.Value) is { } decoded)
                {
                    entry[field.Name] = decoded;
                }
                else if (field.Value.ValueKind != JsonValueKind.Null)
                {
                    // A field with several values: never trusted, never guessed.
                    ambiguous.Add(field.Name);
                }
            }
        }
        catch (JsonException ex)
        {
            Stats.AddError(_options.SourcePath, lineNumber, $"not a journal JSON entry ({ex.Message})");
            return;
        }

        JournalEntry(entry, lineNumber, ambiguous);
    }

    /// <summary>A binary journal field (<c>[104, 105]</c>) as UTF-8 text; null when it is not one or not valid UTF-8.</summary>
    private static string? BinaryField(JsonElement array)
    {
        var bytes = new List<byte>();
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetByte(out var b))
            {
                return null;
            }

            bytes.Add(b);
        }

        try
        {
            return StrictUtf8.GetString(bytes.ToArray());
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    /// <summary>A journal entry (export or JSON format): the program it claims, and what journald itself recorded about the sender.</summary>
    private void JournalEntry(Dictionary<string, string> entry, long lineNumber, IReadOnlyList<string>? ambiguous = null)
    {
        if (entry.GetValueOrDefault("__CURSOR") is { } cursor)
        {
            LastJournalCursor = cursor;
        }

        var program = entry.GetValueOrDefault("SYSLOG_IDENTIFIER") ?? entry.GetValueOrDefault("_COMM");
        if (program is null || !_options.Programs.Contains(program) || !entry.TryGetValue("MESSAGE", out var message))
        {
            return;
        }

        if (!entry.TryGetValue("__REALTIME_TIMESTAMP", out var realtime)
            || !long.TryParse(realtime, NumberStyles.None, CultureInfo.InvariantCulture, out var micros)
            || micros > 253402300799_000_000)
        {
            Stats.AddError(_options.SourcePath, lineNumber, "journal entry without a valid __REALTIME_TIMESTAMP");
            return;
        }

        long? pid = long.TryParse(entry.GetValueOrDefault("_PID") ?? entry.GetValueOrDefault("SYSLOG_PID"), NumberStyles.None, CultureInfo.InvariantCulture, out var p) ? p : null;
        Stats.Records++;
        var line = new SshdLine(DateTimeOffset.UnixEpoch.AddTicks(micros * 10), false, entry.GetValueOrDefault("_HOSTNAME"), program, pid, message, lineNumber)
        {
            Source = SourceTrust.FromJournal(entry, _options.Programs, ambiguous ?? []),
        };
        Interpret(line);
    }

    private void ParseSyslogLine(string text, long lineNumber)
    {
        var span = text.AsSpan();
        DateTimeOffset timestamp;
        int used;
        var inferred = false;
        if (SyslogTimestamp.TryParseRfc3339(span, out timestamp, out used) || SyslogTimestamp.TryParseRfc3164(span, _reference, _zone, out timestamp, out used))
        {
            var rest = span[used..].TrimStart(' ');
            var hostEnd = rest.IndexOf(' ');
            if (hostEnd <= 0)
            {
                Stats.AddError(_options.SourcePath, lineNumber, "syslog line without host and program after the timestamp");
                return;
            }

            var host = rest[..hostEnd].ToString();
            rest = rest[(hostEnd + 1)..];
            var colon = rest.IndexOf(": ");
            if (colon <= 0)
            {
                Stats.AddError(_options.SourcePath, lineNumber, "syslog line without 'program[pid]: ' before the message");
                return;
            }

            var tag = rest[..colon];
            long? pid = null;
            var bracket = tag.IndexOf('[');
            if (bracket > 0 && tag[^1] == ']')
            {
                if (long.TryParse(tag[(bracket + 1)..^1], NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
                {
                    pid = parsed;
                }

                tag = tag[..bracket];
            }

            var program = tag.ToString();
            if (!_options.Programs.Contains(program))
            {
                return;
            }

            Stats.Records++;
            Interpret(new SshdLine(timestamp, inferred, host, program, pid, rest[(colon + 2)..].ToString(), lineNumber));
            return;
        }

        // No timestamp: sshd's own stderr (sshd -D -e), as captured by a wrapper or container log.
        Stats.Records++;
        inferred = true;
        Interpret(new SshdLine(_reference, inferred, null, "sshd", null, text, lineNumber));
    }

    private void Interpret(SshdLine line)
    {
        var m = line.Message;
        var pidKey = line.Pid ?? -1;
        if (m.StartsWith("Accepted key ", StringComparison.Ordinal))
        {
            if (line.Source.Forged)
            {
                // Not remembered for the join: a forged line must not decide which key a real login used.
                Emit(NewEvent(line, EventActions.UserLogin, "info", EventOutcomes.Unknown, "key-found"), line);
                return;
            }

            // Accepted key ED25519 SHA256:xxx found at /home/alice/.ssh/authorized_keys:3
            var parts = m.Split(' ', 6);
            var at = m.IndexOf(" found at ", StringComparison.Ordinal);
            if (parts.Length < 6 || at < 0)
            {
                Stats.AddError(_options.SourcePath, line.Number, "unreadable 'Accepted key' line");
                return;
            }

            var location = m[(at + 10)..];
            var colon = location.LastIndexOf(':');
            long? keyLine = colon > 0 && long.TryParse(location.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;
            var file = keyLine is null ? location : location[..colon];
            if (_pendingKeys.Count >= MaxPendingKeys)
            {
                _pendingKeys.Clear();
            }

            _pendingKeys[pidKey] = new PendingKey(parts[2], parts[3], file, keyLine);
            return;
        }

        if (m.StartsWith("Accepted ", StringComparison.Ordinal) && !m.StartsWith("Accepted certificate", StringComparison.Ordinal))
        {
            if (!TryParseAuth(m, "Accepted ".Length, out var method, out var user, out var ip, out var port, out var tail))
            {
                Stats.AddError(_options.SourcePath, line.Number, "unreadable 'Accepted' line");
                return;
            }

            var e = NewEvent(line, EventActions.UserLogin, "start", EventOutcomes.Success, "authentication");
            SetAuth(e, method, user, ip, port);
            var colon = tail.IndexOf(": ", StringComparison.Ordinal);
            if (colon >= 0)
            {
                var key = tail[(colon + 2)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (key.Length >= 2)
                {
                    e.Set("trainguard.ssh.key_type", key[0]);
                    e.Set("trainguard.ssh.key_fingerprint", key[1]);
                }
            }

            if (method == "publickey" && _pendingKeys.Remove(pidKey, out var pending)
                && (e.GetString("trainguard.ssh.key_fingerprint") is not { } fp || fp == pending.Fingerprint))
            {
                e.Set("trainguard.ssh.key_fingerprint", pending.Fingerprint);
                e.Set("trainguard.ssh.key_type", pending.KeyType);
                e.Set("trainguard.ssh.key_file", pending.File);
                if (pending.Line is { } keyLine)
                {
                    e.Set("trainguard.ssh.key_line", keyLine);
                }
            }

            Emit(e, line);
            return;
        }

        if (m.StartsWith("Failed ", StringComparison.Ordinal) && m.Contains(" for ", StringComparison.Ordinal))
        {
            if (!TryParseAuth(m, "Failed ".Length, out var method, out var user, out var ip, out var port, out _))
            {
                Stats.AddError(_options.SourcePath, line.Number, "unreadable 'Failed' line");
                return;
            }

            var invalid = user.StartsWith("invalid user ", StringComparison.Ordinal);
            var e = NewEvent(line, EventActions.UserLogin, "info", EventOutcomes.Failure, "authentication");
            SetAuth(e, method, invalid ? user["invalid user ".Length..] : user, ip, port);
            if (invalid)
            {
                e.Set("trainguard.ssh.invalid_user", true);
            }

            Emit(e, line);
            return;
        }

        if (m.StartsWith("Invalid user ", StringComparison.Ordinal))
        {
            var from = m.LastIndexOf(" from ", StringComparison.Ordinal);
            if (from < "Invalid user".Length)
            {
                Stats.AddError(_options.SourcePath, line.Number, "unreadable 'Invalid user' line");
                return;
            }

            var user = m[Math.Min("Invalid user ".Length, from)..from];
            var (ip, port) = AddressAndPort(m[(from + 6)..]);
            var e = NewEvent(line, EventActions.UserLogin, "info", EventOutcomes.Failure, "authentication");
            SetAuth(e, null, user, ip, port);
            e.Set("trainguard.ssh.invalid_user", true);
            Emit(e, line);
            return;
        }

        if (m.StartsWith("Disconnected from user ", StringComparison.Ordinal))
        {
            // Disconnected from user alice 127.0.0.1 port 42332
            var rest = m["Disconnected from user ".Length..];
            var portAt = rest.LastIndexOf(" port ", StringComparison.Ordinal);
            var ipAt = portAt > 0 ? rest.LastIndexOf(' ', portAt - 1) : -1;
            if (ipAt <= 0)
            {
                Stats.AddError(_options.SourcePath, line.Number, "unreadable 'Disconnected from user' line");
                return;
            }

            var (ip, port) = AddressAndPort(rest[(ipAt + 1)..]);
            var e = NewEvent(line, EventActions.UserLogout, "end", EventOutcomes.Success, "disconnect");
            SetAuth(e, null, rest[..ipAt], ip, port);
            Emit(e, line);
            return;
        }

        const string PamPrefix = "pam_unix(";
        if (m.StartsWith(PamPrefix, StringComparison.Ordinal) && m.Contains(":session): session ", StringComparison.Ordinal))
        {
            var opened = m.Contains("session opened for user ", StringComparison.Ordinal);
            var closed = m.Contains("session closed for user ", StringComparison.Ordinal);
            if (!opened && !closed)
            {
                return;
            }

            var start = m.IndexOf(" for user ", StringComparison.Ordinal) + 10;
            var end = m.IndexOf(' ', start);
            var user = end < 0 ? m[start..] : m[start..end];
            long? uid = null;
            var paren = user.IndexOf("(uid=", StringComparison.Ordinal);
            if (paren > 0 && user.EndsWith(')'))
            {
                uid = long.TryParse(user.AsSpan(paren + 5, user.Length - paren - 6), NumberStyles.None, CultureInfo.InvariantCulture, out var u) ? u : null;
                user = user[..paren];
            }

            var e = opened
                ? NewEvent(line, EventActions.UserLogin, "start", EventOutcomes.Success, "session-open")
                : NewEvent(line, EventActions.UserLogout, "end", EventOutcomes.Success, "session-close");
            e.Set("user.name", user);
            if (uid is { } id)
            {
                e.Set("user.id", id.ToString(CultureInfo.InvariantCulture));
            }

            Emit(e, line);
        }
    }

    /// <summary>"METHOD for USER from IP port PORT ssh2[: KEY...]" starting at <paramref name="start"/>.</summary>
    private static bool TryParseAuth(string m, int start, out string method, out string user, out string ip, out long? port, out string tail)
    {
        method = user = ip = tail = string.Empty;
        port = null;
        var forAt = m.IndexOf(" for ", start, StringComparison.Ordinal);
        var fromAt = m.LastIndexOf(" from ", StringComparison.Ordinal);
        if (forAt <= start || fromAt < forAt + 5)
        {
            return false;
        }

        method = m[start..forAt];
        user = m[(forAt + 5)..fromAt];
        tail = m[(fromAt + 6)..];
        (ip, port) = AddressAndPort(tail);
        return ip.Length > 0;
    }

    /// <summary>"1.2.3.4 port 5 ssh2..." -> ("1.2.3.4", 5).</summary>
    private static (string Ip, long? Port) AddressAndPort(string text)
    {
        var parts = text.Split(' ', 4);
        var ip = parts[0];
        long? port = parts.Length >= 2 && parts[1] == "port" && parts.Length >= 3
            && long.TryParse(parts[2].TrimEnd(':'), NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p <= 65535 ? p : null;
        return (ip, port);
    }

    private static void SetAuth(EventRecord e, string? method, string user, string ip, long? port)
    {
        if (method is not null)
        {
            e.Set("trainguard.ssh.method", method);
        }

        e.Set("user.name", user);
        if (IPAddress.TryParse(ip, out var address))
        {
            e.Set("source.ip", address.ToString());
        }
        else if (ip.Length > 0)
        {
            e.Set("source.domain", ip);
        }

        if (port is { } p)
        {
            e.Set("source.port", p);
        }
    }

    private EventRecord NewEvent(SshdLine line, string action, string type, string outcome, string phase)
    {
        var host = line.Host ?? _options.HostName ?? "unknown";
        var stamp = EventRecord.FormatTimestamp(line.Timestamp);
        var key = line.TimestampInferred
            ? $"sshd|{host}|{_options.SourcePath}|{line.Number}|{line.Message}"
            : $"sshd|{host}|{stamp}|{line.Pid}|{line.Message}";
        var e = new EventRecord(line.Timestamp, action, EventKinds.Event, UuidV7.FromKey(line.Timestamp, Encoding.UTF8.GetBytes(key)));
        e.Set(EventFields.Category, ["authentication"]);
        e.Set(EventFields.Type, [type]);
        e.Set(EventFields.Outcome, outcome);
        e.Set(EventFields.Module, Module);
        e.Set(EventFields.Dataset, Module);
        e.Set(EventFields.HostName, host);
        if (_options.HostId is { } hostId)
        {
            e.Set(EventFields.HostId, hostId);
        }

        if (_options.AgentId is { } agentId)
        {
            e.Set(EventFields.AgentId, agentId);
        }

        e.Set(EventFields.AgentVersion, ToolInfo.Version);
        e.Set("process.name", line.Program);
        if (line.Pid is { } pid)
        {
            e.Set("process.pid", pid);
        }

        e.Set("trainguard.login.phase", phase);
        e.Set("trainguard.sshd.line", line.Number);
        if (line.TimestampInferred)
        {
            e.Set("trainguard.timestamp_inferred", true);
        }

        if (_options.SourcePath is { } path)
        {
            e.Set("log.file.path", path);
        }

        var source = line.Source;
        e.Set("trainguard.source.kind", source.Kind);
        e.Set("trainguard.source.verified", source.Verified);
        e.Set("trainguard.source.reason", source.Reason);
        if (source.Kind == "journal")
        {
            e.Set("trainguard.source.journal.uid", source.Uid);
            e.Set("trainguard.source.journal.pid", source.Pid);
            e.Set("trainguard.source.journal.exe", source.Executable);
            e.Set("trainguard.source.journal.comm", source.Command);
            e.Set("trainguard.source.journal.unit", source.Unit);
        }

        return e;
    }

    private void Emit(EventRecord e, SshdLine line)
    {
        if (line.Source.Forged)
        {
            Forge(e, line.Source);
        }

        Stats.Events++;
        _sink(AgentDetections.Default.Annotate(e));
    }

    /// <summary>
    /// Turns what a forged line claims (a login for alice) into an alert about who wrote it: the claim moves under
    /// <c>trainguard.claimed.*</c>, the actor is the journal's trusted sender.
    /// </summary>
    private void Forge(EventRecord e, SourceTrust source)
    {
        Forged++;
        e.Set("trainguard.claimed.action", e.Action);
        e.Set("trainguard.claimed.user.name", e.GetString("user.name"));
        e.Set("trainguard.claimed.user.id", e.GetString("user.id"));
        e.Set("trainguard.claimed.outcome", e.GetString(EventFields.Outcome));
        e.Set("trainguard.claimed.program", e.GetString("process.name"));
        e.Set("trainguard.claimed.pid", source.ClaimedPid);
        e.Remove("user");
        e.Remove("process");
        e.Set(EventFields.Action, AgentActions.SshdLogForged);
        e.Set(EventFields.Kind, EventKinds.Alert);
        e.Set(EventFields.Category, ["authentication", "intrusion_detection"]);
        e.Set(EventFields.Type, ["info"]);
        e.Set(EventFields.Outcome, EventOutcomes.Unknown);
        e.Set("trainguard.forged", true);
        e.Set("user.id", source.Uid);
        if (long.TryParse(source.Pid, NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
        {
            e.Set("process.pid", pid);
        }

        e.Set("process.executable", source.Executable);
        e.Set("process.name", source.Command);
    }

    private sealed record SshdLine(DateTimeOffset Timestamp, bool TimestampInferred, string? Host, string Program, long? Pid, string Message, long Number)
    {
        public SourceTrust Source { get; init; } = SourceTrust.Syslog;
    }

    private sealed record PendingKey(string KeyType, string Fingerprint, string File, long? Line);
}
