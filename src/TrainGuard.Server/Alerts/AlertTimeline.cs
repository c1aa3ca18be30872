using System.Globalization;
using System.Text.Json;
using TrainGuard.Findings;

namespace TrainGuard.Server.Alerts;

/// <summary>
/// The timeline of one account (its login uids and names, events put on it through a planted key included) or one
/// host: its events and alerts in time order, with what it touched (victims) and what it added (keys, accounts).
/// </summary>
public sealed class AlertTimeline
{
    public const int DefaultLimit = 1000;
    public const int MaxLimit = 10_000;

    public required string Kind { get; init; }

    public required string Value { get; init; }

    public IReadOnlyList<string> LoginUids { get; init; } = [];

    public IReadOnlyList<string> Names { get; init; } = [];

    public List<TimelineEntry> Entries { get; } = [];

    public SortedSet<string> VictimUsers { get; } = new(StringComparer.Ordinal);

    public SortedSet<string> VictimRuns { get; } = new(StringComparer.Ordinal);

    public SortedSet<string> VictimProcesses { get; } = new(StringComparer.Ordinal);

    public SortedSet<string> VictimHosts { get; } = new(StringComparer.Ordinal);

    public SortedSet<string> VictimFiles { get; } = new(StringComparer.Ordinal);

    public SortedSet<string> AddedKeys { get; } = new(StringComparer.Ordinal);

    public SortedSet<string> AddedAccounts { get; } = new(StringComparer.Ordinal);

    public bool Truncated { get; set; }

    /// <summary>
    /// The timeline of an account (name or login uid) or a host, from the alert store's actor index: the same
    /// sequence of store calls as <c>GET /api/v1/timeline</c>. Null when no event matches.
    /// </summary>
    public static async Task<AlertTimeline?> LoadAsync(AlertStore store, string? user, string? host, long? since, long? until, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        List<string> uids = [], names = [];
        if (user is not null)
        {
            (uids, names) = await store.ResolveAccountAsync(user, cancellationToken);
        }

        var rows = await store.TimelineEventsAsync(uids, names, host, since, until, limit, cancellationToken);
        if (rows.Count == 0)
        {
            return null;
        }

        var truncated = rows.Count > limit;
        if (truncated)
        {
            rows.RemoveRange(limit, rows.Count - limit);
        }

        var alertIds = await store.AlertIdsByEventAsync(rows.Min(r => r.Index), rows.Max(r => r.Index), cancellationToken);
        var alerts = (await store.AlertsOfAsync(uids, names, host, cancellationToken))
            .Where(a => (since is null || AlertStore.Micros(a.LastSeen) >= since) && (until is null || AlertStore.Micros(a.FirstSeen) < until))
            .ToList();
        return Build(user is not null ? "user" : "host", user ?? host!, uids, names, rows, truncated, alertIds, alerts);
    }

    /// <summary>Builds the timeline from its events (in time order, at most the limit) and the alerts about it.</summary>
    public static AlertTimeline Build(string kind, string value, IReadOnlyList<string> loginUids, IReadOnlyList<string> names, IReadOnlyList<TimelineRow> rows, bool truncated, IReadOnlyDictionary<long, List<string>> alertIds, IReadOnlyList<Alert> alerts)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(alertIds);
        ArgumentNullException.ThrowIfNull(alerts);
        var timeline = new AlertTimeline { Kind = kind, Value = value, LoginUids = loginUids, Names = names, Truncated = truncated };
        var entries = new List<TimelineEntry>();
        foreach (var row in rows)
        {
            EventFacts facts;
            try
            {
                using var document = JsonDocument.Parse(row.Entry);
                facts = EventFacts.Read(row.Index, document.RootElement);
            }
            catch (JsonException)
            {
                continue;
            }

            var actor = row.Name ?? row.LoginUid ?? facts.Actor.Name ?? facts.Actor.LoginUid;
            var planted = row.Attribution == AlertAttribution.PlantedKey;
            facts = facts with { SessionUser = row.SessionUser };
            timeline.Touch(facts, actor, row.LoginUid ?? facts.LoginUid, planted);
            entries.Add(new TimelineEntry
            {
                At = AlertStore.FromMicros(row.TimestampMicros),
                Kind = "event",
                LedgerIndex = row.Index,
                EventId = facts.EventId,
                Host = facts.Host,
                Action = facts.Action,
                Summary = Summary(facts, actor, planted),
                AlertIds = alertIds.TryGetValue(row.Index, out var ids) ? ids : [],
            });
        }

        foreach (var alert in alerts)
        {
            entries.Add(new TimelineEntry
            {
                At = alert.FirstSeen,
                Kind = "alert",
                AlertId = alert.Id,
                RuleId = alert.Rule.Id,
                Severity = alert.Severity,
                Summary = alert.Reason,
            });
        }

