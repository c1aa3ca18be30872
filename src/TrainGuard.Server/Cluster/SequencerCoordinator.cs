using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Npgsql;
using TrainGuard.Ledger.Merkle;
using TrainGuard.Ledger.Notes;
using TrainGuard.Ledger.Storage;
using TrainGuard.Parsing;
using TrainGuard.Server.Events;
using TrainGuard.Server.Hosting;
using TrainGuard.Server.Ledger;

namespace TrainGuard.Server.Cluster;

/// <summary>
/// One server among several on a PostgreSQL database. Every server tries for the ledger's sequencer lock (the
/// advisory lock <see cref="PostgresLedgerStore"/> appends under) every <see cref="ClusterOptions.ElectionInterval"/>;
/// the one holding it is the sequencer: it appends its own batches directly and drains the staging table
/// (<see cref="LedgerStaging"/>) in order. The others are followers: their appends are staged and answered once the
/// sequencer has committed them (<see cref="AppendAsync"/>), and they keep their in-memory tree and latest tree head in
/// step with the store on every append's notification (or every <see cref="ClusterOptions.PollInterval"/>). A server
/// that takes the lock over starts from the stored state: it loads what the former sequencer committed, checks it
/// against the latest signed tree head, and only then sequences.
/// </summary>
public sealed class SequencerCoordinator : ILedgerAppendRouter, IAsyncDisposable
{
    private readonly PostgresLedgerStore _ledger;
    private readonly LedgerStaging _staging;
    private readonly TransparencyLog _log;
    private readonly TreeHeadPublisher _publisher;
    private readonly ClusterOptions _options;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<Guid, TaskCompletionSource<List<StagedResult>>> _pending = new();
    private readonly ConcurrentDictionary<Guid, int> _expected = new();
    private readonly CancellationTokenSource _stopping = new();
    private Task? _loop;
    private volatile bool _leading;
    private long _stagingDepth;
    private long _oldestStagedMicros;
    private long _behind;
    private long _takeovers;
    private long _lastSync = Stopwatch.GetTimestamp();

    private SequencerCoordinator(PostgresLedgerStore ledger, LedgerStaging staging, TransparencyLog log, TreeHeadPublisher publisher, ClusterOptions options, ILogger logger)
    {
        _ledger = ledger;
        _staging = staging;
        _log = log;
        _publisher = publisher;
        _options = options;
        _logger = logger;
    }

    /// <inheritdoc />
    /// <remarks>False as soon as the store dropped its sequencer session (an append on it failed), before the next election.</remarks>
    public bool IsSequencer => _leading && _ledger.IsSequencer;

    /// <summary>Entries waiting in the staging table (as last read).</summary>
    public long StagingDepth => Interlocked.Read(ref _stagingDepth);

    /// <summary>How long the oldest staged entry has waited (as last read): the sequencer's lag.</summary>
    public TimeSpan OldestStagedWait => TimeSpan.FromMicroseconds(Interlocked.Read(ref _oldestStagedMicros));

    /// <summary>Leaves committed in the store that this server's tree did not hold yet (as last read).</summary>
    public long BehindLeaves => Interlocked.Read(ref _behind);

    /// <summary>Time since this server last brought its tree and tree head in step with the store.</summary>
    public TimeSpan SinceLastSync => Stopwatch.GetElapsedTime(Interlocked.Read(ref _lastSync));

    /// <summary>Times this process took the sequencer role.</summary>
    public long Takeovers => Interlocked.Read(ref _takeovers);

    /// <summary>Called when the log grew by others' appends (the alert deriver is woken).</summary>
    public Action? LogGrew { get; set; }

    /// <summary>
    /// Creates the staging tables, checks that the latest stored tree head was signed with this server's key, makes one
    /// attempt at the sequencer lock, initialises <paramref name="publisher"/> and routes its appends, and starts the loop.
    /// </summary>
    /// <exception cref="InvalidOperationException">The latest stored tree head was signed with another key.</exception>
    public static async Task<SequencerCoordinator> StartAsync(PostgresLedgerStore ledger, TransparencyLog log, TreeHeadPublisher publisher, ClusterOptions options, ILogger logger, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(log);
        ArgumentNullException.ThrowIfNull(publisher);
        var staging = await LedgerStaging.OpenAsync(ledger, cancellationToken);

        // An append that finds the lock gone (between elections) fails soon instead of waiting; the client sends it again.
        ledger.SequencerTimeout = options.ElectionInterval;
        var coordinator = new SequencerCoordinator(ledger, staging, log, publisher, options, logger);
        await coordinator.CheckSignerAsync(cancellationToken);
        await publisher.InitializeAsync(cancellationToken);
        await coordinator.ElectAsync(cancellationToken);
        publisher.Router = coordinator;
        coordinator._loop = Task.Run(() => coordinator.RunAsync(coordinator._stopping.Token), CancellationToken.None);
        return coordinator;
    }

