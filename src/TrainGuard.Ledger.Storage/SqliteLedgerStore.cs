using System.Data;
using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace TrainGuard.Ledger.Storage;

/// <summary>
/// <see cref="ILedgerStore"/> in one SQLite file: WAL journal, <c>synchronous=FULL</c> (every committed batch
/// is on disk when the call returns), one dedicated writer connection taking the write lock with
/// <c>BEGIN IMMEDIATE</c>, and pooled read connections. Rows are written through statements prepared once on the
/// writer and bound by position.
/// </summary>
public sealed class SqliteLedgerStore : SqlLedgerStore
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
    private readonly Dictionary<string, SqlitePreparedStatement> _prepared = new(StringComparer.Ordinal);

    private SqliteLedgerStore(string connectionString, SqliteConnection writer)
        : base(SqlDialect.Sqlite)
    {
        _connectionString = connectionString;
        _writer = writer;
    }

    /// <summary>Path of the database file.</summary>
    public string? Path { get; private init; }

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
    public override async Task<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken = default)
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

    /// <summary>
    /// A statement prepared once on the writer connection and kept until the store is closed: for the hot per-row
    /// statements of writes run through <see cref="SqlLedgerStore.WriteAsync"/> on tables beside the ledger. Call it only
    /// inside such a write (it holds the writer).
    /// </summary>
    public SqlitePreparedStatement WriterStatement(string sql)
    {
        if (!_prepared.TryGetValue(sql, out var statement))
        {
            statement = new SqlitePreparedStatement(_writer, sql);
            _prepared.Add(sql, statement);
        }

        return statement;
    }

    public override async ValueTask DisposeAsync()
    {
        _statements?.Dispose();
        foreach (var statement in _prepared.Values)
        {
            statement.Dispose();
        }

        _prepared.Clear();
        await _writer.DisposeAsync();
        _writeGate.Dispose();
    }

    /// <inheritdoc />
    protected override Task<AppendResult> AppendAsync(IReadOnlyList<LedgerAppend> entries, byte[] leafHashes, Func<AppendResult, TreeHeadDraft?>? treeHead, CancellationToken cancellationToken) =>
        InWriteTransactionAsync((connection, transaction) => AppendInTransactionAsync(connection, transaction, entries, leafHashes, treeHead, cancellationToken), cancellationToken);

    /// <inheritdoc />
    protected override async Task<T> InWriteTransactionAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        await _writeGate.WaitAsync(cancellationToken);
        try
        {
            using var transaction = _writer.BeginTransaction(IsolationLevel.Serializable, deferred: false);
            return await work(_writer, transaction);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <inheritdoc />
    protected override Task<DbTransaction> BeginSnapshotAsync(DbConnection connection, CancellationToken cancellationToken) =>
        Task.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(deferred: true));

    /// <inheritdoc />
    protected override Task<Dictionary<string, long>> FindKeysAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<string> keys, CancellationToken cancellationToken)
    {
        var statements = Statements();
        var found = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var key in keys)
        {
            if (statements.FindKey(key) is { } index)
            {
                found[key] = index;
            }
        }

        return Task.FromResult(found);
    }

    /// <inheritdoc />
    protected override Task InsertEntriesAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<LedgerAppend> entries, AppendPlan plan, CancellationToken cancellationToken)
    {
        // Row by row through statements prepared once per store: SQLite's own per-row cost, without
        // Microsoft.Data.Sqlite's per-execution parameter binding by name and reader objects.
        var statements = Statements();
        foreach (var row in plan.NewRows(entries))
        {
            cancellationToken.ThrowIfCancellationRequested();
            statements.InsertEntry(row.Index, row.Entry, row.LeafHash, row.IdempotencyKey);
        }

        return Task.CompletedTask;
    }

    private WriterStatements Statements() => _statements ??= new WriterStatements(_writer);

    private static async Task ExecuteAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The writer connection's prepared append statements.</summary>
    private sealed class WriterStatements : IDisposable
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
}
