using System.Text.Json.Nodes;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Hosting;
using TrainGuard.Server.Tests.Support;

namespace TrainGuard.Server.Tests.Alerting;

/// <summary>
/// <c>agent-silent</c>: the server opens an alert for an agent whose latest heartbeat is older than its announced
/// interval × the silent factor, updates it when the agent returns (it stays open for a responder), and opens a new
/// one for the next silence.
/// </summary>
public sealed class AgentSilentTests
{
    public static TheoryData<string> Backends => Support.Backends.All;

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task A_silent_agent_raises_an_alert_that_says_when_it_came_back(string backend)
    {
        await using var harness = await ServerHarness.StartAsync(backend, Fast);
        var agent = await harness.NewTokenAsync(Role.Agent, "gpu-node-7");
        await harness.PostEventsAsAsync(agent, Heartbeat("gpu-node-7", 1));
        await harness.PostEventsAsAsync(harness.AgentToken, Heartbeat("gpu-node-8", 3600));

        var silent = await WaitForAsync(harness, "rule=agent-silent", 1);
        var alert = silent[0];
        Assert.Equal(("agent-silent", "high", 60), ((string?)alert["rule"]!["id"], (string?)alert["severity"], (int?)alert["risk_score"]));
        Assert.Equal(["gpu-node-7"], alert["hosts"]!.AsArray().Select(h => (string?)h));
        Assert.Null((string?)alert["account"]!["name"]);
        Assert.StartsWith("the agent on gpu-node-7 sent no heartbeat after ", (string?)alert["reason"], StringComparison.Ordinal);
        Assert.Contains("it announced one every 1 s; silent after 2 intervals", (string?)alert["reason"], StringComparison.Ordinal);
        Assert.Single(alert["events"]!.AsArray());

        await harness.PostEventsAsAsync(agent, Heartbeat("gpu-node-7", 1));
        await harness.WaitForDerivedAsync();
        var back = await harness.GetJsonAsync($"api/v1/alerts/{alert["id"]}");
        Assert.Contains("; it came back at ", (string?)back["reason"], StringComparison.Ordinal);
        Assert.Equal("open", (string?)back["status"]);

        // Quiet again: a new silence, a new alert.
        var again = await WaitForAsync(harness, "rule=agent-silent", 2);
        Assert.NotEqual((string?)again[0]["id"], (string?)again[1]["id"]);
        Assert.DoesNotContain(again, a => ((string?)a["reason"])!.Contains("gpu-node-8", StringComparison.Ordinal));
    }

    private static ServerOptions Fast(ServerOptions options) =>
        options with { Alerts = options.Alerts with { SilentFactor = 2, CheckInterval = TimeSpan.FromMilliseconds(100) } };

    private static async Task<List<JsonObject>> WaitForAsync(ServerHarness harness, string query, int count)
    {
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            var alerts = await harness.AlertsAsync("status=all&" + query);
            if (alerts.Count >= count)
            {
                return alerts;
            }

            Assert.True(DateTimeOffset.UtcNow < deadline, $"{alerts.Count} alerts for {query}, expected {count}");
            await Task.Delay(100);
        }
    }

    private static JsonObject Heartbeat(string host, double interval) => new()
    {
        ["id"] = Guid.CreateVersion7().ToString(),
        ["@timestamp"] = ServerHarness.EventRecordTime(DateTimeOffset.UtcNow),
        ["event"] = new JsonObject { ["kind"] = "state", ["action"] = "agent-heartbeat", ["module"] = "agent" },
        ["host"] = new JsonObject { ["name"] = host },
        ["trainguard"] = new JsonObject { ["agent"] = new JsonObject { ["interval_seconds"] = interval, ["uptime_seconds"] = 5 } },
    };
}
