using System.Data;
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using SQLitePCL;
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
    private WriterStatements? _statements;

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
    public Task<AppendResult> AppendBatchAsync(IReadOnlyList<LedgerAppend> entries, CancellationToken cancellationToken = default) =>
        AppendBatchAsync(entries, checkpoint: null, cancellationToken);

    /// <inheritdoc />
    public async Task<AppendResult> AppendBatchAsync(IReadOnlyList<LedgerAppend> entries, Func<AppendResult, TreeHeadDraft?>? checkpoint, CancellationToken cancellationToken = default)
    {
        LedgerLimits.CheckBatch(entries, e => e.Entry, e => e.IdempotencyKey);

        // Hashed before taking the write gate: appends are serialised, hashing need not be.
        var leafHashes = new byte[checked(entries.Count * MerkleHash.Size)];
        for (var i = 0; i < entries.Count; i++)
        {
            MerkleHash.HashLeaf(entries[i].Entry, leafHashes.AsSpan(i * MerkleHash.Size, MerkleHash.Size));
        }

        await _writeGate.WaitAsync(cancellationToken);
        try
        {
            using var transaction = _writer.BeginTransaction(IsolationLevel.Serializable, deferred: false);
            var treeSize = await ReadTreeSizeAsync(_writer, transaction, cancellationToken);
            var statements = _statements ??= new WriterStatements(_writer);
            var existing = FindKeys(statements, AppendPlan.DistinctKeys(entries));
            var plan = AppendPlan.Create(entries, treeSize, existing);

            // Row by row through statements prepared once per store: SQLite's own per-row cost, without
            // Microsoft.Data.Sqlite's per-execution parameter binding by name and reader objects.
            var appended = 0;
            for (var i = 0; i < entries.Count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (plan.Duplicates[i])
                {
                    continue;
                }

                var leafHash = plan.LeafHash(appended++);
                leafHashes.AsSpan(i * MerkleHash.Size, MerkleHash.Size).CopyTo(leafHash);
                statements.InsertEntry(plan.Indices[i], entries[i].Entry, leafHash, entries[i].IdempotencyKey);
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

            StoredTreeHead? stored = null;
            if (checkpoint?.Invoke(plan.ToResult()) is { } draft)
            {
                LedgerLimits.CheckTreeHead(draft.TreeSize, draft.RootHash, draft.Note);
                if (draft.TreeSize != plan.NewTreeSize)
                {
                    throw new ArgumentException($"a checkpoint stored with an append covers its new tree size {plan.NewTreeSize}, not {draft.TreeSize}", nameof(checkpoint));
                }

                var createdAt = DateTimeOffset.UtcNow;
                var id = await InsertTreeHeadAsync(transaction, draft.TreeSize, draft.RootHash, draft.Note, createdAt, cancellationToken);
                stored = new StoredTreeHead(id, draft.TreeSize, draft.RootHash, draft.Note, createdAt);
            }

            cancellationToken.ThrowIfCancellationRequested();
            transaction.Commit();
            return plan.ToResult() with { TreeHead = stored };
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
    public async Task<long> SaveTreeHeadAsync(long treeSize, ReadOnlyMemory<byte> rootHash, string signedNote, CancellationToken cancellationToken = default)
    {
        LedgerLimits.CheckTreeHead(treeSize, rootHash, signedNote);
        await _writeGate.WaitAsync(cancellationToken);
        try
        {
            using var transaction = _writer.BeginTransaction(IsolationLevel.Serializable, deferred: false);
            var size = await ReadTreeSizeAsync(_writer, transaction, cancellationToken);
            if (treeSize > size)
            {
                throw new ArgumentOutOfRangeException(nameof(treeSize), $"checkpoint size {treeSize} is beyond the stored tree size {size}");
            }

            var id = await InsertTreeHeadAsync(transaction, treeSize, rootHash, signedNote, DateTimeOffset.UtcNow, cancellationToken);
            transaction.Commit();
            return id;
        }
        finally
        {
            _writeGate.Release();
        }
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
        _statements?.Dispose();
        await _writer.DisposeAsync();
        _writeGate.Dispose();
    }

    private async Task<long> InsertTreeHeadAsync(SqliteTransaction transaction, long treeSize, ReadOnlyMemory<byte> rootHash, string signedNote, DateTimeOffset createdAt, CancellationToken cancellationToken)
    {
        using var command = _writer.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "INSERT INTO ledger_checkpoint (tree_size, root_hash, note, created_at) VALUES ($size, $root, $note, $at) RETURNING id";
        command.Parameters.AddWithValue("$size", treeSize);
        command.Parameters.AddWithValue("$root", rootHash.ToArray());
        command.Parameters.AddWithValue("$note", signedNote);
        command.Parameters.AddWithValue("$at", createdAt.ToString("O"));
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static Dictionary<string, long> FindKeys(WriterStatements statements, IReadOnlyList<string> keys)
    {
        var found = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var key in keys)
        {
            if (statements.FindKey(key) is { } index)
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

    private async Task<IReadOnlyList<StoredTreeHead>> ReadTreeHeadsAsync(string sql, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        var result = new List<StoredTreeHead>();
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new StoredTreeHead(
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

/// <summary>
/// Statements prepared once on a connection and run through SQLite's own API (bind by position, step, reset):
/// the hot per-row statements of an append. Not thread-safe; owned by whoever holds the connection's write gate.
/// </summary>
public sealed class SqlitePreparedStatement : IDisposable
{
    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _statement;

    public SqlitePreparedStatement(SqliteConnection connection, string sql)
    {
        ArgumentNullException.ThrowIfNull(connection);
        _db = connection.Handle ?? throw new InvalidOperationException("the connection is not open");
        var rc = raw.sqlite3_prepare_v2(_db, sql, out _statement);
        if (rc != raw.SQLITE_OK)
        {
            SqliteException.ThrowExceptionForRC(rc, _db);
        }
    }

    /// <summary>The connection handle the statement was prepared on.</summary>
    public sqlite3 Database => _db;

    public void Bind(int index, long value) => Check(raw.sqlite3_bind_int64(_statement, index, value));

    /// <summary>Binds a blob (an empty one as a zero-length blob, not NULL).</summary>
    public void Bind(int index, ReadOnlySpan<byte> blob) =>
        Check(blob.IsEmpty ? raw.sqlite3_bind_zeroblob(_statement, index, 0) : raw.sqlite3_bind_blob(_statement, index, blob));

    /// <summary>Binds text (null binds SQL NULL).</summary>
    public void Bind(int index, string? text) => Check(text is null ? raw.sqlite3_bind_null(_statement, index) : raw.sqlite3_bind_text(_statement, index, text));

    /// <summary>Runs a statement that returns no rows, then resets it.</summary>
    public void Execute()
    {
        var rc = raw.sqlite3_step(_statement);
        raw.sqlite3_reset(_statement);
        if (rc != raw.SQLITE_DONE)
        {
            SqliteException.ThrowExceptionForRC(rc, _db);
        }
    }

    /// <summary>Runs a query and returns column 0 of its first row as an integer (null when there is no row), then resets it.</summary>
    public long? ExecuteInt64()
    {
        try
        {
            var rc = raw.sqlite3_step(_statement);
            if (rc == raw.SQLITE_ROW)
            {
                return raw.sqlite3_column_type(_statement, 0) == raw.SQLITE_INTEGER ? raw.sqlite3_column_int64(_statement, 0) : null;
            }

            if (rc != raw.SQLITE_DONE)
            {
                SqliteException.ThrowExceptionForRC(rc, _db);
            }

            return null;
        }
        finally
        {
            raw.sqlite3_reset(_statement);
        }
    }

    /// <summary>Runs a query and copies column 0 of its first row as a blob (null when there is no row), then resets it.</summary>
    public byte[]? ExecuteBlob()
    {
        try
        {
            var rc = raw.sqlite3_step(_statement);
            if (rc == raw.SQLITE_ROW)
            {
                return raw.sqlite3_column_blob(_statement, 0).ToArray();
            }

            if (rc != raw.SQLITE_DONE)
            {
                SqliteException.ThrowExceptionForRC(rc, _db);
            }

            return null;
        }
        finally
        {
            raw.sqlite3_reset(_statement);
        }
    }

    public void Dispose() => _statement.Dispose();

    private void Check(int rc)
    {
        if (rc != raw.SQLITE_OK)
        {
            SqliteException.ThrowExceptionForRC(rc, _db);
        }
    }
}

/// <summary>The writer connection's prepared append statements.</summary>
internal sealed class WriterStatements : IDisposable
{
    private readonly SqlitePreparedStatement _insert;
    private readonly SqlitePreparedStatement _findKey;

    public WriterStatements(SqliteConnection writer)
    {
        _insert = new SqlitePreparedStatement(writer, "INSERT INTO ledger_entry (idx, entry, leaf_hash, idem_key) VALUES (?1, ?2, ?3, ?4)");
        _findKey = new SqlitePreparedStatement(writer, "SELECT idx FROM ledger_entry WHERE idem_key = ?1");
    }

    public void InsertEntry(long index, ReadOnlySpan<byte> entry, ReadOnlySpan<byte> leafHash, string? key)
    {
        _insert.Bind(1, index);
        _insert.Bind(2, entry);
        _insert.Bind(3, leafHash);
        _insert.Bind(4, key);
        _insert.Execute();
    }

    public long? FindKey(string key)
    {
        _findKey.Bind(1, key);
        return _findKey.ExecuteInt64();
    }

    public void Dispose()
    {
        _insert.Dispose();
        _findKey.Dispose();
    }
}

/// <summary>Work run inside a SQLite append transaction (see <see cref="SqliteLedgerStore.AppendHook"/>).</summary>
public delegate Task SqliteAppendHook(SqliteConnection connection, SqliteTransaction transaction, IReadOnlyList<LedgerAppend> entries, AppendResult result, CancellationToken cancellationToken);
