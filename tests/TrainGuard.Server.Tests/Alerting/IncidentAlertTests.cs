using System.Diagnostics;
using System.Text.Json.Nodes;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Tests.Support;

namespace TrainGuard.Server.Tests.Alerting;

/// <summary>
/// The recorded insider attack (tests/fixtures/audit/insider-incident) posted to a real server as the agent of host
/// <c>vm</c> would ship it, on SQLite and PostgreSQL: exactly the expected alerts, each naming intern7 (the kills made
/// after logging in as lena with his planted key included), nothing for lena's own activity, and his timeline.
/// </summary>
public sealed class IncidentAlertTests
{
    public static TheoryData<string> Backends => Support.Backends.All;

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task The_recorded_attack_raises_exactly_the_expected_alerts_each_naming_intern7(string backend)
    {
        await using var harness = await ServerHarness.StartAsync(backend);
        var agent = await harness.NewTokenAsync(Role.Agent, Incident.Host);
        await harness.PostInBatchesAsync(agent, Incident.TimeOrder);
        await harness.WaitForDerivedAsync();

        var alerts = await harness.AlertsAsync();
        Assert.Equal(
            ["TG-DET-001 direct", "TG-DET-001 planted-key", "TG-DET-004 direct", "TG-DET-006 direct"],
            alerts.Select(a => $"{a["rule"]!["id"]} {a["attribution"]}").Order(StringComparer.Ordinal));
        Assert.All(alerts, a =>
        {
            Assert.Equal(("intern7", Incident.Uid("intern7")), ((string?)a["account"]!["name"], (string?)a["account"]!["login_uid"]));
            Assert.StartsWith("intern7 (login uid 2007)", (string?)a["reason"], StringComparison.Ordinal);
            Assert.Equal(["vm"], a["hosts"]!.AsArray().Select(h => (string?)h));
            Assert.Equal("open", (string?)a["status"]);
            Assert.Matches("^alt_[0-9a-f]{32}$", (string?)a["id"]);
        });

        var events = await EventsByIdAsync(harness);
        var direct = Single(alerts, "TG-DET-001", "direct");
        Assert.Equal("intern7 (login uid 2007) sent SIGTERM to 1 process of 1 other user (lena) on vm within 0 s", (string?)direct["reason"]);
        Assert.Equal([Incident.Pid("rank0")], Targets(direct, events));
        Assert.Equal("high", (string?)direct["severity"]);
        Assert.Equal(65, (int?)direct["risk_score"]);

        var planted = Single(alerts, "TG-DET-001", "planted-key");
        Assert.Equal("intern7 (login uid 2007), logged in as lena with a key intern7 planted, sent SIGKILL to 2 processes of 1 other user (lena) on vm within 0 s", (string?)planted["reason"]);
        Assert.Equal([Incident.Pid("rank1"), Incident.Pid("rank0_restarted")], Targets(planted, events).Order());
        Assert.Equal(2, (long?)planted["count"]);
        Assert.Equal(70, (int?)planted["risk_score"]);

        var keys = Single(alerts, "TG-DET-004", "direct");
        Assert.Equal("intern7 (login uid 2007) wrote /home/lena/.ssh/authorized_keys owned by lena on vm", (string?)keys["reason"]);
        Assert.Equal("critical", (string?)keys["severity"]);
        var account = Single(alerts, "TG-DET-006", "direct");
        Assert.Equal("intern7 (login uid 2007) created account sysbackup (uid 0) on vm", (string?)account["reason"]);

        // Every contributing event is in the ledger at the index the alert names.
        foreach (var alert in alerts)
        {
            foreach (var e in alert["events"]!.AsArray())
            {
                Assert.Equal((long?)e!["ledger_index"], events[(string)e["event_id"]!].Index);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Findings_on_disk_without_an_actor_are_put_on_the_owner_of_their_file(string backend)
    {
        // The training node's recording: the watcher's poisoned checkpoint, env verify's edited adamw.py and ckpt check's
        // flipped optimizer, every file owned by intern7 and no audit event naming a writer.
        await using var harness = await ServerHarness.StartAsync(backend);
        var agent = await harness.NewTokenAsync(Role.Agent, "gpu-node-2");
        var events = File.ReadAllLines(System.IO.Path.Combine(TestPaths.RepositoryRoot, "tests", "fixtures", "dashboard", "gpu-node-2.jsonl"))
            .Select(line => JsonNode.Parse(line)!.AsObject())
            .Select(e => { e["host"] ??= new JsonObject { ["name"] = "gpu-node-2" }; return e; })
            .ToList();
        await harness.PostInBatchesAsync(agent, events);
        await harness.WaitForDerivedAsync();

        var alerts = await harness.AlertsAsync();
        Assert.Equal(["TG-DET-010 file-owner", "TG-DET-011 file-owner", "TG-DET-015 file-owner"], alerts.Select(a => $"{a["rule"]!["id"]} {a["attribution"]}").Order(StringComparer.Ordinal));
        Assert.All(alerts, a => Assert.Equal(("intern7", null), ((string?)a["account"]!["name"], (string?)a["account"]!["login_uid"])));
        Assert.Equal(
            "env verify found TG-ENV-001, malicious in /mnt/shared/envs/torch-2.5/lib/python3.11/site-packages/torch/optim/adamw.py owned by intern7 on gpu-node-2",
            (string?)Single(alerts, "TG-DET-010", "file-owner")["reason"]);
        Assert.StartsWith("checkpoint /mnt/shared/users/lena/llama-ft-7b/checkpoint-6 owned by intern7 inspected (TG-CKP-020", (string?)Single(alerts, "TG-DET-015", "file-owner")["reason"], StringComparison.Ordinal);

        // The same findings with an actor (or no owner) are not put on anyone's file.
        await using var other = await ServerHarness.StartAsync(backend);
        var token = await other.NewTokenAsync(Role.Agent, "gpu-node-2");
        var anonymous = events.Select(e => { var copy = e.DeepClone().AsObject(); copy["file"]!.AsObject().Remove("owner"); return copy; }).ToList();
        await other.PostInBatchesAsync(token, anonymous);
        await other.WaitForDerivedAsync();
        Assert.All(await other.AlertsAsync(), a => Assert.Equal("direct", (string?)a["attribution"]));

        var timeline = await harness.GetJsonAsync("api/v1/timeline?user=intern7");
        Assert.Contains(timeline["entries"]!.AsArray(), entry => ((string?)entry!["summary"])?.Contains("env verify found TG-ENV-001 (malicious) in", StringComparison.Ordinal) == true);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task The_colleagues_own_kill_and_logins_raise_nothing(string backend)
    {
        await using var harness = await ServerHarness.StartAsync(backend);
        var agent = await harness.NewTokenAsync(Role.Agent, Incident.Host);
        await harness.PostInBatchesAsync(agent, Incident.TimeOrder);
        await harness.WaitForDerivedAsync();

        var alerts = await harness.AlertsAsync();
        var inAlerts = alerts.SelectMany(a => a["events"]!.AsArray().Select(e => (string)e!["event_id"]!)).ToHashSet(StringComparer.Ordinal);
        var own = Incident.TimeOrder.Where(e =>
                (Path(e, "trainguard", "target", "pid") is { } pid && (long)pid == Incident.Pid("eval"))
                || (string?)Path(e, "trainguard", "ssh", "key_fingerprint") == Incident.Account("lena", "key"))
            .Select(e => (string)e["id"]!)
            .ToList();
        Assert.Equal(3, own.Count);
        Assert.DoesNotContain(own, inAlerts.Contains);
        Assert.DoesNotContain(alerts, a => (string?)a["account"]!["name"] == "lena");
        Assert.Equal([], (await harness.AlertsAsync("status=all&user=lena")).Select(a => (string?)a["id"]));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task With_the_snapshots_key_event_the_planted_key_login_is_an_alert_on_intern7(string backend)
    {
        await using var harness = await ServerHarness.StartAsync(backend);
        var agent = await harness.NewTokenAsync(Role.Agent, Incident.Host);
        var events = Incident.TimeOrder.ToList();
        var login = events.FindIndex(e => (string?)Path(e, "trainguard", "ssh", "key_fingerprint") == Incident.Account("intern7", "planted_key"));
        events.Insert(login, Incident.PlantedKeyAdded());
        await harness.PostInBatchesAsync(agent, events);
        await harness.WaitForDerivedAsync();

        var alerts = await harness.AlertsAsync();
        var recent = Single(alerts, "TG-DET-005", "planted-key");
        Assert.Equal(("intern7", "2007"), ((string?)recent["account"]!["name"], (string?)recent["account"]!["login_uid"]));
        Assert.Contains("logged in as lena with key SHA256:i+wFshFRZjYOqgRgnLZl/keeDsTBdDpl6KaOP0XzhKg", (string?)recent["reason"], StringComparison.Ordinal);
        Assert.Equal(
            new JsonObject { ["host.name"] = "vm", ["trainguard.ssh.key_fingerprint"] = Incident.Account("intern7", "planted_key") }.ToJsonString(),
            recent["group_by"]!.ToJsonString());
        Assert.Equal(5, alerts.Count);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Collector_order_gives_the_same_alerts_as_time_order(string backend)
    {
        var shapes = new List<IReadOnlyList<string>>();
        foreach (var order in new[] { Incident.TimeOrder, Incident.CollectorOrder })
        {
            await using var harness = await ServerHarness.StartAsync(backend);
            var agent = await harness.NewTokenAsync(Role.Agent, Incident.Host);
            await harness.PostInBatchesAsync(agent, order, batch: 25);
            await harness.WaitForDerivedAsync();
            shapes.Add([.. (await harness.AlertsAsync()).Select(AlertApi.Shape).Order(StringComparer.Ordinal)]);
        }

        Assert.Equal(4, shapes[0].Count);
        Assert.Equal(shapes[0], shapes[1]);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Intern7s_timeline_holds_his_events_across_accounts_his_alerts_and_his_victims(string backend)
    {
        await using var harness = await ServerHarness.StartAsync(backend);
        var agent = await harness.NewTokenAsync(Role.Agent, Incident.Host);
        await harness.PostInBatchesAsync(agent, Incident.TimeOrder);
        await harness.WaitForDerivedAsync();

        var byName = await harness.GetJsonAsync("api/v1/timeline?user=intern7");
        var byUid = await harness.GetJsonAsync("api/v1/timeline?user=2007");
        Assert.Equal(byName["entries"]!.ToJsonString(), byUid["entries"]!.ToJsonString());
        Assert.Equal(["2007"], byName["subject"]!["login_uids"]!.AsArray().Select(v => (string?)v));
        Assert.Equal(["intern7"], byName["subject"]!["names"]!.AsArray().Select(v => (string?)v));

        var entries = byName["entries"]!.AsArray().Select(e => e!.AsObject()).ToList();
        var times = entries.Select(e => (string)e["at"]!).ToList();
        Assert.Equal(times.Order(StringComparer.Ordinal), times);
        Assert.Equal(4, entries.Count(e => (string?)e["kind"] == "alert"));
        var kills = entries.Where(e => (string?)e["action"] == "process-signal").ToList();
        Assert.Equal(3, kills.Count);
        Assert.Contains(kills, k => (string?)k["summary"] == "intern7 (as lena) sent SIGKILL to pid 2758 (lena, python3)");
        Assert.All(kills, k => Assert.Single(k["alert_ids"]!.AsArray()));
        Assert.DoesNotContain(entries, e => (string?)e["summary"] is { } s && s.Contains("2759", StringComparison.Ordinal));

        var victims = byName["victims"]!;
        Assert.Equal(["lena"], Strings(victims["users"]));
        Assert.Equal(["2757 python3 (lena)", "2758 python3 (lena)", "2949 python3 (lena)"], Strings(victims["processes"]));
        Assert.Equal(["vm"], Strings(victims["hosts"]));
        Assert.Equal(["/home/lena/.ssh/authorized_keys"], Strings(victims["files"]));
        Assert.Equal([Incident.Account("intern7", "planted_key")], Strings(byName["added"]!["keys"]));
        Assert.Equal(["sysbackup (uid 0)"], Strings(byName["added"]!["accounts"]));
        Assert.False((bool)byName["truncated"]!);

        var host = await harness.GetJsonAsync("api/v1/timeline?host=vm&limit=10");
        Assert.True((bool)host["truncated"]!);
        Assert.Equal(10, host["entries"]!.AsArray().Count(e => (string?)e!["kind"] == "event"));

        using var nobody = await harness.GetAsync("api/v1/timeline?user=nobody", harness.ReaderToken);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, nobody.StatusCode);
        Assert.Equal("no events for user 'nobody'", (string?)JsonNode.Parse(await nobody.Content.ReadAsStringAsync())!["detail"]);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task An_alert_is_stored_within_a_second_of_the_acknowledged_post(string backend)
    {
        await using var harness = await ServerHarness.StartAsync(backend);
        var agent = await harness.NewTokenAsync(Role.Agent, Incident.Host);
        var events = Incident.TimeOrder;
        var kill = events.ToList().FindIndex(e => (string?)Path(e, "event", "action") == "process-signal");
        await harness.PostInBatchesAsync(agent, [.. events.Take(kill)]);
        await harness.WaitForDerivedAsync();
        Assert.Single(await harness.AlertsAsync()); // the authorized_keys write

        await harness.PostEventsAsAsync(agent, events[kill]);
        var acknowledged = Stopwatch.StartNew();
        while ((await harness.AlertsAsync("rule=TG-DET-001")).Count == 0)
        {
            Assert.True(acknowledged.Elapsed < TimeSpan.FromSeconds(1), "no alert within 1 s of the acknowledged POST");
            await Task.Delay(10);
        }
    }

    private static JsonObject Single(List<JsonObject> alerts, string rule, string attribution) =>
        Assert.Single(alerts, a => (string?)a["rule"]!["id"] == rule && (string?)a["attribution"] == attribution);

    private static async Task<Dictionary<string, (long Index, JsonObject Event)>> EventsByIdAsync(ServerHarness harness)
    {
        var page = await harness.GetJsonAsync("api/v1/events?limit=1000");
        return page["events"]!.AsArray().ToDictionary(e => (string)e!["event"]!["id"]!, e => ((long)e!["index"]!, e["event"]!.AsObject()), StringComparer.Ordinal);
    }

    private static List<long> Targets(JsonObject alert, Dictionary<string, (long Index, JsonObject Event)> events) =>
        [.. alert["events"]!.AsArray().Select(e => (long)Path(events[(string)e!["event_id"]!].Event, "trainguard", "target", "pid")!)];

    private static JsonNode? Path(JsonObject e, params string[] path)
    {
        JsonNode? node = e;
        foreach (var name in path)
        {
            node = node is JsonObject o ? o[name] : null;
        }

        return node;
    }

    private static List<string?> Strings(JsonNode? array) => [.. array!.AsArray().Select(v => (string?)v)];
}
