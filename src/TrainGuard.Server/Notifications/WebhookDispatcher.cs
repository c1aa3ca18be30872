using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.Logging;

namespace TrainGuard.Server.Notifications;

/// <summary>
/// Sends what the outbox holds: due messages are grouped by target, each target's messages go out one after the other
/// in a task of their own (at most <see cref="WebhookOptions.MaxParallelTargets"/> at once), so a slow or hanging
/// receiver delays only itself. Every attempt is leased in the store first, has its own timeout, and is logged with
/// its outcome in the same transaction that moves the message on (<see cref="WebhookStore.RecordAttemptAsync"/>).
/// Standard targets get the Standard Webhooks headers, signed with every secret of the target's secrets file; the
/// <c>webhook-id</c> is the message's, the same on every retry; <c>webhook-timestamp</c> is the attempt's.
/// </summary>
public sealed class WebhookDispatcher : IAsyncDisposable
{
    /// <summary>What the delivery log keeps of a receiver's error response, at most.</summary>
    public const int ResponseExcerptChars = 200;

    private const int DueBatch = 1000;
    private const int MaxPerTargetRun = 20;
    private const int MaxErrorChars = 400;
    private static readonly TimeSpan LeaseMargin = TimeSpan.FromSeconds(60);

    private readonly WebhookStore _store;
    private readonly string _dataDirectory;
    private readonly WebhookOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly HttpClient _http;
    private readonly SemaphoreSlim _wake = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, Task> _busy = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _credentialErrors = new(StringComparer.Ordinal);
    private readonly string _owner = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}";
    private Task? _loop;
    private bool _disposed;

    public WebhookDispatcher(WebhookStore store, string dataDirectory, WebhookOptions options, ILogger logger, TimeProvider time)
    {
        _store = store;
        _dataDirectory = dataDirectory;
        _options = options;
        _logger = logger;
        _time = time;
        _http = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            ConnectTimeout = options.RequestTimeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("TrainGuard-Webhooks", "1.0"));
    }

    /// <summary>Starts the delivery loop.</summary>
    public void Start() => _loop ??= Task.Run(() => RunAsync(_stop.Token));

    /// <summary>Looks at the outbox now rather than at the next poll (a message was just queued).</summary>
    public void Wake()
    {
        if (_wake.CurrentCount == 0)
        {
            try
            {
                _wake.Release();
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    /// <summary>Stops: cancels attempts in flight (they are not logged and stay queued), waits for the loop, gives back the leases.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await _stop.CancelAsync();
        if (_loop is not null)
        {
            await _loop;
        }

        await Task.WhenAll(_busy.Values);
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _store.ReleaseLeasesAsync(_owner, timeout.Token);
        }
        catch (Exception ex)
        {
            _logger.LogWarning("webhooks: could not give back this server's leases ({Error}); they expire by themselves", ex.Message);
        }

        _http.Dispose();
        _stop.Dispose();
        _wake.Dispose();
    }

    private async Task RunAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await DispatchDueAsync(stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                _logger.LogError(ex, "webhooks: could not read the outbox");
            }

            try
            {
                await _wake.WaitAsync(_options.PollInterval, stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private async Task DispatchDueAsync(CancellationToken stop)
    {
        var due = await _store.DueAsync(_time.GetUtcNow(), MaxPerTargetRun, DueBatch, stop);
        foreach (var group in due.GroupBy(m => m.Target.Id, StringComparer.Ordinal))
        {
            if (_busy.Count >= _options.MaxParallelTargets)
            {
                break;
            }

            if (_busy.ContainsKey(group.Key) || LoadCredentials(group.First().Target) is not { } credentials)
            {
                continue;
            }

            var messages = group.ToList();
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _busy[group.Key] = done.Task;
            _ = Task.Run(async () =>
            {
                try
                {
                    await DeliverAllAsync(messages, credentials, stop);
                }
                finally
                {
                    _busy.TryRemove(group.Key, out _);
                    done.SetResult();
                    Wake();
                }
            }, CancellationToken.None);
        }
    }

    /// <summary>The target's secrets file, or null (logged once per distinct problem) when it cannot be used: its messages wait.</summary>
    private WebhookCredentials? LoadCredentials(WebhookTarget target)
    {
        try
        {
            var credentials = WebhookSecretFile.Load(_dataDirectory, target);
            _credentialErrors.TryRemove(target.Id, out _);
            return credentials;
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            if (!_credentialErrors.TryGetValue(target.Id, out var last) || last != ex.Message)
            {
                _credentialErrors[target.Id] = ex.Message;
                _logger.LogError("webhook target {Target}: {Error}; its messages stay queued", target.Name, ex.Message);
            }

            return null;
        }
    }

    private async Task DeliverAllAsync(List<OutboxMessage> messages, WebhookCredentials credentials, CancellationToken stop)
    {
        foreach (var message in messages)
        {
            try
            {
                var now = _time.GetUtcNow();
                if (stop.IsCancellationRequested || !await _store.TryLeaseAsync(message.Id, _owner, now, now + _options.RequestTimeout + LeaseMargin, stop))
                {
                    continue;
                }

                if (await SendAsync(message, credentials, stop) is not { } attempt)
                {
                    return;
                }

                using (var record = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
                {
                    await _store.RecordAttemptAsync(message, attempt, record.Token);
                }

                Log(attempt);
                if (attempt.Outcome == DeliveryOutcome.Gone)
                {
                    return;
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // The lease runs out and the message is sent again: at least once.
                _logger.LogError(ex, "webhooks: message {MessageId} to {Target} could not be recorded; it will be sent again", message.MessageId, message.Target.Name);
            }
        }
    }

    /// <summary>One attempt; null when the server is stopping (nothing is logged and the message stays queued).</summary>
    private async Task<WebhookDelivery?> SendAsync(OutboxMessage message, WebhookCredentials credentials, CancellationToken stop)
    {
        var attemptNumber = message.Attempts + 1;
        var at = _time.GetUtcNow();
        using var request = new HttpRequestMessage(HttpMethod.Post, credentials.Url) { Content = new ByteArrayContent(message.Body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        if (message.Target.Mode == WebhookMode.Standard)
        {
            var timestamp = at.ToUnixTimeSeconds();
            request.Headers.TryAddWithoutValidation(StandardWebhook.IdHeader, message.MessageId);
            request.Headers.TryAddWithoutValidation(StandardWebhook.TimestampHeader, timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
            request.Headers.TryAddWithoutValidation(StandardWebhook.SignatureHeader, StandardWebhook.Sign(message.MessageId, timestamp, message.Body, credentials.Secrets));
        }

        int? status = null;
        string? error = null;
        TimeSpan? retryAfter = null;
        var started = Stopwatch.GetTimestamp();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        timeout.CancelAfter(_options.RequestTimeout);
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            status = (int)response.StatusCode;
            retryAfter = WebhookRetry.RetryAfter(response.Headers.RetryAfter, _time.GetUtcNow());
            if (status is < 200 or > 299)
            {
                error = $"HTTP {status}" + await ExcerptAsync(response, timeout.Token);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return null;
        }
        catch (OperationCanceledException)
        {
            error = status is null
                ? $"no response within {_options.RequestTimeout.TotalSeconds:0.###} s"
                : $"HTTP {status}; the response body did not arrive within {_options.RequestTimeout.TotalSeconds:0.###} s";
        }
        catch (HttpRequestException ex)
        {
            error = Describe(ex);
        }

        var duration = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        DeliveryOutcome outcome;
        DateTimeOffset? next = null;
        if (status is >= 200 and <= 299)
        {
            outcome = DeliveryOutcome.Delivered;
        }
        else if (status == 410)
        {
            outcome = DeliveryOutcome.Gone;
        }
        else if (WebhookRetry.NextDelay(attemptNumber, _options.RetrySchedule, retryAfter, Random.Shared.NextDouble()) is { } wait)
        {
            outcome = DeliveryOutcome.Retrying;
            next = _time.GetUtcNow() + wait;
        }
        else
        {
            outcome = DeliveryOutcome.Failed;
        }

        return new WebhookDelivery(0, message.MessageId, message.Target.Name, message.EventType, attemptNumber, at, status, duration, outcome, error, next);
    }

    /// <summary>The first <see cref="ResponseExcerptChars"/> characters of an error response, control characters blanked; never the whole body.</summary>
    private static async Task<string> ExcerptAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var buffer = new byte[ResponseExcerptChars * 2];
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        var read = await body.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken);
        if (read == 0)
        {
            return string.Empty;
        }

        var text = Encoding.UTF8.GetString(buffer, 0, read);
        text = new string([.. text.Take(ResponseExcerptChars).Select(c => char.IsControl(c) ? ' ' : c)]).Trim();
        return text.Length == 0 ? string.Empty : ": " + text + (read == buffer.Length || text.Length == ResponseExcerptChars ? "…" : string.Empty);
    }

    /// <summary>A connection failure in a sentence: the exception and its cause (host and port at most, never the URL's path).</summary>
    private static string Describe(HttpRequestException ex)
    {
        var text = ex.InnerException is { } inner && !ex.Message.Contains(inner.Message, StringComparison.Ordinal) ? ex.Message + " " + inner.Message : ex.Message;
        text = new string([.. text.Select(c => char.IsControl(c) ? ' ' : c)]);
        return text.Length <= MaxErrorChars ? text : text[..MaxErrorChars] + "…";
    }

    private void Log(WebhookDelivery attempt)
    {
        switch (attempt.Outcome)
        {
            case DeliveryOutcome.Delivered:
                _logger.LogInformation("webhook {MessageId} ({Type}) delivered to {Target}: HTTP {Status} on attempt {Attempt} in {DurationMs} ms",
                    attempt.MessageId, attempt.EventType, attempt.Target, attempt.StatusCode, attempt.Attempt, attempt.DurationMs);
                break;
            case DeliveryOutcome.Retrying:
                _logger.LogWarning("webhook {MessageId} ({Type}) to {Target} failed on attempt {Attempt}: {Error}; next attempt at {NextAttemptAt:O}",
                    attempt.MessageId, attempt.EventType, attempt.Target, attempt.Attempt, attempt.Error, attempt.NextAttemptAt);
                break;
            case DeliveryOutcome.Gone:
                _logger.LogWarning("webhook target {Target} answered 410 Gone to {MessageId}: the target is disabled and its queued messages dropped (trainguard server webhook list)",
                    attempt.Target, attempt.MessageId);
                break;
            default:
                _logger.LogError("webhook {MessageId} ({Type}) to {Target} given up after attempt {Attempt}: {Error}",
                    attempt.MessageId, attempt.EventType, attempt.Target, attempt.Attempt, attempt.Error);
                break;
        }
    }
}
