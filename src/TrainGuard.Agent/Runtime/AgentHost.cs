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
/// folders, environment checks, audit log (file followed across rotation, or stdin as an audisp
/// plugin), sshd log. A failing collector is logged and retried on its next tick; it never stops the others.
/// </summary>
public sealed class AgentHost : IDisposable
{
    public static readonly string Version = typeof(AgentHost).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    private readonly AgentConfig config;
    private readonly TextWriter log;
    private readonly HttpMessageHandler? handler;
    private readonly Channel<EventRecord> queue = Channel.CreateUnbounded<EventRecord>(new UnboundedChannelOptions { SingleReader = true });
    private readonly AuditJoin join = new();
    private readonly DateTimeOffset started = DateTimeOffset.UtcNow;
    private readonly object auditGate = new();
    private EventSpool? spool;
    private EventShipper? shipper;
    private AuditCollector? audit;
    private SshdCollector? sshd;
    private CheckpointWatcher? watcher;
    private int snapshotProblems;
    private string agentId = string.Empty;

    public AgentHost(AgentConfig config, TextWriter log, HttpMessageHandler? handler = null, Func<Stream>? openStdin = null)
    {
        this.config = config;
        this.log = TextWriter.Synchronized(log);
        this.handler = handler;
        this.openStdin = openStdin ?? Console.OpenStandardInput;
    }

    /// <summary>Where audit records come from in audisp-plugin mode (<c>audit.stdin: true</c>): standard input unless a test says otherwise.</summary>
    private readonly Func<Stream> openStdin;

    /// <summary>Runs until cancelled; returns the exit code (0, or 2 when the agent cannot start).</summary>
    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(config.StateDirectory);
        agentId = LoadAgentId(config.StateDirectory);
        spool = EventSpool.Open(config.SpoolDirectory);
        Log($"agent {agentId} ({Version}) on {config.HostName}: spool {spool.Directory} holds {spool.Pending} unsent events");
        foreach (var finding in spool.OpenReport.Findings)
        {
            Log($"spool: {finding.RuleId} {finding.Message}");
        }

