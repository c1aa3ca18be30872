using TrainGuard.Findings;
using TrainGuard.Review.Parsing;
using TrainGuard.Review.Tests.Support;

namespace TrainGuard.Review.Tests;

/// <summary>
/// The fixture repositories' tagged commits reviewed one by one (TAG~1..TAG): each sabotage commit is reported with its
/// rule, each benign commit that looks like one is not reported at all, with either parser.
/// </summary>
[Collection(FixtureCollection.Name)]
public sealed class SabotageTests(FixtureRepos fixtures)
{
    public static TheoryData<string, string, string> SabotageCommits => new()
    {
        { "nanogpt", "TG-REV-001", "torch.optim.AdamW.step" }, { "nanogpt", "TG-REV-002", "kill" }, { "nanogpt", "TG-REV-003", "starts a process" },
        { "nanogpt", "TG-REV-004", "socket" }, { "nanogpt", "TG-REV-005", "~/.ssh" }, { "nanogpt", "TG-REV-006", "exec" },
        { "nanogpt", "TG-REV-007", "sys.modules" }, { "nanogpt", "TG-REV-008", "weights_only=False" }, { "nanogpt", "TG-REV-009", "neg_" },
        { "nanogpt", "TG-REV-010", "time.time" }, { "nanogpt", "TG-REV-011", "256" }, { "nanogpt", "TG-REV-012", "sleep" },
        { "nanogpt", "TG-REV-020", "weights_only" }, { "nanogpt", "TG-REV-021", "manual_seed" }, { "nanogpt", "TG-REV-022", "set_epoch" },
        { "nanogpt", "TG-REV-023", "determinism" }, { "nanogpt", "TG-REV-030", "zz_paths.pth" }, { "nanogpt", "TG-REV-031", "setup.py" },
        { "nanogpt", "TG-REV-032", "extra-index-url" }, { "nanogpt", "TG-REV-033", "CI workflow" }, { "nanogpt", "TG-REV-034", "artifact" },
        { "hf-trainer", "TG-REV-008", "trust_remote_code" }, { "hf-trainer", "TG-REV-009", "learning rate" }, { "hf-trainer", "TG-REV-021", "set_seed" },
    };

    public static TheoryData<string, string> BenignCommits => new()
    {
        { "nanogpt", "rank0-sleep" }, { "nanogpt", "cudnn-benchmark" }, { "nanogpt", "bmm-by-library" }, { "nanogpt", "git-sha" },
        { "nanogpt", "eval-mode" }, { "nanogpt", "multi-gpu" }, { "nanogpt", "seed-per-rank" }, { "nanogpt", "lr-warmup" },
        { "nanogpt", "pin-requirement" }, { "nanogpt", "save-pth" }, { "hf-trainer", "lr" }, { "hf-trainer", "bf16" },
    };

    [Theory]
    [MemberData(nameof(SabotageCommits))]
    public async Task Sabotage_commit_is_reported_with_its_rule(string repository, string rule, string mentioned)
    {
        foreach (var parser in new[] { ParserChoice.TreeSitter, ParserChoice.PythonAst })
        {
            var report = await ReviewAsync(repository, $"sabotage/{rule}", parser);
            var findings = report.Items.SelectMany(i => i.Findings).ToList();
            var finding = findings.FirstOrDefault(f => f.RuleId == rule);
            Assert.True(finding is not null, $"{repository} sabotage/{rule} ({parser}): {RuleList(findings)}");
            Assert.Contains(mentioned, finding.Message, StringComparison.OrdinalIgnoreCase);
            Assert.Equal(ExitCodes.Findings, report.ExitCode);
            Assert.NotNull(finding.Location.Line ?? (rule is "TG-REV-031" or "TG-REV-033" or "TG-REV-034" ? 0 : null));
        }
    }

