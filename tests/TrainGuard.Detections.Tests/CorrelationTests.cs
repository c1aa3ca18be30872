using TrainGuard.Detections.Correlation;
using TrainGuard.Detections.Tests.Support;

namespace TrainGuard.Detections.Tests;

/// <summary>event_count, value_count, temporal and temporal_ordered correlations: windows, groups, conditions, chains, bounds.</summary>
public sealed class CorrelationTests
{
    private const string KillRule = """
        title: Signal to another user's process
        name: kill_other_user
        taxonomy: ecs
        logsource: {product: linux, service: auditd}
        detection:
          sel: {event.action: process-signal, trainguard.cross_user: true}
          condition: sel
        """;

    private const string Meta = """
        level: high
        description: A correlation under test.
        x-trainguard: {guidance: Look at the account.}
        """;

    private static string Kill(double minutes, string auid, string host = "node1") =>
        SigmaTest.At(minutes, $$$""" "event":{"action":"process-signal"},"trainguard":{"cross_user":true},"user":{"audit":{"id":"{{{auid}}}"}},"host":{"name":"{{{host}}}"}""");

    private static string OwnKill(double minutes, string auid) =>
        SigmaTest.At(minutes, $$$""" "event":{"action":"process-signal"},"trainguard":{"cross_user":false},"user":{"audit":{"id":"{{{auid}}}"}},"host":{"name":"node1"}""");

    private static DetectionRuleSet Correlation(string correlation, string rules = KillRule, DetectionOptions? options = null) =>
        SigmaTest.Load(rules + "\n---\ntitle: Correlation under test\nid: TG-DET-010\ncorrelation:\n" + SigmaTest.Indent(correlation) + "\n" + Meta, options);

