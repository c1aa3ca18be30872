using System.Data;
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using TrainGuard.Ledger.Merkle;

namespace TrainGuard.Ledger.Storage;

/// <summary>
/// <see cref="ILedgerStore"/> in one SQLite file: WAL journal, <c>synchronous=FULL</c> (every committed batch
/// is on disk when the call returns), one dedicated writer connection taking the write lock with
/// <c>BEGIN IMMEDIATE</c>, and pooled read connections.
/// </summary>
public sealed class SqliteLedgerStore : ILedgerStore
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS ledger_entry (
            idx INTEGER PRIMARY KEY,
            entry BLOB NOT NULL,
            leaf_hash BLOB NOT NULL,
            idem_key TEXT NULL UNIQUE
        );
        CREATE TABLE IF NOT EXISTS ledger_head (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            tree_size INTEGER NOT NULL
        );
        INSERT OR IGNORE INTO ledger_head (id, tree_size) VALUES (1, 0);
        CREATE TABLE IF NOT EXISTS ledger_checkpoint (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            tree_size INTEGER NOT NULL,
            root_hash BLOB NOT NULL,
            note TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        """;

    private readonly string _connectionString;
    private readonly SqliteConnection _writer;
    private readonly SemaphoreSlim _writeGate = new(1, 1);

    private SqliteLedgerStore(string connectionString, SqliteConnection writer)
    {
        _connectionString = connectionString;
        _writer = writer;
    }

    /// <summary>Path of the database file.</summary>
    public string? Path { get; private init; }

    /// <summary>
    /// Optional work done inside every append transaction, after the new rows are inserted and before the tree
    /// size moves (e.g. a query index over the entries). Throwing rolls the whole batch back. Set before appending.
    /// </summary>
    public SqliteAppendHook? AppendHook { get; set; }

    /// <summary>Opens (creating if needed) the ledger database at <paramref name="path"/>.</summary>
    public static async Task<SqliteLedgerStore> OpenAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();

        var writer = new SqliteConnection(connectionString);
        try
        {
            await writer.OpenAsync(cancellationToken);
            await ExecuteAsync(writer, "PRAGMA journal_mode=WAL;", cancellationToken);
            await ExecuteAsync(writer, "PRAGMA synchronous=FULL;", cancellationToken);
            await ExecuteAsync(writer, Schema, cancellationToken);
            return new SqliteLedgerStore(connectionString, writer) { Path = path };
        }
        catch
        {
            await writer.DisposeAsync();
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
    public async Task<AppendResult> AppendBatchAsync(IReadOnlyList<LedgerAppend> entries, CancellationToken cancellationToken = default)
    {
        LedgerLimits.CheckBatch(entries, e => e.Entry, e => e.IdempotencyKey);
        await _writeGate.WaitAsync(cancellationToken);
        try
        {
            using var transaction = _writer.BeginTransaction(IsolationLevel.Serializable, deferred: false);
            var treeSize = await ReadTreeSizeAsync(_writer, transaction, cancellationToken);
            var existing = await FindKeysAsync(transaction, AppendPlan.DistinctKeys(entries), cancellationToken);
            var plan = AppendPlan.Create(entries, treeSize, existing);

            using (var insert = _writer.CreateCommand())
            {
                insert.Transaction = transaction;
                insert.CommandText = "INSERT INTO ledger_entry (idx, entry, leaf_hash, idem_key) VALUES ($idx, $entry, $leaf, $key)";
                var idx = insert.Parameters.Add("$idx", SqliteType.Integer);
                var entry = insert.Parameters.Add("$entry", SqliteType.Blob);
                var leaf = insert.Parameters.Add("$leaf", SqliteType.Blob);
                var key = insert.Parameters.Add("$key", SqliteType.Text);
                insert.Prepare();
                var leafHash = new byte[MerkleHash.Size];
                for (var i = 0; i < entries.Count; i++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    if (plan.Duplicates[i])
                    {
                        continue;
                    }

                    var data = entries[i].Entry;
                    MerkleHash.HashLeaf(data, leafHash);
                    idx.Value = plan.Indices[i];
                    entry.Value = data;
                    leaf.Value = leafHash;
                    key.Value = (object?)entries[i].IdempotencyKey ?? DBNull.Value;
                    await insert.ExecuteNonQueryAsync(cancellationToken);
                }
            }

            if (AppendHook is { } hook)
            {
                await hook(_writer, transaction, entries, plan.ToResult(), cancellationToken);
            }

            using (var head = _writer.CreateCommand())
            {
                head.Transaction = transaction;
                head.CommandText = "UPDATE ledger_head SET tree_size = $size WHERE id = 1";
                head.Parameters.AddWithValue("$size", plan.NewTreeSize);
                await head.ExecuteNonQueryAsync(cancellationToken);
            }

            cancellationToken.ThrowIfCancellationRequested();
            transaction.Commit();
            return plan.ToResult();
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <inheritdoc />
    public async Task<long> SizeAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        return await ReadTreeSizeAsync(connection, null, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<byte[]?> GetEntryAsync(long index, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT e.entry FROM ledger_entry e, ledger_head h WHERE e.idx = $idx AND e.idx < h.tree_size";
        command.Parameters.AddWithValue("$idx", index);
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
        await using var connection = await OpenReaderAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT idx FROM ledger_entry WHERE idem_key = $key";
        command.Parameters.AddWithValue("$key", idempotencyKey);
        return await command.ExecuteScalarAsync(cancellationToken) is long index ? index : null;
    }

    /// <inheritdoc />
    public async Task<long> SaveCheckpointAsync(long treeSize, ReadOnlyMemory<byte> rootHash, string signedNote, CancellationToken cancellationToken = default)
    {
        LedgerLimits.CheckCheckpoint(treeSize, rootHash, signedNote);
        await _writeGate.WaitAsync(cancellationToken);
        try
        {
            using var transaction = _writer.BeginTransaction(IsolationLevel.Serializable, deferred: false);
            var size = await ReadTreeSizeAsync(_writer, transaction, cancellationToken);
            if (treeSize > size)
            {
                throw new ArgumentOutOfRangeException(nameof(treeSize), $"checkpoint size {treeSize} is beyond the stored tree size {size}");
            }

            using var command = _writer.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "INSERT INTO ledger_checkpoint (tree_size, root_hash, note, created_at) VALUES ($size, $root, $note, $at) RETURNING id";
            command.Parameters.AddWithValue("$size", treeSize);
            command.Parameters.AddWithValue("$root", rootHash.ToArray());
            command.Parameters.AddWithValue("$note", signedNote);
            command.Parameters.AddWithValue("$at", DateTimeOffset.UtcNow.ToString("O"));
            var id = (long)(await command.ExecuteScalarAsync(cancellationToken))!;
            transaction.Commit();
            return id;
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<StoredCheckpoint>> GetCheckpointsAsync(CancellationToken cancellationToken = default) =>
        await ReadCheckpointsAsync("SELECT id, tree_size, root_hash, note, created_at FROM ledger_checkpoint ORDER BY id", cancellationToken);

    /// <inheritdoc />
    public async Task<StoredCheckpoint?> GetLatestCheckpointAsync(CancellationToken cancellationToken = default) =>
        (await ReadCheckpointsAsync("SELECT id, tree_size, root_hash, note, created_at FROM ledger_checkpoint ORDER BY id DESC LIMIT 1", cancellationToken)).FirstOrDefault();

    /// <inheritdoc />
    public async IAsyncEnumerable<StoredEntry> ScanAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT idx, entry, leaf_hash FROM ledger_entry ORDER BY idx";
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return new StoredEntry(reader.GetInt64(0), (byte[])reader.GetValue(1), (byte[])reader.GetValue(2));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _writer.DisposeAsync();
        _writeGate.Dispose();
    }

    private async Task<Dictionary<string, long>> FindKeysAsync(SqliteTransaction transaction, IReadOnlyList<string> keys, CancellationToken cancellationToken)
    {
        var found = new Dictionary<string, long>(StringComparer.Ordinal);
        if (keys.Count == 0)
        {
            return found;
        }

        using var command = _writer.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT idx FROM ledger_entry WHERE idem_key = $key";
        var parameter = command.Parameters.Add("$key", SqliteType.Text);
        command.Prepare();
        foreach (var key in keys)
        {
            parameter.Value = key;
            if (await command.ExecuteScalarAsync(cancellationToken) is long index)
            {
                found[key] = index;
            }
        }

        return found;
    }

    private async Task<IReadOnlyList<byte[]>> ReadRangeAsync(string column, long start, int count, CancellationToken cancellationToken)
    {
        LedgerLimits.CheckRange(start, count);
        await using var connection = await OpenReaderAsync(cancellationToken);
        using var transaction = connection.BeginTransaction(deferred: true);
        var size = await ReadTreeSizeAsync(connection, transaction, cancellationToken);
        var end = checked(start + count);
        if (end > size)
        {
            throw new ArgumentOutOfRangeException(nameof(count), $"range [{start}, {end}) is beyond the tree size {size}");
        }

        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"SELECT idx, {column} FROM ledger_entry WHERE idx >= $start AND idx < $end ORDER BY idx";
        command.Parameters.AddWithValue("$start", start);
        command.Parameters.AddWithValue("$end", end);
        var result = new List<byte[]>(count);
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var index = reader.GetInt64(0);
            if (index != start + result.Count)
            {
                throw new LedgerIntegrityException($"ledger entry {start + result.Count} is missing from the store (tree size {size})");
            }

            result.Add((byte[])reader.GetValue(1));
        }

        if (result.Count != count)
        {
            throw new LedgerIntegrityException($"ledger entry {start + result.Count} is missing from the store (tree size {size})");
        }

        return result;
    }

    private async Task<IReadOnlyList<StoredCheckpoint>> ReadCheckpointsAsync(string sql, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        var result = new List<StoredCheckpoint>();
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new StoredCheckpoint(
                reader.GetInt64(0),
                reader.GetInt64(1),
                (byte[])reader.GetValue(2),
                reader.GetString(3),
                DateTimeOffset.Parse(reader.GetString(4), System.Globalization.CultureInfo.InvariantCulture)));
        }

        return result;
    }

    private async Task<SqliteConnection> OpenReaderAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private static async Task<long> ReadTreeSizeAsync(SqliteConnection connection, SqliteTransaction? transaction, CancellationToken cancellationToken)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT tree_size FROM ledger_head WHERE id = 1";
        return await command.ExecuteScalarAsync(cancellationToken) is long size
            ? size
            : throw new LedgerIntegrityException("the ledger head row is missing");
    }

    private static async Task ExecuteAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}

/// <summary>Work run inside a SQLite append transaction (see <see cref="SqliteLedgerStore.AppendHook"/>).</summary>
public delegate Task SqliteAppendHook(SqliteConnection connection, SqliteTransaction transaction, IReadOnlyList<LedgerAppend> entries, AppendResult result, CancellationToken cancellationToken);
