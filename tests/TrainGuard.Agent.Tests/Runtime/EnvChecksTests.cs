using TrainGuard.Agent.Runtime;
using TrainGuard.Agent.Tests.Support;
using TrainGuard.Events;

namespace TrainGuard.Agent.Tests.Runtime;

public class EnvChecksTests
{
    [Fact]
    public async Task Scheduled_env_checks_turn_each_new_finding_into_one_event_and_do_not_repeat_it()
    {
        using var dir = new TempDir();
        var site = dir.Combine("site-packages");
        Directory.CreateDirectory(site);
        dir.Write("site-packages/evil.pth", "import os; os.system('id')\n");
        var checks = new EnvChecks([site], dir.Combine("env-state.json"));

        var first = await checks.RunAsync(DateTimeOffset.UtcNow, CancellationToken.None);
        var hook = Assert.Single(first, e => (e.GetString("file.path") ?? e.ToJsonLine()).Contains("evil.pth", StringComparison.Ordinal));
        Assert.Equal(EventActions.EnvFinding, hook.Action);
        Assert.NotNull(hook.GetString("trainguard.severity"));

        Assert.Empty(await checks.RunAsync(DateTimeOffset.UtcNow, CancellationToken.None));

        // A restarted agent remembers what it reported (state file), and reports only the new hook.
        dir.Write("site-packages/sitecustomize.py", "import socket\n");
        var restarted = new EnvChecks([site], dir.Combine("env-state.json"));
        var third = await restarted.RunAsync(DateTimeOffset.UtcNow, CancellationToken.None);
        Assert.NotEmpty(third);
        Assert.All(third, e => Assert.DoesNotContain("evil.pth", e.ToJsonLine(), StringComparison.Ordinal));
        Assert.Contains(third, e => e.ToJsonLine().Contains("sitecustomize", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_finding_names_its_files_owner_from_the_node_accounts_read_at_each_run()
    {
        using var dir = new TempDir();
        var site = dir.Combine("site-packages");
        Directory.CreateDirectory(site);
        dir.Write("site-packages/evil.pth", "import os; os.system('id')\n");
        Assert.True(TrainGuard.Agent.Common.UnixFile.TryStat(dir.Combine("site-packages", "evil.pth"), out var status, out var error), error);
        var node = dir.Combine("node");
        Directory.CreateDirectory(Path.Combine(node, "etc"));
        File.WriteAllText(Path.Combine(node, "etc", "passwd"), $"nobody:x:{status.Uid + 1}:{status.Gid + 1}::/nonexistent:/usr/sbin/nologin\n");
        var checks = new EnvChecks([site], statePath: null, nodeRoot: node);

        var before = Assert.Single(await checks.RunAsync(DateTimeOffset.UtcNow, CancellationToken.None), e => e.ToJsonLine().Contains("evil.pth", StringComparison.Ordinal));
        Assert.Equal(status.Uid.ToString(System.Globalization.CultureInfo.InvariantCulture), before.GetString("file.uid"));
        Assert.Null(before.GetString("file.owner"));

        // An account added to the node after the checks were made is named on their next run (a new finding here).
        File.AppendAllText(Path.Combine(node, "etc", "passwd"), $"intern7:x:{status.Uid}:{status.Gid}::/home/intern7:/bin/bash\n");
        dir.Write("site-packages/evil2.pth", "import os; os.system('id')\n");
        var after = Assert.Single(await checks.RunAsync(DateTimeOffset.UtcNow, CancellationToken.None), e => e.ToJsonLine().Contains("evil2.pth", StringComparison.Ordinal));
        Assert.Equal("intern7", after.GetString("file.owner"));
    }
}
