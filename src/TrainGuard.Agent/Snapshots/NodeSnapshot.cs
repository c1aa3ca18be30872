using System.Text.Json;
using System.Text.Json.Serialization;
using TrainGuard.Agent.Common;
using TrainGuard.Parsing;

namespace TrainGuard.Agent.Snapshots;

/// <summary>An account line of <c>/etc/passwd</c>.</summary>
public sealed record AccountState(string Name, long Uid, long Gid, string Home, string Shell);

/// <summary>
/// A key in an account's authorized_keys, or a line there that is not a key the agent could parse (<see cref="Unparsed"/>
/// set, <see cref="Type"/> <c>unparsed</c>, <see cref="Fingerprint"/> <c>line-sha256:</c> + the line's hash).
/// </summary>
public sealed record SshKeyState(string Account, string Path, int Line, string Type, string Fingerprint, string Options, string? Comment)
{
    public const string UnparsedType = "unparsed";

    [JsonIgnore]
    public string Key => $"{Path}|{Fingerprint}|{Options}";

    /// <summary>Length of a line longer than 64 KiB (null for an ordinary line).</summary>
    public long? LineBytes { get; init; }

    /// <summary>Hex SHA-256 of a line longer than 64 KiB or of an unparsed line.</summary>
    public string? LineSha256 { get; init; }

    /// <summary>Why the line is not a key (null for a key).</summary>
    public string? Unparsed { get; init; }
}

/// <summary>An authorized_keys file that exists but cannot be read (a FIFO, a device, a link loop, permissions): its keys are unknown.</summary>
public sealed record KeyFileProblem(string Account, string Path, string Reason, string? Type);

/// <summary>A listening socket and its owning process (when found).</summary>
public sealed record SocketState(string Transport, string Address, int Port, long Inode, long Uid, long? Pid, string? Process, string? Executable)
{
    [JsonIgnore]
    public string Key => $"{Transport}|{Address}|{Port}";
}

/// <summary>A persistence file: crontab, systemd unit, sudoers drop-in, <c>/etc/ld.so.preload</c>.</summary>
public sealed record PersistenceFile(string Path, string Kind, string Sha256, long Size, long MtimeMs, string? LinkTarget, IReadOnlyList<string>? Lines);

/// <summary>One pass over a node's state (persisted in the state folder to diff the next pass against).</summary>
public sealed record NodeSnapshot
{
    public DateTimeOffset TakenAt { get; init; }

    public IReadOnlyList<AccountState> Accounts { get; init; } = [];

    public IReadOnlyList<SshKeyState> SshKeys { get; init; } = [];

    public IReadOnlyList<SocketState> Sockets { get; init; } = [];

    public IReadOnlyList<PersistenceFile> Persistence { get; init; } = [];

    /// <summary>Key files that exist but could not be read (their keys are carried over from the previous snapshot).</summary>
    public IReadOnlyList<KeyFileProblem> KeyFileProblems { get; init; } = [];

    /// <summary>The <c>AuthorizedKeysFile</c> patterns in effect (from <c>sshd_config</c> and its includes, plus sshd's defaults).</summary>
    public IReadOnlyList<string> AuthorizedKeysFiles { get; init; } = [];

    /// <summary>What could not be read (unreadable files, bad authorized_keys lines), for the heartbeat and --once.</summary>
    public IReadOnlyList<string> Problems { get; init; } = [];

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads a snapshot saved by <see cref="Save"/>; null when missing or unreadable (the next pass is then a baseline).</summary>
    public static NodeSnapshot? Load(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            return Parse(File.ReadAllText(path));
        }
        catch (MalformedInputException)
        {
            return null;
        }
    }

    /// <summary>
    /// Reads snapshot JSON. The state file lives on the node it describes, so it is checked like any other
    /// input: every list and name present, no persistence file listed twice (the diff keys files by path).
    /// </summary>
    /// <exception cref="MalformedInputException">Not JSON, or not a snapshot <see cref="SnapshotDiff"/> can compare.</exception>
    public static NodeSnapshot Parse(string json)
    {
        NodeSnapshot? snapshot;
        try
        {
            snapshot = JsonSerializer.Deserialize<NodeSnapshot>(json, Json);
        }
        catch (JsonException ex)
        {
            throw MalformedInputException.Create(InputErrorKind.Syntax, $"snapshot is not valid JSON: {ex.Message}", ex.BytePositionInLine, field: ex.Path, inner: ex);
        }

        if (snapshot is null)
        {
            return MalformedInputException.Throw<NodeSnapshot>(InputErrorKind.Syntax, "snapshot is JSON null, not an object");
        }

        Check(snapshot.Accounts, "accounts", a => a.Name is not null && a.Home is not null && a.Shell is not null, a => null);
        Check(snapshot.SshKeys, "ssh_keys", k => k.Account is not null && k.Path is not null && k.Type is not null && k.Fingerprint is not null && k.Options is not null, k => null);
        Check(snapshot.Sockets, "sockets", s => s.Transport is not null && s.Address is not null, s => null);
        Check(snapshot.Persistence, "persistence", f => f.Path is not null && f.Kind is not null && f.Sha256 is not null && (f.Lines is null || !f.Lines.Contains(null!)), f => f.Path);
        Check(snapshot.Problems, "problems", p => true, p => null);
        return snapshot;
    }

    /// <summary>Fuzz target: parsing a snapshot and diffing it throws nothing but <see cref="MalformedInputException"/>.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        var snapshot = Parse(System.Text.Encoding.UTF8.GetString(data));
        _ = SnapshotDiff.Diff(null, snapshot);
        _ = SnapshotDiff.Diff(new NodeSnapshot { TakenAt = snapshot.TakenAt }, snapshot);
        _ = SnapshotDiff.Diff(snapshot, new NodeSnapshot { TakenAt = snapshot.TakenAt });
        _ = Parse(snapshot.ToJson());
    }

    /// <summary>Every item present and complete; <paramref name="key"/> (null: any) is unique.</summary>
    private static void Check<T>(IReadOnlyList<T>? items, string field, Func<T, bool> complete, Func<T, string?> key)
    {
        if (items is null)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"snapshot field '{field}' is null, not a list", field: field);
        }

        var keys = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            if (item is null || !complete(item))
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, $"snapshot {field}[{i}] is null or lacks a required field", field: field);
            }

            if (key(item) is { } k && !keys.Add(k))
            {
                MalformedInputException.Throw(InputErrorKind.Corrupt, $"snapshot {field}[{i}] repeats '{k}'", field: field);
            }
        }
    }

    public void Save(string path) => DurableFile.WriteAllText(path, ToJson());
}
