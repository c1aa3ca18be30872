using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Tests.Support;

namespace TrainGuard.Server.Tests.Alerting;

/// <summary>
/// <c>trainguard rules run</c> replays a server's stored events through the live derivation: the alerts it prints
/// are the live server's (status changes included), on SQLite and PostgreSQL; and <c>server run --rules</c>,
/// <c>--placeholder</c>: a site's rules fire, a bad rule refuses the start naming its file and line.
/// </summary>
public sealed class RulesRunTests
{
    public static TheoryData<string> Backends => Support.Backends.All;

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Rules_run_prints_the_live_servers_alerts_for_the_same_events(string backend)
    {
        await using var harness = await AlertLifecycleTests.StartWithAlertsAsync(backend);
        var responder = await harness.NewTokenAsync(Role.Responder, "alice");
        var id = (string)(await harness.AlertsAsync("rule=TG-DET-006"))[0]["id"]!;
        using (var closed = await harness.PostStatusAsync(id, responder, new JsonObject { ["status"] = "closed", ["classification"] = "true-positive", ["note"] = "sysbackup removed" }))
        {
            Assert.Equal(HttpStatusCode.OK, closed.StatusCode);
        }

        await harness.WaitForDerivedAsync();
        var live = (await harness.AlertsAsync()).Select(Comparable).ToList();

        var (exit, stdout, stderr) = await CliRunner.RunAsync("rules", "run", "--since", "2026-12-07T00:00:00Z", "--db", harness.Database, "-f", "json");
        Assert.True(exit == 1, stderr + stdout);
        var report = JsonNode.Parse(stdout)!;
        Assert.Equal(("rules run", "suspicious", 1), ((string?)report["command"], (string?)report["verdict"], (int?)report["exit_code"]));
        var replayed = report["alerts"]!.AsArray().Select(a => Comparable(a!.AsObject())).ToList();
        Assert.Equal(4, replayed.Count);
        Assert.Equal(live, replayed);
        Assert.Contains("closed", replayed.Single(a => a.Contains(id, StringComparison.Ordinal)), StringComparison.Ordinal);

        var (textExit, text, _) = await CliRunner.RunAsync("rules", "run", "--since", "2026-12-07T00:00:00Z", "--db", harness.Database);
        Assert.Equal(1, textExit);
        Assert.Contains("intern7 (login uid 2007), logged in as lena with a key intern7 planted, sent SIGKILL to 2 processes", text, StringComparison.Ordinal);
        Assert.Contains(": 4 alerts", text, StringComparison.Ordinal);

        var (later, laterText, _) = await CliRunner.RunAsync("rules", "run", "--since", "2026-12-07T01:11:45Z", "--until", "2026-12-07T01:11:47Z", "--db", harness.Database);
        Assert.True(later == 0, laterText);
        Assert.Contains("no alert", laterText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rules_run_refuses_bad_input_with_exit_2()
    {
        var directory = TestPaths.NewTempDirectory();
        var rules = Directory.CreateDirectory(Path.Combine(directory, "rules")).FullName;
        await File.WriteAllTextAsync(Path.Combine(rules, "bad.yml"), BadRule);
        var database = "sqlite:" + Path.Combine(directory, "trainguard.db");
        await using (await Storage.ServerStores.OpenAsync(database))
        {
        }

        foreach (var (args, message) in new (string[], string)[]
        {
            (["--since", "yesterday", "--db", database], "--since"),
            (["--since", "2026-12-07T00:00:00Z", "--until", "2026-12-06T00:00:00Z", "--db", database], "--until must be after --since"),
            (["--since", "2026-12-07T00:00:00Z", "--db", "sqlite:" + Path.Combine(directory, "missing.db")], "does not exist"),
            (["--since", "2026-12-07T00:00:00Z", "--db", database, "--rules", rules], "bad.yml:9:"),
            (["--since", "2026-12-07T00:00:00Z", "--db", database, "--placeholder", "oops"], "NAME=VALUE"),
        })
        {
            var (exit, _, stderr) = await CliRunner.RunAsync(["rules", "run", .. args]);
            Assert.True(exit == 2, $"{string.Join(' ', args)}: exit {exit} {stderr}");
            Assert.True(stderr.Contains(message, StringComparison.Ordinal), stderr);
        }
    }

    [Fact]
    public async Task A_rule_that_does_not_load_refuses_the_server_start_with_its_file_and_line()
    {
        var directory = TestPaths.NewTempDirectory();
        var rules = Directory.CreateDirectory(Path.Combine(directory, "rules")).FullName;
        await File.WriteAllTextAsync(Path.Combine(rules, "bad.yml"), BadRule);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var run = CliRunner.RunAsync("server", "run", "--data-dir", directory, "--urls", "http://127.0.0.1:0", "--rules", rules);
        var (exit, stdout, stderr) = await run.WaitAsync(timeout.Token);
        Assert.Equal(2, exit);
        Assert.Contains($"{Path.Combine(rules, "bad.yml")}:9:", stderr, StringComparison.Ordinal);
        Assert.Contains("endswitch", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("listening", stdout, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task A_server_run_with_site_rules_and_placeholders_raises_their_alerts(string backend)
    {
        var directory = TestPaths.NewTempDirectory();
        var database = await Support.Backends.NewDatabaseAsync(backend, directory);
        var rules = Path.Combine(directory, "rules");
        Directory.CreateDirectory(rules);
        File.Copy(Path.Combine(TestPaths.RepositoryRoot, "samples", "rules", "site.yaml"), Path.Combine(rules, "site.yaml"));
        var (_, token, _) = await CliRunner.RunAsync("server", "token", "new", "--role", "admin", "--data-dir", directory, "--db", database);
        using var server = await ServerProcess.StartAsync(directory, database, "--rules", rules, "--placeholder", "SchedulerBinaries=/opt/sched/bin/reaper");
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token.Trim());

        var outside = new JsonObject
        {
            ["id"] = Guid.CreateVersion7().ToString(),
            ["@timestamp"] = "2026-12-07T02:00:00.000Z",
            ["event"] = new JsonObject { ["kind"] = "event", ["action"] = "user-login", ["outcome"] = "success", ["module"] = "sshd" },
            ["host"] = new JsonObject { ["name"] = "gpu-node-2" },
            ["user"] = new JsonObject { ["name"] = "lena" },
            ["source"] = new JsonObject { ["ip"] = "203.0.113.7", ["port"] = 50022 },
            ["trainguard"] = new JsonObject { ["login"] = new JsonObject { ["phase"] = "authentication" } },
        };
        var reaper = AlertLifecycleTests.Kill(5, 777, login: "4294967295", name: "root");
        reaper["process"]!["executable"] = "/opt/sched/bin/reaper";
        var stranger = AlertLifecycleTests.Kill(6, 778, login: "4294967295", name: "root");
        stranger["process"]!["executable"] = "/tmp/x";
        using (var post = await http.PostAsync("api/v1/events", new StringContent(ServerHarness.Batch([outside, reaper, stranger]), Encoding.UTF8, "application/json")))
        {
            Assert.True(post.IsSuccessStatusCode, await post.Content.ReadAsStringAsync());
        }

        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(30);
        JsonArray alerts;
        while (true)
        {
            alerts = JsonNode.Parse(await http.GetStringAsync("api/v1/alerts?status=all"))!["alerts"]!.AsArray();
            if (alerts.Count >= 2 || DateTimeOffset.UtcNow > deadline)
            {
                break;
            }

            await Task.Delay(100);
        }

        await Task.Delay(500);
        alerts = JsonNode.Parse(await http.GetStringAsync("api/v1/alerts?status=all"))!["alerts"]!.AsArray();
        Assert.Equal(
            ["5b0f3c8e-9d3a-4e1c-8f27-6a1d2b7c4e90 lena", "TG-DET-001 root"],
            alerts.Select(a => $"{a!["rule"]!["id"]} {a["account"]!["name"]}").Order(StringComparer.Ordinal));
        var kill = alerts.Single(a => (string?)a!["rule"]!["id"] == "TG-DET-001")!;
        Assert.Equal((string?)stranger["id"], (string?)kill["events"]![0]!["event_id"]);
        Assert.StartsWith("root sent SIGKILL to 1 process of 1 other user (lena) on gpu-node-1", (string?)kill["reason"], StringComparison.Ordinal);
    }

    /// <summary>A rule whose modifier is misspelt on line 9.</summary>
    private const string BadRule = """
        title: Misspelt modifier
        id: 7f1c2a3b-0000-4000-8000-000000000001
        status: experimental
        taxonomy: ecs
        logsource: {product: linux}
        level: low
        detection:
          sel:
            file.path|endswitch: /authorized_keys
          condition: sel
        """;

    /// <summary>An alert without the times only a live server stamps (created_at, updated_at).</summary>
    private static string Comparable(JsonObject alert)
    {
        var copy = alert.DeepClone().AsObject();
        copy.Remove("created_at");
        copy.Remove("updated_at");
        return copy.ToJsonString();
    }
}
