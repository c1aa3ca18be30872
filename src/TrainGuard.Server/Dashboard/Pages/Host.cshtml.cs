using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using TrainGuard.Server.Alerts;

namespace TrainGuard.Server.Dashboard.Pages;

/// <summary>One host: its agent's heartbeat and collectors, its last snapshot, its alerts and newest events.</summary>
public sealed class HostModel : DashboardPageModel
{
    public const int EventCount = 50;

    public HostModel(DashboardContext dashboard)
        : base(dashboard)
    {
        Title = "Host";
    }

    [BindProperty(SupportsGet = true)]
    public string? Name { get; set; }

    public AgentHeartbeat? Heartbeat { get; private set; }

    /// <summary>The newest <c>agent-heartbeat</c> event's <c>trainguard.agent.*</c> fields.</summary>
    public IReadOnlyList<(string Name, string Value)> Agent { get; private set; } = [];

    public DashboardEvent? LastSnapshot { get; private set; }

    public IReadOnlyList<Alert> Alerts { get; private set; } = [];

    public IReadOnlyList<DashboardEvent> Events { get; private set; } = [];

    public bool Silent { get; private set; }

    public DateTimeOffset Now { get; private set; }

    public async Task<IActionResult> OnGetAsync()
    {
        Name = Name?.Trim();
        if (string.IsNullOrEmpty(Name))
        {
            return Redirect("/dashboard/hosts");
        }

        var state = Dashboard.State;
        var ct = HttpContext.RequestAborted;
        Title = "Host " + Name;
        Now = state.Time.GetUtcNow();
        Events = await DashboardQueries.NewestAsync(state, null, Name, EventCount, ct);
        Heartbeat = (await state.Alerts.LoadHeartbeatsAsync(ct)).FirstOrDefault(b => string.Equals(b.Host, Name, StringComparison.OrdinalIgnoreCase));
        if (Events.Count == 0 && Heartbeat is null)
        {
            Response.StatusCode = StatusCodes.Status404NotFound;
            return Page();
        }

        Silent = Heartbeat is { } beat && Now - beat.ReceivedAt > TimeSpan.FromSeconds(beat.IntervalSeconds * state.Options.Alerts.SilentFactor);

        // The heartbeat row names its event's ledger index: one primary-key read, where asking the event index for this
        // host's newest agent-heartbeat walks every event of the host when it sent none.
        if (Heartbeat is not null && await state.Store.Ledger.GetEntryAsync(Heartbeat.LedgerIndex, ct) is { } entry
            && EventFields.Parse(Heartbeat.LedgerIndex, entry) is { } fields)
        {
            Agent = fields.Flatten("trainguard.agent");
        }

        LastSnapshot = Events.FirstOrDefault(e => e.Action is "ssh-key-added" or "ssh-key-removed" or "socket-listen" or "socket-closed" or "persistence-changed" or "user-created" or "user-changed" or "user-deleted");
        (Alerts, _) = await state.Alerts.ListAsync(new AlertQuery { Host = Name, AllStatuses = true, Limit = 50 }, ct);
        return Page();
    }
}
