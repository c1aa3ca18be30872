using System.Diagnostics;
using System.Reflection;
using System.Text;
using System.Threading.Channels;
using TrainGuard.Agent.Audit;
using TrainGuard.Agent.Checkpoints;
using TrainGuard.Agent.Common;
using TrainGuard.Agent.Config;
using TrainGuard.Agent.Shipping;
using TrainGuard.Agent.Snapshots;
using TrainGuard.Agent.Spool;
using TrainGuard.Agent.Sshd;
using TrainGuard.Events;

namespace TrainGuard.Agent.Runtime;

/// <summary>
/// <c>trainguard agent run</c>: every collector on its schedule, every event into the spool first and
/// from there to the server. Loops: spool writer, shipper, heartbeat, node snapshots, checkpoint
/// folders, environment checks, access checks, audit log (file followed across rotation, or stdin as an audisp
/// plugin), sshd log. A failing collector is logged and retried on its next tick; it never stops the others.
/// </summary>
public sealed class AgentHost : IDisposable
{
    public static readonly string Version = typeof(AgentHost).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    private readonly AgentConfig _config;
    private readonly TextWriter _log;
    private readonly HttpMessageHandler? _handler;
    private readonly Channel<EventRecord> _queue = Channel.CreateUnbounded<EventRecord>(new UnboundedChannelOptions { SingleReader = true });
    private readonly AuditJoin _join = new();
    private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;
    private readonly object _auditGate = new();
    private EventSpool? _spool;
    private EventShipper? _shipper;
    private AuditCollector? _audit;
    private SshdCollector? _sshd;
    private CheckpointWatcher? _watcher;
    private int _snapshotProblems;
    private string _agentId = string.Empty;

    public AgentHost(AgentConfig config, TextWriter log, HttpMessageHandler? handler = null, Func<Stream>? openStdin = null)
    {
        _config = config;
        _log = TextWriter.Synchronized(log);
        _handler = handler;
        _openStdin = openStdin ?? Console.OpenStandardInput;
    }

    /// <summary>Where audit records come from in audisp-plugin mode (<c>audit.stdin: true</c>): standard input unless a test says otherwise.</summary>
    private readonly Func<Stream> _openStdin;

    /// <summary>Runs until cancelled; returns the exit code (0, or 2 when the agent cannot start).</summary>
    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(_config.StateDirectory);
        _agentId = LoadAgentId(_config.StateDirectory);
        _spool = EventSpool.Open(_config.SpoolDirectory);
        Log($"agent {_agentId} ({Version}) on {_config.HostName}: spool {_spool.Directory} holds {_spool.Pending} unsent events");
        foreach (var finding in _spool.OpenReport.Findings)
        {
            Log($"spool: {finding.RuleId} {finding.Message}");
        }

