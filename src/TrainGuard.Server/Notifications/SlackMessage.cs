using System.Text;
using System.Text.Json;
using TrainGuard.Server.Alerts;

namespace TrainGuard.Server.Notifications;

/// <summary>
/// A Slack incoming-webhook message: <c>text</c> (the notification line) and <c>blocks</c> (the reason sentence,
/// severity, account, status, hosts, rule and a link to the alert). Every text from an event (account, host, process
/// name or path in the reason, key comments) is data: <c>&amp;</c>, <c>&lt;</c> and <c>&gt;</c> are escaped as
/// Slack's message formatting asks, so it cannot open <c>&lt;url|label&gt;</c> links or <c>&lt;!channel&gt;</c>,
/// <c>&lt;@user&gt;</c> mentions; mrkdwn objects are <c>verbatim</c> (no automatic linking of bare URLs or channel
/// names) and previews are off (<c>unfurl_links</c>, <c>unfurl_media</c>: no fetch of an attacker's URL).
/// </summary>
public static class SlackMessage
{
    /// <summary>Slack's limits: section text 3000 characters, a field 2000, fields per section 10.</summary>
    private const int MaxText = 3000;

    private const int MaxField = 1900;
    private const int MaxHostsListed = 10;

    /// <summary>Escapes <c>&amp;</c>, <c>&lt;</c> and <c>&gt;</c> (in that order), nothing else: the text reads the same in Slack.</summary>
    public static string Escape(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);
    }

    /// <summary>A scheduled report was issued: its period, the figures and the HTML file's digest, as plain text.</summary>
    public static byte[] Report(Reports.IssuedReport html)
    {
        ArgumentNullException.ThrowIfNull(html);
        var r = html.Report;
        var text = $"TrainGuard audit report {r.Id} for {WebhookPayloads.Timestamp(r.Since)} to {WebhookPayloads.Timestamp(r.Until)}: {r.Alerts.Total} alerts, {r.Alerts.StillOpen.Count} still open; {r.Nodes.Count(n => n.AgentHealth != "reporting")} of {r.Nodes.Count} nodes not reporting; ledger audit {r.Ledger.AuditVerdict}. HTML sha256 {html.Sha256} (ledger entry {html.LedgerIndex}).";
        return WebhookPayloads.Json(w =>
        {
            w.WriteStartObject();
            w.WriteString("text", Escape(text));
            w.WriteBoolean("unfurl_links", false);
            w.WriteBoolean("unfurl_media", false);
            w.WriteEndObject();
        });
    }

    public static byte[] Alert(AlertNotification alert)
    {
        ArgumentNullException.ThrowIfNull(alert);
        var severity = alert.Severity.ToUpperInvariant();
        var what = alert.Kind switch
        {
            AlertNotificationKind.Opened => "New",
            AlertNotificationKind.Updated => "Updated",
            _ => "Status of",
        };
        var account = alert.AccountName is null && alert.LoginUid is null
            ? "unknown"
            : (alert.AccountName ?? "?") + (alert.LoginUid is null ? string.Empty : $" (login uid {alert.LoginUid})");
        var hosts = alert.Hosts.Count == 0
            ? "none recorded"
            : string.Join(", ", alert.Hosts.Take(MaxHostsListed)) + (alert.Hosts.Count > MaxHostsListed ? $" and {alert.Hosts.Count - MaxHostsListed} more" : string.Empty);
        var fallback = $"[{severity}] {alert.Title}: {alert.Reason}";

        return WebhookPayloads.Json(w =>
        {
            w.WriteStartObject();
            w.WriteString("text", Escape(Cut(fallback, MaxText)));
            w.WriteStartArray("blocks");

            Section(w, $"*{what} {Escape(severity)} alert: {Escape(Cut(alert.Title, 300))}*\n{Escape(Cut(alert.Reason, MaxText - 400))}");

            w.WriteStartObject();
            w.WriteString("type", "section");
            w.WriteStartArray("fields");
            Field(w, "Severity", $"{alert.Severity} (risk {alert.RiskScore})");
            Field(w, "Account", account);
            Field(w, "Status", alert.Status);
            Field(w, "Hosts", hosts);
            Field(w, "Seen", $"{alert.Count} time{(alert.Count == 1 ? string.Empty : "s")}, {WebhookPayloads.Timestamp(alert.FirstSeen)[..19]}Z to {WebhookPayloads.Timestamp(alert.LastSeen)[..19]}Z");
            Field(w, "Rule", alert.RuleId);
            w.WriteEndArray();
            w.WriteEndObject();

            Section(w, LinkText(alert.Link, $"Open alert {alert.AlertId}"));
            EndMessage(w);
        });
    }

    public static byte[] Test(string targetName) => WebhookPayloads.Json(w =>
    {
        w.WriteStartObject();
        var text = $"A test message from TrainGuard: the webhook target '{Escape(targetName)}' receives alert notifications.";
        w.WriteString("text", text);
        w.WriteStartArray("blocks");
        Section(w, text);
        EndMessage(w);
    });

    /// <summary>
    /// <c>&lt;url|label&gt;</c> for an absolute http(s) link (the URL's own <c>&lt; &gt; |</c> percent-encoded, its
    /// <c>&amp;</c> escaped), else the label and the path as plain escaped text.
    /// </summary>
    private static string LinkText(string link, string label)
    {
        if (Uri.TryCreate(link, UriKind.Absolute, out var url) && (url.Scheme == Uri.UriSchemeHttps || url.Scheme == Uri.UriSchemeHttp))
        {
            var target = new StringBuilder(url.AbsoluteUri).Replace("|", "%7C").Replace("<", "%3C").Replace(">", "%3E").Replace("&", "&amp;");
            return $"<{target}|{Escape(label)}>";
        }

        return $"{Escape(label)}: {Escape(Cut(link, 500))}";
    }

    private static void Section(Utf8JsonWriter w, string mrkdwn)
    {
        w.WriteStartObject();
        w.WriteString("type", "section");
        w.WritePropertyName("text");
        Mrkdwn(w, mrkdwn);
        w.WriteEndObject();
    }

    private static void Field(Utf8JsonWriter w, string name, string value) => Mrkdwn(w, $"*{name}*\n{Escape(Cut(value, MaxField))}");

    private static void Mrkdwn(Utf8JsonWriter w, string text)
    {
        w.WriteStartObject();
        w.WriteString("type", "mrkdwn");
        w.WriteString("text", text);
        w.WriteBoolean("verbatim", true);
        w.WriteEndObject();
    }

    private static void EndMessage(Utf8JsonWriter w)
    {
        w.WriteEndArray();
        w.WriteBoolean("unfurl_links", false);
        w.WriteBoolean("unfurl_media", false);
        w.WriteEndObject();
    }

    /// <summary>At most <paramref name="max"/> characters (before escaping, so an entity is never cut in half), with an ellipsis when cut.</summary>
    private static string Cut(string text, int max) => text.Length <= max ? text : text[..(max - 1)] + "…";
}
