using System.Text;
using System.Text.Json;
using TrainGuard.Detections.Tests.Support;
using TrainGuard.Events;
using TrainGuard.Parsing;

namespace TrainGuard.Detections.Tests;

/// <summary>The engine's inputs (UTF-8 JSON, JsonElement, EventRecord), hostile events, and the rule index.</summary>
public sealed class EngineTests
{
    private static readonly DetectionRuleSet Set = SigmaTest.Load(SigmaTest.Header + """
        detection:
          sel: {event.action: process-signal, trainguard.signal.name: SIGKILL}
          condition: sel
        ---
        title: Many kills
        id: TG-DET-002
        level: high
        description: d
        x-trainguard: {guidance: g}
        correlation: {type: event_count, rules: [TG-DET-001], group-by: [host.name], timespan: 5m, condition: {gte: 2}, generate: true}
        """);

    private static string Kill(double minutes) => SigmaTest.At(minutes, """ "event":{"action":"process-signal"},"trainguard":{"signal":{"name":"SIGKILL"}},"host":{"name":"n1"}""");

    [Fact]
    public void Events_are_accepted_as_utf8_json_json_elements_and_event_records_alike()
    {
        var json = Kill(0);
        var fromBytes = SigmaTest.Run(Set, json);

        var engine = Set.CreateEngine();
        var hits = new List<DetectionHit>();
        using (var document = JsonDocument.Parse(json))
        {
            engine.Process(document.RootElement, 0, hits);
        }

        engine.Process(EventRecord.Parse(Kill(1)), 1, hits);
        Assert.Equal(fromBytes.Select(h => h.ToString()), hits.Take(1).Select(h => h.ToString()));
        Assert.Equal(["TG-DET-001 event 0", "TG-DET-001 event 1", "TG-DET-002 onset [host.name=n1] count 2 events [0,1]"], hits.Select(h => h.ToString()));
        Assert.Equal(new DateTimeOffset(2026, 11, 22, 10, 1, 0, TimeSpan.Zero), hits[^1].Timestamp);
    }

    [Theory]
    [InlineData("[1,2]", "must be a JSON object")]
    [InlineData("\"x\"", "must be a JSON object")]
    [InlineData("{\"a\":", "not valid JSON")]
    [InlineData("{\"a\":1} {}", "not valid JSON")]
    [InlineData("{\"a\":1,}", "not valid JSON")]
    [InlineData("{\"event\":{\"action\":\"\\ud800\"}}", "not valid")]
    [InlineData("", "not valid JSON")]
    public void A_malformed_event_is_refused_and_changes_no_state(string json, string expected)
    {
        var engine = Set.CreateEngine();
        SigmaTest.Run(engine, Kill(0));
        var ex = Assert.Throws<MalformedInputException>(() => SigmaTest.Run(engine, json));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.Equal(InputErrorKind.Syntax, ex.Kind);

        // The window still holds the first kill: the next one completes the pair.
        Assert.Contains(SigmaTest.Run(engine, Kill(1)), h => h.Rule.Id == "TG-DET-002");
        Assert.Equal(2, engine.Stats.Events);
    }

    [Fact]
    public void Invalid_utf8_and_over_deep_or_oversized_events_are_malformed_input()
    {
        var engine = Set.CreateEngine();
        var hits = new List<DetectionHit>();
        var badUtf8 = Encoding.UTF8.GetBytes("{\"event\":{\"action\":\"process-signal\"},\"trainguard\":{\"signal\":{\"name\":\"SIGKILL\"}},\"host\":{\"name\":\"X\"}}");
        badUtf8[^5] = 0xFF;
        Assert.Throws<MalformedInputException>(() => engine.Process(badUtf8, 0, hits));

        var deep = new string('[', 100) + new string(']', 100);
        Assert.Throws<MalformedInputException>(() => engine.Process(Encoding.UTF8.GetBytes("{\"a\":" + deep + "}"), 0, hits));

        var small = SigmaTest.Load(SigmaTest.Header + "detection: {sel: {event.action: x}, condition: sel}\n", new DetectionOptions { MaxEventBytes = 64 });
        var ex = Assert.Throws<MalformedInputException>(() => small.CreateEngine().Process(new byte[65], 0, hits));
        Assert.True(ex.LimitExceeded);
    }

    [Fact]
    public void A_member_given_twice_counts_with_both_values()
    {
        var set = SigmaTest.Detection("{sel: {user.name: mallory}, condition: sel}");
        Assert.True(SigmaTest.Fires(set, """{"user":{"name":"alice"},"user":{"name":"mallory"}}"""));
        Assert.True(SigmaTest.Fires(set, """{"user":{"name":"mallory"},"user.name":"alice"}"""));
    }

