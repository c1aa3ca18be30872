using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using TrainGuard.Ledger.Notes;
using TrainGuard.Parsing;
using TrainGuard.Server.Alerts;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Events;
using TrainGuard.Server.Http;

namespace TrainGuard.Server.Reports;

/// <summary>
/// <c>POST /api/v1/reports?since=&amp;until=&amp;format=html|json</c> (admin): issues a report on demand through the
/// server's ledger and answers with the signed file; <c>TrainGuard-Report-Sha256</c> and
/// <c>TrainGuard-Report-Ledger-Index</c> name its digest and the <c>report-issued</c> entry recording it.
/// </summary>
internal static class ReportEndpoints
{
    public static void Map(WebApplication app, ServerState state, NoteSigner signer) =>
        app.MapPost("/api/v1/reports", Authorization.Require(state, Role.Admin, context => IssueAsync(context, state, signer)));

    private static async Task IssueAsync(HttpContext context, ServerState state, NoteSigner signer)
    {
        var query = context.Request.Query;
        var format = query.TryGetValue("format", out var f) ? f.ToString() : SignedReport.Html;
        DateTimeOffset until, since;
        try
        {
            until = query.TryGetValue("until", out var u) ? Rfc3339.Parse(u.ToString(), "until") : state.Time.GetUtcNow();
            since = query.TryGetValue("since", out var s) ? Rfc3339.Parse(s.ToString(), "since") : until.AddDays(-7);
        }
        catch (MalformedInputException ex)
        {
            await HttpJson.ProblemAsync(context, StatusCodes.Status400BadRequest, "bad-query", "Bad query", ex.Message);
            return;
        }

        if (format is not (SignedReport.Html or SignedReport.Json) || until <= since)
        {
            await HttpJson.ProblemAsync(context, StatusCodes.Status400BadRequest, "bad-query", "Bad query", "format must be html or json, and until after since");
            return;
        }

        var issued = (await ReportScheduler.IssueAsync(state, signer, since, until, [format], AlertStatusEvent.By(Authorization.SubmitterOf(context)), context.RequestAborted))[0];
        context.Response.StatusCode = StatusCodes.Status201Created;
        context.Response.ContentType = format == SignedReport.Html ? "text/html; charset=utf-8" : "application/json";
        context.Response.Headers["TrainGuard-Report-Id"] = issued.Report.Id;
        context.Response.Headers["TrainGuard-Report-Sha256"] = issued.Sha256;
        context.Response.Headers["TrainGuard-Report-Ledger-Index"] = issued.LedgerIndex.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await context.Response.Body.WriteAsync(issued.File, context.RequestAborted);
    }
}
