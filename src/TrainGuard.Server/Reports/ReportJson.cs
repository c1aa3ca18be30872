using System.Text.Json.Nodes;
using TrainGuard.Events;

namespace TrainGuard.Server.Reports;

/// <summary>The JSON form of an <see cref="AuditReport"/> (docs/report.md): snake_case members, RFC 3339 UTC times.</summary>
public static class ReportJson
{
    public static JsonObject ToJson(AuditReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var a = report.Alerts;
        var l = report.Ledger;
        var c = report.Checkpoints;
        return new JsonObject
        {
            ["schema_version"] = AuditReport.SchemaVersion,
            ["id"] = report.Id,
            ["since"] = Time(report.Since),
            ["until"] = Time(report.Until),
            ["generated_at"] = Time(report.GeneratedAt),
            ["origin"] = report.Origin,
            ["store"] = report.Store,
            ["alerts"] = new JsonObject
            {
                ["total"] = a.Total,
                ["truncated"] = a.Truncated,
                ["by_status"] = Counts(a.ByStatus),
                ["by_classification"] = Counts(a.ByClassification),
                ["by_severity"] = Counts(a.BySeverity),
                ["still_open"] = new JsonArray([.. a.StillOpen.Select(o => (JsonNode)new JsonObject
                {
                    ["id"] = o.Id,
                    ["rule_id"] = o.RuleId,
                    ["title"] = o.Title,
                    ["severity"] = o.Severity,
                    ["status"] = o.Status,
                    ["account"] = o.Account,
                    ["hosts"] = Strings(o.Hosts),
                    ["open_since"] = Time(o.OpenSince),
                    ["last_seen"] = Time(o.LastSeen),
                    ["count"] = o.Count,
                    ["reason"] = o.Reason,
                })]),
            },
            ["nodes"] = new JsonArray([.. report.Nodes.Select(n => (JsonNode)new JsonObject
            {
                ["host"] = n.Host,
                ["agent_health"] = n.AgentHealth,
                ["last_heartbeat"] = n.LastHeartbeat is { } beat ? Time(beat) : null,
                ["heartbeat_interval_seconds"] = n.HeartbeatIntervalSeconds,
                ["env_findings"] = n.EnvFindings,
                ["env_worst_verdict"] = n.EnvWorst,
                ["access_findings"] = n.AccessFindings,
                ["access_writers_added"] = n.AccessWritersAdded,
                ["access_accounts"] = Strings(n.AccessAccounts),
                ["alerts"] = n.Alerts,
            })]),
            ["checkpoints"] = new JsonObject
            {
                ["signed"] = c.Signed,
                ["verified"] = c.Verified,
                ["verify_failed"] = c.VerifyFailed,
                ["scanned"] = c.Scanned,
                ["problems"] = new JsonArray([.. c.Problems.Select(p => (JsonNode)new JsonObject
                {
                    ["at"] = Time(p.At),
                    ["host"] = p.Host,
                    ["action"] = p.Action,
                    ["path"] = p.Path,
                    ["verdict"] = p.Verdict,
                    ["rule"] = p.Rule,
                    ["owner"] = p.Owner,
                    ["ledger_index"] = p.LedgerIndex,
                })]),
            },
            ["ledger"] = new JsonObject
            {
                ["size_at_start"] = l.SizeAtStart,
                ["size_at_end"] = l.SizeAtEnd,
                ["growth"] = l.SizeAtEnd - l.SizeAtStart,
                ["tree_size"] = l.TreeSize,
                ["latest_tree_head_at"] = l.LatestTreeHeadAt is { } head ? Time(head) : null,
                ["tree_heads_in_period"] = l.TreeHeadsInPeriod,
                ["witnessed_size"] = l.WitnessedSize,
                ["witnesses"] = Strings(l.Witnesses),
                ["witnessed_at"] = l.WitnessedAt is { } w ? Time(w) : null,
                ["audit"] = new JsonObject
                {
                    ["verdict"] = l.AuditVerdict,
                    ["findings"] = l.AuditFindings,
                    ["messages"] = Strings(l.AuditMessages),
                    ["at"] = Time(l.AuditedAt),
                },
                ["reports_issued"] = l.ReportsIssued,
            },
            ["accounts"] = new JsonArray([.. report.Accounts.Select(x => (JsonNode)new JsonObject
            {
                ["name"] = x.Name,
                ["login_uid"] = x.LoginUid,
                ["alerts"] = x.Alerts,
                ["worst_severity"] = x.WorstSeverity,
                ["timeline_entries"] = x.TimelineEntries,
                ["headlines"] = new JsonArray([.. x.Headlines.Select(h => (JsonNode)new JsonObject
                {
                    ["at"] = Time(h.At),
                    ["host"] = h.Host,
                    ["summary"] = h.Summary,
                    ["rule_id"] = h.RuleId,
                })]),
            })]),
        };
    }

    private static string Time(DateTimeOffset value) => EventRecord.FormatTimestamp(value);

    private static JsonObject Counts(IReadOnlyList<(string Name, int Count)> counts)
    {
        var o = new JsonObject();
        foreach (var (name, count) in counts)
        {
            o[name] = count;
        }

        return o;
    }

    private static JsonArray Strings(IEnumerable<string> values) => new([.. values.Select(v => (JsonNode?)JsonValue.Create(v))]);
}
