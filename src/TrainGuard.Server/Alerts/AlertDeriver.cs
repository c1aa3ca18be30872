using Microsoft.Extensions.Logging;
using TrainGuard.Ledger.Storage;
using TrainGuard.Server.Events;
using TrainGuard.Server.Runs;
using TrainGuard.Server.Storage;

namespace TrainGuard.Server.Alerts;

/// <summary>
/// The server's live alert derivation: one <see cref="AlertDerivation"/> (one engine) per server, fed the ledger in
/// order from a persisted cursor. Woken after every committed append, it reads the entries after the cursor, derives,
/// and stores the changed alerts with the new cursor in one transaction, then tells the <see cref="IAlertNotifier"/>.
/// On start (also after kill -9) it re-reads the window before the cursor to rebuild correlation and attribution state
/// (nothing is folded from it), then derives what was committed but not yet derived. On PostgreSQL one server per
/// database derives (a session advisory lock); the others poll for the lock.
/// </summary>
public sealed class AlertDeriver : IAsyncDisposable
{
    private readonly IServerStore _store;
    private readonly AlertStore _alerts;
    private readonly AlertServerOptions _options;
    private readonly IAlertNotifier _notifier;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Func<string, string> _link;
    private readonly Func<IReadOnlyList<LedgerAppend>, CancellationToken, Task>? _append;
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly CancellationTokenSource _stopping = new();
    private readonly DateTimeOffset _started;
    private Task? _loop;
    private AlertDerivation? _derivation;
    private AgentSilence? _silence;
    private RunAnomalyDerivation? _runs;
    private long _cursor = -1;
    private long _derived;
    private long _failures;

    /// <param name="append">Appends the server's own events (the <c>run-anomaly</c> events of the run detectors) to the ledger; null: none are derived.</param>
    public AlertDeriver(IServerStore store, AlertStore alerts, AlertServerOptions options, IAlertNotifier notifier, ILogger logger, TimeProvider time, Func<string, string> link, Func<IReadOnlyList<LedgerAppend>, CancellationToken, Task>? append = null)
    {
        _append = append;
        _store = store;
        _alerts = alerts;
        _options = options;
        _notifier = notifier;
        _logger = logger;
        _time = time;
        _link = link;
        _started = time.GetUtcNow();
    }

    /// <summary>The next ledger index to derive (-1 before the deriver has started).</summary>
    public long Cursor => Interlocked.Read(ref _cursor);

    /// <summary>Ledger entries derived by this process.</summary>
    public long Derived => Interlocked.Read(ref _derived);

    /// <summary>The live run detectors (null before the deriver has started, or when they are off).</summary>
    public RunAnomalyDerivation? Runs => _runs;

    /// <summary>Rounds that failed (logged; the deriver starts over from the stored cursor).</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Starts the loop in the background.</summary>
    public void Start() => _loop = Task.Run(() => RunAsync(_stopping.Token));

