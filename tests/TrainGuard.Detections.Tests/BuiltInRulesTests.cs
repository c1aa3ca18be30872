using TrainGuard.Detections.Correlation;
using TrainGuard.Findings;

namespace TrainGuard.Detections.Tests;

/// <summary>
/// The built-in rule set (src/TrainGuard.Detections/Rules): it loads with the default placeholders, covers every step
/// of the reference attack, and every rule's samples behave (the one family test in TrainGuard.Cli.Tests runs them
/// too; here they run without the CLI).
/// </summary>
public sealed class BuiltInRulesTests
{
    public static TheoryData<string> RuleIds => new(DetectionRuleSet.Default.Rules.Select(r => r.Id));

    [Fact]
    public void Built_in_rules_cover_every_step_of_the_reference_attack()
    {
        var rules = DetectionRuleSet.Default.Rules.ToDictionary(r => r.Id);
        var expected = new (string Id, string Name, Severity Severity, CorrelationType? Type)[]
        {
            ("TG-DET-001", "signal-to-another-users-process", Severity.High, null),
            ("TG-DET-002", "signals-on-three-nodes", Severity.Critical, CorrelationType.ValueCount),
            ("TG-DET-003", "login-uid-forged", Severity.Critical, null),
            ("TG-DET-004", "authorized-keys-written-by-another-account", Severity.Critical, null),
            ("TG-DET-005", "login-with-recently-added-key", Severity.Medium, CorrelationType.TemporalOrdered),
            ("TG-DET-006", "uid-zero-account-created", Severity.Critical, null),
            ("TG-DET-007", "persistence-outside-package-manager", Severity.High, null),
            ("TG-DET-008", "listening-socket-by-non-service-process", Severity.Medium, null),
            ("TG-DET-009", "site-packages-changed-outside-package-manager", Severity.High, null),
            ("TG-DET-010", "env-verify-finding", Severity.High, null),
            ("TG-DET-011", "malicious-checkpoint-scanned", Severity.Critical, null),
            ("TG-DET-012", "suspicious-checkpoint-scanned", Severity.Medium, null),
            ("TG-DET-013", "checkpoint-verification-failed", Severity.High, null),
            ("TG-DET-014", "checkpoint-deleted-by-another-account", Severity.High, null),
            ("TG-DET-015", "checkpoint-optimizer-tampered", Severity.Critical, null),
            ("TG-DET-016", "audit-configuration-changed", Severity.High, null),
            ("TG-DET-017", "run-sabotage-critical", Severity.Critical, null),
            ("TG-DET-018", "run-anomaly", Severity.High, null),
            ("TG-DET-019", "run-attestation-failed", Severity.Critical, null),
            ("TG-DET-020", "new-writer-to-shared-asset", Severity.High, null),
            ("TG-DET-021", "run-went-wrong-after-site-packages-change", Severity.Critical, CorrelationType.TemporalOrdered),
        };
        Assert.Equal(expected.Select(e => e.Id), rules.Keys.Order(StringComparer.Ordinal));
        Assert.All(expected, e => Assert.Equal((e.Name, e.Severity, e.Type), (rules[e.Id].Name, rules[e.Id].Severity, rules[e.Id].CorrelationType)));
        Assert.Equal((TimeSpan.FromMinutes(15), TimeSpan.FromDays(7)), (rules["TG-DET-002"].Timespan, rules["TG-DET-005"].Timespan));
        Assert.Equal(["host.name", "trainguard.ssh.key_fingerprint"], rules["TG-DET-005"].GroupBy);
        Assert.Equal(["host.name"], rules["TG-DET-021"].GroupBy);
        Assert.Equal((TimeSpan.FromHours(1), true), (rules["TG-DET-021"].Timespan, rules["TG-DET-021"].AccountOfFirstEvent));
        Assert.DoesNotContain(rules.Values, r => r.AccountOfFirstEvent && r.Id != "TG-DET-021");
    }

    [Theory]
    [MemberData(nameof(RuleIds))]
    public async Task Built_in_rule_samples_run_through_the_engine_and_behave(string id)
    {
        var family = DetectionRuleSet.Default.Family;
        var rule = family.Get(id);
        Assert.NotEmpty(rule.MustMatch);
        Assert.NotEmpty(rule.MustNotMatch);
        var failures = new List<string>();
        foreach (var sample in rule.MustMatch)
        {
            if (await family.CheckSampleAsync(rule, sample, expectMatch: true) is { } problem)
            {
                failures.Add("must_match " + sample + ": " + problem);
            }
        }

        foreach (var sample in rule.MustNotMatch)
        {
            if (await family.CheckSampleAsync(rule, sample, expectMatch: false) is { } problem)
            {
                failures.Add("must_not_match " + sample + ": " + problem);
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));

        // The check can fail: every sample is checked against the opposite expectation and reported.
        foreach (var sample in rule.MustMatch)
        {
            Assert.NotNull(await family.CheckSampleAsync(rule, sample, expectMatch: false));
        }

        foreach (var sample in rule.MustNotMatch)
        {
            Assert.NotNull(await family.CheckSampleAsync(rule, sample, expectMatch: true));
        }
    }

    [Fact]
    public void Built_in_rules_refuse_options_without_their_placeholders()
    {
        var ex = Assert.Throws<TrainGuard.Parsing.MalformedInputException>(() => DetectionRuleSet.BuiltIn(new DetectionOptions { Placeholders = new Dictionary<string, IReadOnlyList<string>>() }));
        Assert.Contains("TrainGuard.Detections.Rules.", ex.Message, StringComparison.Ordinal);
        Assert.Contains("%", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Site_placeholders_change_what_the_built_in_rules_exclude()
    {
        var placeholders = new Dictionary<string, IReadOnlyList<string>>(DetectionOptions.DefaultPlaceholders, StringComparer.Ordinal)
        {
            ["ServiceBinaries"] = ["/opt/site/bin/jupyter-hub"],
        };
        var site = DetectionRuleSet.BuiltIn(new DetectionOptions { Placeholders = placeholders });
        const string hub = """{"event":{"action":"socket-listen"},"source":{"ip":"0.0.0.0","port":8000},"process":{"executable":"/opt/site/bin/jupyter-hub"}}""";
        const string sshd = """{"event":{"action":"socket-listen"},"source":{"ip":"0.0.0.0","port":22},"process":{"executable":"/usr/sbin/sshd"}}""";
        Assert.Equal([false, true], new[] { hub, sshd }.Select(e => Support.SigmaTest.Fires(site, e)));
        Assert.Equal([true, false], new[] { hub, sshd }.Select(e => Support.SigmaTest.Fires(DetectionRuleSet.Default, e)));
    }
}
