using System.Text.Json;
using System.Text.Json.Nodes;

namespace TrainGuard.Cli.Tests;

/// <summary>
/// <c>trainguard alerts list|show|ack|close|reopen</c> against a real server on 127.0.0.1 that received the recorded
/// insider incident (samples/incident) from <c>agent ship</c>: the alerts name intern7, lena's own activity raises
/// nothing, text and JSON agree, status changes need a responder token and are recorded, and refusals say what to do.
/// </summary>
public sealed class AlertsCommandTests
{
    /// <summary>The built-in rules the recorded incident must raise (docs/detections.md, "Against the recorded incident").</summary>
    public static readonly string[] ExpectedRules = ["TG-DET-001", "TG-DET-004", "TG-DET-006", "TG-DET-010", "TG-DET-011", "TG-DET-015"];

    /// <summary>The rules raised by what intern7 did with his own login (named by login uid 2007).</summary>
    public static readonly string[] Intern7Rules = ["TG-DET-001", "TG-DET-004", "TG-DET-006"];

    [Fact]
    public async Task List_shows_the_incidents_alerts_naming_intern7_and_nothing_of_lenas_own_work()
    {
        await using var env = await IncidentServer.StartAsync();
        await env.ShipIncidentAsync();

        var (code, stdout, stderr) = await CliRunner.RunAsync(["alerts", "list", .. env.With("reader")]);
        var (jsonCode, json, jsonErr) = await CliRunner.RunAsync(["alerts", "list", "-f", "json", .. env.With("reader")]);

        Assert.True(code == 1, stdout + stderr);
        Assert.True(jsonCode == 1, json + jsonErr);
        foreach (var rule in ExpectedRules)
        {
            Assert.Contains(rule, stdout, StringComparison.Ordinal);
        }

        Assert.Contains("intern7 (login uid 2007)", stdout, StringComparison.Ordinal);
        Assert.StartsWith("ID", stdout, StringComparison.Ordinal);
        Assert.Contains("SEVERITY", stdout, StringComparison.Ordinal);
        Assert.Contains("LAST SEEN", stdout, StringComparison.Ordinal);

        var report = JsonNode.Parse(json)!;
        Assert.Equal("1", report["schema_version"]!.GetValue<string>());
        Assert.Equal("alerts list", report["command"]!.GetValue<string>());
        Assert.Equal(1, report["exit_code"]!.GetValue<int>());
        var alerts = report["alerts"]!.AsArray().Select(a => a!).ToList();
        Assert.Equal(alerts.Count, report["items"]!.AsArray().Count);
        Assert.All(ExpectedRules, rule => Assert.Contains(alerts, a => a["rule"]!["id"]!.GetValue<string>() == rule));
        Assert.All(Intern7Rules, rule => Assert.Contains(alerts, a => a["rule"]!["id"]!.GetValue<string>() == rule && AccountName(a) == "intern7" && a["account"]!["login_uid"]!.GetValue<string>() == "2007"));
        Assert.DoesNotContain(alerts, a => AccountName(a) == "lena");
        Assert.All(alerts, a => Assert.Contains(a["status"]!.GetValue<string>(), new[] { "open", "acknowledged" }));
        Assert.All(alerts, a => Assert.Contains(a["id"]!.GetValue<string>(), stdout, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Filters_are_the_apis_and_an_empty_listing_exits_0()
    {
        await using var env = await IncidentServer.StartAsync();
        await env.ShipIncidentAsync();

        var (userCode, userJson, userErr) = await CliRunner.RunAsync(["alerts", "list", "--user", "intern7", "-f", "json", .. env.With("reader")]);
        var (ruleCode, ruleJson, _) = await CliRunner.RunAsync(["alerts", "list", "--rule", "TG-DET-006", "-f", "json", .. env.With("reader")]);
        var (hostCode, hostText, _) = await CliRunner.RunAsync(["alerts", "list", "--host", "gpu-node-2", .. env.With("reader")]);
        var (noneCode, noneText, noneErr) = await CliRunner.RunAsync(["alerts", "list", "--user", "lena", .. env.With("reader")]);
        var (pastCode, _, pastErr) = await CliRunner.RunAsync(["alerts", "list", "--until", "2000-01-01T00:00:00Z", .. env.With("reader")]);

        Assert.True(userCode == 1, userJson + userErr);
        var byUser = Alerts(userJson);
        Assert.NotEmpty(byUser);
        Assert.All(byUser, a => Assert.Equal("intern7", AccountName(a)));
        Assert.Equal(1, ruleCode);
        Assert.Equal("TG-DET-006", Assert.Single(Alerts(ruleJson))["rule"]!["id"]!.GetValue<string>());
        Assert.Equal(1, hostCode);
        Assert.Contains("gpu-node-2", hostText, StringComparison.Ordinal);
        Assert.DoesNotContain("TG-DET-001", hostText, StringComparison.Ordinal);
        Assert.True(noneCode == 0, noneText + noneErr);
        Assert.Contains("no alerts", noneText, StringComparison.Ordinal);
        Assert.True(pastCode == 0, pastErr);
    }

    [Fact]
    public async Task Bad_filter_values_are_refused_before_or_by_the_server_with_the_parameter_named()
    {
        await using var env = await IncidentServer.StartAsync();

        var (severityCode, _, severityErr) = await CliRunner.RunAsync(["alerts", "list", "--severity", "urgent", .. env.With("reader")]);
        var (sinceCode, _, sinceErr) = await CliRunner.RunAsync(["alerts", "list", "--since", "yesterday", .. env.With("reader")]);
        var (limitCode, _, limitErr) = await CliRunner.RunAsync(["alerts", "list", "--limit", "0", .. env.With("reader")]);
        var (cursorCode, _, cursorErr) = await CliRunner.RunAsync(["alerts", "list", "--after", "not-a-cursor", .. env.With("reader")]);

        Assert.Equal(2, severityCode);
        Assert.Contains("urgent", severityErr, StringComparison.Ordinal);
        Assert.Equal(2, sinceCode);
        Assert.Contains("--since 'yesterday'", sinceErr, StringComparison.Ordinal);
        Assert.Equal(2, limitCode);
        Assert.Contains("--limit", limitErr, StringComparison.Ordinal);
        Assert.Equal(2, cursorCode);
        Assert.Contains("400", cursorErr, StringComparison.Ordinal);
        Assert.Contains("after", cursorErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Show_gives_the_reason_the_contributing_events_and_the_rules_guidance()
    {
        await using var env = await IncidentServer.StartAsync();
        await env.ShipIncidentAsync();
        var kill = await AlertOfRuleAsync(env, "TG-DET-001", a => a["attribution"]!.GetValue<string>() == "direct");
        var id = kill["id"]!.GetValue<string>();

        var (code, stdout, stderr) = await CliRunner.RunAsync(["alerts", "show", id, .. env.With("reader")]);
        var (jsonCode, json, _) = await CliRunner.RunAsync(["alerts", "show", id, "-f", "json", .. env.With("reader")]);

        Assert.True(code == 0, stdout + stderr);
        Assert.Contains($"alert {id}", stdout, StringComparison.Ordinal);
        Assert.Contains(kill["reason"]!.GetValue<string>(), stdout.Replace("\n" + new string(' ', 15), " ", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Contains("intern7 (login uid 2007)", stdout, StringComparison.Ordinal);
        Assert.Contains("contributing events (1 shown of 1)", stdout, StringComparison.Ordinal);
        Assert.Contains("process-signal", stdout, StringComparison.Ordinal);
        Assert.Contains("sent SIGTERM via kill to process 2757", stdout, StringComparison.Ordinal);
        Assert.Contains($"ledger {kill["events"]![0]!["ledger_index"]!.GetValue<long>()}", stdout, StringComparison.Ordinal);
        Assert.Contains("what to do (TG-DET-001", stdout, StringComparison.Ordinal);
        Assert.Contains("history: none yet", stdout, StringComparison.Ordinal);
        Assert.Contains($"trainguard alerts ack {id}", stdout, StringComparison.Ordinal);
        Assert.Contains("trainguard timeline --user intern7", stdout, StringComparison.Ordinal);

        Assert.Equal(0, jsonCode);
        var report = JsonNode.Parse(json)!;
        Assert.Equal("alerts show", report["command"]!.GetValue<string>());
        Assert.Equal(id, report["alert"]!["id"]!.GetValue<string>());
        var shown = Assert.Single(report["events"]!.AsArray())!;
        Assert.Equal("process-signal", shown["event"]!["event"]!["action"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_unknown_id_is_an_error_with_the_servers_detail_and_where_to_find_ids()
    {
        await using var env = await IncidentServer.StartAsync();

        var (code, stdout, stderr) = await CliRunner.RunAsync(["alerts", "show", "alt_doesnotexist", .. env.With("reader")]);
        var (ackCode, _, ackErr) = await CliRunner.RunAsync(["alerts", "ack", "alt_doesnotexist", .. env.With("responder")]);
        var (badCode, _, badErr) = await CliRunner.RunAsync(["alerts", "show", "alt_\u001b[2J", .. env.With("reader")]);

        Assert.Equal(2, code);
        Assert.Empty(stdout);
        Assert.Contains("404", stderr, StringComparison.Ordinal);
        Assert.Contains("alt_doesnotexist", stderr, StringComparison.Ordinal);
        Assert.Contains("alerts list --status all", stderr, StringComparison.Ordinal);
        Assert.Equal(2, ackCode);
        Assert.Contains("404", ackErr, StringComparison.Ordinal);
        Assert.Equal(2, badCode);
        Assert.DoesNotContain('\u001b', badErr);
        Assert.Contains("not an alert id", badErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ack_close_and_reopen_need_a_responder_token_and_each_change_is_in_the_ledger()
    {
        await using var env = await IncidentServer.StartAsync();
        await env.ShipIncidentAsync();
        var id = (await AlertOfRuleAsync(env, "TG-DET-006"))["id"]!.GetValue<string>();

        var (readerCode, readerOut, readerErr) = await CliRunner.RunAsync(["alerts", "ack", id, .. env.With("reader")]);
        Assert.Equal(2, readerCode);
        Assert.Empty(readerOut);
        Assert.Contains("403", readerErr, StringComparison.Ordinal);
        Assert.Contains("this needs a responder token", readerErr, StringComparison.Ordinal);
        Assert.Contains("--role responder", readerErr, StringComparison.Ordinal);

        var (noTokenCode, _, noTokenErr) = await CliRunner.RunAsync("alerts", "list", "--server", env.Url);
        Assert.Equal(2, noTokenCode);
        Assert.Contains("401", noTokenErr, StringComparison.Ordinal);
        Assert.Contains("--token-file", noTokenErr, StringComparison.Ordinal);

        var size = env.Server.Log.Size;
        var (ackCode, ackOut, ackErr) = await CliRunner.RunAsync(["alerts", "ack", id, "--assignee", "alice", "--note", "looking at it", .. env.With("responder")]);
        Assert.True(ackCode == 0, ackOut + ackErr);
        Assert.Contains($"{id} is now acknowledged", ackOut, StringComparison.Ordinal);
        Assert.Contains("recorded in the ledger at index", ackOut, StringComparison.Ordinal);
        Assert.True(env.Server.Log.Size > size, "the status change was not appended to the ledger");

        var (missingCode, _, missingErr) = await CliRunner.RunAsync(["alerts", "close", id, .. env.With("responder")]);
        Assert.Equal(2, missingCode);
        Assert.Contains("--classification", missingErr, StringComparison.Ordinal);

        var (closeCode, closeJson, closeErr) = await CliRunner.RunAsync(["alerts", "close", id, "--classification", "fp", "--note", "a test account", "-f", "json", .. env.With("responder")]);
        Assert.True(closeCode == 0, closeJson + closeErr);
        var closed = JsonNode.Parse(closeJson)!["alert"]!;
        Assert.Equal("closed", closed["status"]!.GetValue<string>());
        Assert.Equal("false-positive", closed["classification"]!.GetValue<string>());
        Assert.Equal("alice", closed["assignee"]!.GetValue<string>());
        var history = closed["history"]!.AsArray();
        Assert.Equal(2, history.Count);
        Assert.Equal("a test account", history[1]!["note"]!.GetValue<string>());
        Assert.True(history[1]!["ledger_index"]!.GetValue<long>() > history[0]!["ledger_index"]!.GetValue<long>());

        Assert.DoesNotContain(Alerts((await CliRunner.RunAsync(["alerts", "list", "-f", "json", .. env.With("reader")])).Stdout), a => a["id"]!.GetValue<string>() == id);
        Assert.Contains(Alerts((await CliRunner.RunAsync(["alerts", "list", "--status", "closed", "-f", "json", .. env.With("reader")])).Stdout), a => a["id"]!.GetValue<string>() == id);

        var (showCode, shown, _) = await CliRunner.RunAsync(["alerts", "show", id, .. env.With("reader")]);
        Assert.Equal(0, showCode);
        Assert.Contains("open -> acknowledged", shown, StringComparison.Ordinal);
        Assert.Contains("acknowledged -> closed", shown, StringComparison.Ordinal);
        Assert.Contains("note \"a test account\"", shown, StringComparison.Ordinal);
        Assert.Contains($"trainguard alerts reopen {id}", shown, StringComparison.Ordinal);

        var (reopenCode, reopenOut, reopenErr) = await CliRunner.RunAsync(["alerts", "reopen", id, "--note", "it came back", .. env.With("admin")]);
        Assert.True(reopenCode == 0, reopenOut + reopenErr);
        Assert.Contains($"{id} is now open", reopenOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_an_id_the_filters_must_name_exactly_one_alert()
    {
        await using var env = await IncidentServer.StartAsync();
        await env.ShipIncidentAsync();
        var expected = (await AlertOfRuleAsync(env, "TG-DET-006"))["id"]!.GetValue<string>();

        var (code, stdout, stderr) = await CliRunner.RunAsync(["alerts", "show", "--rule", "TG-DET-006", "--user", "intern7", .. env.With("reader")]);
        var (manyCode, _, manyErr) = await CliRunner.RunAsync(["alerts", "ack", "--rule", "TG-DET-001", "--user", "intern7", .. env.With("responder")]);
        var (noneCode, _, noneErr) = await CliRunner.RunAsync(["alerts", "ack", "--rule", "TG-DET-006", "--user", "lena", .. env.With("responder")]);
        var (bothCode, _, bothErr) = await CliRunner.RunAsync(["alerts", "show", expected, "--rule", "TG-DET-006", .. env.With("reader")]);
        var (neitherCode, _, neitherErr) = await CliRunner.RunAsync(["alerts", "show", .. env.With("reader")]);
        var (reopenCode, _, reopenErr) = await CliRunner.RunAsync(["alerts", "reopen", "--rule", "TG-DET-006", .. env.With("responder")]);

        Assert.True(code == 0, stdout + stderr);
        Assert.StartsWith($"alert {expected}", stdout, StringComparison.Ordinal);
        Assert.Equal(2, manyCode);
        Assert.Contains("2 alerts match", manyErr, StringComparison.Ordinal);
        Assert.Contains("give the ID of one", manyErr, StringComparison.Ordinal);
        Assert.Equal(2, noneCode);
        Assert.Contains("no open or acknowledged alert --rule TG-DET-006 --user lena", noneErr, StringComparison.Ordinal);
        Assert.Equal(2, bothCode);
        Assert.Contains("not both", bothErr, StringComparison.Ordinal);
        Assert.Equal(2, neitherCode);
        Assert.Contains("which alert?", neitherErr, StringComparison.Ordinal);
        Assert.Equal(2, reopenCode);
        Assert.Contains("no closed alert", reopenErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_old_server_without_alerts_is_named_as_such()
    {
        using var fake = new FakeApi(_ => (404, "text/plain", "Not Found"));

        var (code, _, stderr) = await CliRunner.RunAsync("alerts", "list", "--server", fake.Url, "--token", "tgt_x");

        Assert.Equal(2, code);
        Assert.Contains("the server has no such API", stderr, StringComparison.Ordinal);
    }

    internal static async Task<JsonNode> AlertOfRuleAsync(IncidentServer env, string rule, Func<JsonNode, bool>? which = null)
    {
        var (code, json, stderr) = await CliRunner.RunAsync(["alerts", "list", "--rule", rule, "-f", "json", .. env.With("reader")]);
        Assert.True(code == 1, $"no {rule} alert: {json}{stderr}");
        return Alerts(json).First(which ?? (_ => true));
    }

    [Fact]
    public async Task The_kills_made_with_the_planted_key_are_intern7s_and_show_says_how_that_is_known()
    {
        await using var env = await IncidentServer.StartAsync();
        await env.ShipIncidentAsync();
        var planted = await AlertOfRuleAsync(env, "TG-DET-001", a => a["attribution"]!.GetValue<string>() == "planted-key");
        var id = planted["id"]!.GetValue<string>();

        var (code, stdout, stderr) = await CliRunner.RunAsync(["alerts", "show", id, .. env.With("reader")]);

        Assert.Equal("intern7", AccountName(planted));
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("account:     intern7 (login uid 2007) (attribution planted-key:", stdout, StringComparison.Ordinal);
        Assert.Contains("contributing events (2 shown of 2)", stdout, StringComparison.Ordinal);
        Assert.Contains("SIGKILL", stdout, StringComparison.Ordinal);
    }

    internal static List<JsonNode> Alerts(string json) => [.. JsonNode.Parse(json)!["alerts"]!.AsArray().Select(a => a!)];

    internal static string? AccountName(JsonNode alert) => alert["account"]?["name"]?.GetValueKind() == JsonValueKind.String ? alert["account"]!["name"]!.GetValue<string>() : null;
}