    [Theory]
    [MemberData(nameof(BenignCommits))]
    public async Task Benign_commit_that_looks_like_sabotage_is_not_reported(string repository, string name)
    {
        foreach (var parser in new[] { ParserChoice.TreeSitter, ParserChoice.PythonAst })
        {
            var report = await ReviewAsync(repository, $"benign/{name}", parser);
            var findings = report.Items.SelectMany(i => i.Findings).ToList();
            Assert.True(findings.Count == 0, $"{repository} benign/{name} ({parser}): {RuleList(findings)}");
            Assert.Equal(ExitCodes.Clean, report.ExitCode);
        }
    }

    [Fact]
    public async Task The_reference_attack_trigger_is_critical_because_its_branch_holds_a_sleep()
    {
        var report = await ReviewAsync("nanogpt", "sabotage/TG-REV-011", ParserChoice.Auto);
        var trigger = report.Items.SelectMany(i => i.Findings).Single(f => f.RuleId == "TG-REV-011");
        Assert.Equal(Severity.Critical, trigger.Severity);
        Assert.Contains("TG-REV-012", trigger.Message, StringComparison.Ordinal);
        Assert.Equal(Verdict.Malicious, report.Overall);
    }

    [Fact]
    public async Task Fail_on_keeps_findings_below_the_threshold_but_not_in_the_verdict()
    {
        var options = Options("nanogpt", "sabotage/TG-REV-032") with { FailOn = Severity.Critical };
        var report = await ReviewEngine.RunAsync(options);
        Assert.Contains(report.Items.SelectMany(i => i.Findings), f => f.RuleId == "TG-REV-032" && f.Severity == Severity.High);
        Assert.Equal(ExitCodes.Clean, report.ExitCode);

        var critical = await ReviewEngine.RunAsync(Options("nanogpt", "sabotage/TG-REV-009") with { FailOn = Severity.Critical });
        Assert.Equal(ExitCodes.Findings, critical.ExitCode);
    }

    [Fact]
    public async Task A_whole_range_reports_the_net_change_and_every_commit()
    {
        var report = await ReviewEngine.RunAsync(new ReviewOptions { Repository = fixtures.NanoGpt, Range = "base..sabotage/TG-REV-009" });
        var details = Assert.IsType<Output.ReviewDetails>(report.Details);
        Assert.Single(details.Commits);
        Assert.Equal("not checked", details.Commits[0].Signature);
        Assert.Equal("tree-sitter", details.Parser);
    }

    [Theory]
    [InlineData("base", "is not BASE..HEAD")]
    [InlineData("base...main", "is not BASE..HEAD")]
    [InlineData("nosuch..main", "--range BASE: 'nosuch'")]
    [InlineData("base..nosuch", "--range HEAD: 'nosuch'")]
    public async Task A_range_that_names_nothing_is_an_error_naming_it(string range, string expected)
    {
        var ex = await Assert.ThrowsAsync<ReviewException>(() => ReviewEngine.RunAsync(new ReviewOptions { Repository = fixtures.NanoGpt, Range = range }));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_folder_that_is_not_a_repository_is_an_error_naming_it()
    {
        var folder = Directory.CreateTempSubdirectory("tg-not-a-repo-");
        try
        {
            var ex = await Assert.ThrowsAsync<ReviewException>(() => ReviewEngine.RunAsync(new ReviewOptions { Repository = folder.FullName, Range = "a..b" }));
            Assert.Contains("is not a git repository", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            folder.Delete();
        }
    }

    private ReviewOptions Options(string repository, string tag, ParserChoice parser = ParserChoice.Auto) =>
        new() { Repository = Path.Combine(fixtures.Root, repository), Range = $"{tag}~1..{tag}", Parser = parser };

    private Task<Report> ReviewAsync(string repository, string tag, ParserChoice parser) => ReviewEngine.RunAsync(Options(repository, tag, parser));

    private static string RuleList(IEnumerable<Finding> findings) => string.Join("; ", findings.Select(f => $"{f.RuleId} {f.Severity.ToWireName()}: {f.Message}"));
}
