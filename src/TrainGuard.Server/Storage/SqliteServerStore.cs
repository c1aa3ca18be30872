using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Data.Sqlite;
using TrainGuard.Ledger.Storage;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Events;

namespace TrainGuard.Server.Storage;

/// <summary><see cref="IServerStore"/> in the ledger's SQLite file; the event index is written by the ledger's append transaction.</summary>
public sealed class SqliteServerStore : IServerStore
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

    private readonly SqliteLedgerStore _ledger;
    private readonly string _connectionString;
    private IndexStatements? _indexStatements;

    private SqliteServerStore(SqliteLedgerStore ledger, string path)
    {
        _ledger = ledger;
        Description = "sqlite:" + path;
        _connectionString = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWrite, Pooling = true, DefaultTimeout = 30 }.ToString();
        ledger.AppendHook = OnAppendAsync;
    }

    public ILedgerStore Ledger => _ledger;

    public string Description { get; }

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
            var store = new SqliteServerStore(ledger, path);
            await using var connection = await store.OpenAsync(cancellationToken);
            using var command = connection.CreateCommand();
            command.CommandText = Schema;
            await command.ExecuteNonQueryAsync(cancellationToken);
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
        await using var connection = await OpenAsync(cancellationToken);
        using var command = connection.CreateCommand();
        var sql = new StringBuilder("SELECT l.idx, l.entry FROM event_index e JOIN ledger_entry l ON l.idx = e.idx WHERE 1 = 1");
        Add(query.FromMicros, " AND e.ts >= $from", "$from");
        Add(query.ToMicros, " AND e.ts < $to", "$to");
        Add(query.Host, " AND e.host = $host", "$host");
        Add(query.User, " AND e.user_name = $user", "$user");
        Add(query.Action, " AND e.action = $action", "$action");
        Add(query.After, query.Descending ? " AND e.idx < $after" : " AND e.idx > $after", "$after");
        sql.Append(query.Descending ? " ORDER BY e.idx DESC" : " ORDER BY e.idx").Append(" LIMIT $limit");
        command.Parameters.AddWithValue("$limit", Math.Clamp(query.Limit, 1, EventQuery.MaxLimit));
        command.CommandText = sql.ToString();
        var result = new List<StoredEvent>();
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
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
        await using var connection = await OpenAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT idx, ts, host, user_name, action FROM event_index ORDER BY idx";
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
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
        await using var connection = await OpenAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = "INSERT INTO api_token (token_hash, role, label, created_at) VALUES ($hash, $role, $label, $at)";
        command.Parameters.AddWithValue("$hash", tokenHash);
        command.Parameters.AddWithValue("$role", role.ToWireName());
        command.Parameters.AddWithValue("$label", (object?)label ?? DBNull.Value);
        command.Parameters.AddWithValue("$at", DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<Role?> FindTokenRoleAsync(byte[] tokenHash, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT role FROM api_token WHERE token_hash = $hash";
        command.Parameters.AddWithValue("$hash", tokenHash);
        return await command.ExecuteScalarAsync(cancellationToken) is string text && Roles.TryParse(text, out var role) ? role : null;
    }

    public async Task<IReadOnlyList<TokenInfo>> ListTokensAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT token_hash, role, label, created_at FROM api_token ORDER BY created_at";
        var result = new List<TokenInfo>();
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            _ = Roles.TryParse(reader.GetString(1), out var role);
            result.Add(new TokenInfo(
                Convert.ToHexStringLower((byte[])reader.GetValue(0))[..12],
                role,
                reader.IsDBNull(2) ? null : reader.GetString(2),
                DateTimeOffset.Parse(reader.GetString(3), CultureInfo.InvariantCulture)));
        }

        return result;
    }

    public ValueTask DisposeAsync()
    {
        _indexStatements?.Dispose();
        return _ledger.DisposeAsync();
    }

    private Task OnAppendAsync(SqliteConnection connection, SqliteTransaction transaction, IReadOnlyList<LedgerAppend> entries, AppendResult result, CancellationToken cancellationToken)
    {
        // Runs under the ledger's write gate on its writer connection: the statements are prepared once for it.
        var statements = _indexStatements;
        if (statements is null || statements.Insert.Database != connection.Handle)
        {
            statements?.Dispose();
            statements = _indexStatements = new IndexStatements(connection);
        }

        for (var i = 0; i < entries.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (result.Duplicates[i])
            {
                statements.Existing.Bind(1, result.Indices[i]);
                var stored = statements.Existing.ExecuteBlob();
                if (stored is null || !EventBatchParser.SameContent(stored, entries[i].Entry))
                {
                    throw new EventConflictException(i, entries[i].IdempotencyKey ?? string.Empty, result.Indices[i]);
                }

                continue;
            }

            // Validated events carry their index columns; anything else is read from its committed bytes.
            var row = entries[i] is EventAppend parsed ? parsed.Row : EventIndexRow.FromEntry(result.Indices[i], entries[i].Entry);
            if (row is null)
            {
                continue;
            }

            var insert = statements.Insert;
            insert.Bind(1, result.Indices[i]);
            insert.Bind(2, row.TimestampMicros);
            insert.Bind(3, row.Host);
            insert.Bind(4, row.User);
            insert.Bind(5, row.Action);
            insert.Execute();
        }

        return Task.CompletedTask;
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

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
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
}
