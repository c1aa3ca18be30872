using TrainGuard.Ledger.Merkle;
using TrainGuard.Ledger.Notes;
using TrainGuard.Parsing;

namespace TrainGuard.Ledger.Storage;

/// <summary>
/// Re-derives the whole ledger from what is stored and compares it with every signed tree head handed out:
/// recomputes each leaf hash from its entry, rebuilds the tree from those leaves (streaming, O(log n) memory)
/// and checks the root at each tree head's size against the root in the tree head's signed note.
/// </summary>
public static class LedgerAudit
{
    /// <summary>Most individual findings of one kind listed in a report (counts stay exact).</summary>
    public const int MaxListedFindings = 10_000;

    /// <summary>Audits <paramref name="store"/>; with <paramref name="logKeys"/>, tree head signatures are verified too.</summary>
    public static Task<LedgerAuditReport> RunAsync(ILedgerStore store, IEnumerable<NoteVerifier>? logKeys = null, CancellationToken cancellationToken = default) =>
        RunAsync(store, logKeys, [], cancellationToken);

    /// <summary>
    /// Audits <paramref name="store"/> and also checks <paramref name="keptTreeHeads"/> (signed notes kept outside the
    /// server, e.g. by a witness) against the stored entries; they appear in the report with negative ids (-1, -2...).
    /// </summary>
    public static async Task<LedgerAuditReport> RunAsync(ILedgerStore store, IEnumerable<NoteVerifier>? logKeys, IReadOnlyList<string> keptTreeHeads, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(keptTreeHeads);
        var keys = logKeys?.ToList();
        var storedSize = await store.SizeAsync(cancellationToken);
        var checkpoints = (await store.GetTreeHeadsAsync(cancellationToken))
            .Concat(keptTreeHeads.Select(Kept))
            .Select(c => Inspect(c, keys))
            .OrderBy(c => c.Claimed?.Size ?? long.MaxValue)
            .ToList();

        var changed = new List<long>();
        var missing = new List<LedgerGap>();
        var unexpected = new List<long>();
        long changedCount = 0, rowCount = 0;
        var accumulator = new MerkleAccumulator();
        var broken = false;
        var next = 0L;
        var pending = 0;
        var leaf = new byte[MerkleHash.Size];

        // Size-0 tree heads are checked against the empty root before any entry.
        pending = Settle(checkpoints, pending, accumulator);
        await foreach (var row in store.ScanAsync(cancellationToken))
        {
            rowCount++;
            if (row.Index >= storedSize)
            {
                Add(unexpected, row.Index);
            }

            if (row.Index > next)
            {
                if (missing.Count < MaxListedFindings)
                {
                    missing.Add(new LedgerGap(next, row.Index - 1));
                }

                broken = true;
            }

            next = row.Index + 1;
            MerkleHash.HashLeaf(row.Entry, leaf);
            if (!MerkleHash.FixedTimeEquals(leaf, row.LeafHash))
            {
                changedCount++;
                Add(changed, row.Index);
            }

            if (!broken)
            {
                accumulator.Add(leaf);
                pending = Settle(checkpoints, pending, accumulator);
            }
        }

        if (next < storedSize)
        {
            missing.Add(new LedgerGap(next, storedSize - 1));
        }

        // Tree heads beyond what could be rebuilt cannot be reproduced from the store.
        for (; pending < checkpoints.Count; pending++)
        {
            var c = checkpoints[pending];
            if (c.Status == TreeHeadAuditStatus.Matches)
            {
                checkpoints[pending] = c with { Status = TreeHeadAuditStatus.EntriesMissing };
            }
        }

        // Localise rewrites that also fixed the leaf hash: between the last matching and first failing size.
        var results = new List<TreeHeadAudit>(checkpoints.Count);
        long lastGoodSize = 0;
        foreach (var c in checkpoints)
        {
            var result = c.Status == TreeHeadAuditStatus.Matches
                ? c
                : c with { SuspectFromIndex = lastGoodSize };
            if (c.Status == TreeHeadAuditStatus.Matches && c.Claimed is not null)
            {
                lastGoodSize = c.Claimed.Size;
            }

            results.Add(result);
        }

        return new LedgerAuditReport(
            storedSize,
            rowCount,
            changed,
            changedCount,
            missing,
            unexpected,
            [.. results.OrderBy(c => c.Stored.Id)]);

        static void Add(List<long> list, long index)
        {
            if (list.Count < MaxListedFindings)
            {
                list.Add(index);
            }
        }
    }

