using System.Globalization;
using System.Text.Json;
using TrainGuard.Server.Events;

namespace TrainGuard.Server.Alerts;

/// <summary>
/// What the alert deriver reads out of one stored event: who acted (login uid and names), where, on what (a signal's
/// target, a file, an account, a key, a checkpoint) and the fields the planted-key attribution joins on. Every string
/// is as stored (attacker-controlled); reason sentences and summaries escape it when they use it.
/// </summary>
public sealed record EventFacts
{
    /// <summary>The login uid the kernel uses when no login session set one.</summary>
    public const string UnsetLoginUid = "4294967295";

    public long Index { get; init; }

    public string EventId { get; init; } = string.Empty;

    public string Action { get; init; } = string.Empty;

    public DateTimeOffset? Timestamp { get; init; }

    /// <summary><c>event.ingested</c>: when the server received it (the server's clock).</summary>
    public DateTimeOffset? Ingested { get; init; }

    public string? Module { get; init; }

    public string? Outcome { get; init; }

    public string? Host { get; init; }

    /// <summary><c>user.audit.id</c> unless it is the unset login uid.</summary>
    public string? LoginUid { get; init; }

    public string? LoginName { get; init; }

    public string? UserId { get; init; }

    public string? UserName { get; init; }

    public long? SessionId { get; init; }

    public long? Pid { get; init; }

    public string? Executable { get; init; }

    public string? ProcessName { get; init; }

    public string? SignalName { get; init; }

    public long? TargetPid { get; init; }

    public string? TargetProcessName { get; init; }

    public string? TargetUserName { get; init; }

    public string? TargetLoginUid { get; init; }

    public string? FilePath { get; init; }

    public string? FileTargetPath { get; init; }

    public string? FileOwner { get; init; }

    public string? FileUid { get; init; }

    public string? TargetAccountName { get; init; }

    public string? TargetAccountId { get; init; }

    public bool UidZero { get; init; }

    public string? KeyFingerprint { get; init; }

    public string? KeyFile { get; init; }

    public string? KeyComment { get; init; }

    public string? LoginPhase { get; init; }

    public string? AuditKey { get; init; }

    public bool Baseline { get; init; }

    public string? Verdict { get; init; }

    public string? SourceAddress { get; init; }

    public string? FindingRule { get; init; }

    public string? Message { get; init; }

    /// <summary><c>trainguard.agent.interval_seconds</c> of an <c>agent-heartbeat</c>.</summary>
    public double? HeartbeatIntervalSeconds { get; init; }

    /// <summary>Set by the planted-key attribution: the account the session was logged in as (the key's file owner).</summary>
    public string? SessionUser { get; init; }

    /// <summary><c>direct</c>, or <c>planted-key</c> when the actor was found through a planted key.</summary>
    public string Attribution { get; init; } = AlertAttribution.Direct;

    /// <summary>
    /// The account behind the event: its login uid and name, else <c>user.name</c>, else (attribution
    /// <c>file-owner</c>) the owner of the file a finding is about.
    /// </summary>
    public (string? Name, string? LoginUid) Actor =>
        Attribution == AlertAttribution.FileOwner ? (FileOwner, null) : (LoginName ?? (LoginUid is null ? UserName : null), LoginUid);

    /// <summary>True when the actor acted with uid 0 (through sudo, a setuid program or a root login).</summary>
    public bool AsRoot => UserId == "0";

    /// <summary>The host name or a dash.</summary>
    public string HostOrDash => Host ?? "-";

    /// <summary>Reads the facts of one stored event (canonical JSON of one object).</summary>
    /// <exception cref="JsonException">Not one JSON object.</exception>
    public static EventFacts Read(long index, JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            throw new JsonException("an event is a JSON object");
        }

        var loginUid = Text(e, "user", "audit", "id");
        if (loginUid == UnsetLoginUid)
        {
            loginUid = null;
        }

