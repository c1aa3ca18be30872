using System.Data.Common;
using System.Runtime.CompilerServices;
using System.Text;
using TrainGuard.Ledger.Storage;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Events;

namespace TrainGuard.Server.Storage;

/// <summary>
/// What the SQLite and PostgreSQL server stores share: the event index (<c>event_index</c>) written by the ledger's
/// append transaction, its queries, and the API tokens (<c>api_token</c>), with the same tables and SQL in both. A
/// store supplies its schema and its fast path for writing index rows and reading an already stored entry.
/// </summary>
public abstract class SqlServerStore : IServerStore
{
    private readonly SqlLedgerStore _ledger;

    protected SqlServerStore(SqlLedgerStore ledger, string description)
    {
        _ledger = ledger;
        Description = description;
        ledger.AppendHook = OnAppendAsync;
    }

    public ILedgerStore Ledger => _ledger;

    public string Description { get; }

    private SqlDialect Dialect => _ledger.Dialect;

    public async Task<IReadOnlyList<StoredEvent>> QueryAsync(EventQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        await using var connection = await _ledger.OpenConnectionAsync(cancellationToken);
        await using var command = SqlDialect.Command(connection, null, string.Empty);
        var sql = new StringBuilder("SELECT l.idx, l.entry FROM event_index e JOIN ledger_entry l ON l.idx = e.idx WHERE 1 = 1");
        Add(query.FromMicros, " AND e.ts >= @from", "@from");
        Add(query.ToMicros, " AND e.ts < @to", "@to");
        Add(query.Host, " AND e.host = @host", "@host");
        Add(query.User, " AND e.user_name = @user", "@user");
        Add(query.Action, " AND e.action = @action", "@action");
        Add(query.After, query.Descending ? " AND e.idx < @after" : " AND e.idx > @after", "@after");
        sql.Append(query.Descending ? " ORDER BY e.idx DESC" : " ORDER BY e.idx").Append(" LIMIT @limit");
        SqlDialect.Add(command, "@limit", Math.Clamp(query.Limit, 1, EventQuery.MaxLimit));
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
                SqlDialect.Add(command, name, value);
            }
        }
    }

    public async IAsyncEnumerable<EventIndexRow> ScanIndexAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await using var connection = await _ledger.OpenConnectionAsync(cancellationToken);
        await using var command = SqlDialect.Command(connection, null, "SELECT idx, ts, host, user_name, action FROM event_index ORDER BY idx");
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
        await using var connection = await _ledger.OpenConnectionAsync(cancellationToken);
        await using var command = SqlDialect.Command(connection, null,
            "INSERT INTO api_token (token_hash, role, label, created_at) VALUES (@hash, @role, @label, @at)",
            ("@hash", tokenHash), ("@role", role.ToWireName()), ("@label", label), ("@at", Dialect.Timestamp(SqlDialect.Now())));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<Role?> FindTokenRoleAsync(byte[] tokenHash, CancellationToken cancellationToken = default)
    {
        await using var connection = await _ledger.OpenConnectionAsync(cancellationToken);
        await using var command = SqlDialect.Command(connection, null, "SELECT role FROM api_token WHERE token_hash = @hash", ("@hash", tokenHash));
        return await command.ExecuteScalarAsync(cancellationToken) is string text && Roles.TryParse(text, out var role) ? role : null;
    }

    public async Task<IReadOnlyList<TokenInfo>> ListTokensAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await _ledger.OpenConnectionAsync(cancellationToken);
        await using var command = SqlDialect.Command(connection, null, "SELECT token_hash, role, label, created_at FROM api_token ORDER BY created_at");
        var result = new List<TokenInfo>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            _ = Roles.TryParse(reader.GetString(1), out var role);
            result.Add(new TokenInfo(
                Convert.ToHexStringLower((byte[])reader.GetValue(0))[..12],
                role,
                reader.IsDBNull(2) ? null : reader.GetString(2),
                Dialect.ReadTimestamp(reader, 3)));
        }

        return result;
    }

    public virtual ValueTask DisposeAsync() => _ledger.DisposeAsync();

    /// <summary>The committed bytes of leaf <paramref name="index"/>, read inside the append transaction (null when absent).</summary>
    protected abstract Task<byte[]?> ReadStoredEntryAsync(DbConnection connection, DbTransaction transaction, long index, CancellationToken cancellationToken);

    /// <summary>Writes index rows inside the append transaction.</summary>
    protected abstract Task WriteIndexRowsAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<EventIndexRow> rows, CancellationToken cancellationToken);

    /// <summary>
    /// Inside the ledger's append: a duplicate id must carry the content already stored under it (else the whole batch
    /// fails with <see cref="EventConflictException"/>); every new event gets its index row.
    /// </summary>
    private async Task OnAppendAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<LedgerAppend> entries, AppendResult result, CancellationToken cancellationToken)
    {
        var rows = new List<EventIndexRow>(result.AppendedCount);
        for (var i = 0; i < entries.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (result.Duplicates[i])
            {
                var stored = await ReadStoredEntryAsync(connection, transaction, result.Indices[i], cancellationToken);
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

        if (rows.Count > 0)
        {
            await WriteIndexRowsAsync(connection, transaction, rows, cancellationToken);
        }
    }
}