    /// <summary>Stages <paramref name="entries"/> for the sequencer and returns once they are appended, with a tree head covering them.</summary>
    /// <exception cref="SequencerUnavailableException">The sequencer did not append them within <see cref="ClusterOptions.StagedWait"/>.</exception>
    public async Task<(AppendResult Result, PublishedTreeHead TreeHead)> AppendAsync(IReadOnlyList<LedgerAppend> entries, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entries);
        if (entries.Count == 0)
        {
            return (new AppendResult(_log.Size, [], [], 0, _log.Size), await _publisher.EnsureAsync(_log.Size, cancellationToken));
        }

        var batch = Guid.NewGuid();
        var answered = new TaskCompletionSource<List<StagedResult>>(TaskCreationOptions.RunContinuationsAsynchronously);
        _expected[batch] = entries.Count;
        _pending[batch] = answered;
        List<StagedResult> results;
        try
        {
            await _staging.StageAsync(batch, entries, cancellationToken);
            results = await answered.Task.WaitAsync(_options.StagedWait, cancellationToken);
        }
        catch (TimeoutException ex)
        {
            throw new SequencerUnavailableException($"no sequencer appended the batch within {_options.StagedWait.TotalSeconds:0} s; it stays staged and is appended when one takes over (send it again: its events are then answered as duplicates)", ex);
        }
        finally
        {
            _pending.TryRemove(batch, out _);
            _expected.TryRemove(batch, out _);
        }

