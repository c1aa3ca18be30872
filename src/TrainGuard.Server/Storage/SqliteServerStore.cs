using System.Data.Common;
using Microsoft.Data.Sqlite;
using TrainGuard.Ledger.Storage;
using TrainGuard.Server.Events;

namespace TrainGuard.Server.Storage;

/// <summary><see cref="IServerStore"/> in the ledger's SQLite file; index rows are written through statements prepared once on the ledger's writer connection.</summary>
public sealed class SqliteServerStore : SqlServerStore
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS event_index (
            idx INTEGER PRIMARY KEY,
            ts INTEGER NOT NULL,
            host TEXT NULL,
            user_name TEXT NULL,
            action TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS event_index_ts ON event_index (ts);
        CREATE INDEX IF NOT EXISTS event_index_host ON event_index (host, idx);
        CREATE INDEX IF NOT EXISTS event_index_user ON event_index (user_name, idx);
        CREATE INDEX IF NOT EXISTS event_index_action ON event_index (action, idx);
        CREATE TABLE IF NOT EXISTS api_token (
            token_hash BLOB PRIMARY KEY,
            role TEXT NOT NULL,
            label TEXT NULL,
            created_at TEXT NOT NULL
        );
        """;

    private IndexStatements? _indexStatements;

    private SqliteServerStore(SqliteLedgerStore ledger, string path)
        : base(ledger, "sqlite:" + path)
    {
    }

    /// <summary>Opens (creating if needed) the database at <paramref name="path"/>.</summary>
    public static async Task<SqliteServerStore> OpenAsync(string path, CancellationToken cancellationToken = default)
    {
        var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        var ledger = await SqliteLedgerStore.OpenAsync(path, cancellationToken);
        try
        {
            await using var connection = await ledger.OpenConnectionAsync(cancellationToken);
            await using var command = SqlDialect.Command(connection, null, Schema);
            await command.ExecuteNonQueryAsync(cancellationToken);
            return new SqliteServerStore(ledger, path);
        }
        catch
        {
            await ledger.DisposeAsync();
            throw;
        }
    }

    public override ValueTask DisposeAsync()
    {
        _indexStatements?.Dispose();
        return base.DisposeAsync();
    }

    /// <inheritdoc />
    protected override Task<byte[]?> ReadStoredEntryAsync(DbConnection connection, DbTransaction transaction, long index, CancellationToken cancellationToken)
    {
        var existing = Statements((SqliteConnection)connection).Existing;
        existing.Bind(1, index);
        return Task.FromResult(existing.ExecuteBlob());
    }

    /// <inheritdoc />
    protected override Task WriteIndexRowsAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<EventIndexRow> rows, CancellationToken cancellationToken)
    {
        var insert = Statements((SqliteConnection)connection).Insert;
        foreach (var row in rows)
        {
            cancellationToken.ThrowIfCancellationRequested();
            insert.Bind(1, row.Index);
            insert.Bind(2, row.TimestampMicros);
            insert.Bind(3, row.Host);
            insert.Bind(4, row.User);
            insert.Bind(5, row.Action);
            insert.Execute();
        }

        return Task.CompletedTask;
    }

    /// <summary>The statements prepared on the ledger's writer connection (appends run under its write gate).</summary>
    private IndexStatements Statements(SqliteConnection connection)
    {
        var statements = _indexStatements;
        if (statements is null || statements.Insert.Database != connection.Handle)
        {
            statements?.Dispose();
            statements = _indexStatements = new IndexStatements(connection);
        }

        return statements;
    }

    /// <summary>The event index statements prepared on the ledger's writer connection.</summary>
    private sealed class IndexStatements(SqliteConnection connection) : IDisposable
    {
        public SqlitePreparedStatement Insert { get; } = new(connection, "INSERT INTO event_index (idx, ts, host, user_name, action) VALUES (?1, ?2, ?3, ?4, ?5)");

        public SqlitePreparedStatement Existing { get; } = new(connection, "SELECT entry FROM ledger_entry WHERE idx = ?1");

        public void Dispose()
        {
            Insert.Dispose();
            Existing.Dispose();
        }
    }
}
