using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Hosting;

namespace TrainGuard.Cli.Tests;

/// <summary>
/// <c>trainguard review</c> and <c>review approve</c> through the CLI on a copy of the README's sample repository
/// (<c>samples/review</c>, made by <c>tests/fixtures/review/make-sample.sh</c>): formats, the CI gate, errors, an
/// approval, and the review event recorded by a real server on 127.0.0.1.
/// </summary>
public sealed class ReviewCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tg-cli-review-").FullName;

    public ReviewCommandTests()
    {
        Copy(CliRunner.Repo("samples", "review"), Path.Combine(_dir, "review"));
    }

    private string Sample => Path.Combine(_dir, "review");

    private string Repo => Path.Combine(Sample, "training.git");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Json_report_names_the_range_the_findings_and_every_commit()
    {
        var (code, stdout, _) = await CliRunner.RunAsync("review", "--repo", Repo, "--range", "base..main", "--allowed-signers", Path.Combine(Sample, "allowed_signers"), "--policy", Path.Combine(Sample, "policy.yaml"), "--format", "json");
        Assert.Equal(1, code);
        var json = JsonNode.Parse(stdout)!;
        Assert.Equal(("review", "malicious", 1), (json["command"]!.GetValue<string>(), json["verdict"]!.GetValue<string>(), json["exit_code"]!.GetValue<int>()));
        var rules = json["items"]!.AsArray().SelectMany(i => i!["findings"]!.AsArray()).Select(f => f!["rule"]!.GetValue<string>()).ToList();
        Assert.Contains("TG-REV-011", rules);
        Assert.Contains("TG-REV-043", rules);
        var commits = json["review"]!["commits"]!.AsArray();
        Assert.Equal(2, commits.Count);
        Assert.Equal("bob@example.org", commits[0]!["approvers"]![0]!.GetValue<string>());
        Assert.True(json["review"]!["two_person_checked"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Sarif_report_carries_partial_fingerprints_that_survive_a_rerun()
    {
        var first = Path.Combine(_dir, "a.sarif");
        var second = Path.Combine(_dir, "b.sarif");
        Assert.Equal(1, (await CliRunner.RunAsync("review", "--repo", Repo, "--range", "base..main", "--format", "sarif", "-o", first)).Code);
        Assert.Equal(1, (await CliRunner.RunAsync("review", "--repo", Repo, "--range", "base..main", "--format", "sarif", "-o", second)).Code);
        var run = JsonNode.Parse(await File.ReadAllTextAsync(first))!["runs"]![0]!;
        Assert.Equal("2.1.0", JsonNode.Parse(await File.ReadAllTextAsync(first))!["version"]!.GetValue<string>());
        var fingerprints = run["results"]!.AsArray().Select(r => r!["partialFingerprints"]!["trainguardFingerprint/v1"]!.GetValue<string>()).ToList();
        Assert.NotEmpty(fingerprints);
        var again = JsonNode.Parse(await File.ReadAllTextAsync(second))!["runs"]![0]!["results"]!.AsArray().Select(r => r!["partialFingerprints"]!["trainguardFingerprint/v1"]!.GetValue<string>()).ToList();
        Assert.Equal(fingerprints, again);
        Assert.Equal(fingerprints.Count, fingerprints.Distinct().Count());
        Assert.NotNull(run["versionControlProvenance"]![0]!["revisionId"]);
    }

    [Fact]
    public async Task Fail_on_critical_passes_a_range_whose_findings_are_all_below_it()
    {
        // base..reviewed without --allowed-signers changes only requirements.txt, pinned: clean; with main it is critical.
        Assert.Equal(0, (await CliRunner.RunAsync("review", "--repo", Repo, "--range", "base..reviewed", "--fail-on", "critical")).Code);
        Assert.Equal(1, (await CliRunner.RunAsync("review", "--repo", Repo, "--range", "base..main", "--fail-on", "critical")).Code);
        var (code, stdout, _) = await CliRunner.RunAsync("review", "--repo", Repo, "--range", "reviewed..main", "--allowed-signers", Path.Combine(Sample, "allowed_signers"), "--fail-on", "critical", "--format", "json");
        Assert.Equal(1, code);
        Assert.Equal("critical", JsonNode.Parse(stdout)!["review"]!["fail_on"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("--range", "main", "is not BASE..HEAD")]
    [InlineData("--range", "base..nosuch", "'nosuch' names no commit")]
    [InlineData("--policy", "missing.yaml", "missing.yaml does not exist")]
    public async Task Bad_input_is_one_line_and_exit_2(string option, string value, string expected)
    {
        var args = new List<string> { "review", "--repo", Repo, "--range", "base..main" };
        var index = args.IndexOf(option);
        if (index >= 0)
        {
            args[index + 1] = value;
        }
        else
        {
            args.AddRange([option, Path.Combine(_dir, value), "--allowed-signers", Path.Combine(Sample, "allowed_signers")]);
        }

        var (code, stdout, stderr) = await CliRunner.RunAsync([.. args]);
        Assert.Equal(2, code);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
        Assert.Empty(stdout);
    }

    [Fact]
    public async Task A_folder_that_is_not_a_repository_is_exit_2()
    {
        var (code, _, stderr) = await CliRunner.RunAsync("review", "--repo", _dir, "--range", "a..b");
        Assert.Equal(2, code);
        Assert.Contains("is not a git repository", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Approve_by_the_second_person_clears_the_missing_approval()
    {
        var key = Path.Combine(_dir, "carol");
        Run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "carol@example.org", "-f", key);
        var signers = Path.Combine(Sample, "allowed_signers");
        await File.AppendAllTextAsync(signers, $"carol@example.org {string.Join(' ', (await File.ReadAllTextAsync(key + ".pub")).Split(' ').Take(2))}\n");
        var policy = Path.Combine(Sample, "policy.yaml");
        await File.WriteAllTextAsync(policy, (await File.ReadAllTextAsync(policy)).Replace("[bob@example.org]", "[bob@example.org, carol@example.org]", StringComparison.Ordinal));

        var (approveCode, approveOut, approveErr) = await CliRunner.RunAsync("review", "approve", "main", "--repo", Repo, "--key", key, "--as", "carol@example.org", "--format", "json");
        Assert.True(approveCode == 0, approveErr);
        Assert.Equal("carol@example.org", JsonNode.Parse(approveOut)!["approver"]!.GetValue<string>());

        var (code, stdout, _) = await CliRunner.RunAsync("review", "--repo", Repo, "--range", "reviewed..main", "--allowed-signers", signers, "--policy", policy, "--format", "json");
        var rules = JsonNode.Parse(stdout)!["items"]!.AsArray().SelectMany(i => i!["findings"]!.AsArray()).Select(f => f!["rule"]!.GetValue<string>()).ToList();
        Assert.DoesNotContain("TG-REV-043", rules);
        Assert.Contains("TG-REV-011", rules);
        Assert.Equal(1, code);
    }

    [Fact]
    public async Task Server_records_one_review_event_for_the_range()
    {
        var data = Path.Combine(_dir, "server");
        await using var server = await TrainGuardServer.StartAsync(new ServerOptions
        {
            DataDirectory = data,
            Database = "sqlite:" + Path.Combine(data, "trainguard.db"),
            Urls = ["http://127.0.0.1:0"],
            Origin = "test.trainguard/ledger",
            LogLevel = LogLevel.Warning,
            LogFormat = LogFormat.Text,
        });
        var token = ApiTokens.NewToken();
        await server.Store.AddTokenAsync(ApiTokens.Hash(token), new TrainGuard.Server.Storage.TokenGrant(Role.Agent, null, "test"), CancellationToken.None);

        var (code, stdout, stderr) = await CliRunner.RunAsync("review", "--repo", Repo, "--range", "base..main", "--server", server.BaseAddress.ToString(), "--token", token, "--format", "json");
        Assert.True(code == 1, stderr);
        var eventId = JsonNode.Parse(stdout)!["review"]!["event_id"]!.GetValue<string>();
        Assert.Equal(1, await server.Store.Ledger.SizeAsync(CancellationToken.None));
        var entry = JsonNode.Parse((await server.Store.Ledger.GetEntryAsync(0, CancellationToken.None))!)!;
        Assert.Equal(eventId, entry["id"]!.GetValue<string>());
        Assert.Equal("review-range-checked", entry["event"]!["action"]!.GetValue<string>());
        Assert.Contains("TG-REV-011", entry["trainguard"]!["review"]!["rules"]!.AsArray().Select(r => r!.GetValue<string>()));
        Assert.Equal("alice@example.org", entry["trainguard"]!["review"]!["authors"]![0]!.GetValue<string>());
    }

    private static void Run(string tool, params string[] args)
    {
        var start = new ProcessStartInfo(tool) { UseShellExecute = false, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, error);
    }

    private static void Copy(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }
}
