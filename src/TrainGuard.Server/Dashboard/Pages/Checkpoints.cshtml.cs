using TrainGuard.Server.Storage;

namespace TrainGuard.Server.Dashboard.Pages;

/// <summary>Checkpoints: the newest signed checkpoints, their verifications and inspections, each a ledger record.</summary>
public sealed class CheckpointsModel : DashboardPageModel
{
    public const int PerKind = 50;

    public CheckpointsModel(DashboardContext dashboard)
        : base(dashboard)
    {
        Title = "Checkpoints";
    }

    public IReadOnlyList<EventFields> Signed { get; private set; } = [];

    public IReadOnlyList<EventFields> Verified { get; private set; } = [];

    public IReadOnlyList<EventFields> Inspected { get; private set; } = [];

    public async Task OnGetAsync()
    {
        Signed = await ReadAsync("checkpoint-signed");
        Verified = await ReadAsync("checkpoint-verified");
        Inspected = await ReadAsync("checkpoint-inspected");
    }

    private async Task<IReadOnlyList<EventFields>> ReadAsync(string action)
    {
        var events = await Dashboard.State.Store.QueryAsync(new EventQuery { Action = action, Descending = true, Limit = PerKind }, HttpContext.RequestAborted);
        return [.. events.Select(e => EventFields.Parse(e.Index, e.Entry)).OfType<EventFields>()];
    }
}
