using TrainGuard.Findings;
using TrainGuard.Review.Output;
using TrainGuard.Review.Signing;
using TrainGuard.Review.Tests.Support;

namespace TrainGuard.Review.Tests;

/// <summary>
/// The two-person rule on the approvals fixture: signed and unsigned commits, a commit signed by someone else, an
/// OpenPGP-signed commit against a pinned keyring, approvals by the author (refused), by a second person (accepted) and
/// a commit signature replayed as an approval (refused).
/// </summary>
[Collection(FixtureCollection.Name)]
public sealed class TwoPersonTests(FixtureRepos fixtures)
{
    [Fact]
    public async Task Unsigned_commit_is_reported()
    {
        var findings = await FindingsOfAsync("unsigned");
        Assert.Contains(findings, f => f.RuleId == "TG-REV-040");
    }

    [Fact]
    public async Task Commit_signed_by_another_allowed_signer_is_a_signer_mismatch()
    {
        var findings = await FindingsOfAsync("mallory-signed");
        var mismatch = Assert.Single(findings, f => f.RuleId == "TG-REV-042");
        Assert.Contains("mallory@example.org", mismatch.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Approval_by_the_author_is_refused_and_the_protected_change_stays_unapproved()
    {
        var findings = await FindingsOfAsync("self-approved");
        Assert.Contains(findings, f => f.RuleId == "TG-REV-045" && f.Message.Contains("author", StringComparison.Ordinal));
        var missing = Assert.Single(findings, f => f.RuleId == "TG-REV-043");
        Assert.Equal("train/optim.py", missing.Location.File);
    }

    [Fact]
    public async Task Commit_signature_replayed_as_an_approval_is_refused_by_the_namespace()
    {
        var findings = await FindingsOfAsync("replayed");
        var invalid = Assert.Single(findings, f => f.RuleId == "TG-REV-044");
        Assert.Contains("namespace", invalid.Message, StringComparison.Ordinal);
        Assert.Contains(findings, f => f.RuleId == "TG-REV-043");
    }

    [Fact]
    public async Task Approval_by_a_second_person_in_the_group_is_accepted()
    {
        var repo = fixtures.Copy(fixtures.Approvals);
        Assert.Contains(await FindingsOfAsync("to-approve", repo), f => f.RuleId == "TG-REV-043");

        var result = await ReviewApprover.ApproveAsync(repo, "to-approve", fixtures.Key("bob"), null, "bob@example.org", DateTimeOffset.UtcNow);
        Assert.Equal(1, result.ApprovalsInNote);

        var (report, commit) = await CommitAsync("to-approve", repo);
        Assert.DoesNotContain(FindingsOf(report, commit.Sha), f => f.RuleId is "TG-REV-043" or "TG-REV-044" or "TG-REV-045");
        Assert.Equal(["bob@example.org"], commit.Approvers);
    }

    [Fact]
    public async Task An_approval_claiming_another_name_counts_for_the_key_that_signed_it()
    {
        var repo = fixtures.Copy(fixtures.Approvals);
        await ReviewApprover.ApproveAsync(repo, "to-approve", fixtures.Key("alice"), null, "bob@example.org", DateTimeOffset.UtcNow);
        var (report, commit) = await CommitAsync("to-approve", repo);
        Assert.Contains(FindingsOf(report, commit.Sha), f => f.RuleId == "TG-REV-045" && f.Message.Contains("alice@example.org", StringComparison.Ordinal));
        Assert.Empty(commit.Approvers);
    }

    [Fact]
    public async Task Approval_of_a_range_covers_every_commit_in_it()
    {
        var repo = fixtures.Copy(fixtures.Approvals);
        await ReviewApprover.ApproveAsync(repo, "replayed", fixtures.Key("bob"), "base", "bob@example.org", DateTimeOffset.UtcNow);
        var report = await ReviewEngine.RunAsync(Options(repo, "base..replayed"));
        var details = (ReviewDetails)report.Details!;
        Assert.All(details.Commits, c => Assert.Contains("bob@example.org", c.Approvers));
        Assert.DoesNotContain(report.Items.SelectMany(i => i.Findings), f => f.RuleId == "TG-REV-043");
    }

    [Fact]
    public async Task OpenPGP_signed_commit_verifies_only_against_the_pinned_keyring()
    {
        var (_, withKeyring) = await CommitAsync("gpg-signed");
        Assert.Equal(("valid", "carol@example.org"), (withKeyring.Signature, withKeyring.Signer));

        var report = await ReviewEngine.RunAsync(Options(fixtures.Approvals, "gpg-signed~1..gpg-signed") with { GpgKeyring = null });
        Assert.Contains(report.Items.SelectMany(i => i.Findings), f => f.RuleId == "TG-REV-041" && f.Message.Contains("--gpg-keyring", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Signed_commit_of_its_committer_has_no_signature_finding()
    {
        var (report, commit) = await CommitAsync("to-approve");
        Assert.Equal(("valid", "alice@example.org"), (commit.Signature, commit.Signer));
        Assert.DoesNotContain(FindingsOf(report, commit.Sha), f => f.RuleId is "TG-REV-040" or "TG-REV-041" or "TG-REV-042");
    }

    [Fact]
    public async Task A_policy_without_allowed_signers_is_an_error()
    {
        var ex = await Assert.ThrowsAsync<ReviewException>(() => ReviewEngine.RunAsync(Options(fixtures.Approvals, "base..main") with { AllowedSigners = null }));
        Assert.Contains("--allowed-signers", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("protect: []\n", "protects no path")]
    [InlineData("protect:\n  - paths: [a]\n    from: leads\n", "no group named 'leads'")]
    [InlineData("signed_commits: maybe\nprotect:\n  - paths: [a]\n", "signed_commits must be required or optional")]
    [InlineData("protect:\n  - paths: [a]\n    approvals: 0\n", "approvals must be between 1 and 10")]
    [InlineData("protect:\n  - pathz: [a]\n", "unknown field 'pathz'")]
    public void A_bad_policy_is_an_error_naming_the_file_and_line(string yaml, string expected)
    {
        var ex = Assert.Throws<TrainGuard.Parsing.MalformedInputException>(() => Policy.ReviewPolicy.Parse("policy.yaml", yaml));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.StartsWith("policy.yaml", ex.Message, StringComparison.Ordinal);
    }

    private ReviewOptions Options(string repo, string range) => new()
    {
        Repository = repo,
        Range = range,
        AllowedSigners = fixtures.AllowedSigners,
        PolicyFile = fixtures.Policy,
        GpgKeyring = fixtures.Keyring,
    };

    private async Task<(Report Report, ReviewedCommit Commit)> CommitAsync(string tag, string? repo = null)
    {
        var report = await ReviewEngine.RunAsync(Options(repo ?? fixtures.Approvals, $"{tag}~1..{tag}"));
        return (report, Assert.Single(((ReviewDetails)report.Details!).Commits));
    }

    private async Task<List<Finding>> FindingsOfAsync(string tag, string? repo = null)
    {
        var (report, commit) = await CommitAsync(tag, repo);
        return FindingsOf(report, commit.Sha);
    }

    private static List<Finding> FindingsOf(Report report, string sha) =>
        report.Items.Where(i => i.Path == sha).SelectMany(i => i.Findings).ToList();
}
