using System.Globalization;
using System.Net;
using System.Text;
using TrainGuard.Findings;

namespace TrainGuard.Server.Reports;

/// <summary>
/// The HTML form of an <see cref="AuditReport"/>: one self-contained page (inline CSS, no script, no external resource),
/// readable offline and printable (sections do not break across pages where avoidable). Every value is HTML-encoded
/// after its control characters are escaped: a process name or account string from an event is text, never markup.
/// </summary>
public static class ReportHtml
{
    private const int MaxText = 500;

    private const string Style = """
        :root { color-scheme: light; }
        body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1f24; margin: 2rem auto; max-width: 72rem; padding: 0 1.5rem; }
        h1 { font-size: 1.6rem; margin: 0 0 .2rem; }
        h2 { font-size: 1.15rem; margin: 2rem 0 .6rem; padding-bottom: .25rem; border-bottom: 2px solid #d0d7de; }
        h3 { font-size: 1rem; margin: 1.2rem 0 .4rem; }
        .meta { color: #57606a; margin: 0 0 1rem; }
        .figures { display: flex; flex-wrap: wrap; gap: .75rem; margin: .5rem 0 1rem; }
        .figure { border: 1px solid #d0d7de; border-radius: 6px; padding: .5rem .9rem; min-width: 8rem; }
        .figure b { display: block; font-size: 1.5rem; }
        table { border-collapse: collapse; width: 100%; margin: .4rem 0 1rem; }
        th, td { text-align: left; vertical-align: top; padding: .3rem .5rem; border-bottom: 1px solid #d8dee4; }
        td { overflow-wrap: break-word; }
        td.wrap, ul.headlines li { overflow-wrap: anywhere; }
        td.time { white-space: nowrap; overflow-wrap: normal; }
        th { background: #f6f8fa; font-weight: 600; }
        td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
        code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .92em; word-break: break-all; }
        .sev { display: inline-block; padding: 0 .45rem; border-radius: 1em; font-size: .85em; font-weight: 600; }
        .sev-critical { background: #ffebe9; color: #a40e26; border: 1px solid #ff8182; }
        .sev-high { background: #fff1e5; color: #953800; border: 1px solid #ffb77c; }
        .sev-medium { background: #fff8c5; color: #7d4e00; border: 1px solid #e3b341; }
        .sev-low, .sev-informational { background: #ddf4ff; color: #0a3069; border: 1px solid #80ccff; }
        .ok { color: #1a7f37; font-weight: 600; }
        .bad { color: #cf222e; font-weight: 600; }
        .muted { color: #57606a; }
        ul.headlines { margin: .2rem 0 1rem 1.2rem; padding: 0; }
        footer { margin-top: 2.5rem; color: #57606a; font-size: .85em; border-top: 1px solid #d0d7de; padding-top: .6rem; }
        section { break-inside: avoid-page; }
        @media print { body { margin: 0; max-width: none; font-size: 11px; } h2 { break-after: avoid; } tr { break-inside: avoid; } a { color: inherit; text-decoration: none; } }
        """;

    public static string Render(AuditReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var h = new StringBuilder(16 * 1024);
        var period = $"{Time(report.Since)} to {Time(report.Until)}";
        h.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        h.Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        h.Append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n");
        h.Append("<title>TrainGuard audit report ").Append(Enc(period)).Append("</title>\n<style>\n").Append(Style).Append("\n</style>\n</head>\n<body>\n");
        h.Append("<header>\n<h1>TrainGuard audit report</h1>\n<p class=\"meta\">").Append(Enc(period)).Append(" &middot; report <code>").Append(Enc(report.Id))
            .Append("</code> &middot; generated ").Append(Enc(Time(report.GeneratedAt))).Append(" &middot; ledger <code>").Append(Enc(report.Origin)).Append("</code></p>\n</header>\n");

        Alerts(h, report.Alerts);
        Nodes(h, report.Nodes);
        Checkpoints(h, report.Checkpoints);
        Ledger(h, report.Ledger);
        Accounts(h, report.Accounts);

        h.Append("<footer>Built from the server's stored events, alerts and ledger (").Append(Enc(report.Store))
            .Append("). This report is signed with the ledger's key and its SHA-256 is recorded in the ledger: check it with <code>trainguard report verify FILE</code>.</footer>\n");
        h.Append("</body>\n</html>\n");
        return h.ToString();
    }

