using System.Net;
using TrainGuard.Agent.Common;
using TrainGuard.Agent.Spool;
using TrainGuard.Events;
using TrainGuard.Findings;
using TrainGuard.Ledger.Client;
using TrainGuard.Ledger.Notes;
using TrainGuard.Parsing;

namespace TrainGuard.Agent.Shipping;

/// <summary>How the shipper talks to the server.</summary>
public sealed record ShipperOptions
{
    /// <summary>The server's base URL; events go to <c>{ServerUrl}/api/v1/events</c>.</summary>
    public required Uri ServerUrl { get; init; }

    /// <summary>Bearer token (from the token file).</summary>
    public string? Token { get; init; }

    /// <summary>The pinned server CA and client certificate; null: the system's roots, no client certificate.</summary>
    public ClientTls? Tls { get; init; }

    public int BatchSize { get; init; } = 500;

    public long MaxBatchBytes { get; init; } = 4 * 1024 * 1024;

    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>First retry delay; doubles per consecutive failure, with full jitter, up to <see cref="BackoffMax"/>.</summary>
    public TimeSpan BackoffBase { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan BackoffMax { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How often an idle shipper looks at the spool when nobody nudges it.</summary>
    public TimeSpan IdlePoll { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The log's verifier key the answers' signed tree heads must be signed with (<c>server.log_key</c>); null pins the
    /// key the server announces on first contact.
    /// </summary>
    public NoteVerifier? LogKey { get; init; }

    /// <summary>Where a <c>ledger-rolled-back</c>/<c>ledger-split-view</c> alert goes (the agent's event path); null appends it to the spool.</summary>
    public Action<EventRecord>? Alerts { get; init; }

    /// <summary>How often dead letters are sent again, one event per request (also right after a batch is refused).</summary>
    public TimeSpan DeadLetterRetry { get; init; } = TimeSpan.FromMinutes(10);
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

    /// <summary>Dead letters the server accepted when they were sent again on their own.</summary>
    public long DeadLettersReshipped { get; internal set; }

    public long Failures { get; internal set; }

    public int ConsecutiveFailures { get; internal set; }

    public string? LastShippedId { get; internal set; }

    public DateTimeOffset? LastSuccess { get; internal set; }

    public string? LastError { get; internal set; }
}

/// <summary>
/// Sends spooled events to the server in batches (<c>POST /api/v1/events</c>, body
/// <c>{"events":[...]}</c>, response <c>{"results":[{"id":..,"index":..,"status":..}]}</c>) and acknowledges them in
/// the spool only after the server answered for every id, with a signed tree head that verifies, is consistent with
/// the last one this agent kept and covers every stored event (<see cref="LedgerAcknowledgements"/>). The server answers each event on its own: those it did not
/// store (<c>conflict</c>, <c>too-large</c>, <c>refused</c>, with a reason) go to <c>dead-letter.jsonl</c> (never
/// dropped, counted in the heartbeat, sent again on their own later) and the rest of the batch is acknowledged. Server
/// errors, timeouts and connection failures are retried with exponential back-off and full jitter; a 4xx (from an older
/// server, or a malformed batch) rejects the batch, which is kept in the dead-letter file before it is acknowledged, and
/// each of its events is then sent again on its own (<see cref="DeadLetterQueue"/>), so one refused event does not hold
/// back the others. 401/403/408/429 are retried: they say nothing about the events.
/// </summary>
public sealed class EventShipper : IDisposable
{
    private readonly EventSpool _spool;
    private readonly ShipperOptions _options;
    private readonly TrainGuardApiClient _client;
    private readonly Action<string> _log;
    private readonly SemaphoreSlim _nudge = new(0, 1);
    private readonly Random _jitter = new();
    private readonly LedgerAcknowledgements _acknowledgements;
    private DateTimeOffset _lastReship = DateTimeOffset.MinValue;

    public EventShipper(EventSpool spool, ShipperOptions options, Action<string>? log = null, HttpMessageHandler? handler = null)
    {
        _spool = spool;
        _options = options;
        _log = log ?? (_ => { });
        _client = new TrainGuardApiClient(options.ServerUrl, options.Token, options.RequestTimeout, handler, options.Tls);
        _acknowledgements = new LedgerAcknowledgements(spool.Directory, options.LogKey);
        DeadLetters = new DeadLetterQueue(spool.Directory);
    }

    public ShipperStats Stats { get; } = new();

    /// <summary>Events the server refused, kept and sent again on their own.</summary>
    public DeadLetterQueue DeadLetters { get; }

    /// <summary>Wakes an idle shipper (called after an append).</summary>
    public void Nudge()
    {
        if (_nudge.CurrentCount == 0)
        {
            try
            {
                _nudge.Release();
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
                    case ShipOutcome.Idle when DeadLetters.Count > 0 && DateTimeOffset.UtcNow - _lastReship >= _options.DeadLetterRetry:
                        await ReshipDeadLettersAsync(cancellationToken);
                        break;
                    case ShipOutcome.Idle:
                        await _nudge.WaitAsync(_options.IdlePoll, cancellationToken);
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
        var ceiling = Math.Min(_options.BackoffMax.TotalMilliseconds, _options.BackoffBase.TotalMilliseconds * Math.Pow(2, exponent));
        double sample;
        lock (_jitter)
        {
            sample = _jitter.NextDouble();
        }

        return TimeSpan.FromMilliseconds(Math.Max(50, ceiling * sample));
    }

    /// <summary>Sends at most one batch.</summary>
    public async Task<ShipOutcome> ShipOnceAsync(CancellationToken cancellationToken = default)
    {
        var batch = _spool.ReadPending(_options.BatchSize, _options.MaxBatchBytes);
        if (batch.Count == 0)
        {
            return ShipOutcome.Idle;
        }

        var (delivery, status, text, notStored) = await PostAsync(batch, cancellationToken);
        switch (delivery)
        {
            case Delivery.Accepted:
                if (notStored.Count > 0)
                {
                    // Answered one by one: the events the server did not store are kept (fsynced) before the batch is acknowledged.
                    DeadLetters.Add(notStored, status);
                    Stats.EventsRejected += notStored.Count;
                    _log($"server did not store {notStored.Count} of {batch.Count} events (seq {batch[0].Seq}..{batch[^1].Seq}), first: {TextSanitizer.Escape(notStored[0].Reason, 300)}; kept in {DeadLetters.Path}");
                }

                _spool.Acknowledge(batch[^1].Seq);
                Stats.Batches++;
                Stats.EventsSent += batch.Count - notStored.Count;
                Stats.LastShippedId = batch[^1].EventId;
                Stats.LastSuccess = DateTimeOffset.UtcNow;
                Stats.ConsecutiveFailures = 0;
                return ShipOutcome.Sent;
            case Delivery.Refused:
                DeadLetters.Add(batch, status, text);
                _spool.Acknowledge(batch[^1].Seq);
                Stats.EventsRejected += batch.Count;
                _log($"server rejected a batch of {batch.Count} events (seq {batch[0].Seq}..{batch[^1].Seq}) with {status}: {TextSanitizer.Escape(text, 300)}; kept in {DeadLetters.Path}, each event is sent again on its own");
                await ReshipDeadLettersAsync(cancellationToken);
                return ShipOutcome.Rejected;
            default:
                return Fail(text);
        }
    }

    /// <summary>
    /// Sends every dead letter again, one event per request (capped to <see cref="EventSizeCap.MaxEventBytes"/>
    /// first): accepted ones leave the file, refused ones stay with their attempt count, and a server or network
    /// failure ends the pass (the rest wait for the next one).
    /// </summary>
    /// <returns>How many were accepted.</returns>
    public async Task<int> ReshipDeadLettersAsync(CancellationToken cancellationToken = default)
    {
        _lastReship = DateTimeOffset.UtcNow;
        var letters = DeadLetters.ReadAll();
        if (letters.Count == 0)
        {
            return 0;
        }

        var remaining = new List<DeadLetter>(letters.Count);
        var accepted = 0;
        var stopped = false;
        foreach (var letter in letters)
        {
            if (stopped)
            {
                remaining.Add(letter);
                continue;
            }

            var (delivery, status, _, notStored) = await PostAsync([letter.Record with { EventJson = Capped(letter.Record.EventJson) }], cancellationToken);
            switch (delivery)
            {
                case Delivery.Accepted when notStored.Count == 0:
                    accepted++;
                    break;
                case Delivery.Accepted or Delivery.Refused:
                    remaining.Add(letter with { Attempts = letter.Attempts + 1, LastStatus = status });
                    break;
                default:
                    remaining.Add(letter);
                    stopped = true;
                    break;
            }
        }

        DeadLetters.Rewrite(remaining);
        Stats.DeadLettersReshipped += accepted;
        if (accepted > 0 || remaining.Count > 0)
        {
            _log($"dead letters: {accepted} of {letters.Count} accepted when sent on their own; {remaining.Count} remain in {DeadLetters.Path}");
        }

        return accepted;
    }

    /// <summary>The event cut to the agent's size limit (an event refused for its size from an older agent gets through now).</summary>
    private static string Capped(string eventJson)
    {
        try
        {
            var e = EventRecord.Parse(eventJson);
            return EventSizeCap.Apply(e).Count > 0 ? e.ToJsonLine() : eventJson;
        }
        catch (MalformedInputException)
        {
            return eventJson;
        }
    }

    private enum Delivery
    {
        Accepted,

        /// <summary>A 4xx about the events themselves: they go to the dead-letter file.</summary>
        Refused,

        /// <summary>Server or network trouble, or an answer that does not acknowledge every id: try again later.</summary>
        Retry,
    }

    /// <summary>
    /// One POST of <paramref name="batch"/> through the API client; the text is the server's answer or what went wrong.
    /// Accepted: the server answered for every event; those it did not store (a conflicting id, too large, refused for
    /// this token) are listed with its reason, in batch order.
    /// </summary>
    private async Task<(Delivery Delivery, int Status, string Text, IReadOnlyList<(SpoolRecord Record, string Reason)> NotStored)> PostAsync(IReadOnlyList<SpoolRecord> batch, CancellationToken cancellationToken)
    {
        EventBatchResult answer;
        try
        {
            answer = await _client.PostEventsAsync([.. batch.Select(r => r.EventJson)], cancellationToken);
        }
        catch (TrainGuardApiException ex) when (ex.IsUnreachable)
        {
            return (Delivery.Retry, 0, ex.Message, []);
        }
        catch (TrainGuardApiException ex) when (ex.IsClientError && ex.StatusCode is not (HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden or HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests))
        {
            return (Delivery.Refused, (int)ex.StatusCode!.Value, ex.ResponseText ?? string.Empty, []);
        }
        catch (TrainGuardApiException ex)
        {
            return (Delivery.Retry, (int)(ex.StatusCode ?? 0), $"server answered {(int)ex.StatusCode!.Value}: {TextSanitizer.Escape(ex.ResponseText ?? string.Empty, 300)}", []);
        }
        catch (MalformedInputException ex)
        {
            return (Delivery.Retry, 200, $"server accepted the batch but its answer is malformed ({ex.Message}); batch kept for retry", []);
        }

        // The results are in batch order, one per event: anything else does not acknowledge the batch.
        if (answer.Results.Count != batch.Count || !batch.Select(r => r.EventId).SequenceEqual(answer.Results.Select(r => r.Id), StringComparer.OrdinalIgnoreCase))
        {
            var ids = answer.Results.Select(r => r.Id).ToHashSet(StringComparer.OrdinalIgnoreCase);
            var absent = batch.Count(r => !ids.Contains(r.EventId));
            return (Delivery.Retry, 200, $"server answered for {answer.Results.Count} events of {batch.Count} ({absent} ids missing, or out of order); batch kept for retry", []);
        }

        var notStored = new List<(SpoolRecord, string)>();
        for (var i = 0; i < batch.Count; i++)
        {
            if (!answer.Results[i].IsStored)
            {
                notStored.Add((batch[i], $"{answer.Results[i].Status}: {answer.Results[i].Reason}"));
            }
        }

        var problem = await AcknowledgementProblemAsync(answer, cancellationToken);
        return problem is null
            ? (Delivery.Accepted, notStored.Count == 0 ? 200 : 207, string.Empty, notStored)
            : (Delivery.Retry, 200, problem, []);
    }

    /// <summary>
    /// Null when the answer's signed tree head acknowledges the batch (<see cref="LedgerAcknowledgements"/>); otherwise
    /// why not (the batch stays in the spool). A rollback or split view also raises its alert event, once.
    /// </summary>
    private async Task<string?> AcknowledgementProblemAsync(EventBatchResult answer, CancellationToken cancellationToken)
    {
        AcknowledgementCheck check;
        try
        {
            check = await _acknowledgements.CheckAsync(answer, _client, cancellationToken);
        }
        catch (Exception ex) when (ex is TrainGuardApiException or MalformedInputException or IOException)
        {
            return $"server accepted the batch but its signed tree head could not be checked ({ex.Message}); batch kept for retry";
        }

        if (check.Alert is { } alert)
        {
            _log($"ALERT {alert.Action}: {check.Advance?.Problem}; unacknowledged events stay in the spool");
            if (_options.Alerts is { } submit)
            {
                submit(alert);
            }
            else
            {
                _spool.Append(alert);
            }
        }

        return check.Problem;
    }

    public void Dispose()
    {
        _client.Dispose();
        _nudge.Dispose();
    }

    private ShipOutcome Fail(string message)
    {
        Stats.Failures++;
        Stats.ConsecutiveFailures++;
        Stats.LastError = message;
        if (Stats.ConsecutiveFailures is 1 or 5 or 20 || Stats.ConsecutiveFailures % 100 == 0)
        {
            _log($"shipping failed ({Stats.ConsecutiveFailures} in a row, {_spool.Pending} events waiting in the spool): {message}");
        }

        return ShipOutcome.RetryLater;
    }
}
