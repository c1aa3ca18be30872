using System.Data.Common;
using System.Runtime.CompilerServices;
using TrainGuard.Ledger.Merkle;

namespace TrainGuard.Ledger.Storage;

/// <summary>
/// What the SQLite and PostgreSQL ledger stores share: the tables (<c>ledger_entry</c>, <c>ledger_head</c>,
/// <c>ledger_checkpoint</c>, the same columns in both), every read, and the steps of one append transaction (read and
/// lock the tree size, find the stored idempotency keys, write the new rows, run the append hook, move the tree size,
/// store the signed tree head, commit). A store supplies what differs: how connections and write transactions are
/// opened, and its fast paths for writing rows and looking keys up (SQLite: statements prepared once and bound by
/// position; PostgreSQL: binary COPY and one <c>= ANY</c> query).
/// </summary>
public abstract class SqlLedgerStore : ILedgerStore
{
    private const string SelectTreeHeads = "SELECT id, tree_size, root_hash, note, created_at FROM ledger_checkpoint";

    protected SqlLedgerStore(SqlDialect dialect)
    {
        Dialect = dialect;
    }

    /// <summary>The SQL differences of this store's database.</summary>
    public SqlDialect Dialect { get; }

    /// <summary>
    /// Optional work done inside every append transaction, after the new rows are written and before the tree size
    /// moves (e.g. a query index over the entries). Throwing rolls the whole batch back. Set before appending.
    /// </summary>
    public SqlAppendHook? AppendHook { get; set; }