        var facts = new EventFacts
        {
            Index = index,
            EventId = Text(e, "id") ?? string.Empty,
            Action = Text(e, "event", "action") ?? string.Empty,
            Timestamp = Time(Text(e, "@timestamp")),
            Ingested = Time(Text(e, "event", "ingested")),
            Module = Text(e, "event", "module"),
            Outcome = Text(e, "event", "outcome"),
            Host = Text(e, "host", "name"),
            LoginUid = loginUid,
            LoginName = loginUid is null ? null : Text(e, "user", "audit", "name"),
            UserId = Text(e, "user", "id"),
            UserName = Text(e, "user", "name"),
            SessionId = Number(e, "process", "session_id") is { } ses && ses != uint.MaxValue ? ses : null,
            Pid = Number(e, "process", "pid"),
            Executable = Text(e, "process", "executable"),
            ProcessName = Text(e, "process", "name"),
            SignalName = Text(e, "trainguard", "signal", "name"),
            TargetPid = Number(e, "trainguard", "target", "pid"),
            TargetProcessName = Text(e, "trainguard", "target", "name"),
            TargetUserName = Text(e, "trainguard", "target", "user", "audit", "name") ?? Text(e, "trainguard", "target", "user", "name"),
            TargetLoginUid = Text(e, "trainguard", "target", "user", "audit", "id"),
            FilePath = Text(e, "file", "path"),
            FileTargetPath = Text(e, "file", "target_path"),
            FileOwner = Text(e, "file", "owner"),
            FileUid = Text(e, "file", "uid"),
            TargetAccountName = Text(e, "user", "target", "name") ?? Text(e, "user", "target", "group", "name"),
            TargetAccountId = Text(e, "user", "target", "id") ?? Text(e, "user", "target", "group", "id"),
            UidZero = Flag(e, "trainguard", "uid_zero"),
            KeyFingerprint = Text(e, "trainguard", "ssh", "key_fingerprint"),
            KeyFile = Text(e, "trainguard", "ssh", "key_file"),
            KeyComment = Text(e, "trainguard", "ssh", "key_comment"),
            LoginPhase = Text(e, "trainguard", "login", "phase"),
            AuditKey = Text(e, "trainguard", "audit", "key"),
            Baseline = Flag(e, "trainguard", "snapshot", "baseline"),
            Verdict = Text(e, "trainguard", "scan", "verdict") ?? Text(e, "trainguard", "ckpt", "verdict") ?? Text(e, "trainguard", "finding", "verdict"),
            SourceAddress = Address(e),
            FindingRule = Text(e, "trainguard", "finding", "rule"),
            Message = Text(e, "message"),
            HeartbeatIntervalSeconds = Double(e, "trainguard", "agent", "interval_seconds"),
            SessionUser = Text(e, "trainguard", "attribution", "session_user"),
            Attribution = Text(e, "trainguard", "attribution", "kind") == AlertAttribution.PlantedKey ? AlertAttribution.PlantedKey : AlertAttribution.Direct,
        };
        return facts is { LoginUid: null, UserName: null, FileOwner: not null, Attribution: AlertAttribution.Direct } && AlertAttribution.ByFileOwner(facts.Action)
            ? facts with { Attribution = AlertAttribution.FileOwner }
            : facts;
    }

    /// <summary>The string at a path of nested objects (a number is given in its JSON text), or null.</summary>
    internal static string? Text(JsonElement e, params string[] path) =>
        Walk(e, path) is { } value
            ? value.ValueKind switch
            {
                JsonValueKind.String => value.GetString(),
                JsonValueKind.Number => value.GetRawText(),
                JsonValueKind.True => "true",
                JsonValueKind.False => "false",
                _ => null,
            }
            : null;

    internal static long? Number(JsonElement e, params string[] path) =>
        Walk(e, path) is { } value
            ? value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var n) ? n
            : value.ValueKind == JsonValueKind.String && long.TryParse(value.GetString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed) ? parsed
            : null
            : null;

    private static double? Double(JsonElement e, params string[] path) =>
        Walk(e, path) is { ValueKind: JsonValueKind.Number } value && value.TryGetDouble(out var d) && double.IsFinite(d) ? d : null;

    private static bool Flag(JsonElement e, params string[] path) => Walk(e, path) is { ValueKind: JsonValueKind.True };

    private static JsonElement? Walk(JsonElement e, string[] path)
    {
        var current = e;
        foreach (var name in path)
        {
            if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(name, out current))
            {
                return null;
            }
        }

        return current;
    }

    private static DateTimeOffset? Time(string? text) => text is not null && Rfc3339.TryParse(text, out var time) ? time : null;

    private static string? Address(JsonElement e)
    {
        var ip = Text(e, "source", "ip");
        var port = Text(e, "source", "port");
        return ip is null ? null : port is null ? ip : $"{ip}:{port}";
    }
}
