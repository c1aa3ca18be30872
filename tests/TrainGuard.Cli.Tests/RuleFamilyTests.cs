using System.Text.RegularExpressions;
using TrainGuard.Access.Rules;
using TrainGuard.Agent.Detections;
using TrainGuard.Agent.Spool;
using TrainGuard.Checkpoints.Contents;
using TrainGuard.Checkpoints.Signing;
using TrainGuard.Detections;
using TrainGuard.Findings;
using TrainGuard.Integrity.Environments;
using TrainGuard.Ledger.Verification;
using TrainGuard.Parsing;
using TrainGuard.Review.Rules;
using TrainGuard.Rules;
using TrainGuard.Scanning.Policy;

namespace TrainGuard.Cli.Tests;

/// <summary>
/// One test over every rule of every family: ids unique and well formed, titles, why and guidance present, a guidance
/// page headed by the id, and every sample run through the family's matcher (and the check shown able to fail).
/// </summary>
public sealed partial class RuleFamilyTests
{
    /// <summary>Every rule family TrainGuard ships.</summary>
    public static IReadOnlyList<RuleFamily> Families { get; } =
    [
        ScanRuleFamily.Default,
        EnvRules.Family,
        CheckpointRules.Family,
        CkptSignRules.Family,
        LedgerRules.Family,
        AgentRules.Family,
        AgentDetections.Default,
        DetectionRuleSet.Default.Family,
        ReviewRules.Family,
        AccessRules.Family,
        TrainGuard.Runs.RunRules.Family,
    ];

    public static TheoryData<string> RuleIds => new(Families.SelectMany(f => f.Rules).Select(r => r.Id).Order(StringComparer.Ordinal));

    private static string RulesFolder => CliRunner.Repo("docs", "rules");

