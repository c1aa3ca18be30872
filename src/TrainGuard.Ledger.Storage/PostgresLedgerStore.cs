using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using Npgsql;
using NpgsqlTypes;
using TrainGuard.Ledger.Merkle;

namespace TrainGuard.Ledger.Storage;

/// <summary>
/// <see cref="ILedgerStore"/> in PostgreSQL (tables in the connection's current schema). Reads go through a
/// pooled data source and can run on any replica; appends go through one <em>sequencer</em> connection that
/// holds a session-level <c>pg_advisory_lock</c> for this ledger, so only one process appends at a time
/// (others wait up to <see cref="SequencerTimeout"/>). Each batch is one transaction that locks the head
/// row, bulk-copies the rows and advances the tree size.
/// </summary>
public sealed class PostgresLedgerStore : ILedgerStore
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS ledger_entry (
            idx bigint PRIMARY KEY,
            entry bytea NOT NULL,
            leaf_hash bytea NOT NULL,
            idem_key text NULL UNIQUE
        );
        CREATE TABLE IF NOT EXISTS ledger_head (
            id integer PRIMARY KEY CHECK (id = 1),
            tree_size bigint NOT NULL
        );
        INSERT INTO ledger_head (id, tree_size) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
        CREATE TABLE IF NOT EXISTS ledger_checkpoint (
            id bigserial PRIMARY KEY,
            tree_size bigint NOT NULL,
            root_hash bytea NOT NULL,
            note text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private NpgsqlConnection? _sequencer;

    private PostgresLedgerStore(NpgsqlDataSource dataSource, long lockKey)
    {
        _dataSource = dataSource;
        SequencerLockKey = lockKey;
    }

    /// <summary>The advisory lock key: derived from the database and schema, so each ledger has its own sequencer.</summary>
    public long SequencerLockKey { get; }

    /// <summary>How long an append waits for another process's sequencer lock before failing.</summary>
    public TimeSpan SequencerTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>True while this instance holds the sequencer lock.</summary>
    public bool IsSequencer => _sequencer is not null;

    /// <summary>The pooled data source the store reads through (owned by the store).</summary>
    public NpgsqlDataSource DataSource => _dataSource;

    /// <summary>
    /// Optional work done inside every append transaction, after the new rows are copied and before the tree
    /// size moves (e.g. a query index over the entries). Throwing rolls the whole batch back. Set before appending.
    /// </summary>
    public PostgresAppendHook? AppendHook { get; set; }

    /// <summary>Connects, creates the tables if needed, and returns the store. The data source is owned by the store.</summary>
    public static async Task<PostgresLedgerStore> OpenAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        var dataSource = NpgsqlDataSource.Create(connectionString);
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            var lockKey = await DeriveLockKeyAsync(connection, cancellationToken);
            await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
            {
                // Serialise concurrent schema creation (CREATE TABLE IF NOT EXISTS races in PostgreSQL).
                await using (var guard = new NpgsqlCommand("SELECT pg_advisory_xact_lock(@key)", connection, transaction))
                {
                    guard.Parameters.AddWithValue("key", lockKey ^ 0x5c5c5c5c);
                    await guard.ExecuteNonQueryAsync(cancellationToken);
                }

                await using (var create = new NpgsqlCommand(Schema, connection, transaction))
                {
                    await create.ExecuteNonQueryAsync(cancellationToken);
                }

                await transaction.CommitAsync(cancellationToken);
            }

            return new PostgresLedgerStore(dataSource, lockKey);
        }
        catch
        {
            await dataSource.DisposeAsync();
            throw;
        }
    }

    /// <inheritdoc />
    public async Task<long> AppendBatchAsync(IReadOnlyList<byte[]> entries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var result = await AppendBatchAsync([.. entries.Select(e => new LedgerAppend(e))], cancellationToken);
        return result.FirstIndex;
    }

    /// <inheritdoc />
    public Task<AppendResult> AppendBatchAsync(IReadOnlyList<LedgerAppend> entries, CancellationToken cancellationToken = default) =>
        AppendBatchAsync(entries, checkpoint: null, cancellationToken);

    /// <inheritdoc />
    public async Task<AppendResult> AppendBatchAsync(IReadOnlyList<LedgerAppend> entries, Func<AppendResult, TreeHeadDraft?>? checkpoint, CancellationToken cancellationToken = default)
    {
        LedgerLimits.CheckBatch(entries, e => e.Entry, e => e.IdempotencyKey);
        await _writeGate.WaitAsync(cancellationToken);
        try
        {
            var connection = await AcquireSequencerAsync(cancellationToken);
            try
            {
                return await AppendCoreAsync(connection, entries, checkpoint, cancellationToken);
            }
            catch (Exception e) when (e is NpgsqlException or IOException or TimeoutException || connection.FullState.HasFlag(System.Data.ConnectionState.Broken))
            {
                // The sequencer session may be gone, and the advisory lock with it: reacquire next time.
                await ReleaseSequencerAsync();
                throw;
            }
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <summary>Takes the sequencer lock now (appends take it on first use) and keeps it until disposal.</summary>
    public async Task AcquireSequencerLockAsync(CancellationToken cancellationToken = default)
    {
        await _writeGate.WaitAsync(cancellationToken);
        try
        {
            await AcquireSequencerAsync(cancellationToken);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <inheritdoc />
    public async Task<long> SizeAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        return await ReadTreeSizeAsync(connection, null, forUpdate: false, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<byte[]?> GetEntryAsync(long index, CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand(
            "SELECT e.entry FROM ledger_entry e JOIN ledger_head h ON h.id = 1 WHERE e.idx = @idx AND e.idx < h.tree_size");
        command.Parameters.AddWithValue("idx", index);
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
        await using var command = _dataSource.CreateCommand("SELECT idx FROM ledger_entry WHERE idem_key = @key");
        command.Parameters.AddWithValue("key", idempotencyKey);
        return await command.ExecuteScalarAsync(cancellationToken) is long index ? index : null;
    }

    /// <inheritdoc />
    public async Task<long> SaveTreeHeadAsync(long treeSize, ReadOnlyMemory<byte> rootHash, string signedNote, CancellationToken cancellationToken = default)
    {
        LedgerLimits.CheckTreeHead(treeSize, rootHash, signedNote);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var size = await ReadTreeSizeAsync(connection, transaction, forUpdate: false, cancellationToken);
        if (treeSize > size)
        {
            throw new ArgumentOutOfRangeException(nameof(treeSize), $"checkpoint size {treeSize} is beyond the stored tree size {size}");
        }

        await using var command = new NpgsqlCommand(
            "INSERT INTO ledger_checkpoint (tree_size, root_hash, note) VALUES (@size, @root, @note) RETURNING id", connection, transaction);
        command.Parameters.AddWithValue("size", treeSize);
        command.Parameters.AddWithValue("root", rootHash.ToArray());
        command.Parameters.AddWithValue("note", signedNote);
        var id = (long)(await command.ExecuteScalarAsync(cancellationToken))!;
        await transaction.CommitAsync(cancellationToken);
        return id;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<StoredTreeHead>> GetTreeHeadsAsync(CancellationToken cancellationToken = default) =>
        await ReadTreeHeadsAsync("SELECT id, tree_size, root_hash, note, created_at FROM ledger_checkpoint ORDER BY id", cancellationToken);

    /// <inheritdoc />
    public async Task<StoredTreeHead?> GetLatestTreeHeadAsync(CancellationToken cancellationToken = default) =>
        (await ReadTreeHeadsAsync("SELECT id, tree_size, root_hash, note, created_at FROM ledger_checkpoint ORDER BY id DESC LIMIT 1", cancellationToken)).FirstOrDefault();

    /// <inheritdoc />
    public async IAsyncEnumerable<StoredEntry> ScanAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand("SELECT idx, entry, leaf_hash FROM ledger_entry ORDER BY idx");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return new StoredEntry(reader.GetInt64(0), (byte[])reader.GetValue(1), (byte[])reader.GetValue(2));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await ReleaseSequencerAsync();
        await _dataSource.DisposeAsync();
        _writeGate.Dispose();
    }

    private async Task<AppendResult> AppendCoreAsync(NpgsqlConnection connection, IReadOnlyList<LedgerAppend> entries, Func<AppendResult, TreeHeadDraft?>? checkpoint, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var treeSize = await ReadTreeSizeAsync(connection, transaction, forUpdate: true, cancellationToken);
        var existing = await FindKeysAsync(connection, transaction, AppendPlan.DistinctKeys(entries), cancellationToken);
        var plan = AppendPlan.Create(entries, treeSize, existing);

        if (plan.AppendedCount > 0)
        {
            await using var import = await connection.BeginBinaryImportAsync(
                "COPY ledger_entry (idx, entry, leaf_hash, idem_key) FROM STDIN (FORMAT BINARY)", cancellationToken);
            var appended = 0;
            for (var i = 0; i < entries.Count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (plan.Duplicates[i])
                {
                    continue;
                }

                var data = entries[i].Entry;
                await import.StartRowAsync(cancellationToken);
                await import.WriteAsync(plan.Indices[i], NpgsqlDbType.Bigint, cancellationToken);
                await import.WriteAsync(data, NpgsqlDbType.Bytea, cancellationToken);
                var leafHash = MerkleHash.HashLeaf(data);
                leafHash.CopyTo(plan.LeafHash(appended++));
                await import.WriteAsync(leafHash, NpgsqlDbType.Bytea, cancellationToken);
                if (entries[i].IdempotencyKey is { } key)
                {
                    await import.WriteAsync(key, NpgsqlDbType.Text, cancellationToken);
                }
                else
                {
                    await import.WriteNullAsync(cancellationToken);
                }
            }

            await import.CompleteAsync(cancellationToken);
        }

        if (AppendHook is { } hook)
        {
            await hook(connection, transaction, entries, plan.ToResult(), cancellationToken);
        }

        await using (var head = new NpgsqlCommand("UPDATE ledger_head SET tree_size = @size WHERE id = 1", connection, transaction))
        {
            head.Parameters.AddWithValue("size", plan.NewTreeSize);
            await head.ExecuteNonQueryAsync(cancellationToken);
        }

        StoredTreeHead? stored = null;
        if (checkpoint?.Invoke(plan.ToResult()) is { } draft)
        {
            LedgerLimits.CheckTreeHead(draft.TreeSize, draft.RootHash, draft.Note);
            if (draft.TreeSize != plan.NewTreeSize)
            {
                throw new ArgumentException($"a checkpoint stored with an append covers its new tree size {plan.NewTreeSize}, not {draft.TreeSize}", nameof(checkpoint));
            }

            await using var insert = new NpgsqlCommand(
                "INSERT INTO ledger_checkpoint (tree_size, root_hash, note) VALUES (@size, @root, @note) RETURNING id, created_at", connection, transaction);
            insert.Parameters.AddWithValue("size", draft.TreeSize);
            insert.Parameters.AddWithValue("root", draft.RootHash);
            insert.Parameters.AddWithValue("note", draft.Note);
            await using var reader = await insert.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            stored = new StoredTreeHead(reader.GetInt64(0), draft.TreeSize, draft.RootHash, draft.Note, reader.GetFieldValue<DateTimeOffset>(1));
        }

        cancellationToken.ThrowIfCancellationRequested();
        await transaction.CommitAsync(cancellationToken);
        return plan.ToResult() with { TreeHead = stored };
    }

    private async Task<NpgsqlConnection> AcquireSequencerAsync(CancellationToken cancellationToken)
    {
        if (_sequencer is not null)
        {
            return _sequencer;
        }

        var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            var deadline = DateTime.UtcNow + SequencerTimeout;
            await using var command = new NpgsqlCommand("SELECT pg_try_advisory_lock(@key)", connection);
            command.Parameters.AddWithValue("key", SequencerLockKey);
            while (!(bool)(await command.ExecuteScalarAsync(cancellationToken))!)
            {
                if (DateTime.UtcNow >= deadline)
                {
                    throw new TimeoutException($"another process holds the ledger sequencer lock ({SequencerLockKey}); waited {SequencerTimeout}");
                }

                await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
            }

            _sequencer = connection;
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private async Task ReleaseSequencerAsync()
    {
        var connection = _sequencer;
        _sequencer = null;
        if (connection is null)
        {
            return;
        }

        // A pooled connection keeps its session (and the lock) while idle in the pool, so unlock explicitly;
        // a broken connection's session is gone and its locks with it.
        try
        {
            if (connection.FullState == System.Data.ConnectionState.Open)
            {
                await using var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock(@key)", connection);
                unlock.Parameters.AddWithValue("key", SequencerLockKey);
                await unlock.ExecuteNonQueryAsync();
            }
        }
        catch (Exception e) when (e is NpgsqlException or IOException or InvalidOperationException)
        {
            NpgsqlConnection.ClearPool(connection);
        }
        finally
        {
            await connection.DisposeAsync();
        }
    }

    private static async Task<Dictionary<string, long>> FindKeysAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyList<string> keys, CancellationToken cancellationToken)
    {
        var found = new Dictionary<string, long>(StringComparer.Ordinal);
        if (keys.Count == 0)
        {
            return found;
        }

        await using var command = new NpgsqlCommand("SELECT idem_key, idx FROM ledger_entry WHERE idem_key = ANY(@keys)", connection, transaction);
        command.Parameters.AddWithValue("keys", keys.ToArray());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            found[reader.GetString(0)] = reader.GetInt64(1);
        }

        return found;
    }

    private async Task<IReadOnlyList<byte[]>> ReadRangeAsync(string column, long start, int count, CancellationToken cancellationToken)
    {
        LedgerLimits.CheckRange(start, count);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        var size = await ReadTreeSizeAsync(connection, transaction, forUpdate: false, cancellationToken);
        var end = checked(start + count);
        if (end > size)
        {
            throw new ArgumentOutOfRangeException(nameof(count), $"range [{start}, {end}) is beyond the tree size {size}");
        }

        await using var command = new NpgsqlCommand(
            $"SELECT idx, {column} FROM ledger_entry WHERE idx >= @start AND idx < @end ORDER BY idx", connection, transaction);
        command.Parameters.AddWithValue("start", start);
        command.Parameters.AddWithValue("end", end);
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
        await using var command = _dataSource.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var result = new List<StoredTreeHead>();
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new StoredTreeHead(
                reader.GetInt64(0),
                reader.GetInt64(1),
                (byte[])reader.GetValue(2),
                reader.GetString(3),
                reader.GetFieldValue<DateTimeOffset>(4)));
        }

        return result;
    }

    private static async Task<long> ReadTreeSizeAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, bool forUpdate, CancellationToken cancellationToken)
    {
        var sql = forUpdate ? "SELECT tree_size FROM ledger_head WHERE id = 1 FOR UPDATE" : "SELECT tree_size FROM ledger_head WHERE id = 1";
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        return await command.ExecuteScalarAsync(cancellationToken) is long size
            ? size
            : throw new LedgerIntegrityException("the ledger head row is missing");
    }

    private static async Task<long> DeriveLockKeyAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT current_database() || '.' || current_schema()", connection);
        var scope = (string)(await command.ExecuteScalarAsync(cancellationToken))!;
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes("trainguard-ledger-sequencer:" + scope));
        return BinaryPrimitives.ReadInt64BigEndian(digest);
    }
}

/// <summary>Work run inside a PostgreSQL append transaction (see <see cref="PostgresLedgerStore.AppendHook"/>).</summary>
public delegate Task PostgresAppendHook(NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyList<LedgerAppend> entries, AppendResult result, CancellationToken cancellationToken);
