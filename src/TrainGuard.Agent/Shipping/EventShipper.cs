using System.Net;
using System.Text;
using System.Text.Json;
using TrainGuard.Agent.Common;
using TrainGuard.Agent.Spool;
using TrainGuard.Findings;
using TrainGuard.Ledger.Client;
using TrainGuard.Parsing;

namespace TrainGuard.Agent.Shipping;

/// <summary>How the shipper talks to the server.</summary>
public sealed record ShipperOptions
{
    /// <summary>The server's base URL; events go to <c>{ServerUrl}/api/v1/events</c>.</summary>
    public required Uri ServerUrl { get; init; }

    /// <summary>Bearer token (from the token file).</summary>
    public string? Token { get; init; }

    public int BatchSize { get; init; } = 500;

    public long MaxBatchBytes { get; init; } = 4 * 1024 * 1024;

    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>First retry delay; doubles per consecutive failure, with full jitter, up to <see cref="BackoffMax"/>.</summary>
    public TimeSpan BackoffBase { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan BackoffMax { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How often an idle shipper looks at the spool when nobody nudges it.</summary>
    public TimeSpan IdlePoll { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>The outcome of one <see cref="EventShipper.ShipOnceAsync"/>.</summary>
public enum ShipOutcome
{
    /// <summary>Nothing pending.</summary>
    Idle,

    /// <summary>A batch was accepted and acknowledged in the spool.</summary>
    Sent,

    /// <summary>The server refused the batch (4xx): it went to the dead-letter file and was acknowledged.</summary>
    Rejected,

    /// <summary>Server or network trouble: the batch stays in the spool and is retried after a back-off.</summary>
    RetryLater,
}

/// <summary>Counters for the heartbeat and for tests.</summary>
public sealed class ShipperStats
{
    public long Batches { get; internal set; }

    public long EventsSent { get; internal set; }

    public long EventsRejected { get; internal set; }

    public long Failures { get; internal set; }

    public int ConsecutiveFailures { get; internal set; }

    public string? LastShippedId { get; internal set; }

    public DateTimeOffset? LastSuccess { get; internal set; }

    public string? LastError { get; internal set; }
}

/// <summary>
/// Sends spooled events to the server in batches (<c>POST /api/v1/events</c>, body
/// <c>{"events":[...]}</c>, response <c>{"results":[{"id":..,"index":..}]}</c>) and acknowledges them in
/// the spool only after the server answered for every id. Server errors, timeouts and connection
/// failures are retried with exponential back-off and full jitter; a 4xx rejects the batch, which is
/// kept in <c>dead-letter.jsonl</c> (never dropped) before it is acknowledged. 401/403/408/429 are
/// retried: they say nothing about the events.
/// </summary>
public sealed class EventShipper : IDisposable
{
    private readonly EventSpool spool;
    private readonly ShipperOptions options;
    private readonly TrainGuardApiClient client;
    private readonly Action<string> log;
    private readonly SemaphoreSlim nudge = new(0, 1);
    private readonly Random jitter = new();

    public EventShipper(EventSpool spool, ShipperOptions options, Action<string>? log = null, HttpMessageHandler? handler = null)
    {
        this.spool = spool;
        this.options = options;
        this.log = log ?? (_ => { });
        client = new TrainGuardApiClient(options.ServerUrl, options.Token, options.RequestTimeout, handler);
    }

    public ShipperStats Stats { get; } = new();

    /// <summary>Wakes an idle shipper (called after an append).</summary>
    public void Nudge()
    {
        if (nudge.CurrentCount == 0)
        {
            try
            {
                nudge.Release();
            }
            catch (SemaphoreFullException)
            {
                // Already nudged.
            }
        }
    }

    /// <summary>Ships until cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            ShipOutcome outcome;
            try
            {
                outcome = await ShipOnceAsync(cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }

            try
            {
                switch (outcome)
                {
                    case ShipOutcome.Idle:
                        await nudge.WaitAsync(options.IdlePoll, cancellationToken);
                        break;
                    case ShipOutcome.RetryLater:
                        await Task.Delay(NextDelay(Stats.ConsecutiveFailures), cancellationToken);
                        break;
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>The wait before retry number <paramref name="failures"/> (1-based): uniform in [0, min(max, base * 2^(n-1))], at least 50 ms.</summary>
    public TimeSpan NextDelay(int failures)
    {
        var exponent = Math.Clamp(failures - 1, 0, 30);
        var ceiling = Math.Min(options.BackoffMax.TotalMilliseconds, options.BackoffBase.TotalMilliseconds * Math.Pow(2, exponent));
        double sample;
        lock (jitter)
        {
            sample = jitter.NextDouble();
        }

        return TimeSpan.FromMilliseconds(Math.Max(50, ceiling * sample));
    }

    /// <summary>Sends at most one batch.</summary>
    public async Task<ShipOutcome> ShipOnceAsync(CancellationToken cancellationToken = default)
    {
        var batch = spool.ReadPending(options.BatchSize, options.MaxBatchBytes);
        if (batch.Count == 0)
        {
            return ShipOutcome.Idle;
        }

        EventBatchResult answer;
        try
        {
            answer = await client.PostEventsAsync([.. batch.Select(r => r.EventJson)], cancellationToken);
        }
        catch (TrainGuardApiException ex) when (ex.IsUnreachable)
        {
            return Fail(ex.Message);
        }
        catch (TrainGuardApiException ex) when (ex.IsClientError && ex.StatusCode is not (HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden or HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests))
        {
            var status = (int)ex.StatusCode!.Value;
            var text = ex.ResponseText ?? string.Empty;
            DeadLetter(batch, status, text);
            spool.Acknowledge(batch[^1].Seq);
            Stats.EventsRejected += batch.Count;
            log($"server rejected a batch of {batch.Count} events (seq {batch[0].Seq}..{batch[^1].Seq}) with {status}: {TextSanitizer.Escape(text, 300)}; kept in {Path.Combine(spool.Directory, SpoolFormat.DeadLetterFile)}");
            return ShipOutcome.Rejected;
        }
        catch (TrainGuardApiException ex)
        {
            return Fail($"server answered {(int)ex.StatusCode!.Value}: {TextSanitizer.Escape(ex.ResponseText ?? string.Empty, 300)}");
        }
        catch (MalformedInputException ex)
        {
            return Fail($"server accepted the batch but its answer is malformed ({ex.Message}); batch kept for retry");
        }

        var ids = answer.Results.Select(r => r.Id).ToHashSet(StringComparer.Ordinal);
        var absent = batch.Count(r => !ids.Contains(r.EventId));
        if (absent > 0)
        {
            return Fail($"server accepted the batch but {absent} of {batch.Count} event ids are missing from the results; batch kept for retry");
        }

        spool.Acknowledge(batch[^1].Seq);
        Stats.Batches++;
        Stats.EventsSent += batch.Count;
        Stats.LastShippedId = batch[^1].EventId;
        Stats.LastSuccess = DateTimeOffset.UtcNow;
        Stats.ConsecutiveFailures = 0;
        return ShipOutcome.Sent;
    }

    public void Dispose()
    {
        client.Dispose();
        nudge.Dispose();
    }

    private ShipOutcome Fail(string message)
    {
        Stats.Failures++;
        Stats.ConsecutiveFailures++;
        Stats.LastError = message;
        if (Stats.ConsecutiveFailures is 1 or 5 or 20 || Stats.ConsecutiveFailures % 100 == 0)
        {
            log($"shipping failed ({Stats.ConsecutiveFailures} in a row, {spool.Pending} events waiting in the spool): {message}");
        }

        return ShipOutcome.RetryLater;
    }

    private void DeadLetter(IReadOnlyList<SpoolRecord> batch, int status, string reason)
    {
        var path = Path.Combine(spool.Directory, SpoolFormat.DeadLetterFile);
        var now = DateTimeOffset.UtcNow.ToString("O");
        var sb = new StringBuilder();
        foreach (var record in batch)
        {
            sb.Append("{\"rejected_at\":\"").Append(now).Append("\",\"status\":").Append(status)
              .Append(",\"reason\":").Append(JsonSerializer.Serialize(TextSanitizer.Escape(reason, 1000)))
              .Append(",\"record\":").Append(record.Line).Append("}\n");
        }

        using var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        stream.Write(Encoding.UTF8.GetBytes(sb.ToString()));
        stream.Flush(flushToDisk: true);
        DurableFile.SyncDirectory(spool.Directory);
    }
}
