using TrainGuard.Ledger.Merkle;
using TrainGuard.Ledger.Tiles;

namespace TrainGuard.Ledger.Storage;

/// <summary>Bounds on what the ledger accepts, checked before anything is written.</summary>
public static class LedgerLimits
{
    /// <summary>Largest entry: C2SP tlog-tiles entry bundles prefix each entry with a big-endian u16 length.</summary>
    public const int MaxEntryBytes = EntryBundle.MaxEntryBytes;

    /// <summary>Most entries in one append.</summary>
    public const int MaxBatchEntries = 100_000;

    /// <summary>Longest idempotency key, in characters.</summary>
    public const int MaxIdempotencyKeyLength = 256;

    /// <summary>Most rows returned by one range read.</summary>
    public const int MaxReadCount = 1 << 20;

    /// <summary>Largest signed note stored with a tree head.</summary>
    public const int MaxTreeHeadNoteLength = 1 << 20;

    internal static void CheckBatch<T>(IReadOnlyList<T> entries, Func<T, byte[]> entry, Func<T, string?> key)
    {
        ArgumentNullException.ThrowIfNull(entries);
        if (entries.Count > MaxBatchEntries)
        {
            throw new ArgumentException($"a batch holds at most {MaxBatchEntries:N0} entries", nameof(entries));
        }

        for (var i = 0; i < entries.Count; i++)
        {
            var data = entry(entries[i]) ?? throw new ArgumentException($"entry {i} is null", nameof(entries));
            if (data.Length > MaxEntryBytes)
            {
                throw new ArgumentException($"entry {i} is {data.Length:N0} bytes; entries are at most {MaxEntryBytes:N0} bytes", nameof(entries));
            }

            var k = key(entries[i]);
            if (k is not null && (k.Length == 0 || k.Length > MaxIdempotencyKeyLength))
            {
                throw new ArgumentException($"idempotency key of entry {i} must be 1..{MaxIdempotencyKeyLength} characters", nameof(entries));
            }
        }
    }

    internal static void CheckRange(long start, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, MaxReadCount);
    }

    internal static void CheckTreeHead(long treeSize, ReadOnlyMemory<byte> rootHash, string signedNote)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(treeSize);
        ArgumentNullException.ThrowIfNull(signedNote);
        if (rootHash.Length != MerkleHash.Size)
        {
            throw new ArgumentException("a root hash is 32 bytes", nameof(rootHash));
        }

        if (signedNote.Length > MaxTreeHeadNoteLength)
        {
            throw new ArgumentException("signed note too large", nameof(signedNote));
        }
    }
}
