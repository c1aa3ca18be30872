using TrainGuard.Findings;
using TrainGuard.Ledger.Notes;
using TrainGuard.Ledger.Storage;
using TrainGuard.Ledger.Verification;
using TrainGuard.Server.Events;

namespace TrainGuard.Server.Storage;

/// <summary>
/// <c>trainguard ledger audit</c> of a server's database: the ledger (<see cref="LedgerAuditor"/>) and the event index
/// checked against the committed entries.
/// </summary>
public static class ServerStoreAudit
{
    public static Task<Report> AuditAsync(IServerStore store, IEnumerable<NoteVerifier>? logKeys, CancellationToken cancellationToken = default) =>
        AuditAsync(store, logKeys, [], cancellationToken);

    /// <summary>Audits the store and checks that it still reproduces every tree head in <paramref name="keptTreeHeads"/> (kept outside the server).</summary>
    public static Task<Report> AuditAsync(IServerStore store, IEnumerable<NoteVerifier>? logKeys, IReadOnlyList<string> keptTreeHeads, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        return LedgerAuditor.AuditAsync(store.Ledger, store.Description, logKeys, keptTreeHeads, (treeSize, ct) => CheckIndexAsync(store, treeSize, ct), cancellationToken);
    }

    private static async Task<IReadOnlyList<Finding>> CheckIndexAsync(IServerStore store, long treeSize, CancellationToken cancellationToken)
    {
        var findings = new List<Finding>();
        var where = store.Description;
        var listed = 0;
        long mismatches = 0;
        // Both streams are in leaf order: merge them.
        await using var entries = store.Ledger.ScanAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);
        await using var rows = store.ScanIndexAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);
        var hasEntry = await entries.MoveNextAsync();
        var hasRow = await rows.MoveNextAsync();
        while (hasEntry || hasRow)
        {
            if (hasEntry && entries.Current.Index >= treeSize)
            {
                hasEntry = await entries.MoveNextAsync();
                continue;
            }

            if (hasEntry && (!hasRow || entries.Current.Index < rows.Current.Index))
            {
                if (EventIndexRow.FromEntry(entries.Current.Index, entries.Current.Entry) is not null)
                {
                    Report(entries.Current.Index, "the committed event has no index row: queries do not return it");
                }

                hasEntry = await entries.MoveNextAsync();
            }
            else if (!hasEntry || rows.Current.Index < entries.Current.Index)
            {
                Report(rows.Current.Index, "an index row exists for a leaf that holds no such event");
                hasRow = await rows.MoveNextAsync();
            }
            else
            {
                var row = rows.Current;
                var derived = EventIndexRow.FromEntry(entries.Current.Index, entries.Current.Entry);
                if (derived is null)
                {
                    Report(row.Index, "an index row exists for a leaf that holds no well-formed event");
                }
                else if (derived != row)
                {
                    Report(row.Index, $"the index row (host={row.Host}, user={row.User}, action={row.Action}, ts={row.TimestampMicros}) differs from the committed event (host={derived.Host}, user={derived.User}, action={derived.Action}, ts={derived.TimestampMicros})");
                }

                hasEntry = await entries.MoveNextAsync();
                hasRow = await rows.MoveNextAsync();
            }
        }

        if (mismatches > listed)
        {
            findings.Add(LedgerFindings.Make(LedgerRules.IndexMismatch, $"{mismatches - listed} more event index mismatches not listed", where, null));
        }

        return findings;

        void Report(long index, string message)
        {
            mismatches++;
            if (listed < LedgerAudit.MaxListedFindings)
            {
                listed++;
                findings.Add(LedgerFindings.Make(LedgerRules.IndexMismatch, $"event index for leaf {index}: {message}", where, $"event_index idx={index}", ("index", index)));
            }
        }
    }
}
