using TrainGuard.Server.Alerts;

namespace TrainGuard.Server.Dashboard.Pages;

/// <summary>Hosts: every agent that sent a heartbeat, when, and whether it is silent.</summary>
public sealed class HostsModel : DashboardPageModel
{
    public HostsModel(DashboardContext dashboard)
        : base(dashboard)
    {
        Title = "Hosts";
    }

    public IReadOnlyList<AgentHeartbeat> Heartbeats { get; private set; } = [];

    public DateTimeOffset Now { get; private set; }

    public double SilentFactor { get; private set; }

    public async Task OnGetAsync()
    {
        Heartbeats = await Dashboard.State.Alerts.LoadHeartbeatsAsync(HttpContext.RequestAborted);
        Now = Dashboard.State.Time.GetUtcNow();
        SilentFactor = Dashboard.State.Options.Alerts.SilentFactor;
    }

    public bool IsSilent(AgentHeartbeat beat) => Now - beat.ReceivedAt > TimeSpan.FromSeconds(beat.IntervalSeconds * SilentFactor);
}
