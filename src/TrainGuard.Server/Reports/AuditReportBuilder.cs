using System.Security.Cryptography;
using System.Text.Json;
using TrainGuard.Findings;
using TrainGuard.Ledger.Notes;
using TrainGuard.Server.Alerts;
using TrainGuard.Server.Events;
using TrainGuard.Server.Storage;

namespace TrainGuard.Server.Reports;

/// <summary>Where a report reads from: the server's store, its alert tables, its witnesses' cosignatures and the log key.</summary>
public sealed record ReportSources(IServerStore Store, AlertStore Alerts, CosignatureStore Cosignatures, NoteVerifier LogKey, double SilentFactor = AlertServerOptions.DefaultSilentFactor);

/// <summary>
/// Builds an <see cref="AuditReport"/> from the store through the queries the API and dashboard use: the alert list
/// (<see cref="AlertStore.ListAsync"/>), the event index (<see cref="IServerStore.QueryAsync"/> by action and time),
/// the stored heartbeats, the tree heads and cosignatures, the timeline (<see cref="AlertTimeline.LoadAsync"/>) and
/// <c>ledger audit</c> (<see cref="ServerStoreAudit"/>), run at issuance. Read-only.
/// </summary>
public static class AuditReportBuilder
{
    /// <summary>Most alerts a report reads.</summary>
    public const int MaxAlerts = 10_000;

    /// <summary>Most events of one action a report reads.</summary>
    public const int MaxEventsPerAction = 100_000;

    /// <summary>Accounts listed with their timelines.</summary>
    public const int TopAccounts = 5;

    /// <summary>Headlines per account.</summary>
    public const int HeadlinesPerAccount = 6;

    private const int MaxProblems = 100;

    public static async Task<AuditReport> BuildAsync(ReportSources sources, DateTimeOffset since, DateTimeOffset until, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sources);
        if (until <= since)
        {
            throw new ArgumentException("the period must end after it starts", nameof(until));
        }

        var sinceUs = Rfc3339.ToUnixMicroseconds(since);
        var untilUs = Rfc3339.ToUnixMicroseconds(until);
        var (alerts, truncated) = await AlertsAsync(sources.Alerts, sinceUs, untilUs, cancellationToken);
        var events = new Dictionary<string, List<EventFacts>>(StringComparer.Ordinal);
        var allowed = new HashSet<long>();
        foreach (var action in new[] { "env-finding", "access-finding", "access-writer-added", "checkpoint-signed", "checkpoint-verified", "checkpoint-inspected", "artifact-scanned", ReportIssuedEvent.Action })
        {
            events[action] = await EventsAsync(sources.Store, action, sinceUs, untilUs, allowed, cancellationToken);
        }

