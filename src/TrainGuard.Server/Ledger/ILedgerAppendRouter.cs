using TrainGuard.Ledger.Storage;

namespace TrainGuard.Server.Ledger;

/// <summary>
/// Where a server that is not the sequencer sends its appends (several servers on one PostgreSQL database): the
/// sequencer appends them, and the answer comes back once they are in the committed, signed log.
/// </summary>
public interface ILedgerAppendRouter
{
    /// <summary>True while this process is the sequencer (appends go to its own store session, not through the router).</summary>
    bool IsSequencer { get; }

    /// <summary>Hands <paramref name="entries"/> to the sequencer and waits until they are appended (or found to be duplicates).</summary>
    Task<(AppendResult Result, PublishedTreeHead TreeHead)> AppendAsync(IReadOnlyList<LedgerAppend> entries, CancellationToken cancellationToken);
}
