using TrainGuard.Detections.Tests.Support;

namespace TrainGuard.Detections.Tests;

/// <summary>Sigma filter documents: site tuning joined to the rules they name, without editing them.</summary>
public sealed class FilterTests
{
    private const string Rule = """
        title: Signal to another user's process
        id: TG-DET-001
        name: kill_other_user
        taxonomy: ecs
        logsource: {product: linux, service: auditd}
        level: high
        description: d
        x-trainguard: {guidance: g}
        detection:
          sel: {event.action: process-signal, trainguard.cross_user: true}
          condition: sel
        """;

    private const string Filter = """

        ---
        title: The scheduler kills jobs at their time limit
        taxonomy: ecs
        logsource: {product: linux}
        filter:
          rules: [kill_other_user]
          sched:
            process.executable|expand: '%SchedulerBinaries%'
          svc:
            user.audit.id: '4294967295'
          condition: not sched and not svc
        """;

    private const string ByUser = """{"event":{"action":"process-signal"},"trainguard":{"cross_user":true},"user":{"audit":{"id":"1600"}},"process":{"executable":"/usr/bin/kill"}}""";
    private const string BySlurm = """{"event":{"action":"process-signal"},"trainguard":{"cross_user":true},"user":{"audit":{"id":"1600"}},"process":{"executable":"/usr/sbin/slurmstepd"}}""";
    private const string ByDaemon = """{"event":{"action":"process-signal"},"trainguard":{"cross_user":true},"user":{"audit":{"id":"4294967295"}},"process":{"executable":"/usr/bin/kill"}}""";

    [Fact]
    public void A_filter_drops_the_events_it_selects_from_the_rules_it_names()
    {
        Assert.True(SigmaTest.Fires(SigmaTest.Load(Rule), BySlurm));
        var set = SigmaTest.Load(Rule + Filter);
        Assert.Equal(1, set.FilterCount);
        Assert.True(SigmaTest.Fires(set, ByUser));
        Assert.False(SigmaTest.Fires(set, BySlurm));
        Assert.False(SigmaTest.Fires(set, ByDaemon));
    }

    [Fact]
    public void A_filter_can_name_a_rule_by_id_and_several_filters_apply_together()
    {
        var second = """

            ---
            title: Root's own tooling
            taxonomy: ecs
            logsource: {product: linux, service: auditd}
            filter:
              rules: [TG-DET-001]
              root: {user.audit.id: '0'}
              condition: not root
            """;
        var set = SigmaTest.Load(Rule + Filter + second);
        Assert.False(SigmaTest.Fires(set, ByUser.Replace("\"1600\"", "\"0\"", StringComparison.Ordinal)));
        Assert.False(SigmaTest.Fires(set, BySlurm));
        Assert.True(SigmaTest.Fires(set, ByUser));
    }

    [Theory]
    [InlineData("condition: sched", "must drop events: write it as 'not selection'")]
    [InlineData("condition: not sched or svc", "must drop events")]
    [InlineData("condition: not sched and svc", "must drop events")]
    public void A_filter_whose_condition_would_narrow_the_rule_instead_of_dropping_events_is_refused(string condition, string expected)
    {
        var ex = SigmaTest.LoadError(Rule + Filter.Replace("condition: not sched and not svc", condition, StringComparison.Ordinal));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("rules: [kill_other_user]", "rules: [nothere]", "refers to 'nothere'")]
    [InlineData("logsource: {product: linux}", "logsource: {product: windows}", "does not apply to TG-DET-001")]
    [InlineData("logsource: {product: linux}", "logsource: {product: linux, service: sshd}", "does not apply to TG-DET-001")]
    [InlineData("rules: [kill_other_user]", "rules: []", "needs 'rules'")]
    [InlineData("svc:\n    user.audit.id: '4294967295'", "svc:\n    user.audit.idd: '4294967295'", "unknown field 'user.audit.idd'")]
    public void A_filter_that_would_not_apply_as_written_is_refused(string from, string to, string expected)
    {
        var ex = SigmaTest.LoadError(Rule + Filter.Replace(from, to, StringComparison.Ordinal));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_filter_tunes_detection_rules_not_correlations()
    {
        var correlation = """

            ---
            title: Many kills
            id: TG-DET-002
            level: high
            description: d
            x-trainguard: {guidance: g}
            correlation: {type: event_count, rules: [kill_other_user], group-by: [user.audit.id], timespan: 5m, condition: {gte: 3}}
            """;
        var ex = SigmaTest.LoadError(Rule + correlation + Filter.Replace("rules: [kill_other_user]", "rules: [TG-DET-002]", StringComparison.Ordinal));
        Assert.Contains("can only tune detection rules", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_filtered_rule_feeds_its_correlations_only_the_events_it_keeps()
    {
        var correlation = """

            ---
            title: Many kills
            id: TG-DET-002
            level: high
            description: d
            x-trainguard: {guidance: g}
            correlation: {type: event_count, rules: [kill_other_user], group-by: [user.audit.id], timespan: 5m, condition: {gte: 2}}
            """;
        var set = SigmaTest.Load(Rule + correlation + Filter);
        Assert.Empty(SigmaTest.Run(set, SigmaTest.At(0, BySlurm[1..^1]), SigmaTest.At(1, BySlurm[1..^1])));
        Assert.Single(SigmaTest.Run(set, SigmaTest.At(0, ByUser[1..^1]), SigmaTest.At(1, ByUser[1..^1])));
    }
}
