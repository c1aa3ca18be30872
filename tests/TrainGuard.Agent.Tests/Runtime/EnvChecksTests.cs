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
}
