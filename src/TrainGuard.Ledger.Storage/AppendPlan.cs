using TrainGuard.Ledger.Merkle;

namespace TrainGuard.Ledger.Storage;

/// <summary>
/// Decides, inside the append transaction, which inputs become new rows and which are duplicates of an
/// idempotency key already stored or repeated earlier in the batch, and holds the leaf hashes of the new rows.
/// </summary>
public sealed class AppendPlan
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

    /// <summary>The leaf hashes of the appended entries, in index order.</summary>
    public byte[] LeafHashes { get; }

    /// <summary>The leaf hash of the <paramref name="appended"/>-th new entry.</summary>
    public ArraySegment<byte> LeafHash(int appended) => new(LeafHashes, appended * MerkleHash.Size, MerkleHash.Size);

    public long NewTreeSize => checked(FirstIndex + AppendedCount);

    /// <summary>Plans an append at <paramref name="treeSize"/>; <paramref name="leafHashes"/> holds the leaf hash of every input, in input order.</summary>
    public static AppendPlan Create(IReadOnlyList<LedgerAppend> entries, long treeSize, IReadOnlyDictionary<string, long> existingKeys, ReadOnlySpan<byte> leafHashes)
    {
        ArgumentNullException.ThrowIfNull(entries);
        if (leafHashes.Length != entries.Count * MerkleHash.Size)
        {
            throw new ArgumentException("one 32-byte leaf hash per entry", nameof(leafHashes));
        }

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

        var plan = new AppendPlan(treeSize, indices, duplicates, checked((int)(next - treeSize)));
        var appended = 0;
        for (var i = 0; i < entries.Count; i++)
        {
            if (!duplicates[i])
            {
                leafHashes.Slice(i * MerkleHash.Size, MerkleHash.Size).CopyTo(plan.LeafHash(appended++));
            }
        }

        return plan;
    }

    /// <summary>The rows to write, in index order: each new entry with its index, leaf hash and idempotency key.</summary>
    public IEnumerable<AppendRow> NewRows(IReadOnlyList<LedgerAppend> entries)
    {
        var appended = 0;
        for (var i = 0; i < entries.Count; i++)
        {
            if (!Duplicates[i])
            {
                yield return new AppendRow(Indices[i], entries[i].Entry, LeafHash(appended++), entries[i].IdempotencyKey);
            }
        }
    }

    public AppendResult ToResult() => new(FirstIndex, Indices, Duplicates, AppendedCount, NewTreeSize) { LeafHashes = LeafHashes };

    public static IReadOnlyList<string> DistinctKeys(IReadOnlyList<LedgerAppend> entries) =>
        [.. entries.Select(e => e.IdempotencyKey).OfType<string>().Distinct(StringComparer.Ordinal)];
}

/// <summary>One row an append writes.</summary>
public readonly record struct AppendRow(long Index, byte[] Entry, ArraySegment<byte> LeafHash, string? IdempotencyKey);
