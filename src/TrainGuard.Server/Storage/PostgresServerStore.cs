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
            action text NOT NULL,
            event_id text NULL
        );
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                           WHERE table_schema = current_schema() AND table_name = 'event_index' AND column_name = 'event_id') THEN
                ALTER TABLE event_index ADD COLUMN event_id text NULL;
                -- Events stored before ids were scoped to their submitter are keyed by their bare id.
                UPDATE event_index e SET event_id = l.idem_key FROM ledger_entry l WHERE l.idx = e.idx;
            END IF;
        END $$;
        CREATE INDEX IF NOT EXISTS event_index_event_id ON event_index (event_id, idx);
        CREATE INDEX IF NOT EXISTS event_index_ts ON event_index (ts);
        CREATE INDEX IF NOT EXISTS event_index_host ON event_index (host, idx);
        CREATE INDEX IF NOT EXISTS event_index_host_ts ON event_index (host, ts);
        CREATE INDEX IF NOT EXISTS event_index_host_action ON event_index (host, action, idx);
        CREATE INDEX IF NOT EXISTS event_index_user ON event_index (user_name, idx);
        CREATE INDEX IF NOT EXISTS event_index_action ON event_index (action, idx);
        CREATE TABLE IF NOT EXISTS api_token (
            token_hash bytea PRIMARY KEY,
            role text NOT NULL,
            label text NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        ALTER TABLE api_token ADD COLUMN IF NOT EXISTS identity text NULL;
        ALTER TABLE api_token ADD COLUMN IF NOT EXISTS expires_at timestamptz NULL;
        ALTER TABLE api_token ADD COLUMN IF NOT EXISTS revoked_at timestamptz NULL;
        ALTER TABLE api_token ADD COLUMN IF NOT EXISTS last_used_at timestamptz NULL;
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
            "COPY event_index (idx, ts, host, user_name, action, event_id) FROM STDIN (FORMAT BINARY)", cancellationToken);
        foreach (var row in rows)
        {
            await import.StartRowAsync(cancellationToken);
            await import.WriteAsync(row.Index, NpgsqlDbType.Bigint, cancellationToken);
            await import.WriteAsync(row.TimestampMicros, NpgsqlDbType.Bigint, cancellationToken);
            await PostgresLedgerStore.WriteTextOrNullAsync(import, row.Host, cancellationToken);
            await PostgresLedgerStore.WriteTextOrNullAsync(import, row.User, cancellationToken);
            await import.WriteAsync(row.Action, NpgsqlDbType.Text, cancellationToken);
            await PostgresLedgerStore.WriteTextOrNullAsync(import, row.EventId, cancellationToken);
        }

        await import.CompleteAsync(cancellationToken);
    }
}
