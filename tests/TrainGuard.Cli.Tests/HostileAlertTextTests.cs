using System.Globalization;
using System.Text.Json.Nodes;
using TrainGuard.Events;

namespace TrainGuard.Cli.Tests;

/// <summary>
/// Text an attacker chose (a user name, a process name, a key comment, a host name) reaches the responder's terminal
/// only as data: control characters, terminal escape sequences (CSI, OSC, C1), line breaks and invisible formatting
/// characters (bidirectional overrides, zero-width) are shown escaped, in every field of <c>alerts list</c>,
/// <c>alerts show</c> and <c>timeline</c>, from a real server and from answers no real server would send.
/// </summary>
public sealed class HostileAlertTextTests
{
    /// <summary>Clears the screen, sets the window title, a C1 CSI, a right-to-left override, an isolate, a zero-width space, a line break that forges a line.</summary>
    private const string Hostile = "\u001b[2J\u001b]0;pwned\u0007ev\u009b31mil\u202e\u2066\u200b\r\nFORGED LINE";

    [Fact]
    public async Task A_user_name_that_would_clear_the_screen_is_shown_escaped_from_a_real_server()
    {
        await using var env = await IncidentServer.StartAsync();
        var kill = File.ReadLines(IncidentServer.Incident("vm.jsonl")).Select(EventRecord.Parse).First(e => e.Action == "process-signal" && e.GetString("user.audit.name") == "intern7");
        kill.Id = "01a24e0e-0000-7000-8000-00000000e5c1";
        kill.Set("user.audit.id", "6666").Set("user.audit.name", Hostile).Set("user.name", Hostile).Set("process.command_line", Hostile);
        var file = Path.Combine(env.Directory, "hostile.jsonl");
        await File.WriteAllTextAsync(file, kill.ToJsonLine() + "\n");
        var (shipCode, shipOut, shipErr) = await CliRunner.RunAsync(["agent", "ship", file, .. env.With("vm")]);
        Assert.True(shipCode == 0, shipOut + shipErr);
        await env.AlertsDerivedAsync();

        var (listCode, list, listErr) = await CliRunner.RunAsync(["alerts", "list", .. env.With("reader")]);
        Assert.True(listCode == 1, list + listErr);
        var id = (await AlertsCommandTests.AlertOfRuleAsync(env, "TG-DET-001"))["id"]!.GetValue<string>();
        var (showCode, show, showErr) = await CliRunner.RunAsync(["alerts", "show", id, .. env.With("reader")]);
        var (timelineCode, timeline, timelineErr) = await CliRunner.RunAsync(["timeline", "--user", "6666", .. env.With("reader")]);

        Assert.True(showCode == 0, show + showErr);
        Assert.True(timelineCode == 1, timeline + timelineErr);
        foreach (var output in new[] { list, show, timeline })
        {
            AssertInert(output);
            Assert.Contains("\\x1b[2J", output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Every_field_of_an_alert_and_a_timeline_is_inert_even_when_no_real_server_would_send_it()
    {
        using var fake = new FakeApi(request => request.Url!.AbsolutePath switch
        {
            "/api/v1/alerts" => (200, "application/json", new JsonObject { ["alerts"] = new JsonArray(HostileAlert()), ["next"] = Hostile }.ToJsonString()),
            var p when p.StartsWith("/api/v1/alerts/", StringComparison.Ordinal) => (200, "application/json", HostileAlert().ToJsonString()),
            var p when p.StartsWith("/api/v1/events/", StringComparison.Ordinal) => (200, "application/json", HostileEvent().ToJsonString()),
            "/api/v1/timeline" => (200, "application/json", HostileTimeline().ToJsonString()),
            _ => (404, "application/problem+json", new JsonObject { ["title"] = "Not Found", ["status"] = 404, ["detail"] = Hostile }.ToJsonString()),
        });
        string[] server = ["--server", fake.Url, "--token", "tgt_test"];

        var (listCode, list, _) = await CliRunner.RunAsync(["alerts", "list", .. server]);
        var (showCode, show, _) = await CliRunner.RunAsync(["alerts", "show", "alt_1", .. server]);
        var (timelineCode, timeline, _) = await CliRunner.RunAsync(["timeline", "--user", "x", .. server]);
        var (ackCode, ack, _) = await CliRunner.RunAsync(["alerts", "ack", "alt_1", .. server]);
        var (errorCode, _, error) = await CliRunner.RunAsync(["alerts", "show", "alt_2/..", .. server]);
        var (notFoundCode, _, notFound) = await CliRunner.RunAsync(["timeline", "--host", "h", "--server", fake.Url + "nowhere/", "--token", "tgt_test"]);

        Assert.Equal(1, listCode);
        Assert.Equal(0, showCode);
        Assert.Equal(1, timelineCode);
        Assert.Equal(0, ackCode);
        Assert.Equal(2, errorCode);
        Assert.Equal(2, notFoundCode);
        foreach (var output in new[] { list, show, timeline, ack, error, notFound })
        {
            AssertInert(output);
        }

        Assert.Contains("\\x1b[2J", list, StringComparison.Ordinal);
        Assert.Contains("\\u202e", list, StringComparison.Ordinal);
        Assert.Contains("\\u200b", show, StringComparison.Ordinal);
        Assert.Contains("\\x9b31m", timeline, StringComparison.Ordinal);
        Assert.Contains("\\x1b[2J", notFound, StringComparison.Ordinal);

        // JSON keeps the data as it is, escaped by the JSON writer: no raw escape reaches the terminal either.
        var (jsonCode, json, _) = await CliRunner.RunAsync(["alerts", "list", "-f", "json", .. server]);
        Assert.Equal(1, jsonCode);
        Assert.DoesNotContain('\u001b', json);
        Assert.Equal(Hostile, JsonNode.Parse(json)!["alerts"]![0]!["account"]!["name"]!.GetValue<string>());
    }

    /// <summary>No control character but the line feed, no C1 control, no invisible formatting character; no forged line.</summary>
    private static void AssertInert(string output)
    {
        foreach (var c in output)
        {
            Assert.False(c != '\n' && (char.IsControl(c) || CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.Format), $"U+{(int)c:X4} reached the output:\n{output}");
        }

        Assert.DoesNotContain(output.Split('\n'), line => line.TrimStart().StartsWith("FORGED LINE", StringComparison.Ordinal));
    }

    private static JsonObject HostileAlert() => new()
    {
        ["id"] = "alt_1" + Hostile,
        ["rule"] = new JsonObject { ["id"] = "TG-DET-001" + Hostile, ["title"] = Hostile, ["level"] = Hostile, ["guidance"] = Hostile, ["description"] = Hostile },
        ["severity"] = "high",
        ["risk_score"] = 73,
        ["reason"] = Hostile,
        ["account"] = new JsonObject { ["name"] = Hostile, ["login_uid"] = Hostile },
        ["attribution"] = Hostile,
        ["hosts"] = new JsonArray(Hostile, "vm"),
        ["group_by"] = new JsonObject { [Hostile] = Hostile },
        ["first_seen"] = Hostile,
        ["last_seen"] = "2026-12-07T01:11:43.997Z",
        ["count"] = 1,
        ["events"] = new JsonArray(new JsonObject { ["event_id"] = "e1", ["ledger_index"] = 3 }, new JsonObject { ["event_id"] = Hostile, ["ledger_index"] = 4 }),
        ["status"] = "open",
        ["classification"] = Hostile,
        ["assignee"] = Hostile,
        ["history"] = new JsonArray(new JsonObject { ["at"] = Hostile, ["by"] = Hostile, ["from"] = Hostile, ["to"] = Hostile, ["classification"] = Hostile, ["assignee"] = Hostile, ["note"] = Hostile, ["ledger_index"] = 5 }),
        ["created_at"] = Hostile,
        ["updated_at"] = Hostile,
    };

    private static JsonObject HostileEvent() => new()
    {
        ["id"] = "e1",
        ["index"] = 3,
        ["tree_size"] = 4,
        ["checkpoint"] = "test",
        ["inclusion_proof"] = new JsonArray(),
        ["event"] = new JsonObject
        {
            ["@timestamp"] = Hostile,
            ["event"] = new JsonObject { ["action"] = Hostile },
            ["host"] = new JsonObject { ["name"] = Hostile },
            ["user"] = new JsonObject { ["name"] = Hostile, ["audit"] = new JsonObject { ["name"] = "intern7" + Hostile } },
            ["process"] = new JsonObject { ["command_line"] = Hostile },
        },
    };

    private static JsonObject HostileTimeline() => new()
    {
        ["subject"] = new JsonObject { ["kind"] = "user", ["value"] = Hostile, ["login_uids"] = new JsonArray(Hostile), ["names"] = new JsonArray(Hostile) },
        ["entries"] = new JsonArray(
            new JsonObject { ["at"] = Hostile, ["kind"] = "event", ["ledger_index"] = 3, ["event_id"] = Hostile, ["host"] = Hostile, ["action"] = Hostile, ["summary"] = Hostile, ["alert_ids"] = new JsonArray(Hostile) },
            new JsonObject { ["at"] = "2026-12-07T01:11:44Z", ["kind"] = "alert", ["alert_id"] = Hostile, ["rule_id"] = Hostile, ["severity"] = Hostile, ["summary"] = Hostile }),
        ["victims"] = new JsonObject { ["users"] = new JsonArray(Hostile), ["runs"] = new JsonArray(Hostile), ["processes"] = new JsonArray(Hostile), ["hosts"] = new JsonArray(Hostile), ["files"] = new JsonArray(Hostile) },
        ["added"] = new JsonObject { ["keys"] = new JsonArray(Hostile), ["accounts"] = new JsonArray(Hostile) },
        ["truncated"] = true,
    };
}
