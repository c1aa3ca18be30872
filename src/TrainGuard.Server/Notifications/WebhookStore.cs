using System.Data.Common;
using System.Text;
using TrainGuard.Ledger.Storage;
using TrainGuard.Server.Storage;

namespace TrainGuard.Server.Notifications;

/// <summary>One message for one target, as the dispatcher delivers it.</summary>
public sealed record OutboxMessage(long Id, string MessageId, WebhookTarget Target, string EventType, byte[] Body, int Attempts);

/// <summary>A message to queue: the same <paramref name="MessageId"/> for every target of one notification.</summary>
public sealed record OutboxItem(string MessageId, WebhookTarget Target, string EventType, byte[] Body);

/// <summary>A target with the count of its messages still waiting for delivery.</summary>
public sealed record WebhookTargetStatus(WebhookTarget Target, long Pending);

/// <summary>How one attempt ended.</summary>
public enum DeliveryOutcome
{
    /// <summary>2xx: the receiver has it.</summary>
    Delivered = 1,

    /// <summary>Failed; another attempt is scheduled.</summary>
    Retrying = 2,

    /// <summary>Failed on the last step of the schedule: given up.</summary>
    Failed = 3,

    /// <summary>410 Gone: the target is disabled and its queued messages dropped.</summary>
    Gone = 4,
}

/// <summary>One attempt, as the delivery log keeps it: never the secret, the URL's path or the response body.</summary>
public sealed record WebhookDelivery(
    long Id,
    string MessageId,
    string Target,
    string EventType,
    int Attempt,
    DateTimeOffset AttemptedAt,
    int? StatusCode,
    long DurationMs,
    DeliveryOutcome Outcome,
    string? Error,
    DateTimeOffset? NextAttemptAt)
{
    public static string OutcomeName(DeliveryOutcome outcome) => outcome switch
    {
        DeliveryOutcome.Delivered => "delivered",
        DeliveryOutcome.Retrying => "retrying",
        DeliveryOutcome.Failed => "failed",
        DeliveryOutcome.Gone => "gone",
        _ => "unknown",
    };

    public static DeliveryOutcome ParseOutcome(string text) => text switch
    {
        "delivered" => DeliveryOutcome.Delivered,
        "retrying" => DeliveryOutcome.Retrying,
        "failed" => DeliveryOutcome.Failed,
        "gone" => DeliveryOutcome.Gone,
        _ => 0,
    };
}

/// <summary>Filters and paging of the delivery log (newest first).</summary>
public sealed record WebhookDeliveryQuery
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;

    public string? Target { get; init; }

    public string? MessageId { get; init; }

    /// <summary>Only attempts with a smaller log id (the previous page's last <see cref="WebhookDelivery.Id"/>).</summary>
    public long? Before { get; init; }

    public int Limit { get; init; } = DefaultLimit;
}

/// <summary>
/// The webhook tables (<see cref="WebhookSchema"/>) in the server's database, SQLite or PostgreSQL, through the
/// ledger store's connections and the same SQL for both. A message is queued once per target and stays in the
/// outbox until a 2xx, a 410 or the end of the retry schedule; a dispatcher leases a message before sending it, so
/// several servers on one PostgreSQL never send the same attempt twice, and a lease left by a killed server expires.
/// </summary>
public sealed class WebhookStore
{
    private const string Pending = "pending";
    private readonly SqlLedgerStore _ledger;

    private WebhookStore(SqlLedgerStore ledger) => _ledger = ledger;