        timeline.Entries.AddRange(entries.OrderBy(e => e.At).ThenBy(e => e.Kind == "alert" ? 1 : 0).ThenBy(e => e.LedgerIndex ?? long.MaxValue));
        return timeline;
    }

    /// <summary>One line saying what an event did, naming its actor (the planter for a planted-key session).</summary>
    public static string Summary(EventFacts e, string? actor, bool planted)
    {
        ArgumentNullException.ThrowIfNull(e);
        var who = Text(actor) ?? "an unknown account";
        if (planted && e.SessionUser is { } sessionUser && sessionUser != actor)
        {
            who += $" (as {Text(sessionUser)})";
        }

        var failed = e.Outcome == "failure" ? " (failed)" : string.Empty;
        return e.Action switch
        {
            "process-signal" => string.Create(CultureInfo.InvariantCulture, $"{who} sent {Text(e.SignalName) ?? "a signal"} to pid {e.TargetPid} ({Text(e.TargetUserName ?? e.TargetLoginUid) ?? "?"}, {Text(e.TargetProcessName) ?? "?"}){failed}"),
            "file-created" or "file-changed" or "file-deleted" or "file-renamed" =>
                $"{who} {e.Action["file-".Length..]} {Text(e.FilePath) ?? "a file"}{(e.FileTargetPath is { } target ? " -> " + Text(target) : string.Empty)}{failed}",
            "user-login" => $"{(planted ? $"{Text(actor)} logged in as {Text(e.SessionUser ?? e.UserName)} with a planted key" : $"{Text(e.UserName) ?? who} logged in")}{(e.LoginPhase is { } phase ? $" ({Text(phase)})" : string.Empty)}{(e.KeyFingerprint is { } key ? " with key " + Text(key) : string.Empty)}{(e.SourceAddress is { } from ? " from " + Text(from) : string.Empty)}{failed}",
            "user-logout" => $"{Text(e.UserName) ?? who} logged out{(e.LoginPhase is { } phase ? $" ({Text(phase)})" : string.Empty)}",
            "loginuid-changed" => $"login uid set by {Text(e.Executable) ?? "a process"} (pid {e.Pid}) in the session of {Text(e.UserName) ?? who}",
            "user-created" or "user-changed" or "user-deleted" =>
                $"{who} {e.Action["user-".Length..]} account {Text(e.TargetAccountName) ?? "?"}{(e.TargetAccountId is { } uid ? $" (uid {Text(uid)})" : string.Empty)}{failed}",
            "ssh-key-added" or "ssh-key-removed" => $"key {Text(e.KeyFingerprint) ?? "?"} {(e.Action == "ssh-key-added" ? "added to" : "removed from")} the authorized_keys of {Text(e.TargetAccountName) ?? "?"}",
            "artifact-scanned" => $"{Text(e.FilePath) ?? "a file"} scanned {Text(e.Verdict) ?? "?"}{OwnedBy(e, who)}",
            "env-finding" => $"env verify found {Text(e.FindingRule) ?? "a finding"} ({Text(e.Verdict) ?? "?"}) in {Text(e.FilePath) ?? "a file"}{OwnedBy(e, who)}",
            "checkpoint-inspected" or "checkpoint-verified" =>
                $"checkpoint {Text(e.FilePath) ?? "?"} {(e.Action == "checkpoint-inspected" ? "inspected" : "verified")}: {(e.FindingRule is { } rule ? $"{Text(rule)} ({Text(e.Verdict) ?? "?"})" : Text(e.Verdict) ?? "no finding")}{OwnedBy(e, who)}",
            "access-writer-added" or "access-writer-removed" or "access-finding" =>
                $"{who} {(e.Action == "access-writer-added" ? "can now" : e.Action == "access-finding" ? "can" : "can no longer")} modify {Text(e.FilePath) ?? "an asset"}{(e.FindingRule is { } accessRule ? $" ({Text(accessRule)})" : string.Empty)}",
            AlertStatusEvent.Action => Text(e.Message) ?? "alert status changed",
            _ => $"{who}: {Text(e.Action)}{(e.FilePath is { } path ? " " + Text(path) : string.Empty)}{failed}",
        };
    }

    /// <summary>", owned by intern7" when the event is on the timeline because its file is the account's (attribution <c>file-owner</c>).</summary>
    private static string OwnedBy(EventFacts e, string who) => e.Attribution == AlertAttribution.FileOwner ? $", owned by {who}" : string.Empty;

    /// <summary>Adds what one event touched or added to the victims and additions (other accounts only).</summary>
    private void Touch(EventFacts e, string? actor, string? actorUid, bool planted)
    {
        bool Other(string? name, string? uid) =>
            (name is not null && name != actor && name != "root") || (name is null && uid is not null && uid != actorUid && uid != "0");

        if (e.Host is { } host && (e.TargetPid is not null || e.Action.StartsWith("file-", StringComparison.Ordinal) || planted
            || (e.Attribution == AlertAttribution.FileOwner && e.Verdict is "malicious" or "suspicious")))
        {
            VictimHosts.Add(Text(host)!);
        }

        if (e.TargetPid is { } pid && Other(e.TargetUserName, e.TargetLoginUid))
        {
            VictimProcesses.Add(string.Create(CultureInfo.InvariantCulture, $"{pid} {Text(e.TargetProcessName) ?? "?"} ({Text(e.TargetUserName ?? e.TargetLoginUid)})"));
            VictimUsers.Add(Text(e.TargetUserName ?? e.TargetLoginUid)!);
        }

        var path = e.FileTargetPath ?? e.FilePath;
        if (path is not null && e.Action.StartsWith("file-", StringComparison.Ordinal) && e.Outcome != "failure" && Other(e.FileOwner, e.FileUid))
        {
            VictimFiles.Add(Text(path)!);
            if (e.FileOwner is { } owner)
            {
                VictimUsers.Add(Text(owner)!);
            }
        }

        if (path is not null && Run(path) is { } run && e.Action is "artifact-scanned" or "file-deleted" or "checkpoint-verified" or "checkpoint-inspected")
        {
            VictimRuns.Add(run);
        }

        if (planted && e.SessionUser is { } sessionUser && sessionUser != actor)
        {
            VictimUsers.Add(Text(sessionUser)!);
            if (e.KeyFingerprint is { } plantedKey)
            {
                AddedKeys.Add(Text(plantedKey)!);
            }
        }

        if (e.Action == "ssh-key-added" && e.KeyFingerprint is { } key && !e.Baseline)
        {
            AddedKeys.Add(Text(key)!);
        }

        if (e.Action == "user-created" && e.Outcome != "failure" && e.TargetAccountName is { } account)
        {
            AddedAccounts.Add(e.TargetAccountId is { } uid ? $"{Text(account)} (uid {Text(uid)})" : Text(account)!);
        }
    }

    /// <summary>The run a checkpoint path belongs to: the folder holding its <c>checkpoint-N</c> or <c>step-N</c> folder.</summary>
    private static string? Run(string path)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (var i = parts.Length - 1; i > 0; i--)
        {
            if (parts[i].StartsWith("checkpoint-", StringComparison.Ordinal) || parts[i].StartsWith("step-", StringComparison.Ordinal))
            {
                return Text(parts[i - 1]);
            }
        }

        return null;
    }

    private static string? Text(string? value) => value is null ? null : TextSanitizer.Escape(value, AlertFacts.MaxValueLength);

    /// <summary>Writes the timeline object of the API.</summary>
    public void Write(Utf8JsonWriter w)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.WriteStartObject();
        w.WriteStartObject("subject");
        w.WriteString("kind", Kind);
        w.WriteString("value", Value);
        Strings(w, "login_uids", LoginUids);
        Strings(w, "names", Names);
        w.WriteEndObject();
        w.WriteStartArray("entries");
        foreach (var entry in Entries)
        {
            entry.Write(w);
        }

        w.WriteEndArray();
        w.WriteStartObject("victims");
        Strings(w, "users", VictimUsers);
        Strings(w, "runs", VictimRuns);
        Strings(w, "processes", VictimProcesses);
        Strings(w, "hosts", VictimHosts);
        Strings(w, "files", VictimFiles);
        w.WriteEndObject();
        w.WriteStartObject("added");
        Strings(w, "keys", AddedKeys);
        Strings(w, "accounts", AddedAccounts);
        w.WriteEndObject();
        w.WriteBoolean("truncated", Truncated);
        w.WriteEndObject();
    }

    private static void Strings(Utf8JsonWriter w, string name, IEnumerable<string> values)
    {
        w.WriteStartArray(name);
        foreach (var value in values)
        {
            w.WriteStringValue(value);
        }

        w.WriteEndArray();
    }
}

