using System.Data.Common;
using Npgsql;
using NpgsqlTypes;
using TrainGuard.Ledger.Storage;
using TrainGuard.Server.Events;

namespace TrainGuard.Server.Storage;

/// <summary><see cref="IServerStore"/> in PostgreSQL, beside the ledger tables; index rows are written by binary COPY in the ledger's append transaction.</summary>
public sealed class PostgresServerStore : SqlServerStore
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS event_index (
            idx bigint PRIMARY KEY,
            ts bigint NOT NULL,
            host text NULL,
            user_name text NULL,
            action text NOT NULL
        );
        CREATE INDEX IF NOT EXISTS event_index_ts ON event_index (ts);
        CREATE INDEX IF NOT EXISTS event_index_host ON event_index (host, idx);
        CREATE INDEX IF NOT EXISTS event_index_user ON event_index (user_name, idx);
        CREATE INDEX IF NOT EXISTS event_index_action ON event_index (action, idx);
        CREATE TABLE IF NOT EXISTS api_token (
            token_hash bytea PRIMARY KEY,
            role text NOT NULL,
            label text NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        """;

    private PostgresServerStore(PostgresLedgerStore ledger, string description)
        : base(ledger, description)
    {
    }

    /// <summary>Connects and creates the server tables beside the ledger's if needed.</summary>
    public static async Task<PostgresServerStore> OpenAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        var description = $"postgresql://{builder.Host}:{builder.Port}/{builder.Database}" + (builder.SearchPath is { Length: > 0 } path ? $"?search_path={path}" : string.Empty);
        var ledger = await PostgresLedgerStore.OpenAsync(connectionString, cancellationToken);
        try
        {
            await ledger.CreateTablesAsync(Schema, ledger.SequencerLockKey ^ 0x3a3a3a3a, cancellationToken);
            return new PostgresServerStore(ledger, description);
        }
        catch
        {
            await ledger.DisposeAsync();
            throw;
        }
    }

    /// <inheritdoc />
    protected override async Task<byte[]?> ReadStoredEntryAsync(DbConnection connection, DbTransaction transaction, long index, CancellationToken cancellationToken)
    {
        await using var command = SqlDialect.Command(connection, transaction, "SELECT entry FROM ledger_entry WHERE idx = @idx", ("@idx", index));
        return await command.ExecuteScalarAsync(cancellationToken) as byte[];
    }

    /// <inheritdoc />
    protected override async Task WriteIndexRowsAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<EventIndexRow> rows, CancellationToken cancellationToken)
    {
        await using var import = await ((NpgsqlConnection)connection).BeginBinaryImportAsync(
            "COPY event_index (idx, ts, host, user_name, action) FROM STDIN (FORMAT BINARY)", cancellationToken);
        foreach (var row in rows)
        {
            await import.StartRowAsync(cancellationToken);
            await import.WriteAsync(row.Index, NpgsqlDbType.Bigint, cancellationToken);
            await import.WriteAsync(row.TimestampMicros, NpgsqlDbType.Bigint, cancellationToken);
            await PostgresLedgerStore.WriteTextOrNullAsync(import, row.Host, cancellationToken);
            await PostgresLedgerStore.WriteTextOrNullAsync(import, row.User, cancellationToken);
            await import.WriteAsync(row.Action, NpgsqlDbType.Text, cancellationToken);
        }

        await import.CompleteAsync(cancellationToken);
    }
}