    /// <summary>An open connection for reading (the caller disposes it).</summary>
    public abstract Task<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken = default);

    /// <inheritdoc />
    public async Task<long> AppendBatchAsync(IReadOnlyList<byte[]> entries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var result = await AppendBatchAsync([.. entries.Select(e => new LedgerAppend(e))], cancellationToken);
        return result.FirstIndex;
    }

    /// <inheritdoc />
    public Task<AppendResult> AppendBatchAsync(IReadOnlyList<LedgerAppend> entries, CancellationToken cancellationToken = default) =>
        AppendBatchAsync(entries, treeHead: null, cancellationToken);

    /// <inheritdoc />
    public Task<AppendResult> AppendBatchAsync(IReadOnlyList<LedgerAppend> entries, Func<AppendResult, TreeHeadDraft?>? treeHead, CancellationToken cancellationToken = default)
    {
        LedgerLimits.CheckBatch(entries, e => e.Entry, e => e.IdempotencyKey);

        // Hashed before the write lock is taken: appends are serialised, hashing need not be.
        var leafHashes = new byte[checked(entries.Count * MerkleHash.Size)];
        for (var i = 0; i < entries.Count; i++)
        {
            MerkleHash.HashLeaf(entries[i].Entry, leafHashes.AsSpan(i * MerkleHash.Size, MerkleHash.Size));
        }

        return AppendAsync(entries, leafHashes, treeHead, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<long> SizeAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        return await ReadTreeSizeAsync(connection, null, forUpdate: false, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<byte[]?> GetEntryAsync(long index, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = SqlDialect.Command(connection, null,
            "SELECT e.entry FROM ledger_entry e JOIN ledger_head h ON h.id = 1 WHERE e.idx = @idx AND e.idx < h.tree_size", ("@idx", index));
        return await command.ExecuteScalarAsync(cancellationToken) as byte[];
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<byte[]>> GetEntriesAsync(long start, int count, CancellationToken cancellationToken = default) =>
        ReadRangeAsync("entry", start, count, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<byte[]>> GetLeafHashesAsync(long start, int count, CancellationToken cancellationToken = default) =>
        ReadRangeAsync("leaf_hash", start, count, cancellationToken);

    /// <inheritdoc />
    public async Task<long?> FindByIdempotencyKeyAsync(string idempotencyKey, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(idempotencyKey);
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = SqlDialect.Command(connection, null, "SELECT idx FROM ledger_entry WHERE idem_key = @key", ("@key", idempotencyKey));
        return await command.ExecuteScalarAsync(cancellationToken) is long index ? index : null;
    }

    /// <inheritdoc />
    public Task<long> SaveTreeHeadAsync(long treeSize, ReadOnlyMemory<byte> rootHash, string signedNote, CancellationToken cancellationToken = default)
    {
        LedgerLimits.CheckTreeHead(treeSize, rootHash, signedNote);
        return InWriteTransactionAsync(
            async (connection, transaction) =>
            {
                var size = await ReadTreeSizeAsync(connection, transaction, forUpdate: false, cancellationToken);
                if (treeSize > size)
                {
                    throw new ArgumentOutOfRangeException(nameof(treeSize), $"tree head size {treeSize} is beyond the stored tree size {size}");
                }

                var stored = await InsertTreeHeadAsync(connection, transaction, treeSize, rootHash.ToArray(), signedNote, cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                return stored.Id;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<StoredTreeHead>> GetTreeHeadsAsync(CancellationToken cancellationToken = default) =>
        ReadTreeHeadsAsync(SelectTreeHeads + " ORDER BY id", cancellationToken);

    /// <inheritdoc />
    public async Task<StoredTreeHead?> GetLatestTreeHeadAsync(CancellationToken cancellationToken = default) =>
        (await ReadTreeHeadsAsync(SelectTreeHeads + " ORDER BY id DESC LIMIT 1", cancellationToken)).FirstOrDefault();

    /// <inheritdoc />
    public async IAsyncEnumerable<StoredEntry> ScanAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = SqlDialect.Command(connection, null, "SELECT idx, entry, leaf_hash FROM ledger_entry ORDER BY idx");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return new StoredEntry(reader.GetInt64(0), (byte[])reader.GetValue(1), (byte[])reader.GetValue(2));
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/> in a write transaction and commits it: for tables kept beside the ledger (alerts,
    /// the account timeline). On SQLite it runs on the store's one writer connection behind the same in-process gate
    /// as appends, so writers queue in order instead of sleeping in SQLite's busy handler while another holds the lock.
    /// </summary>
    public Task WriteAsync(Func<DbConnection, DbTransaction, Task> work, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        return InWriteTransactionAsync(
            async (connection, transaction) =>
            {
                await work(connection, transaction);
                await transaction.CommitAsync(cancellationToken);
                return true;
            },
            cancellationToken);
    }

    public abstract ValueTask DisposeAsync();

    /// <summary>
    /// Takes the store's write lock and transaction, then runs <see cref="AppendInTransactionAsync"/>.
    /// <paramref name="leafHashes"/> holds the leaf hash of every input, in input order.
    /// </summary>
    protected abstract Task<AppendResult> AppendAsync(IReadOnlyList<LedgerAppend> entries, byte[] leafHashes, Func<AppendResult, TreeHeadDraft?>? treeHead, CancellationToken cancellationToken);

    /// <summary>Runs <paramref name="work"/> in a write transaction it commits itself (storing a tree head outside an append).</summary>
    protected abstract Task<T> InWriteTransactionAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken cancellationToken);

    /// <summary>Opens a transaction that reads one consistent snapshot (a tree size and the rows below it).</summary>
    protected abstract Task<DbTransaction> BeginSnapshotAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>The stored index of each of <paramref name="keys"/> that is stored, read inside the append transaction.</summary>
    protected abstract Task<Dictionary<string, long>> FindKeysAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<string> keys, CancellationToken cancellationToken);

    /// <summary>Writes the plan's new rows (<see cref="AppendPlan.NewRows"/>), inside the append transaction.</summary>
    protected abstract Task InsertEntriesAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<LedgerAppend> entries, AppendPlan plan, CancellationToken cancellationToken);

    /// <summary>One append, inside <paramref name="transaction"/>, which it commits.</summary>
    protected async Task<AppendResult> AppendInTransactionAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<LedgerAppend> entries, byte[] leafHashes, Func<AppendResult, TreeHeadDraft?>? treeHead, CancellationToken cancellationToken)
    {
        var treeSize = await ReadTreeSizeAsync(connection, transaction, forUpdate: true, cancellationToken);
        var existing = await FindKeysAsync(connection, transaction, AppendPlan.DistinctKeys(entries), cancellationToken);
        var plan = AppendPlan.Create(entries, treeSize, existing, leafHashes);
        if (plan.AppendedCount > 0)
        {
            await InsertEntriesAsync(connection, transaction, entries, plan, cancellationToken);
        }

        if (AppendHook is { } hook)
        {
            await hook(connection, transaction, entries, plan.ToResult(), cancellationToken);
        }

        await using (var head = SqlDialect.Command(connection, transaction, "UPDATE ledger_head SET tree_size = @size WHERE id = 1", ("@size", plan.NewTreeSize)))
        {
            await head.ExecuteNonQueryAsync(cancellationToken);
        }

        StoredTreeHead? stored = null;
        if (treeHead?.Invoke(plan.ToResult()) is { } draft)
        {
            LedgerLimits.CheckTreeHead(draft.TreeSize, draft.RootHash, draft.Note);
            if (draft.TreeSize != plan.NewTreeSize)
            {
                throw new ArgumentException($"a tree head stored with an append covers its new tree size {plan.NewTreeSize}, not {draft.TreeSize}", nameof(treeHead));
            }

            stored = await InsertTreeHeadAsync(connection, transaction, draft.TreeSize, draft.RootHash, draft.Note, cancellationToken);
        }

        cancellationToken.ThrowIfCancellationRequested();
        await transaction.CommitAsync(cancellationToken);
        return plan.ToResult() with { TreeHead = stored };
    }

    private async Task<StoredTreeHead> InsertTreeHeadAsync(DbConnection connection, DbTransaction transaction, long treeSize, byte[] rootHash, string signedNote, CancellationToken cancellationToken)
    {
        var createdAt = SqlDialect.Now();
        await using var command = SqlDialect.Command(connection, transaction,
            "INSERT INTO ledger_checkpoint (tree_size, root_hash, note, created_at) VALUES (@size, @root, @note, @at) RETURNING id",
            ("@size", treeSize), ("@root", rootHash), ("@note", signedNote), ("@at", Dialect.Timestamp(createdAt)));
        var id = (long)(await command.ExecuteScalarAsync(cancellationToken))!;
        return new StoredTreeHead(id, treeSize, rootHash, signedNote, createdAt);
    }

    private async Task<long> ReadTreeSizeAsync(DbConnection connection, DbTransaction? transaction, bool forUpdate, CancellationToken cancellationToken)
    {
        await using var command = SqlDialect.Command(connection, transaction,
            "SELECT tree_size FROM ledger_head WHERE id = 1" + (forUpdate ? Dialect.LockRowSuffix : string.Empty));
        return await command.ExecuteScalarAsync(cancellationToken) is long size
            ? size
            : throw new LedgerIntegrityException("the ledger head row is missing");
    }

    private async Task<IReadOnlyList<byte[]>> ReadRangeAsync(string column, long start, int count, CancellationToken cancellationToken)
    {
        LedgerLimits.CheckRange(start, count);
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var transaction = await BeginSnapshotAsync(connection, cancellationToken);
        var size = await ReadTreeSizeAsync(connection, transaction, forUpdate: false, cancellationToken);
        var end = checked(start + count);
        if (end > size)
        {
            throw new ArgumentOutOfRangeException(nameof(count), $"range [{start}, {end}) is beyond the tree size {size}");
        }

        await using var command = SqlDialect.Command(connection, transaction,
            $"SELECT idx, {column} FROM ledger_entry WHERE idx >= @start AND idx < @end ORDER BY idx", ("@start", start), ("@end", end));
        var result = new List<byte[]>(count);
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                if (reader.GetInt64(0) != start + result.Count)
                {
                    throw new LedgerIntegrityException($"ledger entry {start + result.Count} is missing from the store (tree size {size})");
                }

                result.Add((byte[])reader.GetValue(1));
            }
        }

        if (result.Count != count)
        {
            throw new LedgerIntegrityException($"ledger entry {start + result.Count} is missing from the store (tree size {size})");
        }

        await transaction.CommitAsync(cancellationToken);
        return result;
    }

    private async Task<IReadOnlyList<StoredTreeHead>> ReadTreeHeadsAsync(string sql, CancellationToken cancellationToken)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = SqlDialect.Command(connection, null, sql);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var result = new List<StoredTreeHead>();
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new StoredTreeHead(reader.GetInt64(0), reader.GetInt64(1), (byte[])reader.GetValue(2), reader.GetString(3), Dialect.ReadTimestamp(reader, 4)));
        }

        return result;
    }
}

/// <summary>Work run inside an append transaction (see <see cref="SqlLedgerStore.AppendHook"/>), on the store's own connection.</summary>
public delegate Task SqlAppendHook(DbConnection connection, DbTransaction transaction, IReadOnlyList<LedgerAppend> entries, AppendResult result, CancellationToken cancellationToken);
