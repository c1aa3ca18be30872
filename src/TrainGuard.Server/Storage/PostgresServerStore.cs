using System.Runtime.CompilerServices;
using System.Text;
using Npgsql;
using NpgsqlTypes;
using TrainGuard.Ledger.Storage;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Events;

namespace TrainGuard.Server.Storage;

/// <summary><see cref="IServerStore"/> in PostgreSQL, beside the ledger tables; the event index is written by the ledger's append transaction.</summary>
public sealed class PostgresServerStore : IServerStore
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

    private readonly PostgresLedgerStore _ledger;

    private PostgresServerStore(PostgresLedgerStore ledger, string description)
    {
        _ledger = ledger;
        Description = description;
        ledger.AppendHook = OnAppendAsync;
    }

    public ILedgerStore Ledger => _ledger;

    public string Description { get; }

    private NpgsqlDataSource DataSource => _ledger.DataSource;

    /// <summary>Connects and creates the server tables beside the ledger's if needed.</summary>
    public static async Task<PostgresServerStore> OpenAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        var description = $"postgresql://{builder.Host}:{builder.Port}/{builder.Database}" + (builder.SearchPath is { Length: > 0 } path ? $"?search_path={path}" : string.Empty);
        var ledger = await PostgresLedgerStore.OpenAsync(connectionString, cancellationToken);
        try
        {
            var store = new PostgresServerStore(ledger, description);
            await using var connection = await store.DataSource.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await using (var guard = new NpgsqlCommand("SELECT pg_advisory_xact_lock(@key)", connection, transaction))
            {
                guard.Parameters.AddWithValue("key", ledger.SequencerLockKey ^ 0x3a3a3a3a);
                await guard.ExecuteNonQueryAsync(cancellationToken);
            }

            await using (var create = new NpgsqlCommand(Schema, connection, transaction))
            {
                await create.ExecuteNonQueryAsync(cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
            return store;
        }
        catch
        {
            await ledger.DisposeAsync();
            throw;
        }
    }

    public async Task<IReadOnlyList<StoredEvent>> QueryAsync(EventQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        await using var command = DataSource.CreateCommand();
        var sql = new StringBuilder("SELECT l.idx, l.entry FROM event_index e JOIN ledger_entry l ON l.idx = e.idx WHERE TRUE");
        Add(query.FromMicros, " AND e.ts >= @from", "from");
        Add(query.ToMicros, " AND e.ts < @to", "to");
        Add(query.Host, " AND e.host = @host", "host");
        Add(query.User, " AND e.user_name = @user", "user");
        Add(query.Action, " AND e.action = @action", "action");
        Add(query.After, query.Descending ? " AND e.idx < @after" : " AND e.idx > @after", "after");
        sql.Append(query.Descending ? " ORDER BY e.idx DESC" : " ORDER BY e.idx").Append(" LIMIT @limit");
        command.Parameters.AddWithValue("limit", Math.Clamp(query.Limit, 1, EventQuery.MaxLimit));
        command.CommandText = sql.ToString();
        var result = new List<StoredEvent>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new StoredEvent(reader.GetInt64(0), (byte[])reader.GetValue(1)));
        }

        return result;

        void Add(object? value, string clause, string name)
        {
            if (value is not null)
            {
                sql.Append(clause);
                command.Parameters.AddWithValue(name, value);
            }
        }
    }

    public async IAsyncEnumerable<EventIndexRow> ScanIndexAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await using var command = DataSource.CreateCommand("SELECT idx, ts, host, user_name, action FROM event_index ORDER BY idx");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return new EventIndexRow(
                reader.GetInt64(0),
                reader.GetInt64(1),
                reader.IsDBNull(2) ? null : reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.GetString(4));
        }
    }

    public async Task AddTokenAsync(byte[] tokenHash, Role role, string? label, CancellationToken cancellationToken = default)
    {
        await using var command = DataSource.CreateCommand("INSERT INTO api_token (token_hash, role, label) VALUES (@hash, @role, @label)");
        command.Parameters.AddWithValue("hash", tokenHash);
        command.Parameters.AddWithValue("role", role.ToWireName());
        command.Parameters.AddWithValue("label", NpgsqlDbType.Text, (object?)label ?? DBNull.Value);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<Role?> FindTokenRoleAsync(byte[] tokenHash, CancellationToken cancellationToken = default)
    {
        await using var command = DataSource.CreateCommand("SELECT role FROM api_token WHERE token_hash = @hash");
        command.Parameters.AddWithValue("hash", tokenHash);
        return await command.ExecuteScalarAsync(cancellationToken) is string text && Roles.TryParse(text, out var role) ? role : null;
    }

    public async Task<IReadOnlyList<TokenInfo>> ListTokensAsync(CancellationToken cancellationToken = default)
    {
        await using var command = DataSource.CreateCommand("SELECT token_hash, role, label, created_at FROM api_token ORDER BY created_at");
        var result = new List<TokenInfo>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            _ = Roles.TryParse(reader.GetString(1), out var role);
            result.Add(new TokenInfo(
                Convert.ToHexStringLower((byte[])reader.GetValue(0))[..12],
                role,
                reader.IsDBNull(2) ? null : reader.GetString(2),
                reader.GetFieldValue<DateTimeOffset>(3)));
        }

        return result;
    }

    public ValueTask DisposeAsync() => _ledger.DisposeAsync();

    private static async Task OnAppendAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyList<LedgerAppend> entries, AppendResult result, CancellationToken cancellationToken)
    {
        var rows = new List<EventIndexRow>(result.AppendedCount);
        for (var i = 0; i < entries.Count; i++)
        {
            if (result.Duplicates[i])
            {
                await using var existing = new NpgsqlCommand("SELECT entry FROM ledger_entry WHERE idx = @idx", connection, transaction);
                existing.Parameters.AddWithValue("idx", result.Indices[i]);
                var stored = await existing.ExecuteScalarAsync(cancellationToken) as byte[];
                if (stored is null || !EventBatchParser.SameContent(stored, entries[i].Entry))
                {
                    throw new EventConflictException(i, entries[i].IdempotencyKey ?? string.Empty, result.Indices[i]);
                }

                continue;
            }

            // Validated events carry their index columns; anything else is read from its committed bytes.
            var row = entries[i] is EventAppend parsed ? parsed.Row with { Index = result.Indices[i] } : EventIndexRow.FromEntry(result.Indices[i], entries[i].Entry);
            if (row is not null)
            {
                rows.Add(row);
            }
        }

        if (rows.Count == 0)
        {
            return;
        }

        await using var import = await connection.BeginBinaryImportAsync(
            "COPY event_index (idx, ts, host, user_name, action) FROM STDIN (FORMAT BINARY)", cancellationToken);
        foreach (var row in rows)
        {
            await import.StartRowAsync(cancellationToken);
            await import.WriteAsync(row.Index, NpgsqlDbType.Bigint, cancellationToken);
            await import.WriteAsync(row.TimestampMicros, NpgsqlDbType.Bigint, cancellationToken);
            await WriteNullableAsync(import, row.Host, cancellationToken);
            await WriteNullableAsync(import, row.User, cancellationToken);
            await import.WriteAsync(row.Action, NpgsqlDbType.Text, cancellationToken);
        }

        await import.CompleteAsync(cancellationToken);
    }

    private static async Task WriteNullableAsync(NpgsqlBinaryImporter import, string? value, CancellationToken cancellationToken)
    {
        if (value is null)
        {
            await import.WriteNullAsync(cancellationToken);
        }
        else
        {
            await import.WriteAsync(value, NpgsqlDbType.Text, cancellationToken);
        }
    }
}
