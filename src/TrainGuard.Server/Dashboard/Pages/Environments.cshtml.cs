using TrainGuard.Server.Storage;

namespace TrainGuard.Server.Dashboard.Pages;

/// <summary>Environments: per node, the findings of its latest <c>env verify</c> (its newest <c>env-finding</c> events).</summary>
public sealed class EnvironmentsModel : DashboardPageModel
{
    /// <summary>Findings of one run are written together: those within this of a node's newest finding are its latest run.</summary>
    public static readonly TimeSpan RunWindow = TimeSpan.FromMinutes(5);

    public const int MaxFindings = 1000;

    public EnvironmentsModel(DashboardContext dashboard)
        : base(dashboard)
    {
        Title = "Environments";
    }

    public IReadOnlyList<(string Host, DateTimeOffset? At, IReadOnlyList<EventFields> Findings)> Nodes { get; private set; } = [];

    public async Task OnGetAsync()
    {
        var events = await Dashboard.State.Store.QueryAsync(new EventQuery { Action = "env-finding", Descending = true, Limit = MaxFindings }, HttpContext.RequestAborted);
        var parsed = events.Select(e => (Event: DashboardEvent.From(e.Index, e.Entry), Fields: EventFields.Parse(e.Index, e.Entry)))
            .Where(x => x.Fields is not null).ToList();
        Nodes = [.. parsed.GroupBy(x => x.Event.Host ?? "(no host)", StringComparer.Ordinal)
            .Select(g =>
            {
                var newest = g.Max(x => x.Event.At);
                var latest = g.Where(x => newest is null || x.Event.At is null || newest.Value - x.Event.At.Value <= RunWindow).Select(x => x.Fields!).ToList();
                return (g.Key, newest, (IReadOnlyList<EventFields>)latest);
            })
            .OrderBy(n => n.Key, StringComparer.Ordinal)];
    }
}
