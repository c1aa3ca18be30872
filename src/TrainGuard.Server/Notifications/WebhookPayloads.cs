using System.Buffers;
using System.Globalization;
using System.Text.Json;
using TrainGuard.Server.Alerts;

namespace TrainGuard.Server.Notifications;

/// <summary>
/// The bodies a target receives, rendered once when the message is queued (every retry sends the same bytes).
/// Standard mode: <c>{"type", "timestamp", "data"}</c> with <c>data</c> the alert in snake_case; Slack mode:
/// <see cref="SlackMessage"/>. Strings from events are JSON-escaped by the writer and never interpreted.
/// </summary>
public static class WebhookPayloads
{
    public const string AlertOpened = "alert.opened";
    public const string AlertUpdated = "alert.updated";
    public const string AlertStatusChanged = "alert.status_changed";
    public const string Test = "webhook.test";
    public const string ReportIssued = "report.issued";

    /// <summary>The contributing events a payload lists at most (<c>count</c> keeps the total): bodies stay well under 20 KB.</summary>
    public const int MaxEvents = 50;

    public static string EventType(AlertNotificationKind kind) => kind switch
    {
        AlertNotificationKind.Opened => AlertOpened,
        AlertNotificationKind.Updated => AlertUpdated,
        AlertNotificationKind.StatusChanged => AlertStatusChanged,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown alert notification kind"),
    };

    /// <summary>The body for <paramref name="mode"/> telling of <paramref name="alert"/>, sent at <paramref name="timestamp"/>.</summary>
    public static byte[] Alert(WebhookMode mode, AlertNotification alert, DateTimeOffset timestamp)
    {
        ArgumentNullException.ThrowIfNull(alert);
        return mode == WebhookMode.Slack
            ? SlackMessage.Alert(alert)
            : Standard(EventType(alert.Kind), timestamp, w => WriteAlert(w, alert));
    }

    /// <summary>The body of <c>trainguard server webhook test</c>.</summary>
    public static byte[] TestMessage(WebhookMode mode, string targetName, DateTimeOffset timestamp) => mode == WebhookMode.Slack
        ? SlackMessage.Test(targetName)
        : Standard(Test, timestamp, w =>
        {
            w.WriteStartObject();
            w.WriteString("target", targetName);
            w.WriteString("message", "A test message from TrainGuard: this target receives alert notifications.");
            w.WriteEndObject();
        });

    /// <summary>
    /// The body telling that a scheduled report was issued: its id, period, the summary figures, and for each file
    /// (HTML, JSON) its SHA-256 and the ledger entry recording it, so a receiver can check the file it fetches.
    /// </summary>
    public static byte[] Report(WebhookMode mode, Reports.IssuedReport html, Reports.IssuedReport json, DateTimeOffset timestamp)
    {
        ArgumentNullException.ThrowIfNull(html);
        ArgumentNullException.ThrowIfNull(json);
        var r = html.Report;
        return mode == WebhookMode.Slack
            ? SlackMessage.Report(html)
            : Standard(ReportIssued, timestamp, w =>
            {
                w.WriteStartObject();
                w.WriteString("id", r.Id);
                w.WriteString("since", Timestamp(r.Since));
                w.WriteString("until", Timestamp(r.Until));
                w.WriteStartObject("summary");
                w.WriteNumber("alerts", r.Alerts.Total);
                w.WriteNumber("still_open", r.Alerts.StillOpen.Count);
                w.WriteStartObject("by_severity");
                foreach (var (severity, count) in r.Alerts.BySeverity)
                {
                    w.WriteNumber(severity, count);
                }

                w.WriteEndObject();
                w.WriteNumber("nodes", r.Nodes.Count);
                w.WriteNumber("nodes_not_reporting", r.Nodes.Count(n => n.AgentHealth != "reporting"));
                w.WriteNumber("checkpoints_failed", r.Checkpoints.Problems.Count);
                w.WriteNumber("ledger_size", r.Ledger.TreeSize);
                w.WriteString("ledger_audit", r.Ledger.AuditVerdict);
                w.WriteEndObject();
                w.WriteStartArray("files");
                foreach (var file in new[] { html, json })
                {
                    w.WriteStartObject();
                    w.WriteString("format", file.Format);
                    w.WriteString("sha256", file.Sha256);
                    w.WriteNumber("ledger_index", file.LedgerIndex);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            });
    }

    /// <summary>RFC 3339 UTC with microseconds, as in the Standard Webhooks examples.</summary>
    public static string Timestamp(DateTimeOffset value) => value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    internal static byte[] Json(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(2048);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            write(writer);
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static byte[] Standard(string type, DateTimeOffset timestamp, Action<Utf8JsonWriter> data) => Json(w =>
    {
        w.WriteStartObject();
        w.WriteString("type", type);
        w.WriteString("timestamp", Timestamp(timestamp));
        w.WritePropertyName("data");
        data(w);
        w.WriteEndObject();
    });

    private static void WriteAlert(Utf8JsonWriter w, AlertNotification alert)
    {
        w.WriteStartObject();
        w.WriteString("id", alert.AlertId);
        w.WriteString("rule_id", alert.RuleId);
        w.WriteString("title", alert.Title);
        w.WriteString("severity", alert.Severity);
        w.WriteNumber("risk_score", alert.RiskScore);
        w.WriteString("status", alert.Status);
        w.WriteString("reason", alert.Reason);
        w.WriteStartObject("account");
        WebhookJson.StringOrNull(w, "name", alert.AccountName);
        WebhookJson.StringOrNull(w, "login_uid", alert.LoginUid);
        w.WriteEndObject();
        w.WriteStartArray("hosts");
        foreach (var host in alert.Hosts)
        {
            w.WriteStringValue(host);
        }

        w.WriteEndArray();
        w.WriteString("first_seen", Timestamp(alert.FirstSeen));
        w.WriteString("last_seen", Timestamp(alert.LastSeen));
        w.WriteNumber("count", alert.Count);
        w.WriteStartArray("events");
        foreach (var e in alert.Events.Take(MaxEvents))
        {
            w.WriteStartObject();
            w.WriteString("id", e.EventId);
            w.WriteNumber("ledger_index", e.LedgerIndex);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteString("link", alert.Link);
        w.WriteEndObject();
    }
}