    /// <summary>Asks for a round now (after an append, a status change).</summary>
    public void Wake()
    {
        try
        {
            _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // A round is asked for already.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        if (_loop is not null)
        {
            try
            {
                await _loop;
            }
            catch (OperationCanceledException)
            {
            }
        }

        _stopping.Dispose();
        _wake.Dispose();
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            IAsyncDisposable? held = null;
            try
            {
                held = await _alerts.TryLockDeriverAsync(cancellationToken);
                if (held is null)
                {
                    await WaitAsync(TimeSpan.FromSeconds(5), cancellationToken);
                    continue;
                }

                await InitializeAsync(cancellationToken);
                while (!cancellationToken.IsCancellationRequested)
                {
                    await DeriveAsync(cancellationToken);
                    await CheckSilenceAsync(cancellationToken);
                    await WaitAsync(_options.CheckInterval, cancellationToken);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Interlocked.Increment(ref _failures);
                _logger.LogError(ex, "alerts: deriving from ledger index {Cursor} failed; starting over from the stored cursor", Cursor);
                _derivation = null;
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), _time, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
            finally
            {
                if (held is not null)
                {
                    await held.DisposeAsync();
                }
            }
        }
    }

    private async Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
        await _wake.WaitAsync(timeout, cancellationToken);

    /// <summary>Loads the stored cursor and the alerts still folding, re-reads the window before the cursor, sends notifications a stop left unsent.</summary>
    private async Task InitializeAsync(CancellationToken cancellationToken)
    {
        var options = new AlertDerivationOptions { Rules = _options.Rules, FoldWindow = _options.FoldWindow, Time = _time };
        var derivation = new AlertDerivation(options);
        var runs = _append is not null && _options.Runs is { } runOptions ? new RunAnomalyDerivation(runOptions) : null;
        var cursor = await _alerts.ReadCursorAsync(cancellationToken);
        var folding = await _alerts.LoadFoldingAsync(cancellationToken);
        derivation.Load(folding.Where(a => a.Rule.Id != AgentSilence.RuleId));
        var start = await _alerts.WarmUpStartAsync(cursor, options.WarmUpWindow, cancellationToken);
        for (var at = start; at < cursor;)
        {
            var count = (int)Math.Min(_options.BatchSize, cursor - at);
            var entries = await _store.Ledger.GetEntriesAsync(at, count, cancellationToken);
            for (var i = 0; i < entries.Count; i++)
            {
                derivation.Warm(at + i, entries[i]);
                runs?.Observe(at + i, entries[i], null);
            }

            at += count;
        }

        var silence = new AgentSilence(_options.SilentFactor, _started);
        silence.Load(await _alerts.LoadHeartbeatsAsync(cancellationToken), folding);
        _derivation = derivation;
        _runs = runs;
        _silence = silence;
        Interlocked.Exchange(ref _cursor, cursor);
        if (cursor > start)
        {
            _logger.LogInformation("alerts: re-read ledger entries {Start}..{End} to rebuild correlation windows; deriving from {Cursor}", start, cursor - 1, cursor);
        }

        var pending = await _alerts.PendingNotificationsAsync(cancellationToken);
        await NotifyAsync(pending, cancellationToken);
    }

    /// <summary>Derives every committed entry after the cursor, one stored batch at a time.</summary>
    private async Task DeriveAsync(CancellationToken cancellationToken)
    {
        var derivation = _derivation!;
        var size = await _store.Ledger.SizeAsync(cancellationToken);
        var cursor = Cursor;
        while (cursor < size && !cancellationToken.IsCancellationRequested)
        {
            var count = (int)Math.Min(_options.BatchSize, size - cursor);
            var entries = await _store.Ledger.GetEntriesAsync(cursor, count, cancellationToken);
            var named = AlertDerivation.StatusChangeTargets(entries).Where(id => derivation.Find(id) is null).ToList();
            if (named.Count > 0)
            {
                derivation.Load(await _alerts.LoadAsync(named, cancellationToken));
            }

            var changes = new AlertChanges();
            var anomalies = new List<EventAppend>();
            for (var i = 0; i < entries.Count; i++)
            {
                derivation.Process(cursor + i, entries[i], changes);
                _runs?.Observe(cursor + i, entries[i], anomalies);
            }

            // The run-anomaly events go into the ledger before the cursor moves past what made them: a stop in between
            // derives them again with the same ids, which the ledger stores once. The next round derives them.
            if (anomalies.Count > 0)
            {
                await _append!(anomalies, cancellationToken);
                size = await _store.Ledger.SizeAsync(cancellationToken);
            }

            _silence!.Observe(changes.Heartbeats.Values.OrderBy(h => h.LedgerIndex), _time.GetUtcNow(), changes);
            var notify = await _alerts.CommitAsync(changes, cursor + count, cancellationToken);
            cursor += count;
            Interlocked.Exchange(ref _cursor, cursor);
            Interlocked.Add(ref _derived, count);
            derivation.ForgetClosed();
            await NotifyAsync(notify, cancellationToken);
        }
    }

    private async Task CheckSilenceAsync(CancellationToken cancellationToken)
    {
        var changes = new AlertChanges();
        _silence!.Check(_time.GetUtcNow(), changes);
        if (changes.Count == 0)
        {
            return;
        }

        var notify = await _alerts.CommitAsync(changes, nextCursor: null, cancellationToken);
        foreach (var (alert, _) in notify)
        {
            _logger.LogWarning("alerts: {Reason}", alert.Reason);
        }

        await NotifyAsync(notify, cancellationToken);
    }

    private async Task NotifyAsync(List<(Alert Alert, AlertNotificationKind Kind)> notify, CancellationToken cancellationToken)
    {
        if (notify.Count == 0)
        {
            return;
        }

        foreach (var (alert, kind) in notify)
        {
            await _notifier.NotifyAsync(alert.ToNotification(kind, _link(alert.Id)), cancellationToken);
        }

        await _alerts.ClearPendingAsync(notify.Select(n => n.Alert.Id), cancellationToken);
    }
}