    private static int Settle(List<TreeHeadAudit> checkpoints, int pending, MerkleAccumulator accumulator)
    {
        byte[]? root = null;
        while (pending < checkpoints.Count && checkpoints[pending].Claimed is { } claimed && claimed.Size == accumulator.Size)
        {
            root ??= accumulator.Root();
            var c = checkpoints[pending];
            if (c.Status == TreeHeadAuditStatus.Matches && !MerkleHash.FixedTimeEquals(root, claimed.RootHash))
            {
                checkpoints[pending] = c with { Status = TreeHeadAuditStatus.RootMismatch };
            }

            pending++;
        }

        return pending;
    }

    /// <summary>A kept tree head as if it were stored: its columns are those of its own note (malformed: left to <see cref="Inspect"/>).</summary>
    private static StoredTreeHead Kept(string note, int position)
    {
        try
        {
            var head = TreeHead.Parse(SignedNote.Parse(note).Text);
            return new StoredTreeHead(-(position + 1), head.Size, head.RootHash.ToArray(), note, DateTimeOffset.MinValue);
        }
        catch (MalformedInputException)
        {
            return new StoredTreeHead(-(position + 1), -1, [], note, DateTimeOffset.MinValue);
        }
    }

    private static TreeHeadAudit Inspect(StoredTreeHead stored, List<NoteVerifier>? keys)
    {
        SignedNote note;
        TreeHead claimed;
        try
        {
            note = SignedNote.Parse(stored.Note);
            claimed = TreeHead.Parse(note.Text);
        }
        catch (MalformedInputException e)
        {
            return new TreeHeadAudit(stored, null, TreeHeadAuditStatus.NoteMalformed, e.Message, null);
        }

        if (keys is not null)
        {
            var verification = note.Verify(keys);
            if (!verification.IsVerified)
            {
                return new TreeHeadAudit(stored, claimed, TreeHeadAuditStatus.SignatureInvalid, verification.Problem, null);
            }
        }

        if (claimed.Size != stored.TreeSize || !claimed.RootHash.SequenceEqual(stored.RootHash))
        {
            return new TreeHeadAudit(stored, claimed, TreeHeadAuditStatus.StoredColumnsAltered, "the stored size or root differs from the signed note", null);
        }

        return new TreeHeadAudit(stored, claimed, TreeHeadAuditStatus.Matches, null, null);
    }
}

/// <summary>What an audit found.</summary>
public sealed record LedgerAuditReport(
    long StoredTreeSize,
    long StoredRowCount,
    IReadOnlyList<long> ChangedEntries,
    long ChangedEntryCount,
    IReadOnlyList<LedgerGap> MissingEntries,
    IReadOnlyList<long> UnexpectedEntries,
    IReadOnlyList<TreeHeadAudit> TreeHeads)
{
    /// <summary>True when every row is present and unaltered and every tree head is reproduced.</summary>
    public bool IsIntact =>
        ChangedEntryCount == 0 && MissingEntries.Count == 0 && UnexpectedEntries.Count == 0 &&
        TreeHeads.All(c => c.Status == TreeHeadAuditStatus.Matches);
}

/// <summary>Indices <c>[First, Last]</c> absent from the store.</summary>
public sealed record LedgerGap(long First, long Last);

/// <summary>How one stored tree head fared.</summary>
public enum TreeHeadAuditStatus
{
    /// <summary>The root rebuilt from the stored entries at the tree head's size is the signed root.</summary>
    Matches,

    /// <summary>The rebuilt root differs: entries below the tree head's size were changed.</summary>
    RootMismatch,

    /// <summary>Entries below the tree head's size are missing, so its root cannot be reproduced.</summary>
    EntriesMissing,

    /// <summary>The stored signed note is not a well-formed tree head.</summary>
    NoteMalformed,

    /// <summary>The note is not validly signed by the given log keys.</summary>
    SignatureInvalid,

    /// <summary>The row's size or root column disagrees with its own signed note.</summary>
    StoredColumnsAltered,
}

/// <summary>
/// One tree head's audit: <see cref="Claimed"/> is what its signed note says; for a failure,
/// <see cref="SuspectFromIndex"/> is the size of the last tree head that still matched, so the change lies in
/// <c>[SuspectFromIndex, Claimed.Size)</c>.
/// </summary>
public sealed record TreeHeadAudit(StoredTreeHead Stored, TreeHead? Claimed, TreeHeadAuditStatus Status, string? Problem, long? SuspectFromIndex);
