using System.Text.RegularExpressions;
using TrainGuard.Agent.Detections;
using TrainGuard.Agent.Spool;
using TrainGuard.Checkpoints.Contents;
using TrainGuard.Checkpoints.Signing;
using TrainGuard.Integrity.Environments;
using TrainGuard.Rules;
using TrainGuard.Scanning.Policy;
using TrainGuard.Server.Ledger;

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

        Assert.True(rule.MustMatch.Count > 0, $"{id}: no must_match samples");
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

        // The check can fail: a must_match sample expected not to match is reported.
        Assert.NotNull(await family.CheckSampleAsync(rule, rule.MustMatch[0], expectMatch: false));
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

    private static (RuleFamily Family, RuleDefinition Rule) Find(string id)
    {
        var family = Families.Single(f => f.TryGet(id, out _));
        return (family, family.Get(id));
    }

    private static string Short(string sample) => sample.Length <= 120 ? sample : sample[..120] + "…";

    [GeneratedRegex("^TG-[A-Z]{3}-[0-9]{3}$")]
    private static partial Regex IdPattern();
}
