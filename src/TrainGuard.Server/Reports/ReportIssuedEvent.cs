using System.Text.Json;
using TrainGuard.Events;
using TrainGuard.Server.Alerts;
using TrainGuard.Server.Events;

namespace TrainGuard.Server.Reports;

/// <summary>
/// The <c>report-issued</c> ledger entry: a report's id, period, format and the SHA-256 of its content, appended before
/// the report is signed (its signature names the entry's index), so <c>trainguard report verify</c> can prove a report
/// is the one the server issued.
/// </summary>
public static class ReportIssuedEvent
{
    public const string Action = "report-issued";

    /// <summary>The entry recording that <paramref name="report"/> was issued as <paramref name="format"/> with content digest <paramref name="sha256"/>.</summary>
    public static EventAppend Create(AuditReport report, string format, string sha256, string issuedBy, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(report);
        var record = ConflictAlert.ServerEvent(now, Action)
            .Set("message", $"audit report {report.Id} ({format}) for {EventRecord.FormatTimestamp(report.Since)} to {EventRecord.FormatTimestamp(report.Until)} issued by {issuedBy}")
            .Set("trainguard.report.id", report.Id)
            .Set("trainguard.report.format", format)
            .Set("trainguard.report.sha256", sha256)
            .Set("trainguard.report.since", EventRecord.FormatTimestamp(report.Since))
            .Set("trainguard.report.until", EventRecord.FormatTimestamp(report.Until))
            .Set("trainguard.report.alerts", report.Alerts.Total)
            .Set("trainguard.report.open_alerts", report.Alerts.StillOpen.Count)
            .Set("trainguard.report.issued_by", issuedBy)
            .Set("trainguard.submitter.role", ConflictAlert.ServerScope);
        return ConflictAlert.ServerAppend(record, "the report-issued entry");
    }

    /// <summary>The period and issuer a stored <c>report-issued</c> entry of the server records, or null.</summary>
    public static (DateTimeOffset Until, string? IssuedBy)? ReadPeriod(byte[] entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (Read(entry) is null)
        {
            return null;
        }

        using var document = JsonDocument.Parse(entry);
        var e = document.RootElement;
        return EventFacts.Text(e, "trainguard", "report", "until") is { } until && Rfc3339.TryParse(until, out var end)
            ? (end, EventFacts.Text(e, "trainguard", "report", "issued_by"))
            : null;
    }

    /// <summary>The report id and digest a stored entry records, or null when it is not a server's <c>report-issued</c> entry.</summary>
    public static (string Id, string Format, string Sha256)? Read(byte[] entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        try
        {
            using var document = JsonDocument.Parse(entry);
            var e = document.RootElement;
            if (e.ValueKind != JsonValueKind.Object || EventFacts.Text(e, "event", "action") != Action
                || EventFacts.Text(e, "trainguard", "submitter", "role") != ConflictAlert.ServerScope)
            {
                return null;
            }

            return EventFacts.Text(e, "trainguard", "report", "id") is { } id && EventFacts.Text(e, "trainguard", "report", "sha256") is { } sha
                ? (id, EventFacts.Text(e, "trainguard", "report", "format") ?? string.Empty, sha)
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
