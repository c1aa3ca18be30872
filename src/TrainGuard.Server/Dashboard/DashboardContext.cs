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

    private readonly object _auditGate = new();

    /// <summary>The newest ledger audit started from the dashboard, if any.</summary>
    public LedgerAuditRun? LastAudit { get; private set; }

    /// <summary>Starts a ledger audit in the background unless one is running; returns the run shown.</summary>
    internal LedgerAuditRun StartAudit(string startedBy)
    {
        var state = State;
        lock (_auditGate)
        {
            if (LastAudit is { Running: true } running)
            {
                return running;
            }

            var run = new LedgerAuditRun { Started = state.Time.GetUtcNow(), StartedBy = startedBy };
            LastAudit = run;
            _ = Task.Run(async () =>
            {
                try
                {
                    run.Report = await TrainGuard.Ledger.Storage.LedgerAudit.RunAsync(state.Store.Ledger, [state.Log.Verifier]);
                }
                catch (Exception ex)
                {
                    run.Error = ex.Message;
                }
                finally
                {
                    run.Finished = state.Time.GetUtcNow();
                }
            });
            return run;
        }
    }

    internal void Attach(ServerState state)
    {
        _state = state;
        Sessions = new DashboardSessions(state.Time);
    }
}
