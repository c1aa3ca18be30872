namespace TrainGuard.Server.Alerts;

/// <summary>
/// One alert: a rule's matches folded by rule and group (docs/alerts.md), the account behind them, a reason sentence,
/// its contributing events and its lifecycle. The derived part (everything up to <see cref="Facts"/>) is written by the
/// alert deriver only; the lifecycle part (<see cref="Status"/>, <see cref="Classification"/>, <see cref="Assignee"/>,
/// <see cref="History"/>) by status changes, each of which is an <c>alert-status-changed</c> event in the ledger.
/// </summary>
public sealed class Alert
{
    /// <summary>Most contributing events an alert lists (<see cref="Count"/> keeps the total).</summary>
    public const int MaxEvents = 100;

    /// <summary><c>alt_</c> + 32 hex digits, derived from the fold key and the first event (stable across replays).</summary>
    public required string Id { get; init; }

    public required AlertRuleInfo Rule { get; set; }

    /// <summary><c>informational</c>, <c>low</c>, <c>medium</c>, <c>high</c> or <c>critical</c>.</summary>
    public required string Severity { get; set; }

    public int RiskScore { get; set; }

    public string Reason { get; set; } = string.Empty;

    public string? AccountName { get; set; }

    public string? LoginUid { get; set; }

    public string Attribution { get; set; } = AlertAttribution.Direct;

    public SortedSet<string> Hosts { get; init; } = new(StringComparer.Ordinal);

    /// <summary>A correlation's group: each <c>group-by</c> name and value; empty for a detection rule.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> GroupBy { get; set; } = [];

    public DateTimeOffset FirstSeen { get; set; }

    public DateTimeOffset LastSeen { get; set; }

    /// <summary>Contributing events, distinct, however many <see cref="Events"/> lists.</summary>
    public long Count { get; set; }

    /// <summary>The first <see cref="MaxEvents"/> contributing events in ledger order of arrival.</summary>
    public List<AlertEventRef> Events { get; init; } = [];

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>Rule and group (see docs/alerts.md): matches with the same key fold into this alert while it is not closed.</summary>
    public required string FoldKey { get; init; }

    /// <summary>
    /// False once the deriver has read a status change closing the alert from the ledger (a responder's closing counts
    /// from its ledger position on, so a replay folds exactly as the live run did).
    /// </summary>
    public bool FoldOpen { get; set; } = true;

    /// <summary>The largest ledger index of a contributing event (later references count as new events).</summary>
    public long MaxEventIndex { get; set; } = -1;

    /// <summary>What the contributing events touched, for the reason sentence and the risk score.</summary>
    public AlertFacts Facts { get; init; } = new();

    public string Status { get; set; } = AlertStatus.Open;

    public string? Classification { get; set; }

    public string? Assignee { get; set; }

    public List<AlertHistoryEntry> History { get; init; } = [];

    /// <summary>The ledger index of the last status change applied (-1: none).</summary>
    public long StatusIndex { get; set; } = -1;

    /// <summary>The rank of <see cref="Severity"/> (0 informational .. 4 critical), for ordering and filters.</summary>
    public int SeverityRank => AlertSeverity.Rank(Severity);

    /// <summary>What a notifier is told about this alert.</summary>
    public AlertNotification ToNotification(AlertNotificationKind kind, string link) => new()
    {
        Kind = kind,
        AlertId = Id,
        RuleId = Rule.Id,
        Title = Rule.Title,
        Severity = Severity,
        RiskScore = RiskScore,
        Reason = Reason,
        AccountName = AccountName,
        LoginUid = LoginUid,
        Hosts = [.. Hosts],
        FirstSeen = FirstSeen,
        LastSeen = LastSeen,
        Count = Count,
        Status = Status,
        Events = [.. Events],
        Link = link,
    };
}

/// <summary>The rule an alert is about: its id, title, level (severity), guidance and description.</summary>
public sealed record AlertRuleInfo(string Id, string Title, string Level, string Guidance, string Description);

/// <summary>One status change of an alert, as recorded in the ledger at <paramref name="LedgerIndex"/>.</summary>
public sealed record AlertHistoryEntry(DateTimeOffset At, string By, string From, string To, string? Classification, string? Assignee, string? Note, long LedgerIndex);