        return await AnswerAsync(entries, results, cancellationToken);
    }

    /// <summary>Renders this server's cluster gauges in the Prometheus text format.</summary>
    public void RenderMetrics(StringBuilder text)
    {
        ArgumentNullException.ThrowIfNull(text);
        ServerMetrics.Metric(text, "trainguard_sequencer", "gauge", "1 while this server is the ledger sequencer (several servers on PostgreSQL), else 0.", IsSequencer ? 1 : 0);
        ServerMetrics.Metric(text, "trainguard_sequencer_takeovers_total", "counter", "Times this server took the sequencer role.", Takeovers);
        ServerMetrics.Metric(text, "trainguard_staging_depth", "gauge", "Entries staged for the sequencer and not yet appended.", StagingDepth);
        ServerMetrics.Metric(text, "trainguard_staging_oldest_seconds", "gauge", "How long the oldest staged entry has waited for the sequencer.", OldestStagedWait.TotalSeconds);
        ServerMetrics.Metric(text, "trainguard_sequencer_lag_leaves", "gauge", "Leaves committed in the store that this server's tree does not hold yet.", BehindLeaves);
        ServerMetrics.Metric(text, "trainguard_sequencer_sync_age_seconds", "gauge", "Seconds since this server last brought its tree in step with the store.", SinceLastSync.TotalSeconds);
    }

    public async ValueTask DisposeAsync()
    {
        _publisher.Router = null;
        await _stopping.CancelAsync();
        if (_loop is not null)
        {
            await _loop;
        }

        _stopping.Dispose();
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        NpgsqlConnection? listener = null;
        var lastElection = Stopwatch.GetTimestamp();
        var lastStatus = 0L;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                listener ??= await ListenAsync(cancellationToken);
                if (Stopwatch.GetElapsedTime(lastElection) >= _options.ElectionInterval)
                {
                    lastElection = Stopwatch.GetTimestamp();
                    await ElectAsync(cancellationToken);
                }

                var drained = IsSequencer ? await DrainAsync(cancellationToken) : 0;
                if (!_leading)
                {
                    await SyncAsync(cancellationToken);
                }

                if (!_pending.IsEmpty)
                {
                    await CollectAsync(cancellationToken);
                }

                if (Stopwatch.GetElapsedTime(lastStatus) >= _options.PollInterval)
                {
                    lastStatus = Stopwatch.GetTimestamp();
                    await ReadStatusAsync(cancellationToken);
                }

                if (drained == 0)
                {
                    await listener.WaitAsync(_options.PollInterval, cancellationToken);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                _logger.LogWarning("cluster loop: {Error} ({Type}); retrying in {Delay}", ex.Message, ex.GetType().Name, _options.ElectionInterval);
                if (listener is not null)
                {
                    await listener.DisposeAsync();
                    listener = null;
                }

                try
                {
                    await Task.Delay(_options.ElectionInterval, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }

        if (listener is not null)
        {
            await listener.DisposeAsync();
        }
    }

    private async Task<NpgsqlConnection> ListenAsync(CancellationToken cancellationToken)
    {
        var connection = await _ledger.DataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            await using var listen = new NpgsqlCommand($"LISTEN {LedgerStaging.StagedChannel}; LISTEN {LedgerStaging.SequencedChannel}", connection);
            await listen.ExecuteNonQueryAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>One attempt at the sequencer lock (or a check that it is still held), taking over or stepping down as it says.</summary>
    private async Task ElectAsync(CancellationToken cancellationToken)
    {
        if (_leading && !_ledger.IsSequencer)
        {
            // An append found the sequencer session gone: whatever is held again must be taken over afresh.
            _leading = false;
            _logger.LogWarning("this server's sequencer session ended; it tries for the lock again");
        }

        var holds = await _ledger.TryHoldSequencerLockAsync(cancellationToken);
        if (holds && !_leading)
        {
            // Whatever the former sequencer's last transaction did, it committed or not: start from the store.
            await _log.SyncAndCheckAsync(cancellationToken);
            await CheckSignerAsync(cancellationToken);
            await _publisher.InitializeAsync(cancellationToken);
            _leading = true;
            Interlocked.Increment(ref _takeovers);
            _logger.LogInformation("this server is now the ledger sequencer (tree size {TreeSize})", _log.Size);
        }
        else if (!holds && _leading)
        {
            _leading = false;
            _logger.LogWarning("this server lost the ledger sequencer lock (its database session ended); it follows the new sequencer");
        }
    }

    /// <summary>Appends the oldest staged entries; returns how many were read.</summary>
    private async Task<int> DrainAsync(CancellationToken cancellationToken)
    {
        var entries = await _staging.ReadStagedAsync(_options.DrainEntries, _options.DrainBytes, cancellationToken);
        if (entries.Count == 0)
        {
            return 0;
        }

        try
        {
            await _publisher.AppendHereAsync(entries, cancellationToken);
        }
        catch (EventConflictException ex)
        {
            // Only an entry that is not a well-formed event can conflict fatally: it is answered, the others go on.
            await _staging.RejectAsync([entries[ex.BatchIndex]], ex.Message, cancellationToken);
        }
        catch (ArgumentException ex)
        {
            await _staging.RejectAsync(entries, ex.Message, cancellationToken);
        }

        LogGrew?.Invoke();
        return entries.Count;
    }

    /// <summary>Loads the leaves others appended and adopts the latest stored tree head once checked.</summary>
    private async Task SyncAsync(CancellationToken cancellationToken)
    {
        var before = _log.Size;
        var latest = await _log.Store.GetLatestTreeHeadAsync(cancellationToken);

        // Read after the tree head, the stored size covers it (a tree head is stored with or after its leaves).
        await _log.SyncAsync(cancellationToken);
        if (latest is not null && latest.TreeSize > _publisher.Latest.Size && latest.TreeSize <= _log.Size)
        {
            if (Checked(latest) is { } head)
            {
                _publisher.Adopt(head);
            }
            else
            {
                _logger.LogError("stored tree head {Id} (size {TreeSize}) is not signed by this log's key or does not match the stored leaves: not served; run the ledger audit", latest.Id, latest.TreeSize);
            }
        }

        Interlocked.Exchange(ref _lastSync, Stopwatch.GetTimestamp());
        if (_log.Size > before)
        {
            LogGrew?.Invoke();
        }
    }

    /// <summary>Completes the waiting batches whose every entry is answered.</summary>
    private async Task CollectAsync(CancellationToken cancellationToken)
    {
        var found = await _staging.ReadResultsAsync([.. _pending.Keys], cancellationToken);
        var done = new List<Guid>();
        foreach (var (batch, results) in found)
        {
            if (_expected.TryGetValue(batch, out var count) && results.Count >= count && _pending.TryGetValue(batch, out var waiting))
            {
                done.Add(batch);
                results.Sort((a, b) => a.Position.CompareTo(b.Position));
                waiting.TrySetResult(results);
            }
        }

        if (done.Count > 0)
        {
            await _staging.ForgetResultsAsync(done, _options.UnclaimedResults, cancellationToken);
        }
    }

    private async Task ReadStatusAsync(CancellationToken cancellationToken)
    {
        var (depth, oldest) = await _staging.DepthAsync(cancellationToken);
        var stored = await _log.Store.SizeAsync(cancellationToken);
        Interlocked.Exchange(ref _stagingDepth, depth);
        Interlocked.Exchange(ref _oldestStagedMicros, (long)oldest.TotalMicroseconds);
        Interlocked.Exchange(ref _behind, Math.Max(0, stored - _log.Size));
        if (_leading)
        {
            // Results of batches whose server went away before collecting them.
            await _staging.ForgetResultsAsync([], _options.UnclaimedResults, cancellationToken);
        }
    }

    /// <summary>The answer of a staged batch, as a direct append would give it; conflicts are marked on the events.</summary>
    private async Task<(AppendResult Result, PublishedTreeHead TreeHead)> AnswerAsync(IReadOnlyList<LedgerAppend> entries, List<StagedResult> results, CancellationToken cancellationToken)
    {
        var indices = new long[entries.Count];
        var duplicates = new bool[entries.Count];
        var appended = 0;
        var first = long.MaxValue;
        var treeSize = 0L;
        foreach (var result in results)
        {
            if (result.Error is not null || result.Index is not { } index)
            {
                throw new InvalidOperationException($"the sequencer could not append entry {result.Position} of the batch: {result.Error}");
            }

            var entry = entries[result.Position];
            indices[result.Position] = index;
            duplicates[result.Position] = result.Duplicate;
            treeSize = Math.Max(treeSize, result.TreeSize);
            if (!result.Duplicate)
            {
                appended++;
                first = Math.Min(first, index);
            }
            else if (result.ConflictsWith is { } existing)
            {
                if (entry is not EventAppend validated)
                {
                    throw new EventConflictException(result.Position, entry.IdempotencyKey ?? string.Empty, existing);
                }

                validated.ConflictsWith = existing;
                validated.ConflictingEntry = await _log.Store.GetEntryAsync(existing, cancellationToken);
            }
        }

        await SyncAsync(cancellationToken);
        var treeHead = await _publisher.EnsureAsync(treeSize, cancellationToken);
        return (new AppendResult(appended > 0 ? first : treeSize, indices, duplicates, appended, treeSize), treeHead);
    }

    /// <summary>The stored tree head as served, when it is signed by this log's key and matches the tree; else null.</summary>
    private PublishedTreeHead? Checked(StoredTreeHead stored)
    {
        try
        {
            var opened = TreeHead.OpenSigned(Encoding.UTF8.GetBytes(stored.Note), [_log.Verifier]);
            return opened.Verification.IsVerified && opened.TreeHead.Size == stored.TreeSize &&
                   MerkleHash.FixedTimeEquals(opened.TreeHead.RootHash, stored.RootHash) &&
                   MerkleHash.FixedTimeEquals(_log.Tree.RootHash(stored.TreeSize), stored.RootHash)
                ? new PublishedTreeHead(stored.TreeSize, stored.RootHash, stored.Note)
                : null;
        }
        catch (MalformedInputException)
        {
            return null;
        }
    }

    /// <summary>Refuses to serve a log whose latest tree head another key signed: all servers on one database share the signing key.</summary>
    private async Task CheckSignerAsync(CancellationToken cancellationToken)
    {
        if (await _log.Store.GetLatestTreeHeadAsync(cancellationToken) is not { } latest)
        {
            return;
        }

        bool verified;
        try
        {
            verified = SignedNote.Parse(Encoding.UTF8.GetBytes(latest.Note)).Verify([_log.Verifier]).IsVerified;
        }
        catch (MalformedInputException)
        {
            verified = false;
        }

        if (!verified)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"the latest tree head in the database (size {latest.TreeSize}) is not signed by this server's log key {_log.Verifier.VerifierKey}: every server on one database needs the same signing key (--log-signing-key FILE or {LogSigningKey.EnvironmentVariable}; docs/server.md, \"Several servers on PostgreSQL\")"));
        }
    }
}
