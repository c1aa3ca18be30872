using TrainGuard.Server.Alerts;

namespace TrainGuard.Server.Dashboard.Pages;

/// <summary>Overview: open alerts by severity, alerts over time, the accounts and hosts with most alerts, silent agents, the latest tree head.</summary>
public sealed class IndexModel : DashboardPageModel
{
    public IndexModel(DashboardContext dashboard)
        : base(dashboard)
    {
        Title = "Overview";
    }

    public OverviewData Data { get; private set; } = null!;

    public long LedgerSize { get; private set; }

    public async Task OnGetAsync()
    {
        var state = Dashboard.State;
        var ct = HttpContext.RequestAborted;
        var (open, next) = await state.Alerts.ListAsync(new AlertQuery { Limit = OverviewData.MaxAlerts }, ct);
        var (recent, _) = await state.Alerts.ListAsync(new AlertQuery { AllStatuses = true, Limit = OverviewData.MaxAlerts }, ct);
        var heartbeats = await state.Alerts.LoadHeartbeatsAsync(ct);
        var head = await DashboardQueries.TreeHeadStatusAsync(state, ct);
        Data = OverviewData.Build(open, next is not null, recent, heartbeats, state.Options.Alerts.SilentFactor, state.Time.GetUtcNow(), head);
        LedgerSize = state.Log.Size;
    }
}
