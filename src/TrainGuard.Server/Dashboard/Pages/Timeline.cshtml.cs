using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using TrainGuard.Parsing;
using TrainGuard.Server.Alerts;

namespace TrainGuard.Server.Dashboard.Pages;

/// <summary>
/// The timeline of one account (name or login uid, across every node) or one host: every event and alert on a zoomable
/// time axis, the victims it touched and the keys and accounts it added. Read from the alert store's actor index.
/// </summary>
public sealed class TimelineModel : DashboardPageModel
{
    /// <summary>Most entries on one page; the next page starts where it stops.</summary>
    public const int PageSize = 400;

    public TimelineModel(DashboardContext dashboard)
        : base(dashboard)
    {
        Title = "Timeline";
    }

    [BindProperty(SupportsGet = true, Name = "user")]
    public string? Account { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? Host { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? Since { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? Until { get; set; }

    public AlertTimeline? Timeline { get; private set; }

    public string? Problem { get; private set; }

    /// <summary>The chart: entries' times, one row per host, events and alerts as separate series.</summary>
    public string SeriesJson { get; private set; } = "{}";

    /// <summary>The <c>since</c> of the next page when this one was cut at <see cref="PageSize"/>.</summary>
    public string? NextSince { get; private set; }

    public async Task<IActionResult> OnGetAsync()
    {
        Account = string.IsNullOrWhiteSpace(Account) ? null : Account.Trim();
        Host = string.IsNullOrWhiteSpace(Host) ? null : Host.Trim();
        if ((Account is null) == (Host is null))
        {
            Problem = "Open a timeline from an alert, an account or a host, or give user=NAME_OR_LOGIN_UID or host=NAME.";
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return Page();
        }

        Title = Account is not null ? $"Timeline of {Account}" : $"Timeline of host {Host}";
        long? since, until;
        try
        {
            since = DashboardQueries.ParseTime(Since, "since");
            until = DashboardQueries.ParseTime(Until, "until");
        }
        catch (MalformedInputException ex)
        {
            Problem = ex.Message;
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return Page();
        }

        Timeline = await DashboardQueries.TimelineAsync(Dashboard.State, Account, Host, since, until, PageSize, HttpContext.RequestAborted);
        if (Timeline is null)
        {
            Problem = Account is not null ? $"No events for user '{Account}'" : $"No events for host '{Host}'";
            Problem += since is not null || until is not null ? " in that time range." : ".";
            Response.StatusCode = StatusCodes.Status404NotFound;
            return Page();
        }

        if (Account is not null && Timeline.Names.Count > 0)
        {
            Title = $"Timeline of {string.Join(", ", Timeline.Names)}" + (Timeline.LoginUids.Count > 0 ? $" (login uid {string.Join(", ", Timeline.LoginUids)})" : string.Empty);
        }

        if (Timeline.Truncated && Timeline.Entries.LastOrDefault(e => e.Kind == "event") is { } last)
        {
            NextSince = Show.Input(AlertStore.Micros(last.At));
        }

        SeriesJson = Series(Timeline);
        return Page();
    }

    private static string Series(AlertTimeline timeline)
    {
        var rows = timeline.Entries.Select(e => e.Host).Where(h => h is not null).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).Cast<string>().ToList();
        if (rows.Count == 0 || timeline.Entries.Any(e => e.Kind == "alert"))
        {
            rows.Add("(alerts)");
        }

        var alertRow = rows.Count - 1;
        var entries = timeline.Entries.OrderBy(e => e.At).ToList();
        var x = entries.Select(e => e.At.ToUnixTimeMilliseconds() / 1000.0).ToArray();
        var events = entries.Select(e => e.Kind == "event" ? (double?)rows.IndexOf(e.Host ?? "(alerts)") : null).ToArray();
        var alerts = entries.Select(e => e.Kind == "alert" ? (double?)alertRow : null).ToArray();
        var min = x.Length > 0 ? x[0] : 0;
        var max = x.Length > 0 ? x[^1] : 0;
        return JsonSerializer.Serialize(new { rows, x, events, alerts, min, max });
    }
}