    [Fact]
    public void Event_count_fires_when_a_group_reaches_the_count_within_the_timespan()
    {
        var set = Correlation("type: event_count\nrules: [kill_other_user]\ngroup-by: [user.audit.id]\ntimespan: 5m\ncondition: {gte: 3}");
        var hits = SigmaTest.Run(set, Kill(0, "1600"), Kill(1, "1600"), Kill(1.5, "1601"), OwnKill(2, "1600"), Kill(4, "1600"), Kill(4.5, "1600"));

        Assert.Equal(["TG-DET-010 onset [user.audit.id=1600] count 3 events [0,1,4]", "TG-DET-010 continued [user.audit.id=1600] count 3 events [1,4,5]"], hits.Select(h => h.ToString()));
        var first = hits[0];
        Assert.Equal(CorrelationType.EventCount, first.Rule.CorrelationType);
        Assert.Equal(new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero), first.FirstSeen);
        Assert.Equal(new DateTimeOffset(2026, 11, 22, 10, 4, 0, TimeSpan.Zero), first.LastSeen);
        Assert.Equal(4, first.EventRef);
    }

    [Fact]
    public void Event_count_window_slides_and_the_bound_is_inclusive()
    {
        var set = Correlation("type: event_count\nrules: [kill_other_user]\ngroup-by: [user.audit.id]\ntimespan: 5m\ncondition: {gte: 3}");

        // 0, 4, 9, 13: no three within any five minutes.
        Assert.Empty(SigmaTest.Run(set, Kill(0, "1600"), Kill(4, "1600"), Kill(9, "1600"), Kill(13, "1600")));

        // 0, 3, 5: exactly five minutes from first to last counts; a sliding window sees it across any boundary.
        Assert.Single(SigmaTest.Run(set, Kill(0, "1600"), Kill(3, "1600"), Kill(5, "1600")));
        Assert.Single(SigmaTest.Run(set, Kill(4, "1600"), Kill(6, "1600"), Kill(8.9, "1600")));
    }

    [Fact]
    public void A_correlation_fires_again_only_after_its_condition_stopped_holding()
    {
        var set = Correlation("type: event_count\nrules: [kill_other_user]\ngroup-by: [user.audit.id]\ntimespan: 5m\ncondition: {gte: 2}");
        var hits = SigmaTest.Run(set, Kill(0, "1600"), Kill(1, "1600"), Kill(2, "1600"), Kill(30, "1600"), Kill(31, "1600"));
        Assert.Equal([true, false, true], hits.Select(h => h.Onset));
        Assert.Equal([1L, 2, 4], hits.Select(h => h.EventRef));
    }

    [Fact]
    public void Value_count_counts_distinct_values_of_the_field_per_group()
    {
        var set = Correlation("type: value_count\nrules: [kill_other_user]\ngroup-by: [user.audit.id]\ntimespan: 15m\ncondition: {field: host.name, gte: 3}");
        var hits = SigmaTest.Run(set,
            Kill(0, "1600", "node1"),
            Kill(1, "1600", "node1"),
            Kill(2, "1600", "node2"),
            Kill(3, "1601", "node3"),
            Kill(14, "1600", "node2"),
            Kill(16.5, "1600", "node3"),
            Kill(17, "1600", "node4"));

        // node1 (last seen at 1) has left the window at 16.5: node2, node3 are two; node4 makes three.
        var hit = Assert.Single(hits);
        Assert.Equal("TG-DET-010 onset [user.audit.id=1600] count 3 events [4,5,6]", hit.ToString());
    }

    [Fact]
    public void Value_count_fires_for_three_nodes_within_the_window()
    {
        var set = Correlation("type: value_count\nrules: [kill_other_user]\ngroup-by: [user.audit.id]\ntimespan: 15m\ncondition: {field: host.name, gte: 3}");
        var hit = Assert.Single(SigmaTest.Run(set, Kill(0, "1600", "gpu1"), Kill(2, "1600", "gpu2"), Kill(4, "1600", "gpu3")));
        Assert.Equal(3, hit.Count);
        Assert.Equal([0L, 1, 2], hit.EventRefs);
    }

    [Theory]
    [InlineData("{gt: 2}", new[] { 3, 3, 3 })]
    [InlineData("{gte: 2, lte: 3}", new[] { 2, 3 })]
    [InlineData("{gt: 1, lt: 4}", new[] { 2, 3 })]
    [InlineData("{eq: 4}", new[] { 4 })]
    [InlineData("{gte: 2, neq: 3}", new[] { 2, 4, 4 })]
    public void Event_count_conditions_hold_for_the_counts_they_say(string condition, int[] countsThatHold)
    {
        // A group keeps what its condition needs (gt 2: three events), so a count beyond it is reported at that bound.
        var set = Correlation($"type: event_count\nrules: [kill_other_user]\ngroup-by: [user.audit.id]\ntimespan: 1h\ncondition: {condition}");
        var hits = SigmaTest.Run(set, Kill(0, "1600"), Kill(1, "1600"), Kill(2, "1600"), Kill(3, "1600"), Kill(4, "1600"));
        Assert.Equal(countsThatHold.Select(c => (long)c), hits.Select(h => h.Count));
    }

    [Fact]
    public void An_empty_group_by_correlates_every_event_in_one_group()
    {
        var set = Correlation("type: value_count\nrules: [kill_other_user]\ngroup-by: []\ntimespan: 5m\ncondition: {field: user.audit.id, gte: 2}");
        var hit = Assert.Single(SigmaTest.Run(set, Kill(0, "1600"), Kill(1, "1601")));
        Assert.Empty(hit.GroupBy);
    }

    [Fact]
    public void Several_group_by_fields_must_all_be_equal()
    {
        var set = Correlation("type: event_count\nrules: [kill_other_user]\ngroup-by: [user.audit.id, host.name]\ntimespan: 5m\ncondition: {gte: 2}");
        Assert.Empty(SigmaTest.Run(set, Kill(0, "1600", "a"), Kill(1, "1600", "b"), Kill(2, "1601", "a")));
        var hit = Assert.Single(SigmaTest.Run(set, Kill(0, "1600", "a"), Kill(1, "1600", "a")));
        Assert.Equal([KeyValuePair.Create("user.audit.id", "1600"), KeyValuePair.Create("host.name", "a")], hit.GroupBy);
    }

    [Fact]
    public void Group_values_cannot_forge_another_group()
    {
        // Joined naively, ("a:b", "c") and ("a", "b:c") would be the same key.
        var set = Correlation("type: event_count\nrules: [kill_other_user]\ngroup-by: [user.audit.id, host.name]\ntimespan: 5m\ncondition: {gte: 2}");
        Assert.Empty(SigmaTest.Run(set, Kill(0, "1:2", "3"), Kill(1, "1", "2:3"), Kill(2, "1:", "23")));
    }

    private const string KeyRules = """
        title: SSH key added
        name: ssh_key_added
        taxonomy: ecs
        logsource: {product: linux, service: snapshot}
        detection:
          sel: {event.action: ssh-key-added}
          condition: sel
        ---
        title: Login with a key
        name: ssh_key_login
        taxonomy: ecs
        logsource: {product: linux, service: sshd}
        detection:
          sel: {event.action: user-login, trainguard.ssh.method: publickey}
          condition: sel
        """;

    private static string KeyAdded(double minutes, string fingerprint, string host = "gpu1") =>
        SigmaTest.At(minutes, $$$""" "event":{"action":"ssh-key-added"},"trainguard":{"ssh":{"key_fingerprint":"{{{fingerprint}}}"}},"host":{"name":"{{{host}}}"}""");

    private static string KeyLogin(double minutes, string fingerprint, string host = "gpu1") =>
        SigmaTest.At(minutes, $$$""" "event":{"action":"user-login"},"trainguard":{"ssh":{"method":"publickey","key_fingerprint":"{{{fingerprint}}}"}},"host":{"name":"{{{host}}}"}""");

    [Fact]
    public void Temporal_fires_when_every_rule_matched_in_the_window_in_any_order()
    {
        var set = Correlation("type: temporal\nrules: [ssh_key_added, ssh_key_login]\ngroup-by: [trainguard.ssh.key_fingerprint]\ntimespan: 1h", KeyRules);
        Assert.Single(SigmaTest.Run(set, KeyAdded(0, "SHA256:k1"), KeyLogin(10, "SHA256:k1")));
        Assert.Single(SigmaTest.Run(set, KeyLogin(0, "SHA256:k1"), KeyAdded(10, "SHA256:k1")));
        Assert.Empty(SigmaTest.Run(set, KeyAdded(0, "SHA256:k1"), KeyLogin(61, "SHA256:k1")));
        Assert.Empty(SigmaTest.Run(set, KeyLogin(0, "SHA256:k1"), KeyLogin(10, "SHA256:k1")));
    }

    [Fact]
    public void Temporal_enforces_group_by_across_every_referenced_rule()
    {
        // The bug another engine shipped: events of different rules correlated although their group-by values differ.
        var set = Correlation("type: temporal\nrules: [ssh_key_added, ssh_key_login]\ngroup-by: [trainguard.ssh.key_fingerprint, host.name]\ntimespan: 1h", KeyRules);
        Assert.Empty(SigmaTest.Run(set, KeyAdded(0, "SHA256:k1"), KeyLogin(5, "SHA256:k2")));
        Assert.Empty(SigmaTest.Run(set, KeyAdded(0, "SHA256:k1", "gpu1"), KeyLogin(5, "SHA256:k1", "gpu2")));
        var hit = Assert.Single(SigmaTest.Run(set, KeyAdded(0, "SHA256:k1", "gpu1"), KeyLogin(5, "SHA256:k2", "gpu1"), KeyLogin(6, "SHA256:k1", "gpu1")));
        Assert.Equal([0L, 2], hit.EventRefs);

        // An event without a group-by field joins no group (it is counted, not grouped as empty).
        var engine = set.CreateEngine();
        Assert.Empty(SigmaTest.Run(engine, KeyAdded(0, "SHA256:k1"), SigmaTest.At(1, """ "event":{"action":"user-login"},"trainguard":{"ssh":{"method":"publickey"}},"host":{"name":"gpu1"}""")));
        Assert.Equal(1, engine.Stats.MissingGroupFields);
    }

    [Fact]
    public void Temporal_condition_can_ask_for_some_of_the_rules()
    {
        var rules = KeyRules + "\n---\n" + KillRule;
        var set = Correlation("type: temporal\nrules: [ssh_key_added, ssh_key_login, kill_other_user]\ngroup-by: [host.name]\ntimespan: 1h\ncondition: {gte: 2}", rules);
        var hit = Assert.Single(SigmaTest.Run(set, KeyAdded(0, "k", "node1"), Kill(5, "1600", "node1")));
        Assert.Equal(2, hit.Count);
    }

    private static string StepRule(string step) => $$"""
        title: Step {{step}}
        name: step_{{step}}
        taxonomy: ecs
        logsource: {product: linux}
        detection: {sel: {event.action: step-{{step}}}, condition: sel}
        """;

    private static readonly string StepRules = StepRule("a") + "\n---\n" + StepRule("b") + "\n---\n" + StepRule("c");

    private static string Step(double minutes, string step, string user = "1600") =>
        SigmaTest.At(minutes, $$$""" "event":{"action":"step-{{{step}}}"},"user":{"audit":{"id":"{{{user}}}"}}""");

    private const string Ordered = "type: temporal_ordered\nrules: [step_a, step_b, step_c]\ngroup-by: [user.audit.id]\ntimespan: 10m";

    [Theory]
    [InlineData("abc", true)]
    [InlineData("acb", false)]
    [InlineData("bac", false)]
    [InlineData("cab", false)]
    [InlineData("ab", false)]
    [InlineData("aacb", false)]
    [InlineData("acbc", true)]
    [InlineData("bacabc", true)]
    [InlineData("abab", false)]
    public void Temporal_ordered_checks_the_order_of_every_rule_not_only_the_first(string steps, bool fires)
    {
        // The bug another engine shipped: only the first rule's position was checked, so a, c, b fired.
        var set = Correlation(Ordered, StepRules);
        var events = steps.Select((s, i) => Step(i, s.ToString())).ToArray();
        Assert.Equal(fires, SigmaTest.Run(set, events).Count > 0);
    }

    [Fact]
    public void Temporal_ordered_needs_the_whole_chain_within_the_timespan_and_one_group()
    {
        var set = Correlation(Ordered, StepRules);
        Assert.Empty(SigmaTest.Run(set, Step(0, "a"), Step(5, "b"), Step(11, "c")));
        Assert.Single(SigmaTest.Run(set, Step(0, "a"), Step(2, "a"), Step(7, "b"), Step(11, "c")));
        Assert.Empty(SigmaTest.Run(set, Step(0, "a", "1600"), Step(1, "b", "1601"), Step(2, "c", "1600")));
        Assert.Empty(SigmaTest.Run(set, Step(0, "a", "1600"), Step(1, "b", "1600"), Step(2, "c", "1601")));

        // Order is by timestamp: a late-arriving b stamped before a does not follow it.
        Assert.Empty(SigmaTest.Run(set, Step(1, "a"), Step(0, "b"), Step(2, "c")));
    }

    [Theory]
    [InlineData("temporal")]
    [InlineData("temporal_ordered")]
    public void Temporal_types_enforce_every_group_by_field_on_every_rule_not_only_against_the_first(string type)
    {
        // Three rules, two group-by fields: the third event agrees with the first on one field only, and the second
        // disagrees with the third; none of these may complete a group.
        var set = Correlation($"type: {type}\nrules: [step_a, step_b, step_c]\ngroup-by: [user.audit.id, host.name]\ntimespan: 10m", StepRules);
        string At(double minutes, string step, string user, string host) =>
            SigmaTest.At(minutes, $$$""" "event":{"action":"step-{{{step}}}"},"user":{"audit":{"id":"{{{user}}}"}},"host":{"name":"{{{host}}}"}""");

        Assert.Empty(SigmaTest.Run(set, At(0, "a", "1600", "n1"), At(1, "b", "1600", "n1"), At(2, "c", "1600", "n2")));
        Assert.Empty(SigmaTest.Run(set, At(0, "a", "1600", "n1"), At(1, "b", "1601", "n1"), At(2, "c", "1600", "n1")));
        Assert.Empty(SigmaTest.Run(set, At(0, "a", "1600", "n1"), At(1, "b", "1600", "n2"), At(2, "c", "1600", "n1")));
        var hit = Assert.Single(SigmaTest.Run(set, At(0, "a", "1600", "n1"), At(1, "b", "1600", "n2"), At(2, "b", "1600", "n1"), At(3, "c", "1600", "n1")));
        Assert.Equal([new("user.audit.id", "1600"), new KeyValuePair<string, string>("host.name", "n1")], hit.GroupBy);
        Assert.DoesNotContain(1L, hit.EventRefs);
    }

    [Fact]
    public void One_event_fills_one_step_of_an_ordered_chain()
    {
        var rules = StepRule("a") + """

            ---
            title: Step A or B
            name: step_ab
            taxonomy: ecs
            logsource: {product: linux}
            detection: {sel: {event.action: [step-a, step-b]}, condition: sel}
            """;
        var set = Correlation("type: temporal_ordered\nrules: [step_a, step_ab]\ngroup-by: [user.audit.id]\ntimespan: 10m", rules);
        Assert.Empty(SigmaTest.Run(set, Step(0, "a")));
        Assert.Single(SigmaTest.Run(set, Step(0, "a"), Step(1, "a")));
    }

    [Fact]
    public void Rules_referenced_by_a_correlation_raise_no_hits_of_their_own_unless_generate_is_true()
    {
        var quiet = Correlation("type: event_count\nrules: [kill_other_user]\ngroup-by: [user.audit.id]\ntimespan: 5m\ncondition: {gte: 2}");
        Assert.Equal(["TG-DET-010"], quiet.Rules.Select(r => r.Id));
        Assert.Equal(["TG-DET-010"], SigmaTest.Run(quiet, Kill(0, "1"), Kill(1, "1")).Select(h => h.Rule.Id));

        var killRuleWithMeta = KillRule.Replace("name: kill_other_user", "name: kill_other_user\nid: TG-DET-001\nlevel: medium\ndescription: A kill.\nx-trainguard: {guidance: Ask.}", StringComparison.Ordinal);
        var loud = Correlation("type: event_count\nrules: [kill_other_user]\ngroup-by: [user.audit.id]\ntimespan: 5m\ncondition: {gte: 2}\ngenerate: true", killRuleWithMeta);
        Assert.Equal(["TG-DET-001", "TG-DET-010"], loud.Rules.Select(r => r.Id));
        Assert.Equal(["TG-DET-001", "TG-DET-001", "TG-DET-010"], SigmaTest.Run(loud, Kill(0, "1"), Kill(1, "1")).Select(h => h.Rule.Id));
    }

    [Fact]
    public void A_correlation_can_refer_to_a_correlation()
    {
        var rules = KillRule + """

            ---
            title: Kill burst
            name: kill_burst
            correlation:
              type: event_count
              rules: [kill_other_user]
              group-by: [user.audit.id, host.name]
              timespan: 5m
              condition: {gte: 2}
            """;
        var set = Correlation("type: value_count\nrules: [kill_burst]\ngroup-by: [user.audit.id]\ntimespan: 30m\ncondition: {field: host.name, gte: 2}", rules);
        var hits = SigmaTest.Run(set,
            Kill(0, "1600", "a"), Kill(1, "1600", "a"), Kill(2, "1600", "a"),
            Kill(3, "1600", "b"),
            Kill(4, "1600", "b"));
        var hit = Assert.Single(hits);
        Assert.Equal("TG-DET-010", hit.Rule.Id);
        Assert.Equal(4, hit.EventRef);
        Assert.Equal([KeyValuePair.Create("user.audit.id", "1600")], hit.GroupBy);
    }

    [Fact]
    public void Aliases_group_events_whose_fields_have_different_names()
    {
        var rules = """
            title: Kill sent
            name: kill_sent
            taxonomy: ecs
            logsource: {product: linux, service: auditd}
            detection: {sel: {event.action: process-signal}, condition: sel}
            ---
            title: Account created
            name: account_created
            taxonomy: ecs
            logsource: {product: linux, service: auditd}
            detection: {sel: {event.action: user-created}, condition: sel}
            """;
        var set = Correlation(
            "type: temporal\nrules: [account_created, kill_sent]\ngroup-by: [account]\ntimespan: 1h\naliases:\n  account:\n    account_created: user.target.id\n    kill_sent: user.audit.id",
            rules);
        var created = SigmaTest.At(0, """ "event":{"action":"user-created"},"user":{"audit":{"id":"0"},"target":{"id":"1700"}}""");
        Assert.Single(SigmaTest.Run(set, created, SigmaTest.At(5, """ "event":{"action":"process-signal"},"user":{"audit":{"id":"1700"}}""")));
        Assert.Empty(SigmaTest.Run(set, created, SigmaTest.At(5, """ "event":{"action":"process-signal"},"user":{"audit":{"id":"0"}}""")));
    }

    [Fact]
    public void Group_state_is_bounded_and_evictions_are_counted()
    {
        var options = new DetectionOptions { MaxGroupsPerCorrelation = 8 };
        var set = Correlation("type: event_count\nrules: [kill_other_user]\ngroup-by: [user.audit.id]\ntimespan: 1h\ncondition: {gte: 2}", options: options);
        var engine = set.CreateEngine();
        var events = Enumerable.Range(0, 20).Select(i => Kill(i * 0.1, $"u{i}")).ToArray();
        SigmaTest.Run(engine, events);
        var stats = engine.Stats;
        Assert.True(stats.Groups <= 8, $"{stats.Groups} groups held");
        Assert.Equal(20 - stats.Groups, stats.Evictions);
        Assert.Equal(stats.Evictions, Assert.Single(stats.Correlations).Evictions);

        // The least recently seen groups went first: u0 lost its first event, u19 kept its own.
        Assert.Empty(SigmaTest.Run(engine, Kill(3, "u0")));
        Assert.Single(SigmaTest.Run(engine, Kill(3, "u19")));
    }

    [Fact]
    public void Groups_whose_window_passed_are_dropped_without_counting_as_evictions()
    {
        var options = new DetectionOptions { MaxGroupsPerCorrelation = 4 };
        var set = Correlation("type: event_count\nrules: [kill_other_user]\ngroup-by: [user.audit.id]\ntimespan: 1m\ncondition: {gte: 2}", options: options);
        var engine = set.CreateEngine();
        SigmaTest.Run(engine, Enumerable.Range(0, 12).Select(i => Kill(i * 5, $"u{i}")).ToArray());
        Assert.Equal(0, engine.Stats.Evictions);
        Assert.True(engine.Stats.ExpiredGroups >= 8, $"{engine.Stats.ExpiredGroups} expired");
    }

    [Fact]
    public void A_group_keeps_no_more_events_than_its_condition_needs()
    {
        var set = Correlation("type: event_count\nrules: [kill_other_user]\ngroup-by: [user.audit.id]\ntimespan: 1h\ncondition: {gte: 3}");
        var hits = SigmaTest.Run(set, Enumerable.Range(0, 50).Select(i => Kill(i * 0.1, "1600")).ToArray());
        Assert.Equal(48, hits.Count);
        Assert.All(hits, h => Assert.Equal(3, h.Count));
        Assert.Equal([47L, 48, 49], hits[^1].EventRefs);
    }

    [Fact]
    public void Late_events_and_events_without_a_timestamp_are_counted_not_correlated()
    {
        var set = Correlation("type: event_count\nrules: [kill_other_user]\ngroup-by: [user.audit.id]\ntimespan: 5m\ncondition: {gte: 2}");
        var engine = set.CreateEngine();
        var noTime = """{"event":{"action":"process-signal"},"trainguard":{"cross_user":true},"user":{"audit":{"id":"1600"}}}""";
        var badTime = """{"@timestamp":"yesterday","event":{"action":"process-signal"},"trainguard":{"cross_user":true},"user":{"audit":{"id":"1600"}}}""";
        Assert.Empty(SigmaTest.Run(engine, Kill(60, "1600"), Kill(10, "1600"), noTime, badTime));
        Assert.Equal(1, engine.Stats.LateEvents);
        Assert.Equal(2, engine.Stats.EventsWithoutTimestamp);
        Assert.Equal(4, engine.Stats.RuleMatches);
    }

    [Fact]
    public void The_same_events_in_the_same_order_give_the_same_hits()
    {
        var rules = KeyRules + "\n---\n" + StepRule("a") + "\n---\n" + StepRule("b") + "\n---\n" + KillRule;
        var set = SigmaTest.Load(rules + """

            ---
            title: Kills
            id: TG-DET-011
            correlation: {type: value_count, rules: [kill_other_user], group-by: [user.audit.id], timespan: 15m, condition: {field: host.name, gte: 2}}
            level: high
            description: d
            x-trainguard: {guidance: g}
            ---
            title: Steps
            id: TG-DET-012
            correlation: {type: temporal_ordered, rules: [step_a, step_b], group-by: [user.audit.id], timespan: 10m}
            level: high
            description: d
            x-trainguard: {guidance: g}
            ---
            title: Keys
            id: TG-DET-013
            correlation: {type: temporal, rules: [ssh_key_added, ssh_key_login], group-by: [trainguard.ssh.key_fingerprint], timespan: 1h}
            level: high
            description: d
            x-trainguard: {guidance: g}
            """, new DetectionOptions { MaxGroupsPerCorrelation = 16 });
        var random = new Random(7);
        var events = Enumerable.Range(0, 3000).Select(i => (random.Next(5), i * 0.05, $"u{random.Next(40)}", $"n{random.Next(4)}")).Select(e => e.Item1 switch
        {
            0 => Kill(e.Item2, e.Item3, e.Item4),
            1 => Step(e.Item2, "a", e.Item3),
            2 => Step(e.Item2, "b", e.Item3),
            3 => KeyAdded(e.Item2, e.Item3),
            _ => KeyLogin(e.Item2 + random.Next(-3, 3), e.Item3),
        }).ToArray();

        var first = SigmaTest.Run(set, events).Select(h => h.ToString()).ToList();
        var second = SigmaTest.Run(set, events).Select(h => h.ToString()).ToList();
        Assert.True(first.Count > 100, $"{first.Count} hits");
        Assert.Equal(first, second);
    }
}
