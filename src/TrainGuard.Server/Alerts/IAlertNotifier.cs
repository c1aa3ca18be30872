namespace TrainGuard.Server.Alerts;

/// <summary>
/// Tells someone outside the server about an alert: called after the alert is stored (the transaction that
/// raised, folded into or changed it has committed), once per change. Implementations deliver at least once
/// on their own schedule (a delivery log, retries); <see cref="NotifyAsync"/> should enqueue and return
/// quickly, and must not throw for a delivery failure (the alert is already stored).
/// </summary>
public interface IAlertNotifier
{
    /// <summary>Hands one alert change to the notifier.</summary>
    Task NotifyAsync(AlertNotification notification, CancellationToken cancellationToken);
}

/// <summary>Why a notification is sent.</summary>
public enum AlertNotificationKind
{
    /// <summary>A new alert was opened.</summary>
    Opened = 1,

    /// <summary>More matching events folded into an alert that is still open or acknowledged.</summary>
    Updated = 2,

    /// <summary>A responder changed the alert's status (acknowledged, closed, reopened).</summary>
    StatusChanged = 3,
}

/// <summary>One event that contributed to an alert.</summary>
/// <param name="EventId">The event's <c>event.id</c>.</param>
/// <param name="LedgerIndex">The ledger leaf index the event was committed at.</param>
public sealed record AlertEventRef(string EventId, long LedgerIndex);

/// <summary>
/// What a notifier is told about an alert. Every string that came from an event (account name, host, reason)
/// is attacker-controlled data: a notifier escapes it for its payload format and never interprets it as markup.
/// </summary>
public sealed record AlertNotification
{
    /// <summary>Why this notification is sent.</summary>
    public required AlertNotificationKind Kind { get; init; }

    /// <summary>The alert's stable id (<c>alt_…</c>).</summary>
    public required string AlertId { get; init; }

    /// <summary>The detection rule's id (a Sigma rule id or name, or <c>agent-silent</c>).</summary>
    public required string RuleId { get; init; }

    /// <summary>The rule's title.</summary>
    public required string Title { get; init; }

    /// <summary><c>informational</c>, <c>low</c>, <c>medium</c>, <c>high</c> or <c>critical</c>.</summary>
    public required string Severity { get; init; }

    /// <summary>0–100, see docs/alerts.md.</summary>
    public required int RiskScore { get; init; }

    /// <summary>One sentence naming the account and what it touched (plain text, control characters escaped).</summary>
    public required string Reason { get; init; }

    /// <summary>The account's name (<c>user.name</c>), when known.</summary>
    public string? AccountName { get; init; }

    /// <summary>The account's login uid (<c>user.audit.id</c>), when known.</summary>
    public string? LoginUid { get; init; }

    /// <summary>The hosts the contributing events came from.</summary>
    public IReadOnlyList<string> Hosts { get; init; } = [];

    /// <summary>The earliest contributing event's time.</summary>
    public required DateTimeOffset FirstSeen { get; init; }

    /// <summary>The latest contributing event's time.</summary>
    public required DateTimeOffset LastSeen { get; init; }

    /// <summary>How many matches folded into the alert.</summary>
    public required long Count { get; init; }

    /// <summary><c>open</c>, <c>acknowledged</c> or <c>closed</c>.</summary>
    public required string Status { get; init; }

    /// <summary>The contributing events (capped; <see cref="Count"/> keeps the total).</summary>
    public IReadOnlyList<AlertEventRef> Events { get; init; } = [];

    /// <summary>Where to look: the alert's API URL (<c>{server}/api/v1/alerts/{id}</c>), or its path when no public URL is configured.</summary>
    public required string Link { get; init; }
}

/// <summary>The default notifier: tells nobody.</summary>
public sealed class NullAlertNotifier : IAlertNotifier
{
    public static readonly NullAlertNotifier Instance = new();

    public Task NotifyAsync(AlertNotification notification, CancellationToken cancellationToken) => Task.CompletedTask;
}
