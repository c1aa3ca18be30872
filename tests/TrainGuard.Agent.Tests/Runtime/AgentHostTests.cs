using System.Diagnostics;
using TrainGuard.Agent.Common;
using TrainGuard.Agent.Config;
using TrainGuard.Agent.Runtime;
using TrainGuard.Agent.Snapshots;
using TrainGuard.Agent.Spool;
using TrainGuard.Agent.Tests.Snapshots;
using TrainGuard.Agent.Tests.Support;
using TrainGuard.Events;

namespace TrainGuard.Agent.Tests.Runtime;

/// <summary>The agent host tests run alone (no other test class in parallel), so the idle child's CPU time is its own.</summary>
[CollectionDefinition(nameof(AgentHostCollection), DisableParallelization = true)]
public sealed class AgentHostCollection
{
}

[Collection(nameof(AgentHostCollection))]
public sealed class AgentHostTests
{
    private static AgentConfig Config(NodeFixture node, TempDir dir, FakeEventServer? server, string auditLog) => new()
    {
        ServerUrl = server?.Url,
        TokenFile = dir.Write("token", "host-test-token\n"),
        HostName = "node-under-test",
        SpoolDirectory = dir.Combine("spool"),
        StateDirectory = dir.Combine("state"),
        SnapshotRoot = node.Root,
        SnapshotInterval = TimeSpan.FromMilliseconds(300),
        HeartbeatInterval = TimeSpan.FromMilliseconds(500),
        LogPollInterval = TimeSpan.FromMilliseconds(100),
        BackoffBase = TimeSpan.FromMilliseconds(50),
        BackoffMax = TimeSpan.FromMilliseconds(200),
        AuditLog = auditLog,
        AuthLog = null,
    };

    [Fact]
    public async Task The_running_agent_ships_audit_snapshot_and_heartbeat_events_and_reports_a_planted_key()
    {
        using var node = new NodeFixture();
        using var dir = new TempDir();
        using var server = new FakeEventServer { ExpectedToken = "host-test-token" };
        server.Start();
        var auditLog = dir.Combine("audit.log");
        File.Copy(Samples.SshSessionAudit, auditLog);
        using var host = new AgentHost(Config(node, dir, server, auditLog), TextWriter.Null);
        using var stop = new CancellationTokenSource();
        var run = host.RunAsync(stop.Token);

        bool Has(Func<EventRecord, bool> match) => server.Events.ToList().Select(e => EventRecord.Parse(e.GetRawText())).Any(match);
        await WaitFor(() => Has(e => e.Action == EventActions.AgentHeartbeat) && Has(e => e.Action == EventActions.FileChanged) && Has(e => e.GetBoolean("trainguard.snapshot.baseline") == true), "heartbeat, audit and baseline events");

        node.Append("home/alice/.ssh/authorized_keys", AuthorizedKeysParserTests.Rsa + " planted\n");
        await WaitFor(() => Has(e => e.Action == EventActions.SshKeyAdded && e.GetString(EventFields.Kind) == EventKinds.Event), "the planted key");

        await stop.CancelAsync();
        Assert.Equal(0, await run);

        var events = server.Events.ToList().Select(e => EventRecord.Parse(e.GetRawText())).ToList();
        Assert.All(events, e =>
        {
            Assert.NotNull(e.GetString(EventFields.AgentId));
            Assert.NotNull(e.GetString(EventFields.AgentVersion));
        });
        var planted = Assert.Single(events, e => e.Action == EventActions.SshKeyAdded && e.GetString(EventFields.Kind) == EventKinds.Event);
        Assert.Equal(AuthorizedKeysParserTests.RsaFingerprint, planted.GetString("trainguard.ssh.key_fingerprint"));
        Assert.Equal("node-under-test", planted.GetString(EventFields.HostName));
        var heartbeat = events.First(e => e.Action == EventActions.AgentHeartbeat);
        Assert.True(heartbeat.Has("trainguard.agent.spool.pending"));
        Assert.True(heartbeat.GetInt64("trainguard.agent.rss_bytes") > 0);
        Assert.True(EventSpool.Verify(dir.Combine("spool")).Clean);
    }

