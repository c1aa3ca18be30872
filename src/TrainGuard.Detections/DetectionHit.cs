namespace TrainGuard.Detections;

/// <summary>
/// A rule that fired: a detection rule on one event, or a correlation whose condition holds for one group. The
/// engine reports a correlation on every event that finds its condition holding: <see cref="Onset"/> is true on the
/// first (the condition did not hold for that group before), false on those that continue it, so repeated hits fold
/// into one alert by rule and <see cref="GroupBy"/> values.
/// </summary>
public sealed class DetectionHit
{
    public required DetectionRule Rule { get; init; }

    /// <summary>The caller's reference of the event that raised the hit (e.g. its ledger index).</summary>
    public required long EventRef { get; init; }

    /// <summary>That event's <c>@timestamp</c>, when it has a usable one.</summary>
    public DateTimeOffset? Timestamp { get; init; }

    /// <summary>True for a detection rule's hit and for the first hit of a correlation group.</summary>
    public bool Onset { get; init; } = true;

    /// <summary>The contributing events (newest last; at most <see cref="DetectionOptions.MaxHitEventRefs"/>).</summary>
    public required IReadOnlyList<long> EventRefs { get; init; }

    /// <summary>The group: each <c>group-by</c> name (as written) and its value; empty for a detection rule.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> GroupBy { get; init; } = [];

    /// <summary>What the condition counted: events (event_count), distinct values (value_count), rules (temporal); 1 for a detection rule.</summary>
    public long Count { get; init; } = 1;

    /// <summary>Timestamp of the oldest contributing event.</summary>
    public DateTimeOffset? FirstSeen { get; init; }

    /// <summary>Timestamp of the newest contributing event.</summary>
    public DateTimeOffset? LastSeen { get; init; }

    public override string ToString() =>
        GroupBy.Count == 0
            ? $"{Rule.Id} event {EventRef}"
            : $"{Rule.Id} {(Onset ? "onset" : "continued")} [{string.Join(", ", GroupBy.Select(g => $"{g.Key}={g.Value}"))}] count {Count} events [{string.Join(",", EventRefs)}]";
}

/// <summary>What the engine has done and dropped so far (for metrics; every bound that was hit is counted here).</summary>
public sealed record DetectionStats
{
    public long Events { get; init; }

    /// <summary>Rules evaluated (the index skips rules whose action or fields the event lacks).</summary>
    public long RuleEvaluations { get; init; }

    public long RuleMatches { get; init; }

    public long Hits { get; init; }

    /// <summary>Matches that could not feed a correlation because the event has no usable <c>@timestamp</c>.</summary>
    public long EventsWithoutTimestamp { get; init; }

    /// <summary>Matches that could not feed a correlation because a <c>group-by</c> (or value) field is absent.</summary>
    public long MissingGroupFields { get; init; }

    /// <summary>Events older than their group's window when they arrived.</summary>
    public long LateEvents { get; init; }

    /// <summary>Live correlation groups evicted to stay within the group limit.</summary>
    public long Evictions { get; init; }

    /// <summary>Correlation groups dropped after their window passed.</summary>
    public long ExpiredGroups { get; init; }

    /// <summary>Correlation groups held now.</summary>
    public long Groups { get; init; }

    /// <summary>Regular-expression tests that ran out of time (counted as no match).</summary>
    public long RegexTimeouts { get; init; }

    /// <summary>Per correlation (by rule id or name): groups held, evictions, expired groups, late events.</summary>
    public IReadOnlyList<CorrelationStats> Correlations { get; init; } = [];
}

/// <summary>The state of one correlation.</summary>
public sealed record CorrelationStats(string Rule, long Groups, long Evictions, long ExpiredGroups, long LateEvents);
