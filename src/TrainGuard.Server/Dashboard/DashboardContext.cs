using TrainGuard.Server.Http;

namespace TrainGuard.Server.Dashboard;

/// <summary>
/// What the dashboard's pages share with the API (the store, the log, alerts, tokens) and its own sessions. A singleton
/// of the server's service provider; the server hands it its state once the state exists (<see cref="DashboardSetup.Map"/>).
/// </summary>
public sealed class DashboardContext
{
    private ServerState? _state;

    internal ServerState State => _state ?? throw new InvalidOperationException("the dashboard is not attached to a server");

    internal DashboardSessions Sessions { get; private set; } = new(TimeProvider.System);

    internal void Attach(ServerState state)
    {
        _state = state;
        Sessions = new DashboardSessions(state.Time);
    }
}
