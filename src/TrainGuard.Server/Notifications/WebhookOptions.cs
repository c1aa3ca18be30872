namespace TrainGuard.Server.Notifications;

/// <summary>How the server delivers webhooks (<see cref="Hosting.ServerOptions.Webhooks"/>).</summary>
public sealed record WebhookOptions
{
    /// <summary>
    /// The waits before the 2nd, 3rd, ... attempt: the Standard Webhooks example schedule (5 s, 5 min, 30 min, 2 h,
    /// 5 h, 10 h, 14 h, 20 h, 24 h; ten attempts over about three days). Each wait is drawn uniformly between zero and
    /// its step (full jitter), so receivers that failed together do not all hear from us again at once.
    /// </summary>
    public static readonly IReadOnlyList<TimeSpan> DefaultRetrySchedule =
    [
        TimeSpan.FromSeconds(5),
        TimeSpan.FromMinutes(5),
        TimeSpan.FromMinutes(30),
        TimeSpan.FromHours(2),
        TimeSpan.FromHours(5),
        TimeSpan.FromHours(10),
        TimeSpan.FromHours(14),
        TimeSpan.FromHours(20),
        TimeSpan.FromHours(24),
    ];

    /// <summary>How long one POST may take, connection to response headers (the spec recommends 15 to 30 s).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>See <see cref="DefaultRetrySchedule"/>; after the last step's attempt fails the message is given up.</summary>
    public IReadOnlyList<TimeSpan> RetrySchedule { get; init; } = DefaultRetrySchedule;

    /// <summary>How often the outbox is looked at when nothing wakes the dispatcher (a message queued by another process).</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How many targets are delivered to at once; each target's messages go one after the other.</summary>
    public int MaxParallelTargets { get; init; } = 32;

    /// <summary>False: no dispatcher runs in this process (messages are still queued, another server delivers them).</summary>
    public bool Deliver { get; init; } = true;
}