    [Fact]
    public void Rule_ids_are_unique_across_families_and_family_names_are_unique()
    {
        var duplicates = Families.SelectMany(f => f.Rules).GroupBy(r => r.Id, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.Empty(duplicates);
        Assert.Equal(Families.Count, Families.Select(f => f.Name).Distinct(StringComparer.Ordinal).Count());
        Assert.All(Families, f => Assert.NotEmpty(f.Rules));
    }

    [Theory]
    [MemberData(nameof(RuleIds))]
    public void Rule_is_well_formed_and_has_a_page_headed_by_its_id(string id)
    {
        var (family, rule) = Find(id);
        Assert.Matches(IdPattern(), rule.Id);
        Assert.Equal(family.Name, rule.Family);
        Assert.False(string.IsNullOrWhiteSpace(rule.Name), $"{id}: name is empty");
        Assert.False(string.IsNullOrWhiteSpace(rule.Title), $"{id}: title is empty");
        Assert.False(string.IsNullOrWhiteSpace(rule.Why), $"{id}: why is empty");
        Assert.DoesNotContain('\n', rule.Why);
        Assert.False(string.IsNullOrWhiteSpace(rule.Guidance), $"{id}: guidance is empty");
        Assert.Equal($"docs/rules/{id}.md", rule.HelpPath);
        Assert.Equal((rule.Id, rule.Severity, rule.Why), (rule.Descriptor.Id, rule.Descriptor.Severity, rule.Descriptor.Why));

        var page = CliRunner.Repo(rule.HelpPath.Split('/'));
        Assert.True(File.Exists(page), $"{id}: no guidance page at {rule.HelpPath}");
        var heading = File.ReadLines(page).First();
        Assert.Matches($"^# {Regex.Escape(id)}($|[ :])", heading);
    }

    [Theory]
    [MemberData(nameof(RuleIds))]
    public async Task Rule_samples_run_through_the_familys_matcher_and_behave(string id)
    {
        var (family, rule) = Find(id);
        if (!family.HasMatcher(rule))
        {
            Assert.True(rule.MustMatch.Count + rule.MustNotMatch.Count == 0, $"{id} has samples but its family {family.Name} has no matcher to run them");
            return;
        }

        // A rule its family's matcher cannot report from a sample (the scanner's structural format checks) has only
        // must_not_match samples; every other rule with a matcher has both kinds.
        var reportable = family.MatcherCanReport(rule);
        Assert.True(reportable ? rule.MustMatch.Count > 0 : rule.MustMatch.Count == 0, $"{id}: {(reportable ? "no must_match samples" : "must_match samples its matcher cannot report")}");
        Assert.True(rule.MustNotMatch.Count > 0, $"{id}: no must_not_match samples");
        var failures = new List<string>();
        foreach (var sample in rule.MustMatch)
        {
            if (await family.CheckSampleAsync(rule, sample, expectMatch: true) is { } problem)
            {
                failures.Add($"must_match {Short(sample)}: {problem}");
            }
        }

        foreach (var sample in rule.MustNotMatch)
        {
            if (await family.CheckSampleAsync(rule, sample, expectMatch: false) is { } problem)
            {
                failures.Add($"must_not_match {Short(sample)}: {problem}");
            }
        }

        Assert.True(failures.Count == 0, $"{id}:\n" + string.Join("\n", failures));

        // The check can fail: a sample checked against the opposite expectation is reported.
        Assert.NotNull(reportable
            ? await family.CheckSampleAsync(rule, rule.MustMatch[0], expectMatch: false)
            : await family.CheckSampleAsync(rule, rule.MustNotMatch[0], expectMatch: true));
    }

    [Fact]
    public void Every_rules_page_belongs_to_a_rule()
    {
        var ids = Families.SelectMany(f => f.Rules).Select(r => r.Id).ToHashSet(StringComparer.Ordinal);
        var orphans = Directory.EnumerateFiles(RulesFolder, "*.md")
            .Select(Path.GetFileNameWithoutExtension)
            .Where(name => name != "README" && !ids.Contains(name!))
            .ToList();
        Assert.Empty(orphans);
    }

    [Fact]
    public void Rules_index_lists_every_family_and_every_rule()
    {
        var index = File.ReadAllLines(Path.Combine(RulesFolder, "README.md"));
        Assert.Empty(Families.Where(f => !index.Contains($"## {f.Title}", StringComparer.Ordinal)).Select(f => f.Name));
        Assert.Empty(Families.SelectMany(f => f.Rules).Where(r => !index.Any(line => line.Contains($"[{r.Id}]({r.Id}.md)", StringComparison.Ordinal))).Select(r => r.Id));
    }

    [Fact]
    public async Task A_detection_family_loads_from_rule_files_at_run_time_and_runs_its_samples()
    {
        var folder = Directory.CreateTempSubdirectory("tg-rules-");
        try
        {
            var path = Path.Combine(folder.FullName, "site-detections.yaml");
            await File.WriteAllTextAsync(path, """
                rules:
                  - id: TG-DET-001
                    name: sigkill-by-root
                    title: SIGKILL sent by a root login
                    severity: medium
                    why: Root sessions should not kill training jobs by hand.
                    guidance: Ask the administrator.
                    match:
                      event.action: process-signal
                      trainguard.signal.name: SIGKILL
                      user.audit.id: "0"
                    message: "root killed process {trainguard.target.pid}"
                    must_match:
                      - |
                        type=SYSCALL msg=audit(1800000000.100:500): arch=c000003e syscall=62 success=yes exit=0 a0=1f41 a1=9 a2=0 a3=0 items=0 ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=1 comm="kill" exe="/usr/bin/kill" key="tg-signal"
                        type=OBJ_PID msg=audit(1800000000.100:500): opid=8001 oauid=1002 ouid=1002 oses=7 obj=unconfined ocomm="torchrun"
                    must_not_match:
                      - |
                        type=SYSCALL msg=audit(1800000000.100:500): arch=c000003e syscall=62 success=yes exit=0 a0=1f41 a1=f a2=0 a3=0 items=0 ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=1 comm="kill" exe="/usr/bin/kill" key="tg-signal"
                        type=OBJ_PID msg=audit(1800000000.100:500): opid=8001 oauid=1002 ouid=1002 oses=7 obj=unconfined ocomm="torchrun"
                """);
            var family = AgentDetections.FromYamlFiles([path]);
            var rule = Assert.Single(family.Rules);
            Assert.Equal(("TG-DET-001", "agent-detection", Severity.Medium), (rule.Id, rule.Family, rule.Severity));
            Assert.Null(await family.CheckSampleAsync(rule, rule.MustMatch[0], expectMatch: true));
            Assert.Null(await family.CheckSampleAsync(rule, rule.MustNotMatch[0], expectMatch: false));
            Assert.NotNull(await family.CheckSampleAsync(rule, rule.MustNotMatch[0], expectMatch: true));

            var e = family.Annotate(DetectionSamples.Events(rule.MustMatch[0]).Single());
            Assert.Equal("TG-DET-001", e.GetString("trainguard.finding.rule"));
            Assert.Equal("root killed process 8001", e.GetString("trainguard.finding.message"));
            Assert.Equal(50, e.GetInt64("event.severity"));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData("rules:\n  - id: TG-DET-001\n    name: a\n    severty: high\n", "bad.yaml:4: unknown field 'severty'")]
    [InlineData("rules:\n  - id: TG-DET-1\n    name: a\n", "rule TG-DET-1: id must look like TG-PKL-001")]
    [InlineData("rules:\n  - id: TG-DET-001\n    name: a\n    severity: high\n    why: w\n", "rule TG-DET-001: 'guidance' is required")]
    [InlineData("rules:\n  - id: TG-DET-001\n    name: a\n    severity: high\n    why: w\n    guidance: g\n    match: {event.action|endswitch: x}\n    message: m\n", "bad.yaml:7: unknown modifier 'endswitch'")]
    [InlineData("rules:\n  - id: TG-DET-001\n    name: a\n    severity: high\n    why: w\n    guidance: g\n    match: {event.action: x}\n    message: '{user.name'\n", "rule TG-DET-001: message placeholders")]
    public void A_rule_file_loaded_at_run_time_with_an_error_names_the_file_and_where(string yaml, string expected)
    {
        var folder = Directory.CreateTempSubdirectory("tg-rules-");
        try
        {
            var path = Path.Combine(folder.FullName, "bad.yaml");
            File.WriteAllText(path, yaml);
            var ex = Assert.Throws<MalformedInputException>(() => AgentDetections.FromYamlFiles([path]));
            Assert.Equal((InputErrorKind.Config, path), (ex.Kind, ex.Origin));
            Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
            Assert.StartsWith(path, ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public void A_family_without_matchers_loads_from_rule_files_and_rejects_a_missing_file()
    {
        var folder = Directory.CreateTempSubdirectory("tg-rules-");
        try
        {
            var path = Path.Combine(folder.FullName, "review.yaml");
            File.WriteAllText(path, "rules:\n  - id: TG-REV-001\n    name: lr-constant-changed\n    severity: high\n    verdict: suspicious\n    why: w\n    guidance: g\n");
            var family = RuleFamily.FromYamlFiles("review", "Code review patterns", [path]);
            var rule = family.Get("TG-REV-001");
            Assert.Equal("Lr constant changed", rule.Title);
            Assert.False(family.HasMatcher(rule));
            var finding = rule.Finding("lr changed in\x1b[31m train.py", new Location("train.py", Line: 3));
            Assert.Equal((Verdict.Suspicious, Severity.High), (finding.Verdict, finding.Severity));
            Assert.DoesNotContain('\x1b', finding.Message);

            var missing = Path.Combine(folder.FullName, "missing.yaml");
            var ex = Assert.Throws<MalformedInputException>(() => RuleFamily.FromYamlFiles("review", "Code review patterns", [missing]));
            Assert.StartsWith(missing, ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static (RuleFamily Family, RuleDefinition Rule) Find(string id)
    {
        var family = Families.Single(f => f.TryGet(id, out _));
        return (family, family.Get(id));
    }

    private static string Short(string sample) => sample.Length <= 120 ? sample : sample[..120] + "…";

    [GeneratedRegex("^TG-[A-Z]{3}-[0-9]{3}$")]
    private static partial Regex IdPattern();
}
