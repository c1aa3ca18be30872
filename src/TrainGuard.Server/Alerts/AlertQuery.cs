namespace TrainGuard.Server.Alerts;

/// <summary>Filters and paging of <c>GET /api/v1/alerts</c> (newest <c>last_seen</c> first).</summary>
public sealed record AlertQuery
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;

    /// <summary>One status, or null for every status but closed; <see cref="AllStatuses"/> for all.</summary>
    public string? Status { get; init; }

    public bool AllStatuses { get; init; }

    public string? Severity { get; init; }

    public string? RuleId { get; init; }

    /// <summary>The account's name or login uid.</summary>
    public string? User { get; init; }

    public string? Host { get; init; }

    /// <summary>Alerts whose last event is at or after this (Unix microseconds).</summary>
    public long? SinceMicros { get; init; }

    /// <summary>Alerts whose first event is before this (Unix microseconds).</summary>
    public long? UntilMicros { get; init; }

    /// <summary>Continue after this alert (the previous page's last <c>last_seen</c> and id).</summary>
    public (long LastSeenMicros, string Id)? After { get; init; }

    public int Limit { get; init; } = DefaultLimit;
}