    [Fact]
    public void Rules_are_evaluated_only_on_events_with_their_action_or_required_field()
    {
        var set = SigmaTest.Load("""
            title: By action
            id: TG-DET-001
            taxonomy: ecs
            logsource: {product: linux}
            level: low
            description: d
            x-trainguard: {guidance: g}
            detection: {sel: {event.action: [process-signal, USER-LOGIN]}, condition: sel}
            ---
            title: By field
            id: TG-DET-002
            taxonomy: ecs
            logsource: {product: linux}
            level: low
            description: d
            x-trainguard: {guidance: g}
            detection: {sel: {file.path|endswith: /authorized_keys}, condition: sel}
            ---
            title: Everywhere
            id: TG-DET-003
            taxonomy: ecs
            logsource: {product: linux}
            level: low
            description: d
            x-trainguard: {guidance: g}
            detection: {sel: {file.path|endswith: /authorized_keys}, condition: not sel}
            """);
        var engine = set.CreateEngine();
        var hits = SigmaTest.Run(engine,
            """{"event":{"action":"user-login"}}""",
            """{"event":{"action":"file-changed"},"file":{"path":"/root/.ssh/authorized_keys"}}""",
            """{"event":{"action":["process-signal","Process-Signal"]}}""",
            """{"event":{"action":"other"}}""");
        Assert.Equal(["TG-DET-001 event 0", "TG-DET-003 event 0", "TG-DET-002 event 1", "TG-DET-001 event 2", "TG-DET-003 event 2", "TG-DET-003 event 3"], hits.Select(h => h.ToString()));

        // event 0: 001 and 003; event 1: 002 and 003; event 2: 001 (once) and 003; event 3: 003.
        Assert.Equal(7, engine.Stats.RuleEvaluations);
    }
    [Fact]
    public void Rules_anchored_on_exact_values_of_other_fields_are_evaluated_only_when_every_anchor_holds()
    {
        static string Rule(string id, string detection) => $$"""
            title: Rule {{id}}
            id: {{id}}
            taxonomy: ecs
            logsource: {product: linux}
            level: low
            description: d
            x-trainguard: {guidance: g}
            detection: {{detection}}
            """;
        var set = SigmaTest.Load(string.Join("\n---\n",
            Rule("TG-DET-001", "{sel: {event.action: user-login, user.name: [Alice, bob], trainguard.ssh.method: password}, condition: sel}"),
            Rule("TG-DET-002", "{sel: {user.name|cased: Alice, trainguard.forged: 'true'}, condition: sel}"),
            Rule("TG-DET-003", "{sel: {source.port: '22', user.name: [alice, carol]}, condition: sel}"),
            Rule("TG-DET-004", "{sel: {user.name: alice}, other: {trainguard.ssh.method: password}, condition: sel or other}")));
        var engine = set.CreateEngine();
        var hits = SigmaTest.Run(engine,
            """{"event":{"action":"user-login"},"user":{"name":["carol","ALICE"]},"trainguard":{"ssh":{"method":"PASSWORD"},"forged":true},"source":{"port":22}}""",
            """{"event":{"action":"user-login"},"user":{"name":"bob"},"trainguard":{"ssh":{"method":"publickey"}}}""",
            """{"event":{"action":"user-logout"},"user":{"name":"Alice"},"trainguard":{"ssh":{"method":"password"},"forged":"TRUE"}}""",
            """{"event":{"action":"other"},"user":{"name":"dave"},"source":{"port":"22"}}""");

        // event 0: 001 (ALICE, PASSWORD), 003 (22 as a number, carol), 004; 002 is cased (ALICE is not Alice).
        // event 1: nothing (publickey; bob is no anchor of 003 or 004). event 2: 002 (forged TRUE), 004. event 3: nothing.
        Assert.Equal(["TG-DET-001 event 0", "TG-DET-003 event 0", "TG-DET-004 event 0", "TG-DET-002 event 2", "TG-DET-004 event 2"], hits.Select(h => h.ToString()));

        // Evaluated: 001 on event 0 only (action, method and a name all hold; on event 1 the method does not); 002 on 0 and
        // 2 (forged holds; its cased test is not indexed); 003 on 0 (port and name); 004 (an 'or') on all four.
        Assert.Equal(8, engine.Stats.RuleEvaluations);
    }
}
