using TrainGuard.Ledger.Merkle;

namespace TrainGuard.Ledger.Storage;

/// <summary>
/// Decides, inside the append transaction, which inputs become new rows and which are duplicates of an
/// idempotency key already stored or repeated earlier in the batch.
/// </summary>
internal sealed class AppendPlan
{
    private AppendPlan(long firstIndex, long[] indices, bool[] duplicates, int appended)
    {
        FirstIndex = firstIndex;
        Indices = indices;
        Duplicates = duplicates;
        AppendedCount = appended;
        LeafHashes = new byte[checked(appended * MerkleHash.Size)];
    }

    public long FirstIndex { get; }

    public long[] Indices { get; }

    public bool[] Duplicates { get; }

    public int AppendedCount { get; }

    /// <summary>The leaf hashes of the appended entries, in index order, filled in by the store as it writes them.</summary>
    public byte[] LeafHashes { get; }

    /// <summary>Where the store writes the leaf hash of the <paramref name="appended"/>-th new entry.</summary>
    public Span<byte> LeafHash(int appended) => LeafHashes.AsSpan(appended * MerkleHash.Size, MerkleHash.Size);

    public long NewTreeSize => checked(FirstIndex + AppendedCount);

    public static AppendPlan Create(IReadOnlyList<LedgerAppend> entries, long treeSize, IReadOnlyDictionary<string, long> existingKeys)
    {
        var indices = new long[entries.Count];
        var duplicates = new bool[entries.Count];
        var batchKeys = new Dictionary<string, long>(StringComparer.Ordinal);
        var next = treeSize;
        for (var i = 0; i < entries.Count; i++)
        {
            var key = entries[i].IdempotencyKey;
            if (key is not null && (existingKeys.TryGetValue(key, out var existing) || batchKeys.TryGetValue(key, out existing)))
            {
                indices[i] = existing;
                duplicates[i] = true;
                continue;
            }

            indices[i] = next;
            if (key is not null)
            {
                batchKeys[key] = next;
            }

            next = checked(next + 1);
        }

        return new AppendPlan(treeSize, indices, duplicates, checked((int)(next - treeSize)));
    }

    public AppendResult ToResult() => new(FirstIndex, Indices, Duplicates, AppendedCount, NewTreeSize) { LeafHashes = LeafHashes };

    public static IReadOnlyList<string> DistinctKeys(IReadOnlyList<LedgerAppend> entries) =>
        [.. entries.Select(e => e.IdempotencyKey).OfType<string>().Distinct(StringComparer.Ordinal)];
}
