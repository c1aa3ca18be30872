using System.Text;
using BenchmarkDotNet.Attributes;
using LibGit2Sharp;
using TrainGuard.Review;

namespace TrainGuard.Benchmarks;

/// <summary>
/// <c>trainguard review</c> on repositories built in the set-up (LibGit2Sharp, no git process): a range whose diff is
/// 10,000 changed lines of Python (40 files of 250 lines, every line changed; target under 2 s), and a range of 1,000
/// commits each changing one file (target under 10 s), also with the two-person rule (unsigned commits, a policy over
/// every path: one diff per commit and the approvals lookup; no ssh-keygen runs because nothing is signed).
/// Run: <c>dotnet run -c Release --project bench/TrainGuard.Benchmarks -- --filter '*ReviewBenchmarks*'</c>.
/// </summary>
[MemoryDiagnoser]
public class ReviewBenchmarks
{
    private string _root = string.Empty;
    private string _diffRepo = string.Empty;
    private string _commitsRepo = string.Empty;
    private string _signers = string.Empty;
    private string _policy = string.Empty;

    [GlobalSetup]
    public void Setup()
    {
        _root = Directory.CreateTempSubdirectory("tg-review-bench-").FullName;
        _diffRepo = Path.Combine(_root, "diff");
        _commitsRepo = Path.Combine(_root, "commits");
        Repository.Init(_diffRepo, isBare: true);
        Repository.Init(_commitsRepo, isBare: true);
        using (var repo = new Repository(_diffRepo))
        {
            var files = Enumerable.Range(0, 40).ToDictionary(i => $"train/module_{i:D2}.py", i => Module(i, 250, "a"));
            var base_ = Commit(repo, files, [], "base");
            var head = Commit(repo, Enumerable.Range(0, 40).ToDictionary(i => $"train/module_{i:D2}.py", i => Module(i, 250, "b")), [base_], "change 10,000 lines");
            repo.Refs.Add("refs/heads/base", base_.Id);
            repo.Refs.Add("refs/heads/main", head.Id);
        }

        using (var repo = new Repository(_commitsRepo))
        {
            var files = Enumerable.Range(0, 50).ToDictionary(i => $"train/module_{i:D2}.py", i => Module(i, 60, "a"));
            var parent = Commit(repo, files, [], "base");
            repo.Refs.Add("refs/heads/base", parent.Id);
            for (var c = 0; c < 1000; c++)
            {
                var path = $"train/module_{c % 50:D2}.py";
                files[path] = files[path] + $"step_{c} = {c}\n";
                parent = Commit(repo, files, [parent], $"commit {c}");
            }

            repo.Refs.Add("refs/heads/main", parent.Id);
        }

        _signers = Path.Combine(_root, "allowed_signers");
        File.WriteAllText(_signers, "bench@example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBd7Ck3x1g6Jm0mYyQe6Hh0sUuYp3zqF7wq3fTQm8d7a\n");
        _policy = Path.Combine(_root, "policy.yaml");
        File.WriteAllText(_policy, "signed_commits: required\nprotect:\n  - paths: [\"**\"]\n    approvals: 1\n");
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_root, recursive: true);

    [Benchmark(Description = "review a 10,000-line Python diff")]
    public async Task<int> TenThousandLineDiff() =>
        (await ReviewEngine.RunAsync(new ReviewOptions { Repository = _diffRepo, Range = "base..main" })).Items.Count;

    [Benchmark(Description = "review 1,000 commits")]
    public async Task<int> ThousandCommits() =>
        (await ReviewEngine.RunAsync(new ReviewOptions { Repository = _commitsRepo, Range = "base..main" })).Items.Count;

    [Benchmark(Description = "review 1,000 commits, two-person rule")]
    public async Task<int> ThousandCommitsTwoPerson() =>
        (await ReviewEngine.RunAsync(new ReviewOptions { Repository = _commitsRepo, Range = "base..main", AllowedSigners = _signers, PolicyFile = _policy })).Items.Count;

    /// <summary>Training-code-like Python: a function per 5 lines, calls, comparisons, assignments ("variant" changes every line).</summary>
    private static string Module(int index, int lines, string variant)
    {
        var text = new StringBuilder("import os\nimport time\nimport torch\n");
        for (var i = 3; i < lines; i += 5)
        {
            text.Append($"def step_{variant}_{index}_{i}(model, batch, lr={i}e-4):\n");
            text.Append($"    out_{variant} = model(batch.to('cuda:{i % 8}'))\n");
            text.Append($"    loss_{variant} = torch.nn.functional.mse_loss(out_{variant}, batch) * {i}\n");
            text.Append($"    if int(os.environ.get('RANK', 0)) == 0 and {i} % 10 == 0: print(loss_{variant}.item(), time.time())\n");
            text.Append($"    return loss_{variant}  # {variant}{i}\n");
        }

        return text.ToString();
    }

    private static Commit Commit(Repository repo, Dictionary<string, string> files, Commit[] parents, string message)
    {
        var tree = new TreeDefinition();
        foreach (var (path, content) in files)
        {
            var blob = repo.ObjectDatabase.CreateBlob(new MemoryStream(Encoding.UTF8.GetBytes(content)));
            tree.Add(path, blob, Mode.NonExecutableFile);
        }

        var signature = new Signature("Bench", "bench@example.org", new DateTimeOffset(2026, 1, 5, 10, 0, 0, TimeSpan.Zero));
        return repo.ObjectDatabase.CreateCommit(signature, signature, message, repo.ObjectDatabase.CreateTree(tree), parents, prettifyMessage: true);
    }
}
