using TrainGuard.Review.Parsing;
using TrainGuard.Review.Rules;

namespace TrainGuard.Review.Tests;

/// <summary>
/// Every sample of every review rule, run through both parsers: tree-sitter (primary, the one the family test of every
/// rule family uses) and the <c>ast</c> fallback, which must behave the same on every sample.
/// </summary>
public sealed class RuleSampleTests
{
    public static TheoryData<string, string> RulesAndParsers()
    {
        var data = new TheoryData<string, string>();
        foreach (var rule in ReviewRules.All.Where(r => ReviewRules.Family.HasMatcher(r)))
        {
            data.Add(rule.Id, nameof(ParserChoice.TreeSitter));
            data.Add(rule.Id, nameof(ParserChoice.PythonAst));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(RulesAndParsers))]
    public async Task Samples_behave_with_each_parser(string id, string parser)
    {
        var family = new ReviewRuleFamily(ReviewRules.All, Enum.Parse<ParserChoice>(parser));
        var rule = family.Get(id);
        Assert.NotEmpty(rule.MustMatch);
        Assert.NotEmpty(rule.MustNotMatch);
        var failures = new List<string>();
        foreach (var sample in rule.MustMatch)
        {
            if (await family.CheckSampleAsync(rule, sample, expectMatch: true) is { } problem)
            {
                failures.Add($"must_match {sample}: {problem}");
            }
        }

        foreach (var sample in rule.MustNotMatch)
        {
            if (await family.CheckSampleAsync(rule, sample, expectMatch: false) is { } problem)
            {
                failures.Add($"must_not_match {sample}: {problem}");
            }
        }

        Assert.True(failures.Count == 0, $"{id} ({parser}):\n" + string.Join("\n", failures));
        Assert.NotNull(await family.CheckSampleAsync(rule, rule.MustMatch[0], expectMatch: false));
    }

    [Fact]
    public void Two_person_rules_have_no_matcher_and_no_samples()
    {
        var twoPerson = ReviewRules.All.Where(r => r.Detector.StartsWith("two-person", StringComparison.Ordinal)).ToList();
        Assert.Equal(6, twoPerson.Count);
        Assert.All(twoPerson, r => Assert.False(ReviewRules.Family.HasMatcher(r)));
        Assert.All(twoPerson, r => Assert.Empty(r.MustMatch.Concat(r.MustNotMatch)));
    }
}
