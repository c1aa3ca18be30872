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
        command.CommandText = QuerySql(query);
        foreach (var (name, value) in QueryParameters(query))
        {
            SqlDialect.Add(command, name, value);
        }

        var result = new List<StoredEvent>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new StoredEvent(reader.GetInt64(0), (byte[])reader.GetValue(1)));
        }

        return result;
    }

    /// <summary>
    /// The SQL of <see cref="QueryAsync"/>: the page's ledger indexes are chosen from the event index alone (a host and
    /// time range through <c>event_index_host_ts</c>, a host and action through <c>event_index_host_action</c>, a user
    /// through <c>event_index_user</c>), and only they are joined to their ledger entries, so a range of
    /// many rows sorts integers, not entries.
    /// </summary>
    internal static string QuerySql(EventQuery query)
    {
        var sql = new StringBuilder("SELECT l.idx, l.entry FROM (SELECT e.idx FROM event_index e WHERE 1 = 1");
        foreach (var (clause, _, _) in QueryTerms(query))
        {
            sql.Append(clause);
        }

        var order = query.Descending ? " DESC" : string.Empty;
        return sql.Append(" ORDER BY e.idx").Append(order).Append(" LIMIT @limit) s JOIN ledger_entry l ON l.idx = s.idx ORDER BY l.idx").Append(order).ToString();
    }

    /// <summary>The parameters of <see cref="QuerySql"/>.</summary>
    internal static IEnumerable<(string Name, object Value)> QueryParameters(EventQuery query) =>
        QueryTerms(query).Select(t => (t.Name, t.Value)).Append(("@limit", (object)Math.Clamp(query.Limit, 1, EventQuery.MaxLimit)));

    private static IEnumerable<(string Clause, string Name, object Value)> QueryTerms(EventQuery query)
    {
        (string, string, object?)[] terms =
        [
            (" AND e.ts >= @from", "@from", query.FromMicros),
            (" AND e.ts < @to", "@to", query.ToMicros),
            (" AND e.host = @host", "@host", query.Host),
            (" AND e.user_name = @user", "@user", query.User),
            // With a user and no host, the user's index leads: `|| ''` keeps the action's index (millions of rows for a
            // common action) out of the choice, which SQLite, without statistics, may otherwise make.
            (query.User is not null && query.Host is null ? " AND e.action || '' = @action" : " AND e.action = @action", "@action", query.Action),
            (query.Descending ? " AND e.idx < @after" : " AND e.idx > @after", "@after", query.After),
        ];
        return terms.Where(t => t.Item3 is not null).Select(t => (t.Item1, t.Item2, t.Item3!));
    }

    public async IAsyncEnumerable<EventIndexRow> ScanIndexAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await using var connection = await _ledger.OpenConnectionAsync(cancellationToken);
        await using var command = SqlDialect.Command(connection, null, "SELECT idx, ts, host, user_name, action, event_id FROM event_index ORDER BY idx");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return new EventIndexRow(
                reader.GetInt64(0),
                reader.GetInt64(1),
                reader.IsDBNull(2) ? null : reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.GetString(4),
                reader.IsDBNull(5) ? null : reader.GetString(5));
        }
    }

    public async Task<IReadOnlyList<long>> FindEventAsync(string eventId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(eventId);
        await using var connection = await _ledger.OpenConnectionAsync(cancellationToken);
        await using var command = SqlDialect.Command(connection, null,
            "SELECT e.idx FROM event_index e JOIN ledger_head h ON h.id = 1 WHERE e.event_id = @id AND e.idx < h.tree_size ORDER BY e.idx LIMIT @limit",
            ("@id", eventId), ("@limit", MaxEventsPerId));
        var result = new List<long>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(reader.GetInt64(0));
        }

        return result;
    }

    /// <summary>Most leaves <see cref="FindEventAsync"/> lists for one event id.</summary>
    public const int MaxEventsPerId = 100;

    public Task AddTokenAsync(byte[] tokenHash, Role role, string? label, CancellationToken cancellationToken = default) =>
        AddTokenAsync(tokenHash, new TokenGrant(role, Label: label), cancellationToken);

    public async Task AddTokenAsync(byte[] tokenHash, TokenGrant grant, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tokenHash);
        ArgumentNullException.ThrowIfNull(grant);
        var identity = grant.Identity;
        if (identity is not null)
        {
            if (grant.Role.IdentityKind() is not { } kind)
            {
                throw new ArgumentException($"a {grant.Role.ToWireName()} token is not bound to a host or person", nameof(grant));
            }

            if (ApiTokens.CheckIdentity(identity) is { } problem)
            {
                throw new ArgumentException($"{kind} '{identity}': {problem}", nameof(grant));
            }

            // Host names compare without case; people do not.
            identity = kind == "host" ? identity.ToLowerInvariant() : identity;
        }
        else if (grant.Role == Role.Signer)
        {
            throw new ArgumentException("a signer token is bound to the person it signs for", nameof(grant));
        }

        if (grant.Label is { Length: > ApiTokens.MaxLabelLength })
        {
            throw new ArgumentException($"a token label is at most {ApiTokens.MaxLabelLength} characters", nameof(grant));
        }

        await using var connection = await _ledger.OpenConnectionAsync(cancellationToken);
        await using var command = SqlDialect.Command(connection, null,
            "INSERT INTO api_token (token_hash, role, label, created_at, identity, expires_at) VALUES (@hash, @role, @label, @at, @identity, @expires)",
            ("@hash", tokenHash), ("@role", grant.Role.ToWireName()), ("@label", grant.Label), ("@at", Dialect.Timestamp(SqlDialect.Now())),
            ("@identity", identity), ("@expires", grant.ExpiresAt is { } expires ? Dialect.Timestamp(expires) : null));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<TokenInfo?> FindTokenAsync(byte[] tokenHash, CancellationToken cancellationToken = default)
    {
        await using var connection = await _ledger.OpenConnectionAsync(cancellationToken);
        await using var command = SqlDialect.Command(connection, null, SelectTokens + " WHERE token_hash = @hash", ("@hash", tokenHash));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadToken(reader) : null;
    }

    public async Task<IReadOnlyList<TokenInfo>> ListTokensAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await _ledger.OpenConnectionAsync(cancellationToken);
        await using var command = SqlDialect.Command(connection, null, SelectTokens + " ORDER BY created_at");
        var result = new List<TokenInfo>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(ReadToken(reader));
        }

        return result;
    }

    public async Task<TokenInfo?> RevokeTokenAsync(string tokenId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tokenId);

        // Tokens are few (one per node and person): find the hash by its public id here, not in dialect-specific SQL.
        byte[]? hash = null;
        await using var connection = await _ledger.OpenConnectionAsync(cancellationToken);
        await using (var list = SqlDialect.Command(connection, null, "SELECT token_hash FROM api_token"))
        await using (var reader = await list.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var candidate = (byte[])reader.GetValue(0);
                if (string.Equals(ApiTokens.Id(candidate), tokenId, StringComparison.OrdinalIgnoreCase))
                {
                    hash = candidate;
                    break;
                }
            }
        }

        if (hash is null)
        {
            return null;
        }

        await using (var revoke = SqlDialect.Command(connection, null,
            "UPDATE api_token SET revoked_at = @at WHERE token_hash = @hash AND revoked_at IS NULL",
            ("@at", Dialect.Timestamp(SqlDialect.Now())), ("@hash", hash)))
        {
            await revoke.ExecuteNonQueryAsync(cancellationToken);
        }

        await using var find = SqlDialect.Command(connection, null, SelectTokens + " WHERE token_hash = @hash", ("@hash", hash));
        await using var found = await find.ExecuteReaderAsync(cancellationToken);
        return await found.ReadAsync(cancellationToken) ? ReadToken(found) : null;
    }

    public async Task MarkTokenUsedAsync(byte[] tokenHash, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        await using var connection = await _ledger.OpenConnectionAsync(cancellationToken);
        await using var command = SqlDialect.Command(connection, null, "UPDATE api_token SET last_used_at = @at WHERE token_hash = @hash", ("@at", Dialect.Timestamp(at)), ("@hash", tokenHash));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private const string SelectTokens = "SELECT token_hash, role, identity, label, created_at, expires_at, revoked_at, last_used_at FROM api_token";

    private TokenInfo ReadToken(DbDataReader reader)
    {
        _ = Roles.TryParse(reader.GetString(1), out var role);
        return new TokenInfo(
            ApiTokens.Id((byte[])reader.GetValue(0)),
            role,
            reader.IsDBNull(2) ? null : reader.GetString(2),
            reader.IsDBNull(3) ? null : reader.GetString(3),
            Dialect.ReadTimestamp(reader, 4),
            Time(5),
            Time(6),
            Time(7));

        DateTimeOffset? Time(int ordinal) => reader.IsDBNull(ordinal) ? null : Dialect.ReadTimestamp(reader, ordinal);
    }

    public virtual ValueTask DisposeAsync() => _ledger.DisposeAsync();

    /// <summary>The committed bytes of leaf <paramref name="index"/>, read inside the append transaction (null when absent).</summary>
    protected abstract Task<byte[]?> ReadStoredEntryAsync(DbConnection connection, DbTransaction transaction, long index, CancellationToken cancellationToken);

    /// <summary>Writes index rows inside the append transaction.</summary>
    protected abstract Task WriteIndexRowsAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<EventIndexRow> rows, CancellationToken cancellationToken);

    /// <summary>
    /// Inside the ledger's append: a duplicate key must carry the content already stored under it. A validated event
    /// (<see cref="EventAppend"/>) that does not is marked (<see cref="EventAppend.ConflictsWith"/>: it was not appended,
    /// the rest of the batch is); any other entry fails the whole append with <see cref="EventConflictException"/>.
    /// Every new event gets its index row.
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
                var same = stored is not null && EventBatchParser.SameContent(stored, entries[i].Entry);
                if (entries[i] is EventAppend validated)
                {
                    validated.ConflictsWith = same ? null : result.Indices[i];
                    validated.ConflictingEntry = same ? null : stored;
                }
                else if (!same)
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