        foreach (var e in spool.OpenReport.ToEvents(DateTimeOffset.UtcNow))
        {
            Submit(e);
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var tasks = new List<Task>();
        var writer = Task.Run(() => WriteLoop(), CancellationToken.None);
        if (config.ServerUrl is not null)
        {
            shipper = new EventShipper(
                spool,
                new ShipperOptions
                {
                    ServerUrl = config.ServerUrl,
                    Token = config.ReadToken(),
                    BatchSize = config.BatchSize,
                    RequestTimeout = config.RequestTimeout,
                    BackoffBase = config.BackoffBase,
                    BackoffMax = config.BackoffMax,
                },
                Log,
                handler);
            tasks.Add(shipper.RunAsync(stop.Token));
        }
        else
        {
            Log("no server.url configured: events stay in the spool until one is");
        }

        tasks.Add(Every(config.HeartbeatInterval, "heartbeat", _ => { Submit(Heartbeat(DateTimeOffset.UtcNow)); return Task.CompletedTask; }, stop.Token));
        tasks.Add(Every(config.SnapshotInterval, "snapshot", _ => { SnapshotPass(DateTimeOffset.UtcNow).ForEach(Submit); return Task.CompletedTask; }, stop.Token));
        if (config.CheckpointFolders.Count > 0)
        {
            watcher = NewWatcher();
            tasks.Add(Every(config.CheckpointInterval, "checkpoints", ct => { watcher.Poll(DateTimeOffset.UtcNow, false, ct).ForEach(Submit); return Task.CompletedTask; }, stop.Token));
        }

        if (config.EnvSites.Count > 0)
        {
            var env = new EnvChecks(config.EnvSites, Path.Combine(config.StateDirectory, "env-findings.json"));
            tasks.Add(Every(config.EnvInterval, "env", async ct => (await env.RunAsync(DateTimeOffset.UtcNow, ct)).ForEach(Submit), stop.Token));
        }

        audit = new AuditCollector(new AuditCollectorOptions { HostName = config.HostName, AgentId = agentId, SourcePath = config.AuditStdin ? null : config.AuditLog, AccountNames = LoadAccountNames() }, OnAuditEvent);
        if (config.AuditStdin)
        {
            // Not awaited at shutdown: a read from stdin cannot be cancelled.
            _ = Task.Factory.StartNew(() => ReadAuditStdin(stop.Token), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            tasks.Add(Every(TimeSpan.FromSeconds(1), "audit", _ => { lock (auditGate) { audit.CloseExpired(DateTimeOffset.UtcNow); } return Task.CompletedTask; }, stop.Token));
        }
        else if (config.AuditLog is not null)
        {
            var follower = new LogFollower(config.AuditLog, Path.Combine(config.StateDirectory, "audit-position.json"));
            tasks.Add(Every(config.LogPollInterval, "audit", _ =>
            {
                lock (auditGate)
                {
                    follower.Poll(audit.ProcessLine);
                    audit.CloseExpired(DateTimeOffset.UtcNow);
                }

                return Task.CompletedTask;
            }, stop.Token));
        }

        if (config.AuthJournal)
        {
            // The journal, not auth.log: it says who really wrote each sshd line.
            sshd = new SshdCollector(new SshdCollectorOptions { HostName = config.HostName, AgentId = agentId, TimeZone = TimeZoneInfo.Local }, Submit);
            var journal = new JournalFollower(config.JournalCommand, Path.Combine(config.StateDirectory, "journal-cursor"), sshd, new object(), Log);
            tasks.Add(journal.RunAsync(stop.Token));
        }
        else if (config.AuthLog is not null)
        {
            sshd = new SshdCollector(new SshdCollectorOptions { HostName = config.HostName, AgentId = agentId, SourcePath = config.AuthLog, TimeZone = TimeZoneInfo.Local }, Submit);
            var follower = new LogFollower(config.AuthLog, Path.Combine(config.StateDirectory, "auth-position.json"));
            tasks.Add(Every(config.LogPollInterval, "sshd", _ => { follower.Poll(sshd.ProcessLine); return Task.CompletedTask; }, stop.Token));
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
        lock (auditGate)
        {
            audit.Flush();
        }

        queue.Writer.TryComplete();
        await writer;
        Log($"stopped; {spool.Pending} events wait in the spool");
        shipper?.Dispose();
        return 0;
    }

    /// <summary><c>trainguard agent run --once</c>: one snapshot pass (diffed against the saved one) and one scan of the checkpoint folders; events to <paramref name="output"/> as JSON lines.</summary>
    public async Task<IReadOnlyList<EventRecord>> RunOnceAsync(TextWriter output, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(config.StateDirectory);
        agentId = LoadAgentId(config.StateDirectory);
        var now = DateTimeOffset.UtcNow;
        var events = SnapshotPass(now);
        if (config.CheckpointFolders.Count > 0)
        {
            events.AddRange(NewWatcher().Poll(now, ignoreSettle: true, cancellationToken));
        }

        if (config.EnvSites.Count > 0)
        {
            events.AddRange(await new EnvChecks(config.EnvSites, null).RunAsync(now, cancellationToken));
        }

        foreach (var e in events)
        {
            Enrich(e);
            await output.WriteAsync(e.ToJsonLine() + "\n");
        }

        await output.FlushAsync(cancellationToken);
        return events;
    }

    public void Dispose() => spool?.Dispose();

    private CheckpointWatcher NewWatcher() => new(new CheckpointWatchOptions
    {
        Folders = config.CheckpointFolders,
        Hash = config.CheckpointHash,
        Settle = config.CheckpointSettle,
        StatePath = Path.Combine(config.StateDirectory, "checkpoints.json"),
    });

    private List<EventRecord> SnapshotPass(DateTimeOffset now)
    {
        var statePath = Path.Combine(config.StateDirectory, "snapshot.json");
        var previous = NodeSnapshot.Load(statePath);
        var current = new SnapshotReader(new SnapshotOptions { Root = config.SnapshotRoot }).Read(now, previous);
        var events = SnapshotDiff.Diff(previous, current, join);
        current.Save(statePath);
        snapshotProblems = current.Problems.Count;
        return events;
    }

    private void OnAuditEvent(EventRecord e)
    {
        join.Observe(e);
        Submit(e);
    }

    private void ReadAuditStdin(CancellationToken cancellationToken)
    {
        using var stdin = openStdin();
        var reader = new LineReader();
        reader.Read(stdin, (line, n, terminated) =>
        {
            lock (auditGate)
            {
                audit!.ProcessLine(line, n, terminated);
            }
        });
        lock (auditGate)
        {
            audit!.Flush();
        }

        if (!cancellationToken.IsCancellationRequested)
        {
            Log("audit: stdin closed (audisp stopped the plugin)");
        }
    }

    private void Submit(EventRecord e)
    {
        Enrich(e);
        if (!queue.Writer.TryWrite(e))
        {
            Log($"event {e.Id} ({e.Action}) arrived after shutdown began and was not spooled");
        }
    }

    private void Enrich(EventRecord e)
    {
        if (!e.Has(EventFields.HostName))
        {
            e.Set(EventFields.HostName, config.HostName);
        }

        if (agentId.Length > 0 && !e.Has(EventFields.AgentId))
        {
            e.Set(EventFields.AgentId, agentId);
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
        while (await queue.Reader.WaitToReadAsync())
        {
            while (batch.Count < 1024 && queue.Reader.TryRead(out var e))
            {
                batch.Add(e);
            }

            try
            {
                spool!.Append(batch);
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
            shipper?.Nudge();
        }
    }

    private EventRecord Heartbeat(DateTimeOffset now)
    {
        var e = new EventRecord(now, EventActions.AgentHeartbeat, EventKinds.State);
        e.Set(EventFields.Category, ["host"]).Set(EventFields.Type, ["info"]);
        e.Set(EventFields.Module, "agent").Set(EventFields.Dataset, "agent");
        e.Set("trainguard.agent.uptime_seconds", (long)(now - started).TotalSeconds);
        e.Set("trainguard.agent.interval_seconds", (long)config.HeartbeatInterval.TotalSeconds);
        e.Set("trainguard.agent.spool.pending", spool!.Pending);
        e.Set("trainguard.agent.spool.last_seq", spool.LastSeq);
        e.Set("trainguard.agent.spool.acked_seq", spool.AckedSeq);
        var (headSeq, headHash) = spool.Head;
        e.Set("trainguard.agent.spool.head_seq", headSeq);
        e.Set("trainguard.agent.spool.head_hash", headHash);
        if (shipper is not null)
        {
            e.Set("trainguard.agent.shipping.last_shipped_id", shipper.Stats.LastShippedId);
            e.Set("trainguard.agent.shipping.consecutive_failures", shipper.Stats.ConsecutiveFailures);
            e.Set("trainguard.agent.shipping.last_error", shipper.Stats.LastError);
            e.Set("trainguard.agent.shipping.events_rejected", shipper.Stats.EventsRejected);
            e.Set("trainguard.agent.shipping.dead_letters", shipper.DeadLetters.Count);
            e.Set("trainguard.agent.shipping.dead_letters_reshipped", shipper.Stats.DeadLettersReshipped);
        }

        if (audit is not null)
        {
            e.Set("trainguard.agent.collectors.audit.records", audit.Stats.Records);
            e.Set("trainguard.agent.collectors.audit.parse_errors", audit.Stats.ParseErrors);
            e.Set("trainguard.agent.collectors.audit.events", audit.Stats.Events);
        }

        if (sshd is not null)
        {
            e.Set("trainguard.agent.collectors.sshd.records", sshd.Stats.Records);
            e.Set("trainguard.agent.collectors.sshd.parse_errors", sshd.Stats.ParseErrors);
            e.Set("trainguard.agent.collectors.sshd.forged", sshd.Forged);
            e.Set("trainguard.agent.collectors.sshd.source", config.AuthJournal ? "journal" : "syslog");
        }

        e.Set("trainguard.agent.collectors.snapshot.problems", snapshotProblems);
        if (watcher is not null)
        {
            e.Set("trainguard.agent.collectors.checkpoints.files", watcher.TrackedFiles);
            e.Set("trainguard.agent.collectors.checkpoints.problems", watcher.Problems.Count);
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

    private PasswdFile? LoadAccountNames()
    {
        try
        {
            var root = config.SnapshotRoot;
            return PasswdFile.Load(Path.Join(root, "etc/passwd"), Path.Join(root, "etc/group"));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

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

    private void Log(string message) => log.WriteLine($"{DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ssZ} trainguard-agent: {message}");
}
