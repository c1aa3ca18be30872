using TrainGuard.Rules;

namespace TrainGuard.Core.Tests;

public sealed class RuleYamlTests
{
    [Theory]
    [InlineData("TG-PKL-001", true)]
    [InlineData("TG-DET-109", true)]
    [InlineData("TG-PKL-01", false)]
    [InlineData("TG-PKL-0011", false)]
    [InlineData("TG-pkl-001", false)]
    [InlineData("TG-PK1-001", false)]
    [InlineData("TG_PKL-001", false)]
    [InlineData("XG-PKL-001", false)]
    [InlineData("TG-PKL-00A", false)]
    [InlineData(" TG-PKL-001", false)]
    [InlineData("", false)]
    public void IsRuleId_accepts_only_TG_three_letters_three_digits(string id, bool expected) =>
        Assert.Equal(expected, RuleYaml.IsRuleId(id));
}
