using System.Text.Json;
using System.Text.Json.Serialization;
using TrainGuard.Agent.Common;

namespace TrainGuard.Agent.Snapshots;

/// <summary>An account line of <c>/etc/passwd</c>.</summary>
public sealed record AccountState(string Name, long Uid, long Gid, string Home, string Shell);

/// <summary>A key in an account's authorized_keys.</summary>
public sealed record SshKeyState(string Account, string Path, int Line, string Type, string Fingerprint, string Options, string? Comment)
{
    [JsonIgnore]
    public string Key => $"{Path}|{Fingerprint}|{Options}";
}

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
            return JsonSerializer.Deserialize<NodeSnapshot>(File.ReadAllText(path), Json);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public void Save(string path) => DurableFile.WriteAllText(path, ToJson());
}
