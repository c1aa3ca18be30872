using TrainGuard.Ledger.Storage;

namespace TrainGuard.Server.Dashboard;

/// <summary>
/// A ledger audit started from the dashboard (<see cref="LedgerAudit"/>: every stored row rehashed, every stored tree
/// head rebuilt and its signature checked). It reads the whole ledger, so it runs in the background, one at a time;
/// the ledger page shows the newest run.
/// </summary>
public sealed class LedgerAuditRun
{
    public required DateTimeOffset Started { get; init; }

    public required string StartedBy { get; init; }

    public DateTimeOffset? Finished { get; internal set; }

    public LedgerAuditReport? Report { get; internal set; }

    public string? Error { get; internal set; }

    public bool Running => Finished is null;
}
