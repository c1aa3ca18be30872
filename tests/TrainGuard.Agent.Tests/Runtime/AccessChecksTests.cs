using TrainGuard.Agent.Config;
using TrainGuard.Agent.Runtime;
using TrainGuard.Agent.Tests.Support;
using TrainGuard.Events;

namespace TrainGuard.Agent.Tests.Runtime;

/// <summary>The agent's scheduled access check: findings once, then an event per writer gained or lost.</summary>
public sealed class AccessChecksTests
{
    private const string Passwd = """
        root:x:0:0:root:/root:/bin/bash
        mlops:x:1001:1001::/home/mlops:/bin/bash
        intern7:x:1007:1007::/home/intern7:/bin/bash

        """;

    private const string Policy = """
        assets:
          - path: /opt/envs/torch
            users: [mlops]

        """;

    [Fact]
    public async Task First_run_reports_each_finding_then_a_new_writer_is_one_event_on_its_account_and_a_lost_one_another()
    {
        using var dir = new TempDir();
        var node = Node(dir, "ml-shared:x:2000:");
        var checks = new AccessChecks(dir.Write("policy.yaml", Policy), dir.Combine("access-writers.json"), node);

        // mlops owns the tree; the group ml-shared may write it but has no member yet: only 'other' bits matter.
        Assert.Empty(await checks.RunAsync(DateTimeOffset.UtcNow, CancellationToken.None));

        File.WriteAllText(Path.Combine(node, "etc", "group"), "root:x:0:\nml-shared:x:2000:intern7\n");
        var restarted = new AccessChecks(dir.Combine("policy.yaml"), dir.Combine("access-writers.json"), node);
        var added = Assert.Single(await restarted.RunAsync(DateTimeOffset.UtcNow, CancellationToken.None));
        Assert.Equal(EventActions.AccessWriterAdded, added.Action);
        Assert.Equal(("intern7", "intern7", "/opt/envs/torch", "code", false), (added.GetString("user.name"), added.GetString("trainguard.access.account"), added.GetString("trainguard.access.asset"), added.GetString("trainguard.access.kind"), added.GetBoolean("trainguard.access.allowed")));
        Assert.Equal("TG-ACC-001", added.GetString("trainguard.finding.rule"));
        Assert.Equal("critical", added.GetString("trainguard.severity"));
        Assert.Contains("intern7 via group ml-shared (g+w on /opt/envs/torch", added.GetStrings("trainguard.access.reasons")![0], StringComparison.Ordinal);
        Assert.Equal("access", added.GetString("event.module"));

        // Nothing changed: nothing to say.
        Assert.Empty(await restarted.RunAsync(DateTimeOffset.UtcNow, CancellationToken.None));

        File.WriteAllText(Path.Combine(node, "etc", "group"), "root:x:0:\nml-shared:x:2000:\n");
        var removed = Assert.Single(await restarted.RunAsync(DateTimeOffset.UtcNow, CancellationToken.None));
        Assert.Equal((EventActions.AccessWriterRemoved, "intern7"), (removed.Action, removed.GetString("user.name")));
        Assert.Null(removed.GetString("trainguard.finding.rule"));
    }

    [Fact]
    public async Task Without_a_saved_state_every_finding_is_an_access_finding_naming_the_account()
    {
        using var dir = new TempDir();
        var node = Node(dir, "ml-shared:x:2000:intern7");
        var checks = new AccessChecks(dir.Write("policy.yaml", Policy), statePath: null, node);

        var finding = Assert.Single(await checks.RunAsync(DateTimeOffset.UtcNow, CancellationToken.None));
        Assert.Equal((EventActions.AccessFinding, "intern7", "TG-ACC-001"), (finding.Action, finding.GetString("user.name"), finding.GetString("trainguard.finding.rule")));
        Assert.Equal("/opt/envs/torch", finding.GetString("file.path"));

        // The same finding is not repeated by the same checks while it persists.
        Assert.Empty(await checks.RunAsync(DateTimeOffset.UtcNow, CancellationToken.None));
    }

    [Fact]
    public async Task Agent_run_once_runs_the_configured_access_check()
    {
        using var dir = new TempDir();
        var node = Node(dir, "ml-shared:x:2000:intern7");
        var config = new AgentConfig
        {
            StateDirectory = dir.Combine("state"),
            SpoolDirectory = dir.Combine("spool"),
            SnapshotRoot = node,
            AuditLog = null,
            AuthLog = null,
            HostName = "gpu-node-2",
            AccessPolicy = dir.Write("policy.yaml", Policy),
        };
        using var host = new AgentHost(config, TextWriter.Null);
        var output = new StringWriter();

        var events = await host.RunOnceAsync(output, CancellationToken.None);

        var finding = Assert.Single(events, e => e.Action == EventActions.AccessFinding);
        Assert.Equal(("intern7", "gpu-node-2"), (finding.GetString("user.name"), finding.GetString("host.name")));
        Assert.Contains("\"action\":\"access-finding\"", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_agent_configuration_reads_the_access_policy_and_interval()
    {
        var config = AgentConfig.Parse("access:\n  policy: /etc/trainguard/access-policy.yaml\nintervals:\n  access_seconds: 900\n");
        Assert.Equal(("/etc/trainguard/access-policy.yaml", TimeSpan.FromMinutes(15)), (config.AccessPolicy, config.AccessInterval));
        Assert.Null(AgentConfig.Parse("host_name: a\n").AccessPolicy);
        var error = Assert.ThrowsAny<Exception>(() => AgentConfig.Parse("access:\n  polcy: x\n"));
        Assert.Contains("unknown key 'polcy'", error.Message, StringComparison.Ordinal);
    }

    /// <summary>A node root whose /opt/envs/torch is mlops's (uid 1001), group 2000 with g+w (folders 0775).</summary>
    private static string Node(TempDir dir, string sharedGroupLine)
    {
        var node = dir.Combine("node");
        Directory.CreateDirectory(Path.Combine(node, "etc"));
        File.WriteAllText(Path.Combine(node, "etc", "passwd"), Passwd);
        File.WriteAllText(Path.Combine(node, "etc", "group"), "root:x:0:\n" + sharedGroupLine + "\n");
        var torch = Path.Combine(node, "opt", "envs", "torch");
        Directory.CreateDirectory(Path.Combine(torch, "optim"));
        File.WriteAllText(Path.Combine(torch, "optim", "adamw.py"), "x = 1\n");
        Run("chown", "-R", "1001:2000", torch);
        Run("chmod", "-R", "u=rwX,g=rwX,o=rX", torch);
        Run("chmod", "0755", node, Path.Combine(node, "opt"), Path.Combine(node, "opt", "envs"));
        return node;
    }

    private static void Run(string program, params string[] args)
    {
        using var process = System.Diagnostics.Process.Start(program, args);
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
    }
}