    private static void Alerts(StringBuilder h, AlertSection a)
    {
        h.Append("<section id=\"alerts\">\n<h2>Alerts</h2>\n<div class=\"figures\">");
        Figure(h, "alerts in the period", a.Total);
        foreach (var (status, count) in a.ByStatus)
        {
            Figure(h, status, count);
        }

        h.Append("</div>\n<table class=\"counts\"><tr><th>severity</th>");
        foreach (var (severity, _) in a.BySeverity)
        {
            h.Append("<th class=\"num\">").Append(Enc(severity)).Append("</th>");
        }

        h.Append("</tr><tr><td>alerts</td>");
        foreach (var (_, count) in a.BySeverity)
        {
            h.Append("<td class=\"num\">").Append(Num(count)).Append("</td>");
        }

        h.Append("</tr></table>\n");
        if (a.ByClassification.Count > 0)
        {
            h.Append("<p>Closed as: ").Append(string.Join(", ", a.ByClassification.Select(c => $"{Enc(c.Name)} {Num(c.Count)}"))).Append("</p>\n");
        }

        if (a.Truncated)
        {
            h.Append("<p class=\"bad\">More alerts were active than a report reads: the figures count the first ").Append(Num(AuditReportBuilder.MaxAlerts)).Append(".</p>\n");
        }

        h.Append("<h3>Still open</h3>\n");
        if (a.StillOpen.Count == 0)
        {
            h.Append("<p class=\"ok\">No alert of the period is open or acknowledged.</p>\n</section>\n");
            return;
        }

        h.Append("<table><tr><th>severity</th><th>rule</th><th>account</th><th>hosts</th><th>open since</th><th>status</th><th class=\"num\">events</th><th>reason</th></tr>\n");
        foreach (var o in a.StillOpen)
        {
            h.Append("<tr><td>").Append(Severity(o.Severity)).Append("</td><td><code>").Append(Enc(o.RuleId)).Append("</code><br><span class=\"muted\">").Append(Enc(o.Title))
                .Append("</span></td><td class=\"wrap\">").Append(Enc(o.Account ?? "-")).Append("</td><td class=\"wrap\">").Append(Enc(string.Join(", ", o.Hosts)))
                .Append("</td><td class=\"time\">").Append(Enc(Time(o.OpenSince))).Append("</td><td>").Append(Enc(o.Status)).Append("</td><td class=\"num\">").Append(Num(o.Count))
                .Append("</td><td class=\"wrap\">").Append(Enc(o.Reason)).Append("<br><code class=\"muted\">").Append(Enc(o.Id)).Append("</code></td></tr>\n");
        }

        h.Append("</table>\n</section>\n");
    }

    private static void Nodes(StringBuilder h, IReadOnlyList<NodeSection> nodes)
    {
        h.Append("<section id=\"nodes\">\n<h2>Nodes</h2>\n");
        if (nodes.Count == 0)
        {
            h.Append("<p class=\"muted\">No node reported in the period.</p>\n</section>\n");
            return;
        }

        h.Append("<table><tr><th>node</th><th>agent</th><th>last heartbeat</th><th>env verify</th><th>access</th><th class=\"num\">alerts</th></tr>\n");
        foreach (var n in nodes)
        {
            var agent = n.AgentHealth == "reporting" ? "<span class=\"ok\">reporting</span>" : $"<span class=\"bad\">{Enc(n.AgentHealth)}</span>";
            var env = n.EnvFindings == 0 ? "<span class=\"muted\">no finding</span>" : $"<span class=\"bad\">{Num(n.EnvFindings)} finding(s)</span>{(n.EnvWorst is { } worst ? $", worst {Enc(worst)}" : string.Empty)}";
            var access = n.AccessFindings + n.AccessWritersAdded == 0
                ? "<span class=\"muted\">no finding</span>"
                : $"<span class=\"bad\">{Num(n.AccessFindings)} finding(s), {Num(n.AccessWritersAdded)} new writer(s)</span>{(n.AccessAccounts.Count > 0 ? ": " + Enc(string.Join(", ", n.AccessAccounts)) : string.Empty)}";
            h.Append("<tr><td><code>").Append(Enc(n.Host)).Append("</code></td><td>").Append(agent).Append("</td><td class=\"time\">")
                .Append(n.LastHeartbeat is { } beat ? Enc(Time(beat)) : "<span class=\"muted\">never</span>").Append("</td><td>").Append(env).Append("</td><td class=\"wrap\">").Append(access)
                .Append("</td><td class=\"num\">").Append(Num(n.Alerts)).Append("</td></tr>\n");
        }

        h.Append("</table>\n</section>\n");
    }

    private static void Checkpoints(StringBuilder h, CheckpointSection c)
    {
        h.Append("<section id=\"checkpoints\">\n<h2>Checkpoints</h2>\n<div class=\"figures\">");
        Figure(h, "signed", c.Signed);
        Figure(h, "verified", c.Verified);
        Figure(h, "failed verification", c.VerifyFailed);
        Figure(h, "scanned by the watcher", c.Scanned);
        h.Append("</div>\n");
        if (c.Problems.Count == 0)
        {
            h.Append("<p class=\"ok\">No checkpoint failed verification, scanned malicious or suspicious, or showed a finding.</p>\n</section>\n");
            return;
        }

        h.Append("<table><tr><th>time</th><th>node</th><th>what</th><th>checkpoint</th><th>verdict</th><th>owner</th><th class=\"num\">ledger</th></tr>\n");
        foreach (var p in c.Problems)
        {
            h.Append("<tr><td class=\"time\">").Append(Enc(Time(p.At))).Append("</td><td>").Append(Enc(p.Host ?? "-")).Append("</td><td>").Append(Enc(p.Action))
                .Append("</td><td class=\"mono\">").Append(Enc(p.Path ?? "-")).Append("</td><td>").Append(Enc(p.Verdict ?? "-")).Append(p.Rule is { } rule ? $" <code>{Enc(rule)}</code>" : string.Empty)
                .Append("</td><td>").Append(Enc(p.Owner ?? "-")).Append("</td><td class=\"num\">").Append(Num(p.LedgerIndex)).Append("</td></tr>\n");
        }

        h.Append("</table>\n</section>\n");
    }