    /// <summary>Creates the webhook tables beside the server's if needed.</summary>
    public static async Task<WebhookStore> OpenAsync(IServerStore store, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        var ledger = store.Ledger as SqlLedgerStore ?? throw new NotSupportedException("webhooks need a SQL server store");
        if (ledger is PostgresLedgerStore postgres)
        {
            await postgres.CreateTablesAsync(WebhookSchema.Postgres, postgres.SequencerLockKey ^ WebhookSchema.PostgresGuard, cancellationToken);
        }
        else
        {
            await using var connection = await ledger.OpenConnectionAsync(cancellationToken);
            await using var command = SqlDialect.Command(connection, null, WebhookSchema.Sqlite);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        return new WebhookStore(ledger);
    }

    /// <exception cref="InvalidOperationException">A target with this name exists.</exception>
    public async Task AddTargetAsync(WebhookTarget target, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (await FindTargetAsync(target.Name, cancellationToken) is not null)
        {
            throw new InvalidOperationException($"a webhook target named '{target.Name}' exists already (remove it first, or choose another name)");
        }

        await using var connection = await _ledger.OpenConnectionAsync(cancellationToken);
        await using var command = SqlDialect.Command(connection, null,
            "INSERT INTO webhook_target (id, name, mode, display_url, enabled, disabled_reason, created_ms) VALUES (@id, @name, @mode, @url, @enabled, @reason, @created)",
            ("@id", target.Id), ("@name", target.Name), ("@mode", WebhookTarget.ModeName(target.Mode)), ("@url", target.DisplayUrl),
            ("@enabled", target.Enabled ? 1L : 0L), ("@reason", target.DisabledReason), ("@created", target.CreatedAt.ToUnixTimeMilliseconds()));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<WebhookTarget?> FindTargetAsync(string name, CancellationToken cancellationToken = default)
    {
        await using var connection = await _ledger.OpenConnectionAsync(cancellationToken);
        await using var command = SqlDialect.Command(connection, null, $"SELECT {TargetColumns} FROM webhook_target t WHERE t.name = @name", ("@name", name));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadTarget(reader, 0) : null;
    }

    /// <summary>Every target, by name, with its count of queued messages.</summary>
    public async Task<IReadOnlyList<WebhookTargetStatus>> ListTargetsAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await _ledger.OpenConnectionAsync(cancellationToken);
        await using var command = SqlDialect.Command(connection, null,
            $"SELECT {TargetColumns}, (SELECT COUNT(*) FROM webhook_outbox o WHERE o.target_id = t.id AND o.state = '{Pending}') FROM webhook_target t ORDER BY t.name");
        var result = new List<WebhookTargetStatus>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new WebhookTargetStatus(ReadTarget(reader, 0), reader.GetInt64(7)));
        }

