using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using TrainGuard.Parsing;
using TrainGuard.Server.Alerts;

namespace TrainGuard.Server.Dashboard.Pages;

/// <summary>Alerts: the alert list with the API's filters (status, severity, rule, account, host), newest first, paged.</summary>
public sealed class AlertsModel : DashboardPageModel
{
    public const int PageSize = 50;

    public AlertsModel(DashboardContext dashboard)
        : base(dashboard)
    {
        Title = "Alerts";
    }

    [BindProperty(SupportsGet = true)]
    public string? Status { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? Severity { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? Rule { get; set; }

    [BindProperty(SupportsGet = true, Name = "user")]
    public string? Account { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? Host { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? After { get; set; }

    public IReadOnlyList<Alert> Alerts { get; private set; } = [];

    public string? Next { get; private set; }

    public string? Problem { get; private set; }

    public string FilterQuery => string.Join("&", new[] { ("status", Status), ("severity", Severity), ("rule", Rule), ("user", Account), ("host", Host) }
        .Where(p => !string.IsNullOrEmpty(p.Item2)).Select(p => p.Item1 + "=" + Uri.EscapeDataString(p.Item2!)));

    public async Task<IActionResult> OnGetAsync()
    {
        try
        {
            Status = Blank(Status);
            Severity = Blank(Severity);
            if (Status is not null && Status != "all" && !AlertStatus.IsStatus(Status))
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, "status: open, acknowledged, closed or all", field: "status");
            }

            if (Severity is not null && AlertSeverity.Rank(Severity) < 0)
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, $"severity: one of {string.Join(", ", AlertSeverity.All)}", field: "severity");
            }

            (long, string)? after = null;
            if (Blank(After) is { } cursor)
            {
                var dot = cursor.IndexOf('.', StringComparison.Ordinal);
                long micros = 0;
                if (dot <= 0 || !long.TryParse(cursor.AsSpan(0, dot), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out micros) || !AlertIds.IsWellFormed(cursor[(dot + 1)..]))
                {
                    MalformedInputException.Throw(InputErrorKind.Syntax, "after: the cursor of the previous page", field: "after");
                }

                after = (micros, cursor[(dot + 1)..]);
            }

            (var alerts, Next) = await Dashboard.State.Alerts.ListAsync(
                new AlertQuery
                {
                    Status = Status == "all" ? null : Status,
                    AllStatuses = Status == "all",
                    Severity = Severity,
                    RuleId = Blank(Rule),
                    User = Blank(Account),
                    Host = Blank(Host),
                    After = after,
                    Limit = PageSize,
                },
                HttpContext.RequestAborted);
            Alerts = alerts;
        }
        catch (MalformedInputException ex)
        {
            Problem = ex.Message;
            Response.StatusCode = StatusCodes.Status400BadRequest;
        }

        return Page();
    }

    private static string? Blank(string? text) => string.IsNullOrWhiteSpace(text) ? null : text.Trim();
}
