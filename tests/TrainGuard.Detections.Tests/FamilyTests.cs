using TrainGuard.Detections.Correlation;
using TrainGuard.Findings;
using TrainGuard.Parsing;

namespace TrainGuard.Detections.Tests;

/// <summary>Sigma rules as the <c>detections</c> family of the one rule model, with their samples run through the engine.</summary>
public sealed class FamilyTests
{
    private static readonly string Fixture = Path.Combine(AppContext.BaseDirectory, "Fixtures", "kills.yml");

    [Fact]
    public void Sigma_documents_become_rule_definitions_of_the_detections_family()
    {
        var set = DetectionRuleSet.LoadFiles([Fixture]);
        var family = set.Family;
        Assert.Equal("detections", family.Name);
        Assert.Equal(["TG-DET-101", "TG-DET-102"], family.Rules.Select(r => r.Id));

        var kill = (DetectionRule)family.Get("TG-DET-101");
        Assert.Equal(("kill-other-user", "Signal to another user's training process", Severity.High), (kill.Name, kill.Title, kill.Severity));
        Assert.Equal("An account sent a terminating signal to a process that belongs to another account's login session.", kill.Why);
        Assert.StartsWith("Ask the account's owner", kill.Guidance, StringComparison.Ordinal);
        Assert.Equal("docs/rules/TG-DET-101.md", kill.HelpPath);
        Assert.Equal((Fixture, 3), (kill.Source, kill.Line));
        Assert.Equal(["attack.impact", "attack.t1489"], kill.Tags);
        Assert.False(kill.IsCorrelation);

        var nodes = (DetectionRule)family.Get("TG-DET-102");
        Assert.Equal((CorrelationType.ValueCount, Severity.Critical, TimeSpan.FromMinutes(15)), (nodes.CorrelationType, nodes.Severity, nodes.Timespan));
        Assert.Equal(["user.audit.id"], nodes.GroupBy);
    }

    [Fact]
    public async Task Every_sample_runs_through_the_engine_and_behaves()
    {
        var family = DetectionRuleSet.LoadFiles([Fixture]).Family;
        foreach (var rule in family.Rules)
        {
            Assert.True(family.HasMatcher(rule));
            Assert.NotEmpty(rule.MustMatch);
            Assert.NotEmpty(rule.MustNotMatch);
            foreach (var sample in rule.MustMatch)
            {
                Assert.Null(await family.CheckSampleAsync(rule, sample, expectMatch: true));
            }

            foreach (var sample in rule.MustNotMatch)
            {
                Assert.Null(await family.CheckSampleAsync(rule, sample, expectMatch: false));
            }

            // The check can fail: a must_match sample expected not to match is reported with what the engine produced.
            var problem = await family.CheckSampleAsync(rule, rule.MustMatch[0], expectMatch: false);
            Assert.NotNull(problem);
            Assert.Contains(rule.Id, problem, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_sample_that_is_not_an_event_is_a_config_error()
    {
        var family = DetectionRuleSet.LoadFiles([Fixture]).Family;
        Assert.Equal(InputErrorKind.Config, Assert.Throws<MalformedInputException>(() => family.Run("42")).Kind);
        Assert.Equal(InputErrorKind.Config, Assert.Throws<MalformedInputException>(() => family.Run("{not json")).Kind);
        Assert.Equal(InputErrorKind.Config, Assert.Throws<MalformedInputException>(() => family.Run("[1]")).Kind);
    }

    [Fact]
    public void Building_block_rules_are_not_rules_of_the_family()
    {
        var set = DetectionRuleSet.Parse("r.yml", """
            title: Base
            name: base
            taxonomy: ecs
            logsource: {product: linux}
            detection: {sel: {event.action: process-signal}, condition: sel}
            ---
            title: Burst
            id: 0b7d4c61-5f0e-4a53-9a55-0d6c8f1c2e11
            level: medium
            description: d
            x-trainguard: {guidance: g}
            correlation: {type: event_count, rules: [base], group-by: [host.name], timespan: 1m, condition: {gte: 10}}
            """);
        var rule = Assert.Single(set.Family.Rules);
        Assert.Equal("0b7d4c61-5f0e-4a53-9a55-0d6c8f1c2e11", rule.Id);
        Assert.Equal((1, 1), (set.DetectionCount, set.CorrelationCount));
    }
}