        foreach (var e in _spool.OpenReport.ToEvents(DateTimeOffset.UtcNow))
        {
            Submit(e);
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var tasks = new List<Task>();
        var writer = Task.Run(() => WriteLoop(), CancellationToken.None);
        if (_config.ServerUrl is not null)
        {
            _shipper = new EventShipper(
                _spool,
                new ShipperOptions
                {
                    ServerUrl = _config.ServerUrl,
                    Token = _config.ReadToken(),
                    Tls = _config.LoadTls(),
                    LogKey = _config.ReadLogKey(),
                    Alerts = Submit,
                    BatchSize = _config.BatchSize,
                    RequestTimeout = _config.RequestTimeout,
                    BackoffBase = _config.BackoffBase,
                    BackoffMax = _config.BackoffMax,
                },
                Log,
                _handler);
            tasks.Add(_shipper.RunAsync(stop.Token));
        }
        else
        {
            Log("no server.url configured: events stay in the spool until one is");
        }

        tasks.Add(Every(_config.HeartbeatInterval, "heartbeat", _ => { Submit(Heartbeat(DateTimeOffset.UtcNow)); return Task.CompletedTask; }, stop.Token));
        tasks.Add(Every(_config.SnapshotInterval, "snapshot", _ => { SnapshotPass(DateTimeOffset.UtcNow).ForEach(Submit); return Task.CompletedTask; }, stop.Token));
        if (_config.CheckpointFolders.Count > 0)
        {
            _watcher = NewWatcher();
            tasks.Add(Every(_config.CheckpointInterval, "checkpoints", ct => { _watcher.Poll(DateTimeOffset.UtcNow, false, ct).ForEach(Submit); return Task.CompletedTask; }, stop.Token));
        }

        if (_config.EnvSites.Count > 0)
        {
            var env = new EnvChecks(_config.EnvSites, Path.Combine(_config.StateDirectory, "env-findings.json"), _config.SnapshotRoot);
            tasks.Add(Every(_config.EnvInterval, "env", async ct => (await env.RunAsync(DateTimeOffset.UtcNow, ct)).ForEach(Submit), stop.Token));
        }

        if (_config.AccessPolicy is not null)
        {
            var access = new AccessChecks(_config.AccessPolicy, Path.Combine(_config.StateDirectory, "access-writers.json"), _config.SnapshotRoot);
            tasks.Add(Every(_config.AccessInterval, "access", async ct => (await access.RunAsync(DateTimeOffset.UtcNow, ct)).ForEach(Submit), stop.Token));
        }

        _audit = new AuditCollector(new AuditCollectorOptions { HostName = _config.HostName, AgentId = _agentId, SourcePath = _config.AuditStdin ? null : _config.AuditLog, AccountNames = LoadAccountNames() }, OnAuditEvent);
        if (_config.AuditStdin)
        {
            // Not awaited at shutdown: a read from stdin cannot be cancelled.
            _ = Task.Factory.StartNew(() => ReadAuditStdin(stop.Token), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            tasks.Add(Every(TimeSpan.FromSeconds(1), "audit", _ => { lock (_auditGate) { _audit.CloseExpired(DateTimeOffset.UtcNow); } return Task.CompletedTask; }, stop.Token));
        }
        else if (_config.AuditLog is not null)
        {
            var follower = new LogFollower(_config.AuditLog, Path.Combine(_config.StateDirectory, "audit-position.json"));
            tasks.Add(Every(_config.LogPollInterval, "audit", _ =>
            {
                lock (_auditGate)
                {
                    follower.Poll(_audit.ProcessLine);
                    _audit.CloseExpired(DateTimeOffset.UtcNow);
                }

                return Task.CompletedTask;
            }, stop.Token));
        }

        if (_config.AuthJournal)
        {
            // The journal, not auth.log: it says who really wrote each sshd line.
            _sshd = new SshdCollector(new SshdCollectorOptions { HostName = _config.HostName, AgentId = _agentId, TimeZone = TimeZoneInfo.Local }, Submit);
            var journal = new JournalFollower(_config.JournalCommand, Path.Combine(_config.StateDirectory, "journal-cursor"), _sshd, new object(), Log);
            tasks.Add(journal.RunAsync(stop.Token));
        }
        else if (_config.AuthLog is not null)
        {
            _sshd = new SshdCollector(new SshdCollectorOptions { HostName = _config.HostName, AgentId = _agentId, SourcePath = _config.AuthLog, TimeZone = TimeZoneInfo.Local }, Submit);
            var follower = new LogFollower(_config.AuthLog, Path.Combine(_config.StateDirectory, "auth-position.json"));
            tasks.Add(Every(_config.LogPollInterval, "sshd", _ => { follower.Poll(_sshd.ProcessLine); return Task.CompletedTask; }, stop.Token));
        }

        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Shutting down.
        }

        await stop.CancelAsync();
        await Task.WhenAll(tasks.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
        lock (_auditGate)
        {
            _audit.Flush();
        }

        _queue.Writer.TryComplete();
        await writer;
        Log($"stopped; {_spool.Pending} events wait in the spool");
        _shipper?.Dispose();
        return 0;
    }

    /// <summary><c>trainguard agent run --once</c>: one snapshot pass (diffed against the saved one) and one scan of the checkpoint folders; events to <paramref name="output"/> as JSON lines.</summary>
    public async Task<IReadOnlyList<EventRecord>> RunOnceAsync(TextWriter output, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(_config.StateDirectory);
        _agentId = LoadAgentId(_config.StateDirectory);
        var now = DateTimeOffset.UtcNow;
        var events = SnapshotPass(now);
        if (_config.CheckpointFolders.Count > 0)
        {
            events.AddRange(NewWatcher().Poll(now, ignoreSettle: true, cancellationToken));
        }

        if (_config.EnvSites.Count > 0)
        {
            events.AddRange(await new EnvChecks(_config.EnvSites, null, _config.SnapshotRoot).RunAsync(now, cancellationToken));
        }

        if (_config.AccessPolicy is not null)
        {
            events.AddRange(await new AccessChecks(_config.AccessPolicy, null, _config.SnapshotRoot).RunAsync(now, cancellationToken));
        }

        foreach (var e in events)
        {
            Enrich(e);
            await output.WriteAsync(e.ToJsonLine() + "\n");
        }

        await output.FlushAsync(cancellationToken);
        return events;
    }

    public void Dispose() => _spool?.Dispose();

    private CheckpointWatcher NewWatcher() => new(new CheckpointWatchOptions
    {
        Folders = _config.CheckpointFolders,
        Hash = _config.CheckpointHash,
        Settle = _config.CheckpointSettle,
        StatePath = Path.Combine(_config.StateDirectory, "checkpoints.json"),
        AccountNames = LoadAccountNames(),
    });

    private List<EventRecord> SnapshotPass(DateTimeOffset now)
    {
        var statePath = Path.Combine(_config.StateDirectory, "snapshot.json");
        var previous = NodeSnapshot.Load(statePath);
        var current = new SnapshotReader(new SnapshotOptions { Root = _config.SnapshotRoot }).Read(now, previous);
        var events = SnapshotDiff.Diff(previous, current, _join);
        current.Save(statePath);
        _snapshotProblems = current.Problems.Count;
        return events;
    }

    private void OnAuditEvent(EventRecord e)
    {
        _join.Observe(e);
        Submit(e);
    }

    private void ReadAuditStdin(CancellationToken cancellationToken)
    {
        using var stdin = _openStdin();
        var reader = new LineReader();
        reader.Read(stdin, (line, n, terminated) =>
        {
            lock (_auditGate)
            {
                _audit!.ProcessLine(line, n, terminated);
            }
        });
        lock (_auditGate)
        {
            _audit!.Flush();
        }

        if (!cancellationToken.IsCancellationRequested)
        {
            Log("audit: stdin closed (audisp stopped the plugin)");
        }
    }

    private void Submit(EventRecord e)
    {
        Enrich(e);
        if (!_queue.Writer.TryWrite(e))
        {
            Log($"event {e.Id} ({e.Action}) arrived after shutdown began and was not spooled");
        }
    }

    private void Enrich(EventRecord e)
    {
        if (!e.Has(EventFields.HostName))
        {
            e.Set(EventFields.HostName, _config.HostName);
        }

        if (_agentId.Length > 0 && !e.Has(EventFields.AgentId))
        {
            e.Set(EventFields.AgentId, _agentId);
        }

        if (!e.Has(EventFields.AgentVersion))
        {
            e.Set(EventFields.AgentVersion, Version);
        }

        // Fields copied from node state (key comments, paths, command lines) are the attacker's to make long.
        EventSizeCap.Apply(e);
    }

    private async Task WriteLoop()
    {
        var batch = new List<EventRecord>(1024);
        while (await _queue.Reader.WaitToReadAsync())
        {
            while (batch.Count < 1024 && _queue.Reader.TryRead(out var e))
            {
                batch.Add(e);
            }

            try
            {
                _spool!.Append(batch);
            }
            catch (Exception ex) when (ex is IOException or ArgumentException)
            {
                Log($"spool: cannot append {batch.Count} events ({ex.Message}); retrying in 1 s");
                await Task.Delay(1000);
                if (ex is ArgumentException)
                {
                    batch.RemoveAll(r => Encoding.UTF8.GetByteCount(r.ToJsonLine()) > SpoolFormat.MaxRecordBytes - 256);
                }

                continue;
            }

            batch.Clear();
            _shipper?.Nudge();
        }
    }

    private EventRecord Heartbeat(DateTimeOffset now)
    {
        var e = new EventRecord(now, EventActions.AgentHeartbeat, EventKinds.State);
        e.Set(EventFields.Category, ["host"]).Set(EventFields.Type, ["info"]);
        e.Set(EventFields.Module, "agent").Set(EventFields.Dataset, "agent");
        e.Set("trainguard.agent.uptime_seconds", (long)(now - _started).TotalSeconds);
        e.Set("trainguard.agent.interval_seconds", (long)_config.HeartbeatInterval.TotalSeconds);
        e.Set("trainguard.agent.spool.pending", _spool!.Pending);
        e.Set("trainguard.agent.spool.last_seq", _spool.LastSeq);
        e.Set("trainguard.agent.spool.acked_seq", _spool.AckedSeq);
        var (headSeq, headHash) = _spool.Head;
        e.Set("trainguard.agent.spool.head_seq", headSeq);
        e.Set("trainguard.agent.spool.head_hash", headHash);
        if (_shipper is not null)
        {
            e.Set("trainguard.agent.shipping.last_shipped_id", _shipper.Stats.LastShippedId);
            e.Set("trainguard.agent.shipping.consecutive_failures", _shipper.Stats.ConsecutiveFailures);
            e.Set("trainguard.agent.shipping.last_error", _shipper.Stats.LastError);
            e.Set("trainguard.agent.shipping.events_rejected", _shipper.Stats.EventsRejected);
            e.Set("trainguard.agent.shipping.dead_letters", _shipper.DeadLetters.Count);
            e.Set("trainguard.agent.shipping.dead_letters_reshipped", _shipper.Stats.DeadLettersReshipped);
        }

        if (_audit is not null)
        {
            e.Set("trainguard.agent.collectors.audit.records", _audit.Stats.Records);
            e.Set("trainguard.agent.collectors.audit.parse_errors", _audit.Stats.ParseErrors);
            e.Set("trainguard.agent.collectors.audit.events", _audit.Stats.Events);
        }

        if (_sshd is not null)
        {
            e.Set("trainguard.agent.collectors.sshd.records", _sshd.Stats.Records);
            e.Set("trainguard.agent.collectors.sshd.parse_errors", _sshd.Stats.ParseErrors);
            e.Set("trainguard.agent.collectors.sshd.forged", _sshd.Forged);
            e.Set("trainguard.agent.collectors.sshd.source", _config.AuthJournal ? "journal" : "syslog");
        }

        e.Set("trainguard.agent.collectors.snapshot.problems", _snapshotProblems);
        if (_watcher is not null)
        {
            e.Set("trainguard.agent.collectors.checkpoints.files", _watcher.TrackedFiles);
            e.Set("trainguard.agent.collectors.checkpoints.problems", _watcher.Problems.Count);
        }

        using var self = Process.GetCurrentProcess();
        e.Set("process.pid", Environment.ProcessId);
        e.Set("trainguard.agent.rss_bytes", self.WorkingSet64);
        return e;
    }

    private async Task Every(TimeSpan interval, string name, Func<CancellationToken, Task> work, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval);
        do
        {
            try
            {
                await work(cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Log($"{name}: {ex.GetType().Name}: {Findings.TextSanitizer.Escape(ex.Message, 300)}");
            }
        }
        while (await WaitTick(timer, cancellationToken));
    }

    private static async Task<bool> WaitTick(PeriodicTimer timer, CancellationToken cancellationToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private PasswdFile? LoadAccountNames() => FileOwnership.NodeAccounts(_config.SnapshotRoot);

    private static string LoadAgentId(string stateDirectory)
    {
        var path = Path.Combine(stateDirectory, "agent-id");
        if (File.Exists(path) && File.ReadAllText(path).Trim() is { Length: 36 } existing)
        {
            return existing;
        }

        var id = UuidV7.NewId();
        DurableFile.WriteAllText(path, id + "\n");
        return id;
    }

    private void Log(string message) => _log.WriteLine($"{DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ssZ} trainguard-agent: {message}");
}
