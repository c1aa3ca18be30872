using System.Text.Json.Nodes;
using TrainGuard.Server.Tests.Support;

namespace TrainGuard.Server.Tests.Alerting;

/// <summary>
/// Account names, process names and paths are attacker-controlled: markup, control characters and 10 kB strings in
/// the events come back in alerts, timelines and webhooks as escaped, bounded data, never as markup or extra lines.
/// </summary>
public sealed class HostileAlertInputTests
{
    public static TheoryData<string> Backends => Support.Backends.All;

    private static readonly string Markup = "<script>alert(1)</script><!channel>";
    private static readonly string Control = "evil\u001b[31m\nFAKE: all clear\r\u0007";
    private static readonly string Huge = new('A', 10_000);

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Hostile_account_and_process_names_come_back_as_escaped_bounded_data(string backend)
    {
        await using var harness = await ServerHarness.StartAsync(backend);
        var kill = AlertLifecycleTests.Kill(1, 4242, host: "gpu-node-1", login: "6666", name: Markup + Control);
        kill["trainguard"]!["target"]!["name"] = Control + Huge;
        kill["trainguard"]!["target"]!["user"]!["audit"]!["name"] = Huge;
        await harness.PostEventsAsAsync(harness.AgentToken, kill);
        await harness.WaitForDerivedAsync();

        using var response = await harness.GetAsync("api/v1/alerts?status=all", harness.ReaderToken);
        var raw = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("<script>", raw, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b", raw, StringComparison.Ordinal);
        var alert = Assert.Single(JsonNode.Parse(raw)!["alerts"]!.AsArray())!;
        var reason = (string)alert["reason"]!;
        Assert.DoesNotContain(reason, char.IsControl);
        Assert.Contains("\\x1b[31m\\nFAKE: all clear", reason, StringComparison.Ordinal);
        Assert.Contains(Markup, reason, StringComparison.Ordinal); // as data: the JSON writer escaped it, the sentence names it
        Assert.True(reason.Length < 1000, $"the reason is {reason.Length} characters");
        var account = (string)alert["account"]!["name"]!;
        Assert.StartsWith("<script>", account, StringComparison.Ordinal);
        Assert.DoesNotContain(account, char.IsControl);

        var timeline = await harness.GetAsync("api/v1/timeline?user=6666", harness.ReaderToken);
        var text = await timeline.Content.ReadAsStringAsync();
        Assert.DoesNotContain("<script>", text, StringComparison.Ordinal);
        var parsed = JsonNode.Parse(text)!;
        var summary = (string)parsed["entries"]!.AsArray().First(e => (string?)e!["kind"] == "event")!["summary"]!;
        Assert.DoesNotContain(summary, char.IsControl);
        Assert.True(summary.Length < 1000, $"the summary is {summary.Length} characters");
        Assert.All(parsed["victims"]!["processes"]!.AsArray(), p => Assert.True(((string)p!).Length < 600));
    }
}
