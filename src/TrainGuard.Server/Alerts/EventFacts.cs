using System.Globalization;
using System.Text.Json;
using TrainGuard.Server.Events;
using F = TrainGuard.Server.Alerts.FactReader.Field;

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
    public static EventFacts Read(long index, JsonElement e) =>
        e.ValueKind == JsonValueKind.Object
            ? Read(index, System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(e))
            : throw new JsonException("an event is a JSON object");

    /// <summary>
    /// Reads the facts of one stored event from its UTF-8 JSON in one pass (<see cref="FactReader"/>): no document is
    /// built, and only the fields listed there are turned into strings. The live deriver reads every committed event
    /// this way, so this is on its hot path.
    /// </summary>
    /// <exception cref="JsonException">Not one JSON object, or malformed JSON.</exception>
    public static EventFacts Read(long index, ReadOnlySpan<byte> utf8)
    {
        var v = FactReader.Read(utf8);
        var loginUid = v.Text(F.LoginUid);
        if (loginUid == UnsetLoginUid)
        {
            loginUid = null;
        }

        var ip = v.Text(F.SourceIp);
        var port = v.Text(F.SourcePort);
        var facts = new EventFacts
        {
            Index = index,
            EventId = v.Text(F.Id) ?? string.Empty,
            Action = v.Text(F.Action) ?? string.Empty,
            Timestamp = Time(v.Text(F.Timestamp)),
            Ingested = Time(v.Text(F.Ingested)),
            Module = v.Text(F.Module),
            Outcome = v.Text(F.Outcome),
            Host = v.Text(F.Host),
            LoginUid = loginUid,
            LoginName = loginUid is null ? null : v.Text(F.LoginName),
            UserId = v.Text(F.UserId),
            UserName = v.Text(F.UserName),
            SessionId = v.Number(F.SessionId) is { } ses && ses != uint.MaxValue ? ses : null,
            Pid = v.Number(F.Pid),
            Executable = v.Text(F.Executable),
            ProcessName = v.Text(F.ProcessName),
            SignalName = v.Text(F.SignalName),
            TargetPid = v.Number(F.TargetPid),
            TargetProcessName = v.Text(F.TargetName),
            TargetUserName = v.Text(F.TargetUserAuditName) ?? v.Text(F.TargetUserName),
            TargetLoginUid = v.Text(F.TargetUserAuditId),
            FilePath = v.Text(F.FilePath),
            FileTargetPath = v.Text(F.FileTargetPath),
            FileOwner = v.Text(F.FileOwner),
            FileUid = v.Text(F.FileUid),
            TargetAccountName = v.Text(F.AccountName) ?? v.Text(F.AccountGroupName),
            TargetAccountId = v.Text(F.AccountId) ?? v.Text(F.AccountGroupId),
            UidZero = v.Flag(F.UidZero),
            KeyFingerprint = v.Text(F.KeyFingerprint),
            KeyFile = v.Text(F.KeyFile),
            KeyComment = v.Text(F.KeyComment),
            LoginPhase = v.Text(F.LoginPhase),
            AuditKey = v.Text(F.AuditKey),
            Baseline = v.Flag(F.Baseline),
            Verdict = v.Text(F.ScanVerdict) ?? v.Text(F.CkptVerdict) ?? v.Text(F.FindingVerdict),
            SourceAddress = ip is null ? null : port is null ? ip : $"{ip}:{port}",
            FindingRule = v.Text(F.FindingRule),
            Message = v.Text(F.Message),
            HeartbeatIntervalSeconds = v.Double(F.HeartbeatInterval),
            SessionUser = v.Text(F.SessionUser),
            Attribution = v.Text(F.AttributionKind) == AlertAttribution.PlantedKey ? AlertAttribution.PlantedKey : AlertAttribution.Direct,
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
}