        return result;
    }

    /// <summary>The targets messages are queued for now (enabled ones).</summary>
    public async Task<IReadOnlyList<WebhookTarget>> EnabledTargetsAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await _ledger.OpenConnectionAsync(cancellationToken);
        await using var command = SqlDialect.Command(connection, null, $"SELECT {TargetColumns} FROM webhook_target t WHERE t.enabled = 1 ORDER BY t.name");
        var result = new List<WebhookTarget>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(ReadTarget(reader, 0));
        }

        return result;
    }

    /// <summary>Removes the target named <paramref name="name"/>; its queued messages are dropped, its delivery log kept. Null when there is no such target.</summary>
    public async Task<WebhookTarget?> RemoveTargetAsync(string name, CancellationToken cancellationToken = default)
    {
        var target = await FindTargetAsync(name, cancellationToken);
        if (target is null)
        {
            return null;
        }

        await InTransactionAsync(async (connection, transaction) =>
        {
            await ExecuteAsync(connection, transaction, cancellationToken, $"UPDATE webhook_outbox SET state = 'removed', lease_owner = NULL, lease_until_ms = NULL WHERE target_id = @id AND state = '{Pending}'", ("@id", target.Id));
            await ExecuteAsync(connection, transaction, cancellationToken, "DELETE FROM webhook_target WHERE id = @id", ("@id", target.Id));
        }, cancellationToken);
        return target;
    }

    /// <summary>Queues messages, due at once; a (message id, target) pair already queued is left as it is.</summary>
    public async Task EnqueueAsync(IReadOnlyList<OutboxItem> items, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        if (items.Count == 0)
        {
            return;
        }

        var at = now.ToUnixTimeMilliseconds();
        await InTransactionAsync(async (connection, transaction) =>
        {
            foreach (var item in items)
            {
                await ExecuteAsync(connection, transaction, cancellationToken,
                    "INSERT INTO webhook_outbox (message_id, target_id, event_type, body, state, attempts, created_ms, next_attempt_ms) " +
                    $"VALUES (@message, @target, @type, @body, '{Pending}', 0, @at, @at) ON CONFLICT (message_id, target_id) DO NOTHING",
                    ("@message", item.MessageId), ("@target", item.Target.Id), ("@type", item.EventType), ("@body", item.Body), ("@at", at));
            }
        }, cancellationToken);
    }

    /// <summary>
    /// Queued messages of enabled targets that are due at <paramref name="now"/> and not leased: at most
    /// <paramref name="perTarget"/> per target (oldest due first), so a target with a long backlog never hides another
    /// target's messages, and at most <paramref name="limit"/> in all.
    /// </summary>
    public async Task<IReadOnlyList<OutboxMessage>> DueAsync(DateTimeOffset now, int perTarget, int limit, CancellationToken cancellationToken = default)
    {
        await using var connection = await _ledger.OpenConnectionAsync(cancellationToken);
        await using var command = SqlDialect.Command(connection, null,
            $"SELECT {TargetColumns}, d.id, d.message_id, d.event_type, d.body, d.attempts FROM (" +
            "SELECT o.id, o.target_id, o.message_id, o.event_type, o.body, o.attempts, o.next_attempt_ms, " +
            "ROW_NUMBER() OVER (PARTITION BY o.target_id ORDER BY o.next_attempt_ms, o.id) AS rank_in_target FROM webhook_outbox o " +
            $"WHERE o.state = '{Pending}' AND o.next_attempt_ms <= @now AND (o.lease_until_ms IS NULL OR o.lease_until_ms <= @now)) d " +
            "JOIN webhook_target t ON t.id = d.target_id WHERE t.enabled = 1 AND d.rank_in_target <= @per " +
            "ORDER BY d.next_attempt_ms, d.id LIMIT @limit",
            ("@now", now.ToUnixTimeMilliseconds()), ("@per", (long)perTarget), ("@limit", limit));
        var result = new List<OutboxMessage>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new OutboxMessage(reader.GetInt64(7), reader.GetString(8), ReadTarget(reader, 0), reader.GetString(9), (byte[])reader.GetValue(10), (int)reader.GetInt64(11)));
        }

        return result;
    }

    /// <summary>Leases a due message to <paramref name="owner"/> until <paramref name="until"/>; false when another dispatcher holds it or it is no longer queued.</summary>
    public async Task<bool> TryLeaseAsync(long outboxId, string owner, DateTimeOffset now, DateTimeOffset until, CancellationToken cancellationToken = default)
    {
        await using var connection = await _ledger.OpenConnectionAsync(cancellationToken);
        await using var command = SqlDialect.Command(connection, null,
            $"UPDATE webhook_outbox SET lease_owner = @owner, lease_until_ms = @until WHERE id = @id AND state = '{Pending}' AND (lease_until_ms IS NULL OR lease_until_ms <= @now)",
            ("@owner", owner), ("@until", until.ToUnixTimeMilliseconds()), ("@id", outboxId), ("@now", now.ToUnixTimeMilliseconds()));
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>
    /// Logs one attempt and moves its message on, in one transaction: delivered, retried at
    /// <see cref="WebhookDelivery.NextAttemptAt"/>, given up, or (410) the target disabled with its queued messages.
    /// </summary>
    public Task RecordAttemptAsync(OutboxMessage message, WebhookDelivery attempt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(attempt);
        var state = attempt.Outcome switch
        {
            DeliveryOutcome.Delivered => "delivered",
            DeliveryOutcome.Retrying => Pending,
            DeliveryOutcome.Failed => "failed",
            _ => "disabled",
        };
        return InTransactionAsync(async (connection, transaction) =>
        {
            await ExecuteAsync(connection, transaction, cancellationToken,
                "INSERT INTO webhook_delivery (message_id, target_name, event_type, attempt, attempted_ms, status_code, duration_ms, outcome, error, next_attempt_ms) " +
                "VALUES (@message, @target, @type, @attempt, @at, @status, @duration, @outcome, @error, @next)",
                ("@message", attempt.MessageId), ("@target", attempt.Target), ("@type", attempt.EventType), ("@attempt", (long)attempt.Attempt),
                ("@at", attempt.AttemptedAt.ToUnixTimeMilliseconds()), ("@status", attempt.StatusCode is { } code ? (long)code : null),
                ("@duration", attempt.DurationMs), ("@outcome", WebhookDelivery.OutcomeName(attempt.Outcome)), ("@error", attempt.Error),
                ("@next", attempt.NextAttemptAt?.ToUnixTimeMilliseconds()));
            await ExecuteAsync(connection, transaction, cancellationToken,
                $"UPDATE webhook_outbox SET state = @state, attempts = @attempts, next_attempt_ms = @next, lease_owner = NULL, lease_until_ms = NULL WHERE id = @id AND state = '{Pending}'",
                ("@state", state), ("@attempts", (long)attempt.Attempt), ("@next", (attempt.NextAttemptAt ?? attempt.AttemptedAt).ToUnixTimeMilliseconds()), ("@id", message.Id));
            if (attempt.Outcome == DeliveryOutcome.Gone)
            {
                await ExecuteAsync(connection, transaction, cancellationToken, "UPDATE webhook_target SET enabled = 0, disabled_reason = @reason WHERE id = @id",
                    ("@reason", $"410 Gone at {attempt.AttemptedAt:yyyy-MM-ddTHH:mm:ssZ} (message {attempt.MessageId})"), ("@id", message.Target.Id));
                await ExecuteAsync(connection, transaction, cancellationToken, $"UPDATE webhook_outbox SET state = 'disabled', lease_owner = NULL, lease_until_ms = NULL WHERE target_id = @id AND state = '{Pending}'",
                    ("@id", message.Target.Id));
            }
        }, cancellationToken);
    }

    /// <summary>Gives back what <paramref name="owner"/> leased but did not send (a clean shutdown).</summary>
    public async Task ReleaseLeasesAsync(string owner, CancellationToken cancellationToken = default)
    {
        await using var connection = await _ledger.OpenConnectionAsync(cancellationToken);
        await ExecuteAsync(connection, null, cancellationToken, "UPDATE webhook_outbox SET lease_owner = NULL, lease_until_ms = NULL WHERE lease_owner = @owner", ("@owner", owner));
    }

    /// <summary>The delivery log, newest first.</summary>
    public async Task<IReadOnlyList<WebhookDelivery>> QueryDeliveriesAsync(WebhookDeliveryQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        await using var connection = await _ledger.OpenConnectionAsync(cancellationToken);
        await using var command = SqlDialect.Command(connection, null, string.Empty);
        var sql = new StringBuilder("SELECT id, message_id, target_name, event_type, attempt, attempted_ms, status_code, duration_ms, outcome, error, next_attempt_ms FROM webhook_delivery WHERE 1 = 1");
        Filter(query.Target, " AND target_name = @target", "@target");
        Filter(query.MessageId, " AND message_id = @message", "@message");
        Filter(query.Before, " AND id < @before", "@before");
        sql.Append(" ORDER BY id DESC LIMIT @limit");
        SqlDialect.Add(command, "@limit", Math.Clamp(query.Limit, 1, WebhookDeliveryQuery.MaxLimit));
        command.CommandText = sql.ToString();
        var result = new List<WebhookDelivery>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new WebhookDelivery(
                reader.GetInt64(0),
                reader.GetString(1),
                reader.GetString(2),
                reader.GetString(3),
                (int)reader.GetInt64(4),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(5)),
                reader.IsDBNull(6) ? null : (int)reader.GetInt64(6),
                reader.GetInt64(7),
                WebhookDelivery.ParseOutcome(reader.GetString(8)),
                reader.IsDBNull(9) ? null : reader.GetString(9),
                reader.IsDBNull(10) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(10))));
        }

        return result;

        void Filter(object? value, string clause, string name)
        {
            if (value is not null)
            {
                sql.Append(clause);
                SqlDialect.Add(command, name, value);
            }
        }
    }

    private const string TargetColumns = "t.id, t.name, t.mode, t.display_url, t.enabled, t.disabled_reason, t.created_ms";

    private static WebhookTarget ReadTarget(DbDataReader reader, int first)
    {
        _ = WebhookTarget.TryParseMode(reader.GetString(first + 2), out var mode);
        return new WebhookTarget(
            reader.GetString(first),
            reader.GetString(first + 1),
            mode,
            reader.GetString(first + 3),
            reader.GetInt64(first + 4) != 0,
            reader.IsDBNull(first + 5) ? null : reader.GetString(first + 5),
            DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(first + 6)));
    }

    private async Task InTransactionAsync(Func<DbConnection, DbTransaction, Task> work, CancellationToken cancellationToken)
    {
        await using var connection = await _ledger.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await work(connection, transaction);
        await transaction.CommitAsync(cancellationToken);
    }

    private static async Task ExecuteAsync(DbConnection connection, DbTransaction? transaction, CancellationToken cancellationToken, string sql, params (string Name, object? Value)[] parameters)
    {
        await using var command = SqlDialect.Command(connection, transaction, sql, parameters);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
