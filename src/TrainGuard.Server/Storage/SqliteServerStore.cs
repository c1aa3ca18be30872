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
            action TEXT NOT NULL,
            event_id TEXT NULL
        );
        CREATE INDEX IF NOT EXISTS event_index_ts ON event_index (ts);
        CREATE INDEX IF NOT EXISTS event_index_host ON event_index (host, idx);
        CREATE INDEX IF NOT EXISTS event_index_host_ts ON event_index (host, ts);
        CREATE INDEX IF NOT EXISTS event_index_host_action ON event_index (host, action, idx);
        CREATE INDEX IF NOT EXISTS event_index_user ON event_index (user_name, idx);
        CREATE INDEX IF NOT EXISTS event_index_action ON event_index (action, idx);
        CREATE TABLE IF NOT EXISTS api_token (
            token_hash BLOB PRIMARY KEY,
            role TEXT NOT NULL,
            label TEXT NULL,
            created_at TEXT NOT NULL,
            identity TEXT NULL,
            expires_at TEXT NULL,
            revoked_at TEXT NULL,
            last_used_at TEXT NULL
        );
        """;

    /// <summary>Sets event_index.event_id of rows stored before the column existed (their ledger key is the bare event id).</summary>
    internal const string BackfillEventIds = "UPDATE event_index SET event_id = (SELECT l.idem_key FROM ledger_entry l WHERE l.idx = event_index.idx) WHERE event_id IS NULL";

    /// <summary>Columns added since the first release, with their SQLite types: added to older databases on open.</summary>
    private static readonly (string Table, string Column, string Type)[] AddedColumns =
    [
        ("event_index", "event_id", "TEXT NULL"),
        ("api_token", "identity", "TEXT NULL"),
        ("api_token", "expires_at", "TEXT NULL"),
        ("api_token", "revoked_at", "TEXT NULL"),
        ("api_token", "last_used_at", "TEXT NULL"),
    ];

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
            PrivateFiles.CreateDirectory(directory);
        }

        // Created 0600 before SQLite opens it: SQLite gives its -wal and -shm files the database's mode.
        PrivateFiles.CreateEmptyFile(path);
        foreach (var file in new[] { path, path + "-wal", path + "-shm" })
        {
            PrivateFiles.Restrict(file);
        }

        var ledger = await SqliteLedgerStore.OpenAsync(path, cancellationToken);
        try
        {
            await using var connection = await ledger.OpenConnectionAsync(cancellationToken);
            await using (var command = SqlDialect.Command(connection, null, Schema))
            {
                await command.ExecuteNonQueryAsync(cancellationToken);
            }

            await MigrateAsync(connection, cancellationToken);
            return new SqliteServerStore(ledger, path);
        }
        catch
        {
            await ledger.DisposeAsync();
            throw;
        }
    }

    /// <summary>Adds the columns of <see cref="AddedColumns"/> a database made by an older server lacks (existing rows get NULL).</summary>
    private static async Task MigrateAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        foreach (var table in AddedColumns.Select(c => c.Table).Distinct(StringComparer.Ordinal))
        {
            var present = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            await using (var info = SqlDialect.Command(connection, null, $"SELECT name FROM pragma_table_info('{table}')"))
            await using (var reader = await info.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    present.Add(reader.GetString(0));
                }
            }

            foreach (var (_, column, type) in AddedColumns.Where(c => c.Table == table && !present.Contains(c.Column)))
            {
                await using var alter = SqlDialect.Command(connection, null, $"ALTER TABLE {table} ADD COLUMN {column} {type}");
                await alter.ExecuteNonQueryAsync(cancellationToken);
                if (column == "event_id")
                {
                    // Events stored before ids were scoped to their submitter are keyed by their bare id.
                    await using var fill = SqlDialect.Command(connection, null, BackfillEventIds);
                    await fill.ExecuteNonQueryAsync(cancellationToken);
                }
            }
        }

        await using var index = SqlDialect.Command(connection, null, "CREATE INDEX IF NOT EXISTS event_index_event_id ON event_index (event_id, idx);");
        await index.ExecuteNonQueryAsync(cancellationToken);
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
            insert.Bind(6, row.EventId);
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
        public SqlitePreparedStatement Insert { get; } = new(connection, "INSERT INTO event_index (idx, ts, host, user_name, action, event_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");

        public SqlitePreparedStatement Existing { get; } = new(connection, "SELECT entry FROM ledger_entry WHERE idx = ?1");

        public void Dispose()
        {
            Insert.Dispose();
            Existing.Dispose();
        }
    }
}
