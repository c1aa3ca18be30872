using System.Collections.Concurrent;

namespace TrainGuard.Server.Auth;

/// <summary>How many requests one token may make: a steady rate and a burst (a token bucket per token id). Zero rate: no limit.</summary>
public sealed record RateLimit(double PerSecond = 200, int Burst = 400)
{
    public static RateLimit None { get; } = new(0, 0);
}

/// <summary>
/// One token bucket per token id: it holds up to <see cref="RateLimit.Burst"/> requests and refills at
/// <see cref="RateLimit.PerSecond"/>; a request finding it empty is answered 429 with the time until the next one fits.
/// </summary>
public sealed class TokenRateLimiter
{
    private readonly RateLimit _limit;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);

    public TokenRateLimiter(RateLimit limit, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(limit);
        _limit = limit;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Takes one request from the token's bucket; false and how long to wait when it is empty.</summary>
    public bool TryAcquire(string tokenId, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        if (_limit.PerSecond <= 0)
        {
            return true;
        }

        var bucket = _buckets.GetOrAdd(tokenId, static (_, state) => new Bucket(state.Burst, state.Now), (Burst: Math.Max(1, _limit.Burst), Now: _time.GetTimestamp()));
        lock (bucket)
        {
            var now = _time.GetTimestamp();
            var elapsed = (double)(now - bucket.Stamp) / _time.TimestampFrequency;
            bucket.Stamp = now;
            bucket.Tokens = Math.Min(Math.Max(1, _limit.Burst), bucket.Tokens + (elapsed * _limit.PerSecond));
            if (bucket.Tokens >= 1)
            {
                bucket.Tokens -= 1;
                return true;
            }

            retryAfter = TimeSpan.FromSeconds((1 - bucket.Tokens) / _limit.PerSecond);
            return false;
        }
    }

    private sealed class Bucket(double tokens, long stamp)
    {
        public double Tokens { get; set; } = tokens;

        public long Stamp { get; set; } = stamp;
    }
}