    [Fact]
    public async Task A_planted_key_with_an_11000_byte_comment_no_longer_loses_its_batch_and_dead_letters_are_reported()
    {
        using var node = new NodeFixture();
        using var dir = new TempDir();
        using var server = new FakeEventServer { ExpectedToken = "host-test-token", MaxEventBytes = EventSizeCap.MaxEventBytes };
        server.Start();

        // A dead letter left by an earlier run whose id someone else claimed on the server.
        Directory.CreateDirectory(dir.Combine("spool"));
        var contested = ChildProgram.MakeEvent(7);
        server.ConflictIds[contested.Id] = true;
        File.WriteAllText(dir.Combine("spool", SpoolFormat.DeadLetterFile), "{\"rejected_at\":\"2026-11-22T08:00:00Z\",\"status\":409,\"reason\":\"conflict\",\"record\":" + SpoolFormat.FormatRecord(1, SpoolFormat.GenesisHash, contested.ToJsonLine()) + "}\n");

        using var host = new AgentHost(Config(node, dir, server, dir.Combine("none.log")), TextWriter.Null);
        using var stop = new CancellationTokenSource();
        var run = host.RunAsync(stop.Token);
        bool Has(Func<EventRecord, bool> match) => server.Events.ToList().Select(e => EventRecord.Parse(e.GetRawText())).Any(match);
        await WaitFor(() => Has(e => e.GetBoolean("trainguard.snapshot.baseline") == true), "the baseline");

        // Two keys planted in one pass: one with an 11,000-byte comment.
        node.Append("home/alice/.ssh/authorized_keys", AuthorizedKeysParserTests.Rsa + " " + new string('C', 11_000) + "\n" + AuthorizedKeysParserTests.Ecdsa + "\n");
        await WaitFor(() => server.Events.ToList().Select(e => EventRecord.Parse(e.GetRawText())).Count(e => e.Action == EventActions.SshKeyAdded && e.GetString(EventFields.Kind) == EventKinds.Event) == 2, "both planted keys");
        // The first heartbeat may precede every append (head 0 in a fresh spool): wait for one sealed over records.
        await WaitFor(() => Has(e => e.Action == EventActions.AgentHeartbeat && e.GetInt64("trainguard.agent.shipping.dead_letters") == 1 && e.GetInt64("trainguard.agent.spool.head_seq") > 0), "a heartbeat counting the dead letter");
        await stop.CancelAsync();
        Assert.Equal(0, await run);

        var events = server.Events.ToList().Select(e => EventRecord.Parse(e.GetRawText())).ToList();
        var longKey = Assert.Single(events, e => e.GetString("trainguard.ssh.key_fingerprint") == AuthorizedKeysParserTests.RsaFingerprint && e.GetString(EventFields.Kind) == EventKinds.Event);
        Assert.Equal(["trainguard.ssh.key_comment"], longKey.GetStrings(EventSizeCap.TruncatedField));
        Assert.Contains("…[truncated ", longKey.GetString("trainguard.ssh.key_comment"), StringComparison.Ordinal);
        Assert.All(server.Events.ToList(), e => Assert.True(System.Text.Encoding.UTF8.GetByteCount(e.GetRawText()) <= EventSizeCap.MaxEventBytes));
        var heartbeat = events.Last(e => e.Action == EventActions.AgentHeartbeat && e.GetInt64("trainguard.agent.spool.head_seq") > 0);
        Assert.Equal(64, heartbeat.GetString("trainguard.agent.spool.head_hash")!.Length);
        Assert.NotEqual(SpoolFormat.GenesisHash, heartbeat.GetString("trainguard.agent.spool.head_hash"));
        Assert.DoesNotContain(contested.Id, server.ReceivedIds);
    }