/// <summary>One line of a timeline: an event (ledger index, host, action, summary, the alerts it is part of) or an alert.</summary>
public sealed record TimelineEntry
{
    public required DateTimeOffset At { get; init; }

    /// <summary><c>event</c> or <c>alert</c>.</summary>
    public required string Kind { get; init; }

    public long? LedgerIndex { get; init; }

    public string? EventId { get; init; }

    public string? Host { get; init; }

    public string? Action { get; init; }

    public required string Summary { get; init; }

    public IReadOnlyList<string> AlertIds { get; init; } = [];

    public string? AlertId { get; init; }

    public string? RuleId { get; init; }

    public string? Severity { get; init; }

    internal void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("at", AlertJson.Time(At));
        w.WriteString("kind", Kind);
        if (Kind == "event")
        {
            w.WriteNumber("ledger_index", LedgerIndex ?? -1);
            w.WriteString("event_id", EventId);
            if (Host is null)
            {
                w.WriteNull("host");
            }
            else
            {
                w.WriteString("host", Host);
            }

            w.WriteString("action", Action);
            w.WriteString("summary", Summary);
            w.WriteStartArray("alert_ids");
            foreach (var id in AlertIds)
            {
                w.WriteStringValue(id);
            }

            w.WriteEndArray();
        }
        else
        {
            w.WriteString("alert_id", AlertId);
            w.WriteString("rule_id", RuleId);
            w.WriteString("severity", Severity);
            w.WriteString("summary", Summary);
        }

        w.WriteEndObject();
    }
}
