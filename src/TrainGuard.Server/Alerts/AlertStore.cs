using System.Data.Common;
using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using Npgsql;
using TrainGuard.Events;
using TrainGuard.Ledger.Storage;
using TrainGuard.Server.Events;
using TrainGuard.Server.Storage;

namespace TrainGuard.Server.Alerts;

/// <summary>
/// The alert tables (<see cref="AlertSchema"/>) in the server's database, SQLite or PostgreSQL, with the same SQL for
/// both. The deriver stores each run of derived entries in one transaction with its cursor (<see cref="CommitAsync"/>),
/// so a restart derives exactly what was not stored; status changes write only the lifecycle columns, each change at
/// most once (by its ledger index), whether the API or the deriver gets there first.
/// </summary>
public sealed class AlertStore
{
    private const string Columns = "a.id, a.severity, a.login_uid, a.account_name, a.fold_key, a.fold_open, a.derived, a.status, a.classification, a.assignee, a.history, a.status_index, a.created_us, a.updated_us";

    private readonly SqlLedgerStore _ledger;

    private AlertStore(SqlLedgerStore ledger) => _ledger = ledger;

    /// <summary>Creates the alert tables beside the server's if needed.</summary>
    public static async Task<AlertStore> OpenAsync(IServerStore store, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        var ledger = store.Ledger as SqlLedgerStore ?? throw new NotSupportedException("alerts need a SQL server store");
        if (ledger is PostgresLedgerStore postgres)
        {
            await postgres.CreateTablesAsync(AlertSchema.Postgres, postgres.SequencerLockKey ^ AlertSchema.PostgresGuard, cancellationToken);
        }
        else
        {
            await using var connection = await ledger.OpenConnectionAsync(cancellationToken);
            await using var command = SqlDialect.Command(connection, null, AlertSchema.Sqlite);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        return new AlertStore(ledger);
    }

    /// <summary>
    /// Takes the deriver's lock: on PostgreSQL a session advisory lock, so of several servers on one database one derives
    /// (null while another holds it); on SQLite nothing to take.
    /// </summary>
    public async Task<IAsyncDisposable?> TryLockDeriverAsync(CancellationToken cancellationToken)
    {
        if (_ledger is not PostgresLedgerStore postgres)
        {
            return new NoLock();
        }

        var connection = await postgres.DataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            await using var command = new NpgsqlCommand("SELECT pg_try_advisory_lock(@key)", connection);
            command.Parameters.AddWithValue("key", postgres.SequencerLockKey ^ AlertSchema.PostgresDeriverLock);
            if (await command.ExecuteScalarAsync(cancellationToken) is true)
            {
                return new SessionLock(connection, postgres.SequencerLockKey ^ AlertSchema.PostgresDeriverLock);
            }
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }

        await connection.DisposeAsync();
        return null;
    }

