namespace TrainGuard.Ledger.Storage;

/// <summary>
/// Durable, append-only storage for ledger entries, their RFC 9162 leaf hashes, the tree size and the signed
/// tree heads handed out. An append is atomic: the entries, their leaf hashes and the new tree size commit
/// together or not at all, so the stored size never claims leaves that are not stored.
/// </summary>
public interface ILedgerStore : IAsyncDisposable
{
    /// <summary>Appends entries in order and returns the index of the first.</summary>
    Task<long> AppendBatchAsync(IReadOnlyList<byte[]> entries, CancellationToken cancellationToken = default);

    /// <summary>
    /// Appends entries, each with an optional idempotency key (unique across the ledger): an entry whose key is
    /// already stored (or repeated earlier in the batch) is not appended again and reports the existing index.
    /// </summary>
    Task<AppendResult> AppendBatchAsync(IReadOnlyList<LedgerAppend> entries, CancellationToken cancellationToken = default);

    /// <summary>
    /// Appends like <see cref="AppendBatchAsync(IReadOnlyList{LedgerAppend}, CancellationToken)"/> and, in the same
    /// transaction, stores the tree head <paramref name="tree head"/> returns for the new tree (called after the rows
    /// are written, with the result; null stores none). The tree head is then durable exactly when the batch is, and
    /// is returned in <see cref="AppendResult.TreeHead"/>.
    /// </summary>
    Task<AppendResult> AppendBatchAsync(IReadOnlyList<LedgerAppend> entries, Func<AppendResult, TreeHeadDraft?>? treeHead, CancellationToken cancellationToken = default);

    /// <summary>The committed tree size.</summary>
    Task<long> SizeAsync(CancellationToken cancellationToken = default);

    /// <summary>The entry at <paramref name="index"/>, or null when there is none.</summary>
    Task<byte[]?> GetEntryAsync(long index, CancellationToken cancellationToken = default);

    /// <summary>Entries <c>[start, start + count)</c>, in order; throws <see cref="LedgerIntegrityException"/> when one is missing.</summary>
    Task<IReadOnlyList<byte[]>> GetEntriesAsync(long start, int count, CancellationToken cancellationToken = default);

    /// <summary>Leaf hashes <c>[start, start + count)</c>, in order; throws <see cref="LedgerIntegrityException"/> when one is missing.</summary>
    Task<IReadOnlyList<byte[]>> GetLeafHashesAsync(long start, int count, CancellationToken cancellationToken = default);

    /// <summary>The index of the entry stored under an idempotency key, if any.</summary>
    Task<long?> FindByIdempotencyKeyAsync(string idempotencyKey, CancellationToken cancellationToken = default);

    /// <summary>Records a signed tree head that was handed out; returns its id.</summary>
    Task<long> SaveTreeHeadAsync(long treeSize, ReadOnlyMemory<byte> rootHash, string signedNote, CancellationToken cancellationToken = default);

    /// <summary>Every stored tree head, oldest first.</summary>
    Task<IReadOnlyList<StoredTreeHead>> GetTreeHeadsAsync(CancellationToken cancellationToken = default);

    /// <summary>The most recent stored tree head, if any.</summary>
    Task<StoredTreeHead?> GetLatestTreeHeadAsync(CancellationToken cancellationToken = default);

    /// <summary>Every stored entry row as it is on disk, in index order (for audits; no integrity checks).</summary>
    IAsyncEnumerable<StoredEntry> ScanAsync(CancellationToken cancellationToken = default);
}

/// <summary>
/// One entry to append, with an optional idempotency key (e.g. an event id). Callers may pass a derived record that
/// carries data already derived from the entry for their append hooks (the store only reads these two members).
/// </summary>
public record LedgerAppend(byte[] Entry, string? IdempotencyKey = null);

/// <summary>
/// Outcome of an append: <see cref="Indices"/>[i] is the ledger index of input i (existing for duplicates);
/// <see cref="FirstIndex"/> is the first newly appended index (equal to <see cref="TreeSize"/> when nothing was new).
/// </summary>
public sealed record AppendResult(long FirstIndex, long[] Indices, bool[] Duplicates, int AppendedCount, long TreeSize)
{
    /// <summary>
    /// The stored leaf hashes of the appended entries (32 bytes each, index order from <see cref="FirstIndex"/>), so the
    /// in-memory tree can grow without reading them back; empty when the store did not report them.
    /// </summary>
    public ReadOnlyMemory<byte> LeafHashes { get; init; }

    /// <summary>The tree head stored in the append's transaction, if one was asked for.</summary>
    public StoredTreeHead? TreeHead { get; init; }
}

/// <summary>A signed tree head to store with an append: its tree size must be the append's new tree size.</summary>
public sealed record TreeHeadDraft(long TreeSize, byte[] RootHash, string Note);

/// <summary>A signed tree head as stored.</summary>
public sealed record StoredTreeHead(long Id, long TreeSize, byte[] RootHash, string Note, DateTimeOffset CreatedAt);

/// <summary>A stored entry row as read back, without any verification.</summary>
public sealed record StoredEntry(long Index, byte[] Entry, byte[] LeafHash);
