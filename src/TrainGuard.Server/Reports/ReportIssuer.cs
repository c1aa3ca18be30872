using TrainGuard.Events;
using TrainGuard.Ledger.Notes;
using TrainGuard.Server.Events;

namespace TrainGuard.Server.Reports;

/// <summary>One issued report: the model, its format, its content digest, the ledger entry recording it and the signed file.</summary>
public sealed record IssuedReport(AuditReport Report, string Format, string Sha256, long LedgerIndex, byte[] File);

/// <summary>
/// Issues a report: builds it (<see cref="AuditReportBuilder"/>), renders its content, appends the
/// <c>report-issued</c> entry with the content's SHA-256 to the ledger (through <paramref name="append"/>: the server's
/// tree head publisher, or the CLI's own <c>TransparencyLog</c> over the same store), then signs the seal naming that
/// entry with the log key and attaches it. Used by <c>trainguard report</c>, <c>POST /api/v1/reports</c> and the
/// server's schedule.
/// </summary>
public static class ReportIssuer
{
    /// <summary>Builds one report and issues it in each of <paramref name="formats"/> (each file its own ledger entry), in order.</summary>
    public static async Task<IReadOnlyList<IssuedReport>> IssueAsync(
        ReportSources sources,
        NoteSigner logKey,
        Func<EventAppend, CancellationToken, Task<long>> append,
        DateTimeOffset since,
        DateTimeOffset until,
        IReadOnlyList<string> formats,
        string issuedBy,
        DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(logKey);
        ArgumentNullException.ThrowIfNull(append);
        ArgumentNullException.ThrowIfNull(formats);
        if (formats.Count == 0 || formats.Any(f => f is not (SignedReport.Html or SignedReport.Json)))
        {
            throw new ArgumentException($"formats must be {SignedReport.Html} or {SignedReport.Json}", nameof(formats));
        }

        var report = await AuditReportBuilder.BuildAsync(sources, since, until, now, cancellationToken);
        var issued = new List<IssuedReport>();
        foreach (var format in formats)
        {
            var content = SignedReport.Content(report, format);
            var sha256 = SignedReport.Sha256(content);
            var index = await append(ReportIssuedEvent.Create(report, format, sha256, issuedBy, now), cancellationToken);
            var seal = new ReportSeal(report.Id, format, sha256, EventRecord.FormatTimestamp(since), EventRecord.FormatTimestamp(until), EventRecord.FormatTimestamp(now), index);
            var note = SignedNote.Sign(SignedReport.NoteText(seal), logKey);
            issued.Add(new IssuedReport(report, format, sha256, index, SignedReport.Attach(content, format, note)));
        }

        return issued;
    }
}
