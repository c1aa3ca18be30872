namespace TrainGuard.Server.Alerts;

/// <summary>
/// What deriving a run of ledger entries changed, to be stored in one transaction with the new cursor: alerts opened
/// or folded into (with the notification each gets), alerts whose status a ledger event changed, the actor of each
/// event (for the account timeline) and the agents' latest heartbeats.
/// </summary>
public sealed class AlertChanges
{
    private readonly Dictionary<string, (Alert Alert, AlertNotificationKind? Kind)> _alerts = new(StringComparer.Ordinal);

    /// <summary>The alerts to store, each with the notification it gets (null: stored without one, e.g. only its fold state changed).</summary>
    public IEnumerable<(Alert Alert, AlertNotificationKind? Kind)> Alerts => _alerts.Values;

    /// <summary>Status changes read from the ledger, applied to the stored alert unless a responder's request already did.</summary>
    public List<(Alert Alert, AlertHistoryEntry Entry)> StatusChanges { get; } = [];

    /// <summary>The account behind each event (after attribution), by ledger index; a later row for an index replaces it.</summary>
    public Dictionary<long, ActorRow> Actors { get; } = [];

    /// <summary>The newest heartbeat read per host.</summary>
    public Dictionary<string, AgentHeartbeat> Heartbeats { get; } = new(StringComparer.Ordinal);

    public int Count => _alerts.Count + StatusChanges.Count + Actors.Count + Heartbeats.Count;

    /// <summary>Records that <paramref name="alert"/> changed; an alert opened in this run stays "opened".</summary>
    public void Changed(Alert alert, AlertNotificationKind? kind)
    {
        ArgumentNullException.ThrowIfNull(alert);
        if (_alerts.TryGetValue(alert.Id, out var existing))
        {
            kind = existing.Kind switch
            {
                AlertNotificationKind.Opened => AlertNotificationKind.Opened,
                null => kind,
                _ => kind is null ? existing.Kind : (AlertNotificationKind)Math.Min((int)existing.Kind, (int)kind),
            };
        }

        _alerts[alert.Id] = (alert, kind);
    }

    public void Clear()
    {
        _alerts.Clear();
        StatusChanges.Clear();
        Actors.Clear();
        Heartbeats.Clear();
    }
}

/// <summary>The account behind one event as the timeline indexes it (after planted-key attribution).</summary>
public sealed record ActorRow(long Index, long TimestampMicros, string? Host, string? LoginUid, string? Name, string Attribution, string? SessionUser = null);

/// <summary>An agent's latest heartbeat: when the server received it, the interval the agent announced, and where it is in the ledger.</summary>
public sealed record AgentHeartbeat(string Host, DateTimeOffset ReceivedAt, double IntervalSeconds, long LedgerIndex, string EventId);