    [Fact]
    public async Task A_forged_sshd_line_no_longer_becomes_a_login_when_the_agent_follows_the_journal()
    {
        using var node = new NodeFixture();
        using var dir = new TempDir();
        using var server = new FakeEventServer { ExpectedToken = "host-test-token" };
        server.Start();

        // A stand-in for journalctl: records its arguments and pid, prints the real capture, then waits to be killed.
        var fixture = Fixtures.Agent("journal/sshd-login-and-logger-forgery.json");
        var script = dir.Write("journalctl", $"#!/bin/sh\necho \"$*\" >> {dir.Combine("args.log")}\necho $$ >> {dir.Combine("pids.log")}\ncat '{fixture}'\nexec sleep 300\n");
        TempDir.Chmod(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var config = Config(node, dir, server, dir.Combine("none.log")) with { AuthJournal = true, JournalCommand = script };
        bool Has(Func<EventRecord, bool> match) => server.Events.ToList().Select(e => EventRecord.Parse(e.GetRawText())).Any(match);

        using (var host = new AgentHost(config, TextWriter.Null))
        {
            using var stop = new CancellationTokenSource();
            var run = host.RunAsync(stop.Token);
            await WaitFor(() => Has(e => e.Action == AgentActions.SshdLogForged) && Has(e => e.Action == EventActions.UserLogin && e.GetBoolean("trainguard.source.verified") == true), "the forgery alert and the verified login");
            await WaitFor(() => Has(e => e.Action == EventActions.AgentHeartbeat && e.GetInt64("trainguard.agent.collectors.sshd.forged") == 1), "a heartbeat counting the forgery");
            await stop.CancelAsync();
            Assert.Equal(0, await run);
        }

        Assert.DoesNotContain(server.Events.ToList().Select(e => EventRecord.Parse(e.GetRawText())), e => e.Action == EventActions.UserLogin && e.GetString("source.ip") == "10.9.9.9");
        var lastCursor = File.ReadLines(fixture).Select(l => EventRecord.Parse(l).GetString("__CURSOR")).Last();
        Assert.Equal(lastCursor, File.ReadAllText(dir.Combine("state", "journal-cursor")).Trim());
        Assert.Contains("--boot", File.ReadAllLines(dir.Combine("args.log"))[0], StringComparison.Ordinal);

        // A restart resumes after the last entry read.
        using (var host = new AgentHost(config, TextWriter.Null))
        {
            using var stop = new CancellationTokenSource();
            var run = host.RunAsync(stop.Token);
            await WaitFor(() => File.ReadAllLines(dir.Combine("args.log")).Length == 2, "journalctl started again");
            await stop.CancelAsync();
            Assert.Equal(0, await run);
        }

        Assert.Contains("--after-cursor=" + lastCursor, File.ReadAllLines(dir.Combine("args.log"))[1], StringComparison.Ordinal);
        foreach (var pid in File.ReadAllLines(dir.Combine("pids.log")))
        {
            await WaitFor(() => !Directory.Exists("/proc/" + pid), $"journalctl stand-in {pid} to be killed");
        }
    }

    [Fact]
    public async Task As_an_audisp_plugin_the_agent_reads_audit_records_from_stdin_and_ships_them()
    {
        using var node = new NodeFixture();
        using var dir = new TempDir();
        using var server = new FakeEventServer { ExpectedToken = "host-test-token" };
        server.Start();
        var config = Config(node, dir, server, auditLog: dir.Combine("unused-audit.log")) with { AuditStdin = true };
        var records = await File.ReadAllBytesAsync(Samples.SshSessionAudit);
        using var host = new AgentHost(config, TextWriter.Null, openStdin: () => new MemoryStream(records, writable: false));
        using var stop = new CancellationTokenSource();
        var run = host.RunAsync(stop.Token);

        bool Has(Func<EventRecord, bool> match) => server.Events.ToList().Select(e => EventRecord.Parse(e.GetRawText())).Any(match);
        await WaitFor(() => Has(e => e.Action == EventActions.FileChanged) && Has(e => e.Action == EventActions.LoginUidChanged), "audit events read from stdin");
        await stop.CancelAsync();
        Assert.Equal(0, await run);
        Assert.False(File.Exists(dir.Combine("unused-audit.log")), "stdin mode must not read the audit log file");
    }

    [Fact]
    public async Task Once_prints_a_baseline_then_only_changes_on_the_next_pass()
    {
        using var node = new NodeFixture();
        using var dir = new TempDir();
        var config = Config(node, dir, null, dir.Combine("none.log"));
        var first = new StringWriter();
        using (var host = new AgentHost(config, TextWriter.Null))
        {
            await host.RunOnceAsync(first, CancellationToken.None);
        }

        Assert.Contains("\"baseline\":true", first.ToString(), StringComparison.Ordinal);
        node.Write("etc/ld.so.preload", "/tmp/libx.so\n");
        var second = new StringWriter();
        using (var host = new AgentHost(config, TextWriter.Null))
        {
            var events = await host.RunOnceAsync(second, CancellationToken.None);
            var e = Assert.Single(events);
            Assert.Equal(EventActions.PersistenceChanged, e.Action);
            Assert.Equal("/etc/ld.so.preload", e.GetString("file.path"));
        }

        Assert.Single(second.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task Idle_agent_stays_under_1_percent_cpu_and_80_mb_rss()
    {
        // TG_AGENT_IDLE_SECONDS=30 for the benchmark run reported in docs/agent.md; shorter in the regular suite.
        var benchmark = int.TryParse(Environment.GetEnvironmentVariable("TG_AGENT_IDLE_SECONDS"), out var s);
        var seconds = benchmark ? s : 10;
        using var node = new NodeFixture();
        using var dir = new TempDir();
        using var server = new FakeEventServer();
        server.Start();
        dir.Write("audit.log", string.Empty);
        var config = dir.Write("agent.yaml", $"""
            server:
              url: {server.Url}
              token_file: {dir.Write("token", "t\n")}
            host_name: idle-node
            spool_dir: {dir.Combine("spool")}
            state_dir: {dir.Combine("state")}
            snapshot_root: {node.Root}
            audit:
              log: {dir.Combine("audit.log")}
            auth_log: ~
            """);
        var info = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var (name, value) in IdleEnvironment)
        {
            info.Environment[name] = value;
        }

        info.ArgumentList.Add(typeof(ChildProgram).Assembly.Location);
        info.ArgumentList.Add("agent-run");
        info.ArgumentList.Add(config);
        using var child = Process.Start(info)!;
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(15));
            if (child.HasExited)
            {
                Assert.Fail("the agent exited: " + await child.StandardError.ReadToEndAsync());
            }

            var (cpu0, _) = Sample(child.Id);
            var clock = Stopwatch.StartNew();
            long maxRss = 0;
            while (clock.Elapsed < TimeSpan.FromSeconds(seconds))
            {
                await Task.Delay(500);
                maxRss = Math.Max(maxRss, Sample(child.Id).RssBytes);
            }

            var (cpu1, _) = Sample(child.Id);
            var cpuPercent = (cpu1 - cpu0).TotalMilliseconds / clock.Elapsed.TotalMilliseconds * 100;
            var line = $"idle agent over {clock.Elapsed.TotalSeconds:0.0} s: CPU {cpuPercent:0.00} %, peak RSS {maxRss / (1024.0 * 1024):0.0} MB";
            Console.WriteLine(line);
            File.WriteAllText(Path.Combine(Path.GetTempPath(), "trainguard-agent-idle.txt"), line + "\n");
            // The target (<1 % CPU) is asserted in benchmark mode (TG_AGENT_IDLE_SECONDS=30, as reported in
            // docs/agent.md); the short regular run of the Debug test assembly only guards against regressions.
            Assert.True(cpuPercent < (benchmark ? 1.0 : 3.0), line);
            Assert.True(maxRss < 80L * 1024 * 1024, line);
            Assert.True(server.DistinctCount > 0, "the baseline and a heartbeat reached the server");
        }
        finally
        {
            child.Kill(entireProcessTree: true);
            await child.WaitForExitAsync();
        }
    }

    /// <summary>The runtime settings of packaging/trainguard-agent.service (Environment= lines), read from the unit itself.</summary>
    private static IEnumerable<(string, string)> IdleEnvironment =>
        File.ReadLines(Path.Combine(Samples.RepoRoot, "packaging", "trainguard-agent.service"))
            .Where(l => l.StartsWith("Environment=DOTNET_", StringComparison.Ordinal))
            .Select(l => l["Environment=".Length..].Split('=', 2))
            .Select(p => (p[0], p[1]));

    /// <summary>User+system CPU time and resident set size of a process, from /proc.</summary>
    private static (TimeSpan Cpu, long RssBytes) Sample(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture);
        var rssLine = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        var rssKb = long.Parse(rssLine.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
        return (TimeSpan.FromMilliseconds(ticks * 10.0), rssKb * 1024);
    }

    private static async Task WaitFor(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(30))
            {
                Assert.Fail($"timed out waiting for {what}");
            }

            await Task.Delay(50);
        }
    }
}
