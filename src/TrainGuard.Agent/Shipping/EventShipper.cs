using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using TrainGuard.Agent.Common;
using TrainGuard.Agent.Spool;
using TrainGuard.Findings;

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
    private readonly HttpClient client;
    private readonly Action<string> log;
    private readonly Uri endpoint;
    private readonly SemaphoreSlim nudge = new(0, 1);
    private readonly Random jitter = new();

    public EventShipper(EventSpool spool, ShipperOptions options, Action<string>? log = null, HttpMessageHandler? handler = null)
    {
        this.spool = spool;
        this.options = options;
        this.log = log ?? (_ => { });
        client = handler is null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
        client.Timeout = options.RequestTimeout;
        var baseUrl = options.ServerUrl.ToString().TrimEnd('/');
        endpoint = new Uri(baseUrl + "/api/v1/events");
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

        var body = new StringBuilder(batch.Sum(r => r.EventJson.Length) + 32);
        body.Append("{\"events\":[");
        for (var i = 0; i < batch.Count; i++)
        {
            if (i > 0)
            {
                body.Append(',');
            }

            body.Append(batch[i].EventJson);
        }

        body.Append("]}");
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint)
        {
            Content = new StringContent(body.ToString(), Encoding.UTF8, "application/json"),
        };
        if (!string.IsNullOrEmpty(options.Token))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", options.Token);
        }

        HttpResponseMessage response;
        string text;
        try
        {
            response = await client.SendAsync(request, cancellationToken);
            text = await response.Content.ReadAsStringAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException && !cancellationToken.IsCancellationRequested)
        {
            return Fail($"cannot reach {endpoint}: {ex.Message}");
        }

        using (response)
        {
            var status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                var missing = CheckResults(text, batch);
                if (missing is not null)
                {
                    return Fail($"server answered {status} but {missing}; batch kept for retry");
                }

                spool.Acknowledge(batch[^1].Seq);
                Stats.Batches++;
                Stats.EventsSent += batch.Count;
                Stats.LastShippedId = batch[^1].EventId;
                Stats.LastSuccess = DateTimeOffset.UtcNow;
                Stats.ConsecutiveFailures = 0;
                return ShipOutcome.Sent;
            }

            if (status is >= 400 and < 500 && response.StatusCode is not (HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden or HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests))
            {
                DeadLetter(batch, status, text);
                spool.Acknowledge(batch[^1].Seq);
                Stats.EventsRejected += batch.Count;
                log($"server rejected a batch of {batch.Count} events (seq {batch[0].Seq}..{batch[^1].Seq}) with {status}: {TextSanitizer.Escape(text, 300)}; kept in {Path.Combine(spool.Directory, SpoolFormat.DeadLetterFile)}");
                return ShipOutcome.Rejected;
            }

            return Fail($"server answered {status}: {TextSanitizer.Escape(text, 300)}");
        }
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

    /// <summary>Null when the response names every id of the batch; otherwise what is wrong.</summary>
    private static string? CheckResults(string text, IReadOnlyList<SpoolRecord> batch)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            if (!doc.RootElement.TryGetProperty("results", out var results) || results.ValueKind != JsonValueKind.Array)
            {
                return "the response has no results array";
            }

            var ids = new HashSet<string>(StringComparer.Ordinal);
            foreach (var item in results.EnumerateArray())
            {
                if (item.ValueKind == JsonValueKind.Object && item.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String)
                {
                    ids.Add(id.GetString()!);
                }
            }

            var absent = batch.Count(r => !ids.Contains(r.EventId));
            return absent == 0 ? null : $"{absent} of {batch.Count} event ids are missing from the results";
        }
        catch (JsonException ex)
        {
            return $"the response is not JSON ({ex.Message})";
        }
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
