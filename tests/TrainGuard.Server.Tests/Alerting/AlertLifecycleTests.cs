using System.Net;
using System.Text.Json.Nodes;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Tests.Support;

namespace TrainGuard.Server.Tests.Alerting;

/// <summary>
/// Alert status changes over the API on a real server (SQLite and PostgreSQL): who may make them, what each answers,
/// the <c>alert-status-changed</c> event each appends to the ledger, and how a closed alert stops folding.
/// </summary>
public sealed class AlertLifecycleTests
{
    public static TheoryData<string> Backends => Support.Backends.All;

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task A_reader_may_not_change_a_status_and_a_responder_may_with_a_ledger_event(string backend)
    {
        await using var harness = await StartWithAlertsAsync(backend);
        var alert = (await harness.AlertsAsync("rule=TG-DET-001"))[0];
        var id = (string)alert["id"]!;

        using (var reader = await harness.PostStatusAsync(id, harness.ReaderToken, new JsonObject { ["status"] = "acknowledged" }))
        {
            Assert.Equal(HttpStatusCode.Forbidden, reader.StatusCode);
        }

        using (var agent = await harness.PostStatusAsync(id, harness.AgentToken, new JsonObject { ["status"] = "acknowledged" }))
        {
            Assert.Equal(HttpStatusCode.Forbidden, agent.StatusCode);
        }

        var responder = await harness.NewTokenAsync(Role.Responder, "alice");
        var size = await harness.Server.Store.Ledger.SizeAsync();
        using var ack = await harness.PostStatusAsync(id, responder, new JsonObject { ["status"] = "acknowledged", ["note"] = "looking" });
        var text = await ack.Content.ReadAsStringAsync();
        Assert.True(ack.StatusCode == HttpStatusCode.OK, text);
        var answered = JsonNode.Parse(text)!.AsObject();
        Assert.Equal(("acknowledged", "alice"), ((string?)answered["status"], (string?)answered["assignee"]));
        var entry = Assert.Single(answered["history"]!.AsArray())!;
        Assert.Equal(("open", "acknowledged", "looking", size), ((string?)entry["from"], (string?)entry["to"], (string?)entry["note"], (long)entry["ledger_index"]!));
        Assert.Matches(@"^alice \(responder token [0-9a-f]{12}\)$", (string?)entry["by"]);

        // The change is an event in the ledger, at the index the history names, saying who, when and why.
        var stored = await harness.GetJsonAsync($"api/v1/events?action=alert-status-changed");
        var e = Assert.Single(stored["events"]!.AsArray())!;
        Assert.Equal(size, (long)e["index"]!);
        var alertPart = e["event"]!["trainguard"]!["alert"]!;
        Assert.Equal((id, "open", "acknowledged", "looking"), ((string?)alertPart["id"], (string?)alertPart["from"], (string?)alertPart["to"], (string?)alertPart["note"]));
        Assert.Equal(("responder", "alice"), ((string?)e["event"]!["trainguard"]!["submitter"]!["role"], (string?)e["event"]!["user"]!["name"]));

        // A responder reads what a reader reads; the alert as stored shows the change.
        var shown = await harness.GetJsonAsync($"api/v1/alerts/{id}", responder);
        Assert.Equal("acknowledged", (string?)shown["status"]);
        Assert.Single((await harness.AlertsAsync("status=acknowledged")));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Bad_changes_are_refused_with_problem_json(string backend)
    {
        await using var harness = await StartWithAlertsAsync(backend);
        var id = (string)(await harness.AlertsAsync("rule=TG-DET-001"))[0]["id"]!;
        var responder = await harness.NewTokenAsync(Role.Responder, "alice");
        var size = await harness.Server.Store.Ledger.SizeAsync();

        await ExpectAsync(HttpStatusCode.BadRequest, "classification", id, new JsonObject { ["status"] = "closed" });
        await ExpectAsync(HttpStatusCode.BadRequest, "classification", id, new JsonObject { ["status"] = "closed", ["classification"] = "probably-fine" });
        await ExpectAsync(HttpStatusCode.BadRequest, "status", id, new JsonObject { ["status"] = "resolved" });
        await ExpectAsync(HttpStatusCode.BadRequest, "unknown member", id, new JsonObject { ["status"] = "acknowledged", ["severity"] = "low" });
        await ExpectAsync(HttpStatusCode.BadRequest, "note", id, new JsonObject { ["status"] = "acknowledged", ["note"] = new string('n', 5000) });
        await ExpectAsync(HttpStatusCode.Conflict, "open already", id, new JsonObject { ["status"] = "open" });
        await ExpectAsync(HttpStatusCode.NotFound, "no alert", "alt_00000000000000000000000000000000", new JsonObject { ["status"] = "acknowledged" });
        await ExpectAsync(HttpStatusCode.NotFound, "no alert", "alt_%3Cscript%3E", new JsonObject { ["status"] = "acknowledged" });
        Assert.Equal(size, await harness.Server.Store.Ledger.SizeAsync());

        using (var get = await harness.GetAsync("api/v1/alerts/alt_00000000000000000000000000000000", harness.ReaderToken))
        {
            Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
            Assert.Equal("application/problem+json", get.Content.Headers.ContentType?.MediaType);
        }

        foreach (var (query, parameter) in new[] { ("status=done", "status"), ("severity=urgent", "severity"), ("since=yesterday", "since"), ("until=2026-13-01T00:00:00Z", "until"), ("limit=0", "limit"), ("limit=1001", "limit"), ("after=garbage", "after") })
        {
            using var bad = await harness.GetAsync("api/v1/alerts?" + query, harness.ReaderToken);
            var problem = JsonNode.Parse(await bad.Content.ReadAsStringAsync())!;
            Assert.True(bad.StatusCode == HttpStatusCode.BadRequest, query);
            Assert.Contains(parameter, (string?)problem["detail"], StringComparison.Ordinal);
        }

        async Task ExpectAsync(HttpStatusCode status, string detail, string alertId, JsonObject body)
        {
            using var response = await harness.PostStatusAsync(alertId, responder, body);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(status == response.StatusCode, $"{body.ToJsonString()}: {(int)response.StatusCode} {text}");
            if (status != HttpStatusCode.NotFound || !alertId.Contains('%', StringComparison.Ordinal))
            {
                Assert.Contains(detail, (string?)JsonNode.Parse(text)!["detail"], StringComparison.Ordinal);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task A_closed_alert_stops_folding_and_reopening_works(string backend)
    {
        await using var harness = await ServerHarness.StartAsync(backend);
        var responder = await harness.NewTokenAsync(Role.Responder, "alice");
        await harness.PostEventsAsAsync(harness.AgentToken, Kill(1, 2757));
        await harness.WaitForDerivedAsync();
        var first = Assert.Single(await harness.AlertsAsync());
        var id = (string)first["id"]!;

        await harness.PostEventsAsAsync(harness.AgentToken, Kill(2, 2758));
        await harness.WaitForDerivedAsync();
        Assert.Equal(2, (long)Assert.Single(await harness.AlertsAsync())["count"]!);

        using (var close = await harness.PostStatusAsync(id, responder, new JsonObject { ["status"] = "closed", ["classification"] = "true-positive", ["note"] = "account locked" }))
        {
            Assert.Equal(HttpStatusCode.OK, close.StatusCode);
            var closed = JsonNode.Parse(await close.Content.ReadAsStringAsync())!;
            Assert.Equal(("closed", "true-positive"), ((string?)closed["status"], (string?)closed["classification"]));
        }

        Assert.Empty(await harness.AlertsAsync("status=open"));
        await harness.PostEventsAsAsync(harness.AgentToken, Kill(3, 2759));
        await harness.WaitForDerivedAsync();
        var all = await harness.AlertsAsync();
        Assert.Equal(2, all.Count);
        var second = Assert.Single(all, a => (string?)a["status"] == "open");
        Assert.NotEqual(id, (string?)second["id"]);
        Assert.Equal(1, (long)second["count"]!);
        Assert.Equal(2, (long)Assert.Single(all, a => (string?)a["id"] == id)["count"]!);

        using (var reopen = await harness.PostStatusAsync(id, responder, new JsonObject { ["status"] = "open", ["note"] = "not over" }))
        {
            var reopened = JsonNode.Parse(await reopen.Content.ReadAsStringAsync())!;
            Assert.Equal(HttpStatusCode.OK, reopen.StatusCode);
            Assert.Equal(("open", null), ((string?)reopened["status"], (string?)reopened["classification"]));
            Assert.Equal(["closed:true-positive", "open:"], reopened["history"]!.AsArray().Select(h => $"{h!["to"]}:{h["classification"]}"));
        }

        // Once the deriver has read the reopening from the ledger, the old alert folds again (the newer open one keeps its own).
        await harness.WaitForDerivedAsync();
        await harness.RestartAsync();
        await harness.WaitForDerivedAsync();
        Assert.Equal(2, (await harness.AlertsAsync("status=open")).Count);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Filters_and_pages_list_the_expected_alerts_newest_first(string backend)
    {
        await using var harness = await StartWithAlertsAsync(backend);
        var all = await harness.AlertsAsync();
        Assert.Equal(4, all.Count);
        var lastSeen = all.Select(a => (string)a["last_seen"]!).ToList();
        Assert.Equal(lastSeen.OrderDescending(StringComparer.Ordinal), lastSeen);

        var paged = await harness.AlertsAsync("status=all&limit=1");
        Assert.Equal(all.Select(a => (string?)a["id"]), paged.Select(a => (string?)a["id"]));
        Assert.Equal(2, (await harness.AlertsAsync("rule=TG-DET-001")).Count);
        Assert.Equal(2, (await harness.AlertsAsync("severity=critical")).Count);
        Assert.Equal(4, (await harness.AlertsAsync("user=2007&host=vm")).Count);
        Assert.Equal(4, (await harness.AlertsAsync("user=intern7")).Count);
        Assert.Empty(await harness.AlertsAsync("host=gpu01"));
        Assert.Empty(await harness.AlertsAsync("since=2026-12-08T00:00:00Z"));
        Assert.Empty(await harness.AlertsAsync("until=2026-12-07T01:00:00Z"));
        Assert.Equal(4, (await harness.AlertsAsync("since=2026-12-07T01:00:00Z&until=2026-12-07T02:00:00Z")).Count);
        Assert.Empty(await harness.AlertsAsync("status=closed"));

        using var anonymous = await harness.GetAsync("api/v1/alerts", token: null);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        using var agent = await harness.GetAsync("api/v1/alerts", harness.AgentToken);
        Assert.Equal(HttpStatusCode.Forbidden, agent.StatusCode);
    }

    /// <summary>A server that has derived the recorded incident's alerts.</summary>
    internal static async Task<ServerHarness> StartWithAlertsAsync(string backend)
    {
        var harness = await ServerHarness.StartAsync(backend);
        var agent = await harness.NewTokenAsync(Role.Agent, Incident.Host);
        await harness.PostInBatchesAsync(agent, Incident.TimeOrder, batch: 30);
        await harness.WaitForDerivedAsync();
        return harness;
    }

    /// <summary>intern7 killing lena's process <paramref name="pid"/> on gpu-node-1, <paramref name="n"/> minutes into the hour.</summary>
    internal static JsonObject Kill(int n, long pid, string host = "gpu-node-1", string login = "2007", string name = "intern7") => new()
    {
        ["id"] = Guid.CreateVersion7().ToString(),
        ["@timestamp"] = ServerHarness.EventRecordTime(new DateTimeOffset(2026, 12, 7, 1, n, 0, TimeSpan.Zero)),
        ["event"] = new JsonObject { ["kind"] = "event", ["action"] = "process-signal", ["module"] = "auditd", ["outcome"] = "success" },
        ["host"] = new JsonObject { ["name"] = host },
        ["user"] = new JsonObject { ["audit"] = new JsonObject { ["id"] = login, ["name"] = name }, ["id"] = login, ["name"] = name },
        ["process"] = new JsonObject { ["pid"] = 3000 + n, ["executable"] = "/usr/bin/kill", ["session_id"] = 40 },
        ["trainguard"] = new JsonObject
        {
            ["signal"] = new JsonObject { ["name"] = "SIGKILL", ["number"] = 9 },
            ["target"] = new JsonObject { ["pid"] = pid, ["name"] = "python3", ["user"] = new JsonObject { ["id"] = "2001", ["name"] = "lena", ["audit"] = new JsonObject { ["id"] = "2001", ["name"] = "lena" } } },
            ["cross_user"] = true,
        },
    };
}
