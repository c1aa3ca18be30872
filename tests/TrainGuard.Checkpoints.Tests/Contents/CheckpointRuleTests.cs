using TrainGuard.Checkpoints.Contents;

namespace TrainGuard.Checkpoints.Tests.Contents;

public sealed class CheckpointRuleTests
{
    public static TheoryData<string> RuleIds => new(CheckpointRules.All.Select(r => r.Id));

    [Theory]
    [MemberData(nameof(RuleIds))]
    public void Rule_has_a_guidance_page_an_index_row_and_a_unique_id_in_its_range(string id)
    {
        Assert.Single(CheckpointRules.All, r => r.Id == id);
        Assert.InRange(int.Parse(id["TG-CKP-".Length..], System.Globalization.CultureInfo.InvariantCulture), 20, 39);
        var docs = Path.Combine(CkptFixtures.Root, "..", "..", "..", "docs", "rules");
        Assert.True(File.Exists(Path.Combine(docs, id + ".md")), $"missing guidance page for {id}");
        Assert.Contains($"[{id}]({id}.md)", File.ReadAllText(Path.Combine(docs, "README.md")), StringComparison.Ordinal);
    }
}
