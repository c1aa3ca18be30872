using System.Net.Http.Headers;
using TrainGuard.Server.Notifications;

namespace TrainGuard.Server.Tests.Notifications;

public sealed class RetryTests
{
    private static readonly IReadOnlyList<TimeSpan> Schedule = WebhookOptions.DefaultRetrySchedule;

    [Fact]
    public void The_default_schedule_is_the_standard_webhooks_example_of_ten_attempts()
    {
        Assert.Equal(
            [TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(30), TimeSpan.FromHours(2), TimeSpan.FromHours(5), TimeSpan.FromHours(10), TimeSpan.FromHours(14), TimeSpan.FromHours(20), TimeSpan.FromHours(24)],
            Schedule);
    }

    [Theory]
    [InlineData(1, 0.0, 0)]
    [InlineData(1, 0.5, 2_500)]
    [InlineData(1, 0.999, 4_995)]
    [InlineData(2, 0.5, 150_000)]
    [InlineData(9, 0.25, 21_600_000)]
    public void A_retry_waits_a_full_jitter_fraction_of_its_step(int attemptsMade, double random, long expectedMs)
    {
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), WebhookRetry.NextDelay(attemptsMade, Schedule, null, random));
    }

    [Fact]
    public void The_tenth_failure_gives_up()
    {
        Assert.Null(WebhookRetry.NextDelay(10, Schedule, null, 0.5));
        Assert.Null(WebhookRetry.NextDelay(10, Schedule, TimeSpan.FromSeconds(1), 0.5));
    }

    [Fact]
    public void Retry_after_lengthens_a_wait_but_never_beyond_the_longest_step()
    {
        Assert.Equal(TimeSpan.FromMinutes(10), WebhookRetry.NextDelay(1, Schedule, TimeSpan.FromMinutes(10), 0.5));
        Assert.Equal(TimeSpan.FromMinutes(3), WebhookRetry.NextDelay(3, Schedule, TimeSpan.FromSeconds(1), 0.1));
        Assert.Equal(TimeSpan.FromHours(24), WebhookRetry.NextDelay(1, Schedule, TimeSpan.FromDays(30), 0.5));
    }

    [Fact]
    public void Retry_after_is_read_as_seconds_or_a_date_and_ignored_when_past()
    {
        var now = new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero);
        Assert.Equal(TimeSpan.FromSeconds(120), WebhookRetry.RetryAfter(new RetryConditionHeaderValue(TimeSpan.FromSeconds(120)), now));
        Assert.Equal(TimeSpan.FromMinutes(2), WebhookRetry.RetryAfter(new RetryConditionHeaderValue(now.AddMinutes(2)), now));
        Assert.Null(WebhookRetry.RetryAfter(new RetryConditionHeaderValue(now.AddMinutes(-2)), now));
        Assert.Null(WebhookRetry.RetryAfter(null, now));
    }
}
