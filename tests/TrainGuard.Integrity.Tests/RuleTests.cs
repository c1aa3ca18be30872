using TrainGuard.Integrity.Environments;

namespace TrainGuard.Integrity.Tests;

public sealed class RuleTests
{
    public static TheoryData<string> RuleIds => new(EnvRules.All.Select(r => r.Id));

    [Theory]
    [MemberData(nameof(RuleIds))]
    public void Rule_has_a_guidance_page_and_a_unique_id(string id)
    {
        Assert.Single(EnvRules.All, r => r.Id == id);
        var page = Path.Combine(TestSupport.RepoRoot, "docs", "rules", id + ".md");
        Assert.True(File.Exists(page), $"missing guidance page {page}");
    }

    [Theory]
    [InlineData("torch/optim/adamw.py", FileRole.CriticalCode)]
    [InlineData("/usr/lib/python3/dist-packages/torch/utils/data/dataloader.py", FileRole.CriticalCode)]
    [InlineData("/usr/lib/x86_64-linux-gnu/libtorch_cpu.so.1.13.0", FileRole.CriticalCode)]
    [InlineData("requests/api.py", FileRole.Code)]
    [InlineData("certifi/cacert.pem", FileRole.Inert)]
    [InlineData("torch-2.1.0.dist-info/METADATA", FileRole.Inert)]
    [InlineData("pkg/data/vocab.json", FileRole.Data)]
    public void Path_importance_ranks_training_code_above_certificates(string path, FileRole role) =>
        Assert.Equal(role, PathImportance.Classify(path));
}