        var heartbeats = await sources.Alerts.LoadHeartbeatsAsync(cancellationToken);
        return new AuditReport
        {
            Id = "rpt_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)),
            Since = since,
            Until = until,
            GeneratedAt = now,
            Origin = sources.LogKey.Name,
            Store = sources.Store.Description,
            Alerts = AlertSummary(alerts, truncated),
            Nodes = Nodes(alerts, events, allowed, heartbeats, sources.SilentFactor, now),
            Checkpoints = Checkpoints(events),
            Ledger = await LedgerAsync(sources, since, until, events[ReportIssuedEvent.Action].Count, now, cancellationToken),
            Accounts = await AccountsAsync(sources.Alerts, alerts, sinceUs, untilUs, cancellationToken),
        };
    }

    private static async Task<(List<Alert> Alerts, bool Truncated)> AlertsAsync(AlertStore store, long since, long until, CancellationToken cancellationToken)
    {
        var result = new List<Alert>();
        (long, string)? after = null;
        while (true)
        {
            var (page, next) = await store.ListAsync(new AlertQuery { AllStatuses = true, SinceMicros = since, UntilMicros = until, After = after, Limit = AlertQuery.MaxLimit }, cancellationToken);
            result.AddRange(page);
            if (next is null || page.Count == 0)
            {
                return (result, false);
            }

            if (result.Count >= MaxAlerts)
            {
                return (result, true);
            }

            after = (AlertStore.Micros(page[^1].LastSeen), page[^1].Id);
        }
    }

    /// <summary>The events of one action in the period (ledger order); the indexes of access events whose account the policy allows are added to <paramref name="allowed"/>.</summary>
    private static async Task<List<EventFacts>> EventsAsync(IServerStore store, string action, long since, long until, HashSet<long> allowed, CancellationToken cancellationToken)
    {
        var result = new List<EventFacts>();
        long? after = null;
        while (result.Count < MaxEventsPerAction)
        {
            var page = await store.QueryAsync(new EventQuery { Action = action, FromMicros = since, ToMicros = until, After = after, Limit = EventQuery.MaxLimit }, cancellationToken);
            foreach (var e in page)
            {
                using var document = JsonDocument.Parse(e.Entry);
                if (document.RootElement.ValueKind == JsonValueKind.Object)
                {
                    result.Add(EventFacts.Read(e.Index, document.RootElement));
                    if (AccessAllowed(document.RootElement))
                    {
                        allowed.Add(e.Index);
                    }
                }
            }

            if (page.Count < EventQuery.MaxLimit)
            {
                break;
            }

            after = page[^1].Index;
        }

        return result;
    }

    /// <summary><c>trainguard.access.allowed: true</c>.</summary>
    private static bool AccessAllowed(JsonElement e) =>
        e.TryGetProperty("trainguard", out var tg) && tg.ValueKind == JsonValueKind.Object && tg.TryGetProperty("access", out var access)
        && access.ValueKind == JsonValueKind.Object && access.TryGetProperty("allowed", out var allowed) && allowed.ValueKind == JsonValueKind.True;

    private static AlertSection AlertSummary(List<Alert> alerts, bool truncated) => new()
    {
        Total = alerts.Count,
        ByStatus = [.. AlertStatus.All.Select(s => (s, alerts.Count(a => a.Status == s)))],
        ByClassification = [.. alerts.Where(a => a.Status == AlertStatus.Closed).GroupBy(a => a.Classification ?? "none", StringComparer.Ordinal).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).Select(g => (g.Key, g.Count()))],
        BySeverity = [.. AlertSeverity.All.Reverse().Select(s => (s, alerts.Count(a => a.Severity == s)))],
        StillOpen = [.. alerts.Where(a => a.Status != AlertStatus.Closed)
            .OrderByDescending(a => a.SeverityRank).ThenBy(a => a.FirstSeen).ThenBy(a => a.Id, StringComparer.Ordinal)
            .Select(a => new OpenAlert(a.Id, a.Rule.Id, a.Rule.Title, a.Severity, a.Status, a.AccountName ?? a.LoginUid, [.. a.Hosts], a.FirstSeen, a.LastSeen, a.Count, a.Reason))],
        Truncated = truncated,
    };

    private static List<NodeSection> Nodes(List<Alert> alerts, Dictionary<string, List<EventFacts>> events, HashSet<long> allowed, List<AgentHeartbeat> heartbeats, double silentFactor, DateTimeOffset now)
    {
        var hosts = new SortedSet<string>(StringComparer.Ordinal);
        hosts.UnionWith(heartbeats.Select(b => b.Host));
        hosts.UnionWith(alerts.SelectMany(a => a.Hosts));
        hosts.UnionWith(events.Values.SelectMany(l => l).Where(e => e.Action != ReportIssuedEvent.Action).Select(e => e.Host).OfType<string>());
        var beats = heartbeats.GroupBy(b => b.Host, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.MaxBy(b => b.ReceivedAt)!, StringComparer.Ordinal);
        return [.. hosts.Select(host =>
        {
            var env = events["env-finding"].Where(e => e.Host == host).ToList();
            var access = events["access-finding"].Concat(events["access-writer-added"].Where(e => !allowed.Contains(e.Index))).Where(e => e.Host == host).ToList();
            var beat = beats.GetValueOrDefault(host);
            var health = beat is null ? "no heartbeat"
                : now - beat.ReceivedAt > TimeSpan.FromSeconds(beat.IntervalSeconds * silentFactor) ? "silent" : "reporting";
            return new NodeSection
            {
                Host = host,
                LastHeartbeat = beat?.ReceivedAt,
                HeartbeatIntervalSeconds = beat?.IntervalSeconds,
                AgentHealth = health,
                EnvFindings = env.Count,
                EnvWorst = env.Select(e => e.Verdict).OfType<string>().MaxBy(VerdictRank),
                AccessFindings = access.Count(e => e.Action == "access-finding"),
                AccessWritersAdded = access.Count(e => e.Action == "access-writer-added"),
                AccessAccounts = [.. access.Select(e => e.UserName).OfType<string>().Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)],
                Alerts = alerts.Count(a => a.Hosts.Contains(host)),
            };
        })];
    }

    private static int VerdictRank(string verdict) => verdict switch
    {
        "malicious" => 4,
        "suspicious" => 3,
        "error" => 2,
        "unknown" => 1,
        _ => 0,
    };

    private static CheckpointSection Checkpoints(Dictionary<string, List<EventFacts>> events)
    {
        var verified = events["checkpoint-verified"];
        var problems = verified.Where(e => e.Outcome == "failure")
            .Concat(events["artifact-scanned"].Where(e => e.Verdict is "malicious" or "suspicious"))
            .Concat(events["checkpoint-inspected"].Where(e => e.FindingRule is not null || e.Outcome == "failure"))
            .OrderBy(e => e.Timestamp).ThenBy(e => e.Index)
            .Take(MaxProblems)
            .Select(e => new CheckpointProblem(e.Timestamp ?? DateTimeOffset.UnixEpoch, e.Host, e.Action, e.FilePath, e.Verdict, e.FindingRule, e.FileOwner, e.Index))
            .ToList();
        return new CheckpointSection
        {
            Signed = events["checkpoint-signed"].Count,
            Verified = verified.Count,
            VerifyFailed = verified.Count(e => e.Outcome == "failure"),
            Scanned = events["artifact-scanned"].Count,
            Problems = problems,
        };
    }

    private static async Task<LedgerSection> LedgerAsync(ReportSources sources, DateTimeOffset since, DateTimeOffset until, int reports, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var heads = await sources.Store.Ledger.GetTreeHeadsAsync(cancellationToken);
        var size = await sources.Store.Ledger.SizeAsync(cancellationToken);
        var cosigned = await sources.Cosignatures.LatestAsync(cancellationToken);
        var audit = await ServerStoreAudit.AuditAsync(sources.Store, [sources.LogKey], cancellationToken);
        var findings = audit.Items.SelectMany(i => i.Findings).ToList();
        return new LedgerSection
        {
            SizeAtStart = heads.Where(h => h.CreatedAt < since).Select(h => h.TreeSize).DefaultIfEmpty(0).Max(),
            SizeAtEnd = heads.Where(h => h.CreatedAt < until).Select(h => h.TreeSize).DefaultIfEmpty(0).Max(),
            TreeSize = size,
            LatestTreeHeadAt = heads.Count == 0 ? null : heads[^1].CreatedAt,
            TreeHeadsInPeriod = heads.Count(h => h.CreatedAt >= since && h.CreatedAt < until),
            WitnessedSize = cosigned.Count == 0 ? null : cosigned[0].TreeSize,
            Witnesses = [.. cosigned.Select(c => c.Witness).Distinct(StringComparer.Ordinal)],
            WitnessedAt = cosigned.Count == 0 ? null : cosigned.Max(c => c.SignedAt),
            AuditVerdict = audit.Overall.ToWireName(),
            AuditFindings = findings.Count,
            AuditMessages = [.. findings.Take(5).Select(f => $"{f.RuleId}: {f.Message}")],
            AuditedAt = now,
            ReportsIssued = reports,
        };
    }

    private static async Task<List<AccountSection>> AccountsAsync(AlertStore store, List<Alert> alerts, long since, long until, CancellationToken cancellationToken)
    {
        var top = alerts.Where(a => a.AccountName is not null || a.LoginUid is not null)
            .GroupBy(a => a.AccountName ?? a.LoginUid!, StringComparer.Ordinal)
            .OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
            .Take(TopAccounts)
            .ToList();
        var result = new List<AccountSection>();
        foreach (var group in top)
        {
            var timeline = await AlertTimeline.LoadAsync(store, group.Key, null, since, until, 1000, cancellationToken);
            var entries = timeline?.Entries.Where(e => e.Kind == "event").ToList() ?? [];
            var alerted = entries.Where(e => e.AlertIds.Count > 0).ToList();
            var headlines = alerted.Count > 0 ? alerted : entries;
            result.Add(new AccountSection(
                group.Key,
                group.Select(a => a.LoginUid).FirstOrDefault(u => u is not null),
                group.Count(),
                group.MaxBy(a => a.SeverityRank)!.Severity,
                entries.Count,
                [.. headlines.Take(HeadlinesPerAccount).Select(e => new Headline(e.At, e.Host, e.Summary, e.RuleId))]));
        }

        return result;
    }
}