    /// <summary>The next ledger index to derive.</summary>
    public async Task<long> ReadCursorAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await _ledger.OpenConnectionAsync(cancellationToken);
        await using var command = SqlDialect.Command(connection, null, "SELECT next_index FROM alert_cursor WHERE id = 1");
        return await command.ExecuteScalarAsync(cancellationToken) is long next ? next : 0;
    }

    /// <summary>
    /// Where a restarted deriver starts re-reading to rebuild its windows: the first ledger index before
    /// <paramref name="cursor"/> whose event time is within <paramref name="window"/> of the newest event time before it
    /// (every earlier event is older than that).
    /// </summary>
    public async Task<long> WarmUpStartAsync(long cursor, TimeSpan window, CancellationToken cancellationToken = default)
    {
        if (cursor <= 0)
        {
            return 0;
        }

        await using var connection = await _ledger.OpenConnectionAsync(cancellationToken);
        await using var newest = SqlDialect.Command(connection, null, "SELECT MAX(ts) FROM event_index WHERE idx < @cursor", ("@cursor", cursor));
        if (await newest.ExecuteScalarAsync(cancellationToken) is not long latest)
        {
            return cursor;
        }

        var threshold = latest - (long)window.TotalMicroseconds;
        await using var first = SqlDialect.Command(connection, null, "SELECT MIN(idx) FROM event_index WHERE idx < @cursor AND ts >= @threshold", ("@cursor", cursor), ("@threshold", threshold));
        return await first.ExecuteScalarAsync(cancellationToken) is long start ? start : cursor;
    }

    /// <summary>The alerts still folding (not closed as of the cursor).</summary>
    public Task<List<Alert>> LoadFoldingAsync(CancellationToken cancellationToken = default) =>
        SelectAsync(" WHERE a.fold_open = 1", [], cancellationToken);

    /// <summary>The alerts with these ids that are stored.</summary>
    public async Task<List<Alert>> LoadAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken = default)
    {
        var result = new List<Alert>();
        foreach (var id in ids.Distinct(StringComparer.Ordinal))
        {
            if (await GetAsync(id, cancellationToken) is { } alert)
            {
                result.Add(alert);
            }
        }

        return result;
    }

    public async Task<Alert?> GetAsync(string id, CancellationToken cancellationToken = default) =>
        (await SelectAsync(" WHERE a.id = @id", [("@id", id)], cancellationToken)).FirstOrDefault();

    /// <summary>Alerts whose notification was not sent when the server stopped (sent again on start).</summary>
    public async Task<List<(Alert Alert, AlertNotificationKind Kind)>> PendingNotificationsAsync(CancellationToken cancellationToken = default)
    {
        var result = new List<(Alert, AlertNotificationKind)>();
        await using var connection = await _ledger.OpenConnectionAsync(cancellationToken);
        var kinds = new Dictionary<string, AlertNotificationKind>(StringComparer.Ordinal);
        await using (var command = SqlDialect.Command(connection, null, "SELECT id, notify_pending FROM alert WHERE notify_pending IS NOT NULL ORDER BY updated_us LIMIT 10000"))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                kinds[reader.GetString(0)] = (AlertNotificationKind)reader.GetInt64(1);
            }
        }

        foreach (var alert in await LoadAsync(kinds.Keys, cancellationToken))
        {
            result.Add((alert, kinds[alert.Id]));
        }

        return result;
    }

    /// <summary>Marks the notifications of these alerts sent.</summary>
    public async Task ClearPendingAsync(IEnumerable<string> ids, CancellationToken cancellationToken = default)
    {
        await using var connection = await _ledger.OpenConnectionAsync(cancellationToken);
        foreach (var id in ids)
        {
            await using var command = SqlDialect.Command(connection, null, "UPDATE alert SET notify_pending = NULL WHERE id = @id", ("@id", id));
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Stores what deriving up to <paramref name="nextCursor"/> changed, and the cursor, in one transaction. Returns the
    /// notifications to send now that it is stored (a status change a responder's request already stored gets none).
    /// </summary>
    public async Task<List<(Alert Alert, AlertNotificationKind Kind)>> CommitAsync(AlertChanges changes, long? nextCursor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(changes);
        var notify = new List<(Alert, AlertNotificationKind)>();
        await InTransactionAsync(
            async (connection, transaction) =>
            {
                await FillEventIdsAsync(connection, transaction, changes, cancellationToken);
                var alreadyApplied = new HashSet<string>(StringComparer.Ordinal);
                foreach (var (alert, entry) in changes.StatusChanges)
                {
                    if (!await ApplyStatusAsync(connection, transaction, alert.Id, entry, cancellationToken))
                    {
                        alreadyApplied.Add(alert.Id);
                    }
                }

                foreach (var (alert, kind) in changes.Alerts)
                {
                    var send = kind == AlertNotificationKind.StatusChanged && alreadyApplied.Contains(alert.Id) ? null : kind;
                    await UpsertDerivedAsync(connection, transaction, alert, send, cancellationToken);
                    if (send is { } k)
                    {
                        notify.Add((alert, k));
                    }
                }

                if (_ledger is SqliteLedgerStore sqlite)
                {
                    InsertActorRows(sqlite, changes.Actors.Values, cancellationToken);
                }
                else
                {
                    foreach (var chunk in changes.Actors.Values.Chunk(ActorRowsPerStatement))
                    {
                        await InsertActorRowsAsync(connection, transaction, chunk, cancellationToken);
                    }
                }

                foreach (var beat in changes.Heartbeats.Values)
                {
                    await ExecuteAsync(connection, transaction, cancellationToken,
                        "INSERT INTO agent_heartbeat (host, received_us, interval_s, idx, event_id) VALUES (@host, @at, @interval, @idx, @id) " +
                        "ON CONFLICT (host) DO UPDATE SET received_us = excluded.received_us, interval_s = excluded.interval_s, idx = excluded.idx, event_id = excluded.event_id",
                        ("@host", beat.Host), ("@at", Micros(beat.ReceivedAt)), ("@interval", beat.IntervalSeconds), ("@idx", beat.LedgerIndex), ("@id", beat.EventId));
                }

                if (nextCursor is { } next)
                {
                    await ExecuteAsync(connection, transaction, cancellationToken, "UPDATE alert_cursor SET next_index = @next WHERE id = 1", ("@next", next));
                }
            },
            cancellationToken);
        return notify;
    }

    /// <summary>
    /// Applies a status change a responder asked for (recorded in the ledger at <see cref="AlertHistoryEntry.LedgerIndex"/>)
    /// and returns the alert as stored after it, or null when no alert has this id.
    /// </summary>
    public async Task<Alert?> ChangeStatusAsync(string id, AlertHistoryEntry entry, CancellationToken cancellationToken = default)
    {
        await InTransactionAsync((connection, transaction) => ApplyStatusAsync(connection, transaction, id, entry, cancellationToken), cancellationToken);
        return await GetAsync(id, cancellationToken);
    }

    /// <summary>A page of alerts, newest last event first; the cursor of the next page when there is one.</summary>
    public async Task<(List<Alert> Alerts, string? Next)> ListAsync(AlertQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var sql = new StringBuilder(" WHERE 1 = 1");
        var parameters = new List<(string, object?)>();
        if (query.AllStatuses)
        {
        }
        else if (query.Status is { } status)
        {
            Add(" AND a.status = @status", "@status", status);
        }
        else
        {
            Add(" AND a.status <> @closed", "@closed", AlertStatus.Closed);
        }

        if (query.Severity is { } severity)
        {
            Add(" AND a.severity = @severity", "@severity", severity);
        }

        if (query.RuleId is { } rule)
        {
            Add(" AND a.rule_id = @rule", "@rule", rule);
        }

        if (query.User is { } user)
        {
            Add(" AND (a.account_name = @user OR a.login_uid = @user)", "@user", user);
        }

        if (query.Host is { } host)
        {
            Add(" AND EXISTS (SELECT 1 FROM alert_host h WHERE h.alert_id = a.id AND h.host = @host)", "@host", host.ToLowerInvariant());
        }

        if (query.SinceMicros is { } since)
        {
            Add(" AND a.last_seen_us >= @since", "@since", since);
        }

        if (query.UntilMicros is { } until)
        {
            Add(" AND a.first_seen_us < @until", "@until", until);
        }

        if (query.After is { } after)
        {
            sql.Append(" AND (a.last_seen_us < @after_ls OR (a.last_seen_us = @after_ls AND a.id < @after_id))");
            parameters.Add(("@after_ls", after.LastSeenMicros));
            parameters.Add(("@after_id", after.Id));
        }

        var limit = Math.Clamp(query.Limit, 1, AlertQuery.MaxLimit);
        sql.Append(" ORDER BY a.last_seen_us DESC, a.id DESC LIMIT @limit");
        parameters.Add(("@limit", (long)limit + 1));
        var alerts = await SelectAsync(sql.ToString(), parameters, cancellationToken);
        string? next = null;
        if (alerts.Count > limit)
        {
            alerts.RemoveAt(alerts.Count - 1);
            var last = alerts[^1];
            next = string.Create(CultureInfo.InvariantCulture, $"{Micros(last.LastSeen)}.{last.Id}");
        }

        return (alerts, next);

        void Add(string clause, string name, object value)
        {
            sql.Append(clause);
            parameters.Add((name, value));
        }
    }

    /// <summary>Alerts naming one of these login uids or account names, or with an event on <paramref name="host"/>.</summary>
    public Task<List<Alert>> AlertsOfAsync(IReadOnlyList<string> loginUids, IReadOnlyList<string> names, string? host, CancellationToken cancellationToken = default)
    {
        var parameters = new List<(string, object?)>();
        var clauses = new List<string>();
        if (host is not null)
        {
            clauses.Add("EXISTS (SELECT 1 FROM alert_host h WHERE h.alert_id = a.id AND h.host = @host)");
            parameters.Add(("@host", host.ToLowerInvariant()));
        }

        if (loginUids.Count > 0)
        {
            clauses.Add($"a.login_uid IN ({In("@u", loginUids, parameters)})");
        }

        if (names.Count > 0)
        {
            clauses.Add($"(a.login_uid IS NULL AND a.account_name IN ({In("@n", names, parameters)}))");
        }

        return clauses.Count == 0
            ? Task.FromResult(new List<Alert>())
            : SelectAsync($" WHERE {string.Join(" OR ", clauses)} ORDER BY a.first_seen_us, a.id LIMIT 10000", parameters, cancellationToken);
    }

    /// <summary>
    /// The login uids and names of the actor rows naming a name or login uid: a name through <c>actor_event_name_uid</c>
    /// (the index holds both columns, so its rows are not read), a login uid through <c>actor_event_login_uid</c>.
    /// </summary>
    internal const string ResolveAccountSql =
        "SELECT login_uid, account_name FROM actor_event WHERE account_name = @user UNION SELECT login_uid, account_name FROM actor_event WHERE login_uid = @user LIMIT 1000";

    /// <summary>The login uids and names the actor index knows for a name or login uid.</summary>
    public async Task<(List<string> LoginUids, List<string> Names)> ResolveAccountAsync(string user, CancellationToken cancellationToken = default)
    {
        var uids = new SortedSet<string>(StringComparer.Ordinal);
        var names = new SortedSet<string>(StringComparer.Ordinal);
        await using var connection = await _ledger.OpenConnectionAsync(cancellationToken);
        await using var command = SqlDialect.Command(connection, null,
            ResolveAccountSql, ("@user", user));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            if (!reader.IsDBNull(0))
            {
                uids.Add(reader.GetString(0));
            }

            if (!reader.IsDBNull(1))
            {
                names.Add(reader.GetString(1));
            }
        }

        return ([.. uids], [.. names]);
    }

    /// <summary>Events of an account (after attribution), or of a host, in time order, with their actor rows: at most <paramref name="limit"/> + 1.</summary>
    public async Task<List<TimelineRow>> TimelineEventsAsync(IReadOnlyList<string> loginUids, IReadOnlyList<string> names, string? host, long? since, long? until, int limit, CancellationToken cancellationToken = default)
    {
        var parameters = new List<(string, object?)>();
        if (TimelineSql(loginUids, names, host, since, until, limit, parameters) is not { } sql)
        {
            return [];
        }

        var rows = new List<TimelineRow>();
        await using var connection = await _ledger.OpenConnectionAsync(cancellationToken);
        await using var command = SqlDialect.Command(connection, null, sql, [.. parameters]);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new TimelineRow(
                reader.GetInt64(0),
                reader.GetInt64(1),
                reader.IsDBNull(2) ? null : reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetString(4),
                reader.IsDBNull(5) ? AlertAttribution.Direct : reader.GetString(5),
                reader.IsDBNull(6) ? null : reader.GetString(6),
                (byte[])reader.GetValue(7)));
        }

        return rows;
    }

    /// <summary>
    /// The SQL of <see cref="TimelineEventsAsync"/> (null when there is nothing to ask), its parameters added to
    /// <paramref name="parameters"/>. Every read follows an index in time order, and ledger entries are read for the page's
    /// rows only: a host's events through <c>event_index_host_ts</c> (the unary plus keeps the committed-size bound from
    /// choosing <c>event_index_host</c> and sorting every event of the host); an account's as one branch per login uid
    /// (<c>actor_event_login_uid</c>) and per name of events without a login uid (<c>actor_event_name_uid</c>), merged
    /// in time order and cut at the limit before anything is joined.
    /// </summary>
    internal static string? TimelineSql(IReadOnlyList<string> loginUids, IReadOnlyList<string> names, string? host, long? since, long? until, int limit, List<(string, object?)> parameters)
    {
        var range = new StringBuilder();
        if (since is { } from)
        {
            range.Append(" AND ts >= @since");
            parameters.Add(("@since", from));
        }

        if (until is { } to)
        {
            range.Append(" AND ts < @until");
            parameters.Add(("@until", to));
        }

        parameters.Add(("@limit", (long)limit + 1));
        if (host is not null)
        {
            parameters.Add(("@host", host));
            return "SELECT e.idx, e.ts, e.host, a.login_uid, a.account_name, a.attribution, a.logged_in_as, l.entry FROM event_index e JOIN ledger_entry l ON l.idx = e.idx " +
                "LEFT JOIN actor_event a ON a.idx = e.idx WHERE e.host = @host AND +e.idx < (SELECT tree_size FROM ledger_head WHERE id = 1)" +
                range.Replace(" ts ", " e.ts ") + " ORDER BY e.ts, e.idx LIMIT @limit";
        }

        var branches = new List<string>();
        foreach (var uid in loginUids.Take(MaxInValues))
        {
            branches.Add($"SELECT idx, ts FROM actor_event WHERE login_uid = {Parameter("@u", uid, parameters)}{range}");
        }

        foreach (var name in names.Take(MaxInValues))
        {
            branches.Add($"SELECT idx, ts FROM actor_event WHERE account_name = {Parameter("@n", name, parameters)} AND login_uid IS NULL{range}");
        }

        return branches.Count == 0
            ? null
            : "SELECT a.idx, a.ts, a.host, a.login_uid, a.account_name, a.attribution, a.logged_in_as, l.entry FROM (" + string.Join(" UNION ALL ", branches) +
                " ORDER BY ts, idx LIMIT @limit) s JOIN actor_event a ON a.idx = s.idx JOIN ledger_entry l ON l.idx = s.idx ORDER BY s.ts, s.idx";
    }

    /// <summary>The alerts each of the ledger indexes in [<paramref name="first"/>, <paramref name="last"/>] contributed to.</summary>
    public async Task<Dictionary<long, List<string>>> AlertIdsByEventAsync(long first, long last, CancellationToken cancellationToken = default)
    {
        var result = new Dictionary<long, List<string>>();
        await using var connection = await _ledger.OpenConnectionAsync(cancellationToken);
        await using var command = SqlDialect.Command(connection, null,
            "SELECT idx, alert_id FROM alert_event WHERE idx >= @first AND idx <= @last ORDER BY idx, alert_id", ("@first", first), ("@last", last));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var index = reader.GetInt64(0);
            if (!result.TryGetValue(index, out var ids))
            {
                result[index] = ids = [];
            }

            ids.Add(reader.GetString(1));
        }

        return result;
    }

    /// <summary>Every agent's latest heartbeat.</summary>
    public async Task<List<AgentHeartbeat>> LoadHeartbeatsAsync(CancellationToken cancellationToken = default)
    {
        var result = new List<AgentHeartbeat>();
        await using var connection = await _ledger.OpenConnectionAsync(cancellationToken);
        await using var command = SqlDialect.Command(connection, null, "SELECT host, received_us, interval_s, idx, event_id FROM agent_heartbeat ORDER BY host");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new AgentHeartbeat(reader.GetString(0), FromMicros(reader.GetInt64(1)), reader.GetDouble(2), reader.GetInt64(3), reader.GetString(4)));
        }

        return result;
    }

    internal static long Micros(DateTimeOffset value) => Rfc3339.ToUnixMicroseconds(value);

    internal static DateTimeOffset FromMicros(long micros) => DateTimeOffset.UnixEpoch.AddTicks(micros * 10);

    private async Task<List<Alert>> SelectAsync(string where, IReadOnlyList<(string, object?)> parameters, CancellationToken cancellationToken)
    {
        await using var connection = await _ledger.OpenConnectionAsync(cancellationToken);
        await using var command = SqlDialect.Command(connection, null, $"SELECT {Columns} FROM alert a{where}", [.. parameters]);
        var result = new List<Alert>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(AlertJson.Read(new StoredAlertRow(
                reader.GetString(0),
                reader.GetString(1),
                reader.IsDBNull(2) ? null : reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.GetString(4),
                reader.GetInt64(5) != 0,
                reader.GetString(6),
                reader.GetString(7),
                reader.IsDBNull(8) ? null : reader.GetString(8),
                reader.IsDBNull(9) ? null : reader.GetString(9),
                reader.GetString(10),
                reader.GetInt64(11),
                FromMicros(reader.GetInt64(12)),
                FromMicros(reader.GetInt64(13)))));
        }

        return result;
    }

    private static async Task UpsertDerivedAsync(DbConnection connection, DbTransaction transaction, Alert alert, AlertNotificationKind? notify, CancellationToken cancellationToken)
    {
        await ExecuteAsync(connection, transaction, cancellationToken,
            "INSERT INTO alert (id, rule_id, severity, severity_rank, login_uid, account_name, first_seen_us, last_seen_us, fold_key, fold_open, derived, " +
            "status, classification, assignee, history, status_index, notify_pending, created_us, updated_us) " +
            "VALUES (@id, @rule, @severity, @rank, @uid, @name, @first, @last, @fold, @open, @derived, @status, @classification, @assignee, @history, @status_index, @notify, @created, @updated) " +
            "ON CONFLICT (id) DO UPDATE SET rule_id = excluded.rule_id, severity = excluded.severity, severity_rank = excluded.severity_rank, " +
            "login_uid = excluded.login_uid, account_name = excluded.account_name, first_seen_us = excluded.first_seen_us, last_seen_us = excluded.last_seen_us, " +
            "fold_open = excluded.fold_open, derived = excluded.derived, notify_pending = COALESCE(excluded.notify_pending, alert.notify_pending), " +
            "updated_us = CASE WHEN excluded.updated_us > alert.updated_us THEN excluded.updated_us ELSE alert.updated_us END",
            ("@id", alert.Id), ("@rule", alert.Rule.Id), ("@severity", alert.Severity), ("@rank", (long)alert.SeverityRank), ("@uid", alert.LoginUid), ("@name", alert.AccountName),
            ("@first", Micros(alert.FirstSeen)), ("@last", Micros(alert.LastSeen)), ("@fold", alert.FoldKey), ("@open", alert.FoldOpen ? 1L : 0L), ("@derived", AlertJson.Derived(alert)),
            ("@status", alert.Status), ("@classification", alert.Classification), ("@assignee", alert.Assignee), ("@history", AlertJson.History(alert.History)),
            ("@status_index", alert.StatusIndex), ("@notify", notify is { } kind ? (long)kind : null), ("@created", Micros(alert.CreatedAt)), ("@updated", Micros(alert.UpdatedAt)));
        await ExecuteAsync(connection, transaction, cancellationToken, "DELETE FROM alert_host WHERE alert_id = @id", ("@id", alert.Id));
        foreach (var host in alert.Hosts.Select(h => h.ToLowerInvariant()).Distinct(StringComparer.Ordinal))
        {
            await ExecuteAsync(connection, transaction, cancellationToken, "INSERT INTO alert_host (alert_id, host) VALUES (@id, @host)", ("@id", alert.Id), ("@host", host));
        }

        foreach (var e in alert.Events)
        {
            await ExecuteAsync(connection, transaction, cancellationToken,
                "INSERT INTO alert_event (alert_id, idx) VALUES (@id, @idx) ON CONFLICT (alert_id, idx) DO NOTHING", ("@id", alert.Id), ("@idx", e.LedgerIndex));
        }
    }

    /// <summary>Applies one status change to the stored lifecycle columns unless a change at this ledger index (or later) is stored; true when applied.</summary>
    private async Task<bool> ApplyStatusAsync(DbConnection connection, DbTransaction transaction, string id, AlertHistoryEntry entry, CancellationToken cancellationToken)
    {
        string historyText;
        long statusIndex;
        long updated;
        string? assignee;
        await using (var read = SqlDialect.Command(connection, transaction,
            "SELECT history, status_index, updated_us, assignee FROM alert WHERE id = @id" + _ledger.Dialect.LockRowSuffix, ("@id", id)))
        await using (var reader = await read.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
            {
                return false;
            }

            (historyText, statusIndex, updated, assignee) = (reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.IsDBNull(3) ? null : reader.GetString(3));
        }

        if (statusIndex >= entry.LedgerIndex)
        {
            return false;
        }

        var history = System.Text.Json.JsonSerializer.Deserialize<List<AlertHistoryEntry>>(historyText, HistoryOptions) ?? [];
        history.Add(entry);
        await ExecuteAsync(connection, transaction, cancellationToken,
            "UPDATE alert SET status = @status, classification = @classification, assignee = @assignee, history = @history, status_index = @index, updated_us = @updated WHERE id = @id",
            ("@status", entry.To), ("@classification", entry.To == AlertStatus.Closed ? entry.Classification : null), ("@assignee", entry.Assignee ?? assignee),
            ("@history", AlertJson.History(history)), ("@index", entry.LedgerIndex), ("@updated", Math.Max(updated, Micros(entry.At))), ("@id", id));
        return true;
    }

    private static readonly System.Text.Json.JsonSerializerOptions HistoryOptions = new() { PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower };

    /// <summary>Fills the event ids the derivation did not have (correlation references older than its cache) from the event index.</summary>
    private static async Task FillEventIdsAsync(DbConnection connection, DbTransaction transaction, AlertChanges changes, CancellationToken cancellationToken)
    {
        foreach (var (alert, _) in changes.Alerts)
        {
            for (var i = 0; i < alert.Events.Count; i++)
            {
                if (alert.Events[i].EventId.Length > 0)
                {
                    continue;
                }

                await using var command = SqlDialect.Command(connection, transaction, "SELECT event_id FROM event_index WHERE idx = @idx", ("@idx", alert.Events[i].LedgerIndex));
                if (await command.ExecuteScalarAsync(cancellationToken) is string id)
                {
                    alert.Events[i] = alert.Events[i] with { EventId = id };
                }
            }
        }
    }

    private Task InTransactionAsync(Func<DbConnection, DbTransaction, Task> work, CancellationToken cancellationToken) =>
        _ledger.WriteAsync(work, cancellationToken);

    /// <summary>Most values one <c>IN</c> list or timeline query carries.</summary>
    private const int MaxInValues = 100;

    private static string In(string prefix, IReadOnlyList<string> values, List<(string, object?)> parameters) =>
        string.Join(", ", values.Take(MaxInValues).Select(value => Parameter(prefix, value, parameters)));

    private static string Parameter(string prefix, string value, List<(string, object?)> parameters)
    {
        var name = prefix + parameters.Count.ToString(CultureInfo.InvariantCulture);
        parameters.Add((name, value));
        return name;
    }

    /// <summary>
    /// Actor rows written by one statement on PostgreSQL: the deriver writes one row per event that names an account (most
    /// of them), and one multi-row statement parsed once costs a fraction of a statement per row. SQLite reuses one
    /// prepared single-row statement instead (<see cref="InsertActorRows"/>).
    /// </summary>
    private const int ActorRowsPerStatement = 128;

    /// <summary>SQLite: one row at a time through a statement prepared once on the writer (a few microseconds a row).</summary>
    private static void InsertActorRows(SqliteLedgerStore sqlite, IEnumerable<ActorRow> rows, CancellationToken cancellationToken)
    {
        var insert = sqlite.WriterStatement(ActorInsert + "(?1, ?2, ?3, ?4, ?5, ?6, ?7) " + ActorUpsert);
        foreach (var row in rows)
        {
            cancellationToken.ThrowIfCancellationRequested();
            insert.Bind(1, row.Index);
            insert.Bind(2, row.TimestampMicros);
            insert.Bind(3, row.Host);
            insert.Bind(4, row.LoginUid);
            insert.Bind(5, row.Name);
            insert.Bind(6, row.Attribution);
            insert.Bind(7, row.SessionUser);
            insert.Execute();
        }
    }

    private const string ActorInsert = "INSERT INTO actor_event (idx, ts, host, login_uid, account_name, attribution, logged_in_as) VALUES ";

    private const string ActorUpsert = "ON CONFLICT (idx) DO UPDATE SET ts = excluded.ts, host = excluded.host, login_uid = excluded.login_uid, account_name = excluded.account_name, attribution = excluded.attribution, logged_in_as = excluded.logged_in_as";

    private static Task InsertActorRowsAsync(DbConnection connection, DbTransaction? transaction, ActorRow[] rows, CancellationToken cancellationToken)
    {
        var sql = new System.Text.StringBuilder(ActorInsert);
        var parameters = new (string Name, object? Value)[rows.Length * 7];
        for (var i = 0; i < rows.Length; i++)
        {
            var row = rows[i];
            sql.Append(i == 0 ? string.Empty : ", ").Append(CultureInfo.InvariantCulture, $"(@i{i}, @t{i}, @h{i}, @u{i}, @n{i}, @a{i}, @s{i})");
            parameters[(i * 7) + 0] = ($"@i{i}", row.Index);
            parameters[(i * 7) + 1] = ($"@t{i}", row.TimestampMicros);
            parameters[(i * 7) + 2] = ($"@h{i}", row.Host);
            parameters[(i * 7) + 3] = ($"@u{i}", row.LoginUid);
            parameters[(i * 7) + 4] = ($"@n{i}", row.Name);
            parameters[(i * 7) + 5] = ($"@a{i}", row.Attribution);
            parameters[(i * 7) + 6] = ($"@s{i}", row.SessionUser);
        }

        sql.Append(' ').Append(ActorUpsert);
        return ExecuteAsync(connection, transaction, cancellationToken, sql.ToString(), parameters);
    }

    private static async Task ExecuteAsync(DbConnection connection, DbTransaction? transaction, CancellationToken cancellationToken, string sql, params (string Name, object? Value)[] parameters)
    {
        await using var command = SqlDialect.Command(connection, transaction, sql, parameters);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private sealed class NoLock : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>A session advisory lock held on its own connection; released (not left to the pool) on disposal.</summary>
    private sealed class SessionLock(NpgsqlConnection connection, long key) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            try
            {
                await using var command = new NpgsqlCommand("SELECT pg_advisory_unlock(@key)", connection);
                command.Parameters.AddWithValue("key", key);
                await command.ExecuteNonQueryAsync();
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
            {
                // The connection is gone, and the lock with it.
            }
            finally
            {
                await connection.DisposeAsync();
            }
        }
    }
}

/// <summary>
/// One event of a timeline: its ledger index, time, host, the account behind it (after attribution; for a planted-key
/// session also the account it was logged in as) and its stored JSON.
/// </summary>
public sealed record TimelineRow(long Index, long TimestampMicros, string? Host, string? LoginUid, string? Name, string Attribution, string? SessionUser, byte[] Entry);
