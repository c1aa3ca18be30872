namespace TrainGuard.Server.Notifications;

/// <summary>When a failed message is tried again: exponential steps with full jitter, and the receiver's Retry-After.</summary>
public static class WebhookRetry
{
    /// <summary>
    /// The wait after attempt number <paramref name="attemptsMade"/> failed: uniformly between zero and the schedule's
    /// step for it (<paramref name="random"/> in [0, 1)), raised to the receiver's Retry-After when that is longer (but
    /// never beyond the schedule's longest step). Null when the schedule is exhausted: the message is given up.
    /// </summary>
    public static TimeSpan? NextDelay(int attemptsMade, IReadOnlyList<TimeSpan> schedule, TimeSpan? retryAfter, double random)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        ArgumentOutOfRangeException.ThrowIfLessThan(attemptsMade, 1);
        if (attemptsMade > schedule.Count)
        {
            return null;
        }

        var delay = schedule[attemptsMade - 1] * Math.Clamp(random, 0, 1);
        if (retryAfter is { } asked && asked > delay)
        {
            delay = TimeSpan.FromTicks(Math.Min(asked.Ticks, schedule.Max().Ticks));
        }

        return delay;
    }

    /// <summary>A Retry-After header as a wait from <paramref name="now"/>: delta-seconds or an HTTP date; null when absent or in the past.</summary>
    public static TimeSpan? RetryAfter(System.Net.Http.Headers.RetryConditionHeaderValue? header, DateTimeOffset now) => header switch
    {
        { Delta: { } delta } when delta > TimeSpan.Zero => delta,
        { Date: { } date } when date > now => date - now,
        _ => null,
    };
}
