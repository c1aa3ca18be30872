using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using TrainGuard.Parsing;
using TrainGuard.Server.Storage;

namespace TrainGuard.Server.Dashboard.Pages;

/// <summary>
/// Events: search by ECS fields (<c>host.name</c>, <c>user.name</c>, <c>event.action</c>, the event id) and a time
/// range, newest first, paged by ledger index (each page is one indexed query, however many millions are stored).
/// </summary>
public sealed class EventsModel : DashboardPageModel
{
    public const int PageSize = 50;

    public EventsModel(DashboardContext dashboard)
        : base(dashboard)
    {
        Title = "Events";
    }

    [BindProperty(SupportsGet = true)]
    public string? Host { get; set; }

    [BindProperty(SupportsGet = true, Name = "user")]
    public string? Account { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? Action { get; set; }

    [BindProperty(SupportsGet = true, Name = "id")]
    public string? EventId { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? From { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? To { get; set; }

    [BindProperty(SupportsGet = true)]
    public long? Before { get; set; }

    public IReadOnlyList<DashboardEvent> Results { get; private set; } = [];

    /// <summary>The ledger index the next (older) page starts below, when there may be one.</summary>
    public long? Older { get; private set; }

    public string? Problem { get; private set; }

    public long LedgerSize { get; private set; }

    /// <summary>The query string of this search without the paging cursor.</summary>
    public string FilterQuery
    {
        get
        {
            var parts = new List<string>();
            void Add(string name, string? value)
            {
                if (!string.IsNullOrEmpty(value))
                {
                    parts.Add(name + "=" + Uri.EscapeDataString(value));
                }
            }

            Add("host", Host);
            Add("user", Account);
            Add("action", Action);
            Add("id", EventId);
            Add("from", From);
            Add("to", To);
            return string.Join("&", parts);
        }
    }

    public async Task<IActionResult> OnGetAsync()
    {
        var state = Dashboard.State;
        LedgerSize = state.Log.Size;
        Host = Clean(Host);
        Account = Clean(Account);
        Action = Clean(Action);
        EventId = Clean(EventId);
        try
        {
            if (EventId is not null)
            {
                if (!Guid.TryParseExact(EventId, "D", out var guid))
                {
                    MalformedInputException.Throw(InputErrorKind.Syntax, "id: an event id is a UUID in 8-4-4-4-12 hex form", field: "id");
                }

                var leaves = await state.Store.FindEventAsync(guid.ToString("D"), HttpContext.RequestAborted);
                var found = new List<DashboardEvent>();
                foreach (var index in leaves)
                {
                    if (await state.Store.Ledger.GetEntryAsync(index, HttpContext.RequestAborted) is { } entry)
                    {
                        found.Add(DashboardEvent.From(index, entry));
                    }
                }

                Results = found;
            }
            else
            {
                var query = new EventQuery
                {
                    Host = Host,
                    User = Account,
                    Action = Action,
                    FromMicros = DashboardQueries.ParseTime(From, "from"),
                    ToMicros = DashboardQueries.ParseTime(To, "to"),
                    After = Before,
                    Descending = true,
                    Limit = PageSize,
                };
                var events = await state.Store.QueryAsync(query, HttpContext.RequestAborted);
                Results = [.. events.Select(e => DashboardEvent.From(e.Index, e.Entry))];
                Older = events.Count == PageSize ? events[^1].Index : null;
            }
        }
        catch (MalformedInputException ex)
        {
            Problem = ex.Message;
            Response.StatusCode = StatusCodes.Status400BadRequest;
        }

        return Request.Headers.ContainsKey("HX-Request") ? Partial("_EventResults", this) : Page();
    }

    private static string? Clean(string? text) => string.IsNullOrWhiteSpace(text) ? null : text.Trim();
}
