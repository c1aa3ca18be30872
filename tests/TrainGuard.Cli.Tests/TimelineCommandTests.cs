using System.Text.Json.Nodes;

namespace TrainGuard.Cli.Tests;

/// <summary>
/// <c>trainguard timeline</c> against a real server that received the recorded incident: intern7's story in time order
/// with his victims and what he added, by name or login uid; a node's story; unknown subjects and bad usage are errors.
/// </summary>
public sealed class TimelineCommandTests
{
    [Fact]
    public async Task The_timeline_of_intern7_tells_what_he_did_to_whom_in_time_order()
    {
        await using var env = await IncidentServer.StartAsync();
        await env.ShipIncidentAsync();

        var (code, stdout, stderr) = await CliRunner.RunAsync(["timeline", "--user", "intern7", .. env.With("reader")]);
        var (jsonCode, json, _) = await CliRunner.RunAsync(["timeline", "--user", "intern7", "-f", "json", .. env.With("reader")]);
        var (uidCode, byUid, _) = await CliRunner.RunAsync(["timeline", "--user", "2007", "-f", "json", .. env.With("reader")]);

        Assert.True(code == 1, stdout + stderr);
        Assert.StartsWith("timeline of user intern7 (login uid 2007", stdout, StringComparison.Ordinal);
        Assert.Contains("process-signal", stdout, StringComparison.Ordinal);
        Assert.Contains("ALERT high", stdout, StringComparison.Ordinal);
        foreach (var rule in AlertsCommandTests.Intern7Rules)
        {
            Assert.Contains(rule, stdout, StringComparison.Ordinal);
        }

        var victims = stdout[stdout.IndexOf("victims (what the account touched):", StringComparison.Ordinal)..];
        Assert.Contains("lena", victims.Split('\n')[1], StringComparison.Ordinal);
        Assert.Contains("/home/lena/.ssh/authorized_keys", victims, StringComparison.Ordinal);

        Assert.Equal(1, jsonCode);
        var timeline = JsonNode.Parse(json)!;
        Assert.Equal("timeline", timeline["command"]!.GetValue<string>());
        Assert.Equal("user", timeline["subject"]!["kind"]!.GetValue<string>());
        Assert.Contains("2007", timeline["subject"]!["login_uids"]!.AsArray().Select(u => u!.GetValue<string>()));
        var times = timeline["entries"]!.AsArray().Select(e => DateTimeOffset.Parse(e!["at"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.NotEmpty(times);
        Assert.Equal(times.Order(), times);
        Assert.Contains("lena", timeline["victims"]!["users"]!.AsArray().Select(u => u!.GetValue<string>()));
        Assert.Equal(1, uidCode);
        Assert.Equal(timeline["entries"]!.AsArray().Count, JsonNode.Parse(byUid)!["entries"]!.AsArray().Count);
    }

    [Fact]
    public async Task A_nodes_timeline_and_a_window()
    {
        await using var env = await IncidentServer.StartAsync();
        await env.ShipIncidentAsync();

        var (code, stdout, stderr) = await CliRunner.RunAsync(["timeline", "--host", "gpu-node-2", .. env.With("reader")]);
        var (windowCode, window, windowErr) = await CliRunner.RunAsync(["timeline", "--user", "intern7", "--until", "2026-12-07T01:11:42Z", "-f", "json", .. env.With("reader")]);

        Assert.True(code == 1, stdout + stderr);
        Assert.StartsWith("timeline of host gpu-node-2", stdout, StringComparison.Ordinal);
        Assert.Contains("artifact-scanned", stdout, StringComparison.Ordinal);
        Assert.True(windowCode is 0 or 1, window + windowErr);
        Assert.All(JsonNode.Parse(window)!["entries"]!.AsArray(), e => Assert.True(DateTimeOffset.Parse(e!["at"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture) < DateTimeOffset.Parse("2026-12-07T01:11:42Z", System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public async Task An_unknown_account_and_bad_usage_are_errors_that_say_what_to_do()
    {
        await using var env = await IncidentServer.StartAsync();
        await env.ShipIncidentAsync();

        var (code, stdout, stderr) = await CliRunner.RunAsync(["timeline", "--user", "nobody", .. env.With("reader")]);
        var (bothCode, _, bothErr) = await CliRunner.RunAsync(["timeline", "--user", "intern7", "--host", "vm", .. env.With("reader")]);
        var (neitherCode, _, neitherErr) = await CliRunner.RunAsync(["timeline", .. env.With("reader")]);
        var (agentCode, _, agentErr) = await CliRunner.RunAsync(["timeline", "--user", "intern7", .. env.With("vm")]);

        Assert.Equal(2, code);
        Assert.Empty(stdout);
        Assert.Contains("404", stderr, StringComparison.Ordinal);
        Assert.Contains("nobody", stderr, StringComparison.Ordinal);
        Assert.Contains("login uid", stderr, StringComparison.Ordinal);
        Assert.Equal(2, bothCode);
        Assert.Contains("not both", bothErr, StringComparison.Ordinal);
        Assert.Equal(2, neitherCode);
        Assert.Contains("--user NAME", neitherErr, StringComparison.Ordinal);
        Assert.Equal(2, agentCode);
        Assert.Contains("403", agentErr, StringComparison.Ordinal);
    }
}
