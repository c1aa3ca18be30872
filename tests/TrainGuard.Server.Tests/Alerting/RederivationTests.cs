using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Hosting;
using TrainGuard.Server.Tests.Support;

namespace TrainGuard.Server.Tests.Alerting;

/// <summary>
/// Alerts re-derived from the ledger on start: a server that stored events without deriving them (its deriver's state
/// dropped, as a kill -9 drops it), or was killed with SIGKILL mid-stream, makes the same alerts, under the same ids,
/// as a server that derived every event live; a correlation whose window spans the restart still fires.
/// </summary>
public sealed class RederivationTests
{
    public static TheoryData<string> Backends => Support.Backends.All;

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Events_stored_while_nothing_derived_them_give_the_live_alerts_after_a_restart(string backend)
    {
        var live = await LiveAlertsAsync(backend);

        // The first half derived live, the second half stored by a server whose deriver never ran, then a restart.
        await using var harness = await ServerHarness.StartAsync(backend);
        var agent = await harness.NewTokenAsync(Role.Agent, Incident.Host);
        var events = Incident.TimeOrder;
        var half = events.Count / 2;
        await harness.PostInBatchesAsync(agent, [.. events.Take(half)]);
        await harness.WaitForDerivedAsync();
        await harness.RestartAsync(NoDeriving);
        await harness.PostInBatchesAsync(agent, [.. events.Skip(half)]);
        Assert.True(await harness.Server.Alerts.ReadCursorAsync() < await harness.Server.Store.Ledger.SizeAsync());

        await harness.RestartAsync(o => o);
        await harness.WaitForDerivedAsync();
        Assert.Equal(live, await StoredAsync(harness));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task A_correlation_spanning_a_restart_still_fires(string backend)
    {
        await using var harness = await ServerHarness.StartAsync(backend);
        await harness.PostEventsAsAsync(harness.AgentToken, AlertLifecycleTests.Kill(1, 100, "gpu01"), AlertLifecycleTests.Kill(2, 101, "gpu02"));
        await harness.WaitForDerivedAsync();
        Assert.DoesNotContain(await harness.AlertsAsync(), a => (string?)a["rule"]!["id"] == "TG-DET-002");

        await harness.RestartAsync();
        await harness.PostEventsAsAsync(harness.AgentToken, AlertLifecycleTests.Kill(4, 102, "gpu03"));
        await harness.WaitForDerivedAsync();
        var many = Assert.Single(await harness.AlertsAsync("rule=TG-DET-002"));
        Assert.Equal(("intern7", "2007", "critical"), ((string?)many["account"]!["name"], (string?)many["account"]!["login_uid"], (string?)many["severity"]));
        Assert.Equal("intern7 (login uid 2007) sent SIGKILL to 3 processes of 1 other user (lena) on 3 nodes (gpu01, gpu02, gpu03) within 3 minutes", (string?)many["reason"]);
        Assert.Equal(3, (long)many["count"]!);
        Assert.Equal(new JsonObject { ["user.audit.id"] = "2007" }.ToJsonString(), many["group_by"]!.ToJsonString());
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Killing_the_server_process_mid_stream_loses_no_alert(string backend)
    {
        var live = await LiveAlertsAsync(backend);
        var directory = TestPaths.NewTempDirectory();
        var database = await Support.Backends.NewDatabaseAsync(backend, directory);
        var (exit, token, stderr) = await CliRunner.RunAsync("server", "token", "new", "--role", "agent", "--host", Incident.Host, "--data-dir", directory, "--db", database);
        Assert.True(exit == 0, stderr);
        var (_, reader, _) = await CliRunner.RunAsync("server", "token", "new", "--role", "reader", "--data-dir", directory, "--db", database);

        // Batches of 7, a SIGKILL right after every third acknowledged batch (mostly before its alerts are derived).
        var events = Incident.TimeOrder;
        var sent = 0;
        var kills = 0;
        while (sent < events.Count)
        {
            using var server = await ServerProcess.StartAsync(directory, database);
            using var http = new HttpClient { BaseAddress = server.BaseAddress };
            for (var batch = 0; batch < 3 && sent < events.Count; batch++, sent += 7)
            {
                var body = ServerHarness.Batch(events.Skip(sent).Take(7));
                using var request = new HttpRequestMessage(HttpMethod.Post, "api/v1/events") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token.Trim());
                using var answer = await http.SendAsync(request);
                Assert.True(answer.IsSuccessStatusCode, await answer.Content.ReadAsStringAsync());
            }

            await server.KillAsync();
            kills++;
        }

        Assert.True(kills >= 3);
        await using var harness = await ServerHarness.StartAtAsync(directory, database, o => o with { Origin = null });
        await harness.WaitForDerivedAsync();
        Assert.Equal(live, await StoredAsync(harness, reader.Trim()));
    }

    private static ServerOptions NoDeriving(ServerOptions options) => options with { Alerts = options.Alerts with { Derive = false } };

    /// <summary>The alerts a server that derives every event live makes of the incident: id and shape.</summary>
    private static async Task<List<string>> LiveAlertsAsync(string backend)
    {
        await using var harness = await ServerHarness.StartAsync(backend);
        var agent = await harness.NewTokenAsync(Role.Agent, Incident.Host);
        await harness.PostInBatchesAsync(agent, Incident.TimeOrder);
        await harness.WaitForDerivedAsync();
        var alerts = await StoredAsync(harness);
        Assert.Equal(4, alerts.Count);
        return alerts;
    }

    private static async Task<List<string>> StoredAsync(ServerHarness harness, string? token = null) =>
        [.. (await harness.AlertsAsync(token: token)).Select(a => $"{a["id"]} {AlertApi.Shape(a)} {a["reason"]} {a["first_seen"]} {a["last_seen"]}").Order(StringComparer.Ordinal)];
}