    private static void Ledger(StringBuilder h, LedgerSection l)
    {
        h.Append("<section id=\"ledger\">\n<h2>Ledger</h2>\n<div class=\"figures\">");
        Figure(h, "entries added in the period", l.SizeAtEnd - l.SizeAtStart);
        Figure(h, "entries now", l.TreeSize);
        Figure(h, "tree heads signed in the period", l.TreeHeadsInPeriod);
        Figure(h, "reports issued before this one", l.ReportsIssued);
        h.Append("</div>\n<table>\n");
        Row(h, "size", $"{Num(l.SizeAtStart)} at the start of the period, {Num(l.SizeAtEnd)} at its end (by the tree heads signed), {Num(l.TreeSize)} now");
        Row(h, "latest tree head", l.LatestTreeHeadAt is { } at ? Enc(Time(at)) : "<span class=\"bad\">none</span>");
        Row(h, "witnesses", l.WitnessedSize is { } witnessed
            ? $"tree size {Num(witnessed)} cosigned by {Enc(string.Join(", ", l.Witnesses))}{(l.WitnessedAt is { } w ? ", " + Enc(Time(w)) : string.Empty)}{(witnessed < l.TreeSize ? $" <span class=\"muted\">({Num(l.TreeSize - witnessed)} entries not yet cosigned)</span>" : string.Empty)}"
            : "<span class=\"muted\">no witness has cosigned a tree head</span>");
        var audit = l.AuditFindings == 0
            ? $"<span class=\"ok\">{Enc(l.AuditVerdict)}</span>: every leaf and tree head recomputed from the stored rows"
            : $"<span class=\"bad\">{Enc(l.AuditVerdict)}: {Num(l.AuditFindings)} finding(s)</span><br>{string.Join("<br>", l.AuditMessages.Select(m => Enc(m)))}";
        Row(h, "ledger audit", $"{audit} ({Enc(Time(l.AuditedAt))})");
        h.Append("</table>\n</section>\n");
    }

    private static void Accounts(StringBuilder h, IReadOnlyList<AccountSection> accounts)
    {
        h.Append("<section id=\"accounts\">\n<h2>Accounts with the most alerts</h2>\n");
        if (accounts.Count == 0)
        {
            h.Append("<p class=\"muted\">No alert of the period names an account.</p>\n</section>\n");
            return;
        }

        foreach (var a in accounts)
        {
            h.Append("<h3><code>").Append(Enc(a.Name)).Append("</code>").Append(a.LoginUid is { } uid ? $" <span class=\"muted\">(login uid {Enc(uid)})</span>" : string.Empty)
                .Append(": ").Append(Num(a.Alerts)).Append(" alert(s), worst ").Append(Severity(a.WorstSeverity)).Append(", ").Append(Num(a.TimelineEntries)).Append(" timeline entries</h3>\n<ul class=\"headlines\">\n");
            foreach (var line in a.Headlines)
            {
                h.Append("<li><span class=\"muted\">").Append(Enc(Time(line.At))).Append(' ').Append(Enc(line.Host ?? "-")).Append("</span> ").Append(Enc(line.Summary))
                    .Append(line.RuleId is { } rule ? $" <code>{Enc(rule)}</code>" : string.Empty).Append("</li>\n");
            }

            h.Append("</ul>\n");
        }

        h.Append("</section>\n");
    }

    private static void Figure(StringBuilder h, string label, long value) =>
        h.Append("<div class=\"figure\"><b>").Append(Num(value)).Append("</b>").Append(Enc(label)).Append("</div>");

    private static void Row(StringBuilder h, string label, string html) =>
        h.Append("<tr><th>").Append(Enc(label)).Append("</th><td>").Append(html).Append("</td></tr>\n");

    private static string Severity(string severity) => $"<span class=\"sev sev-{Enc(severity)}\">{Enc(severity)}</span>";

    private static string Num(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Time(DateTimeOffset value) => value.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>Text as HTML: control characters escaped, at most <see cref="MaxText"/> characters, then HTML-encoded.</summary>
    private static string Enc(string? text) => WebUtility.HtmlEncode(TextSanitizer.Escape(text ?? string.Empty, MaxText));
}
