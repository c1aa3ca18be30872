using TrainGuard.Findings;
using TrainGuard.Pickle;
using TrainGuard.Scanning.Policy;
using TrainGuard.Scanning.Scanner;

namespace TrainGuard.Scanning.Tests.Scanner;

public sealed class ArtifactScannerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tg-scan-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Copy(string fixture, string relative)
    {
        var target = Path.Combine(_dir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        File.Copy(Path.Combine(TestPaths.Fixtures, fixture), target);
        return target;
    }

    private static AnalyzedItem Only(Report report, string suffix) =>
        Assert.Single(report.Items, i => i.Path.EndsWith(suffix, StringComparison.Ordinal));

    [Fact]
    public async Task Folders_are_scanned_recursively_and_every_file_gets_a_verdict()
    {
        Copy("malicious/stack-global-from-memo.pkl", "a/b/c/deep.bin");
        Copy("benign/plain-protocol-4.pkl", "a/top.pkl");
        File.WriteAllText(Path.Combine(_dir, "a", "notes.md"), "hello");
        var report = await new ArtifactScanner().ScanAsync([_dir]);
        Assert.Equal(3, report.Items.Count);
        Assert.Equal(Verdict.Malicious, Only(report, "deep.bin").Verdict);
        Assert.Equal(Verdict.Clean, Only(report, "top.pkl").Verdict);
        Assert.Equal(Verdict.Skipped, Only(report, "notes.md").Verdict);
        Assert.Equal(ExitCodes.Findings, report.ExitCode);
    }

    [Fact]
    public async Task Symbolic_links_are_listed_but_not_followed_unless_asked()
    {
        var target = Copy("malicious/stack-global-from-memo.pkl", "outside/evil.pkl");
        var folder = Path.Combine(_dir, "ckpt");
        Directory.CreateDirectory(folder);
        File.CreateSymbolicLink(Path.Combine(folder, "model.pt"), target);

        var report = await new ArtifactScanner().ScanAsync([folder]);
        var link = Only(report, "model.pt");
        Assert.Equal(Verdict.Skipped, link.Verdict);
        Assert.Equal("symlink", link.Format);

        var followed = await new ArtifactScanner(new ScanOptions { FollowSymlinks = true }).ScanAsync([folder]);
        Assert.Equal(Verdict.Malicious, Only(followed, "model.pt").Verdict);
    }

    [Fact]
    public async Task Unrecognised_file_in_a_checkpoint_folder_is_an_error_whatever_its_name()
    {
        var folder = Path.Combine(_dir, "run", "checkpoint-500");
        Directory.CreateDirectory(folder);
        await File.WriteAllBytesAsync(Path.Combine(folder, "extra_state"), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
        var report = await new ArtifactScanner().ScanAsync([Path.Combine(_dir, "run")]);
        var item = Only(report, "extra_state");
        Assert.Equal(Verdict.Error, item.Verdict);
        Assert.Contains(item.Findings, f => f.RuleId == RuleIds.UnrecognisedModelFile);
    }

    [Fact]
    public async Task The_same_payload_is_found_whatever_the_extension()
    {
        Copy("malicious/stack-global-from-memo.pkl", "x/readme.txt");
        Copy("malicious/stack-global-from-memo.pkl", "x/weights.safetensors");
        var report = await new ArtifactScanner().ScanAsync([Path.Combine(_dir, "x")]);
        Assert.All(report.Items, i => Assert.Equal(Verdict.Malicious, i.Verdict));
    }

    [Fact]
    public async Task A_pickle_over_the_size_limit_is_an_error_not_clean()
    {
        var path = Copy("benign/plain-protocol-4.pkl", "big.pkl");
        var options = new ScanOptions { Pickle = PickleLimits.Default with { MaxBytes = 16 } };
        var report = await new ArtifactScanner(options).ScanAsync([path]);
        var item = Assert.Single(report.Items);
        Assert.Equal(Verdict.Error, item.Verdict);
        Assert.Contains(item.Findings, f => f.RuleId == RuleIds.LimitExceeded);
        Assert.Equal(ExitCodes.Error, report.ExitCode);
    }

    [Fact]
    public async Task A_missing_path_is_an_error_item_not_an_exception()
    {
        var report = await new ArtifactScanner().ScanAsync([Path.Combine(_dir, "nope.pt")]);
        var item = Assert.Single(report.Items);
        Assert.Equal(Verdict.Error, item.Verdict);
        Assert.Contains("no such file", item.Findings[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Findings_carry_member_offset_global_and_the_rendered_call()
    {
        var report = await new ArtifactScanner().ScanAsync([Path.Combine(TestPaths.Demo, "runs", "poisoned", "checkpoint-20", "rng_state.pth")]);
        var finding = Assert.Single(report.Items).Findings.First(f => f.Global == "os.system");
        Assert.Equal("rng_state/data.pkl", finding.Location.Member);
        Assert.NotNull(finding.Location.Offset);
        Assert.StartsWith("os.system('echo ssh-ed25519", finding.Call, StringComparison.Ordinal);
        Assert.Equal(Verdict.Malicious, finding.Verdict);
        Assert.False(string.IsNullOrEmpty(finding.Guidance));
    }

    [Fact]
    public async Task Hashing_reports_the_sha256_of_each_file()
    {
        var path = Copy("benign/plain-protocol-4.pkl", "h.pkl");
        var report = await new ArtifactScanner(new ScanOptions { Hash = true }).ScanAsync([path]);
        var expected = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(path)));
        Assert.Equal(expected, Assert.Single(report.Items).Sha256);
    }

    [Fact]
    public async Task An_allowed_global_makes_a_suspicious_file_clean()
    {
        var path = Copy("suspicious/mylib-customnet-newobj.pkl", "s.pkl");
        var before = await new ArtifactScanner().ScanAsync([path]);
        Assert.Equal(Verdict.Suspicious, Assert.Single(before.Items).Verdict);
        var globals = before.Items[0].Findings.Select(f => f.Global).OfType<string>().Distinct().ToList();
        var after = await new ArtifactScanner(new ScanOptions { Policy = new PolicyOptions { ExtraAllowed = globals } }).ScanAsync([path]);
        Assert.Equal(Verdict.Clean, Assert.Single(after.Items).Verdict);
    }

    [Fact]
    public async Task A_fifo_named_like_a_model_is_never_opened_and_is_an_error()
    {
        var fifo = Path.Combine(_dir, "model.pt");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", fifo))
        {
            await mkfifo.WaitForExitAsync();
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var report = await new ArtifactScanner().ScanAsync([_dir], cancellationToken: timeout.Token);
        Assert.Equal(Verdict.Error, Assert.Single(report.Items).Verdict);
    }

    [Fact]
    public async Task A_zip_behind_a_prefix_is_still_opened_and_its_payload_found()
    {
        var zip = await File.ReadAllBytesAsync(Path.Combine(TestPaths.Demo, "runs", "poisoned", "checkpoint-20", "rng_state.pth"));
        var path = Path.Combine(_dir, "notes.txt");
        await File.WriteAllBytesAsync(path, [.. "this is just a text file\n"u8.ToArray(), .. zip]);
        var report = await new ArtifactScanner().ScanAsync([path]);
        var item = Assert.Single(report.Items);
        Assert.Equal(Verdict.Malicious, item.Verdict);
        Assert.Contains(item.Findings, f => f.Global == "os.system");
    }

    [Fact]
    public async Task A_legacy_tar_tensor_of_more_dimensions_than_the_configured_rank_is_a_limit_finding()
    {
        var path = Copy("benign/legacy-tar.pth", "legacy-tar.pth");
        Assert.Equal(Verdict.Clean, Assert.Single((await new ArtifactScanner().ScanAsync([path])).Items).Verdict);

        var item = Assert.Single((await new ArtifactScanner(new ScanOptions { MaxTensorRank = 0 }).ScanAsync([path])).Items);
        Assert.Equal(Verdict.Error, item.Verdict);
        var finding = Assert.Single(item.Findings, f => f.RuleId == RuleIds.LimitExceeded);
        Assert.Contains("rank (2 dimensions) exceeds the limit of 0", finding.Message, StringComparison.Ordinal);
    }
}
