using System.Diagnostics;
using TrainGuard.Review.Parsing;
using TrainGuard.Review.Rules;
using TrainGuard.Review.Tests.Support;
using Xunit.Abstractions;

namespace TrainGuard.Review.Tests;

/// <summary>
/// False positives measured on whole benign repositories the test generates (<see cref="BenignCorpus"/>): for every
/// rule, the share of benign files it fires on must stay under 3%. The rates are written to the test output.
/// </summary>
public sealed class FalsePositiveTests(ITestOutputHelper output)
{
    private const int FilesPerRepository = 150;

    [Theory]
    [InlineData(1, nameof(ParserChoice.TreeSitter))]
    [InlineData(2, nameof(ParserChoice.TreeSitter))]
    [InlineData(3, nameof(ParserChoice.PythonAst))]
    public async Task Every_rule_fires_on_under_3_percent_of_benign_files(int seed, string parser)
    {
        var repo = Directory.CreateTempSubdirectory("tg-review-benign-").FullName;
        try
        {
            Git(repo, "init", "-q", "-b", "main");
            File.WriteAllText(Path.Combine(repo, "README.md"), "# benign\n");
            Commit(repo, "base");
            var files = BenignCorpus.Files(FilesPerRepository, seed);
            foreach (var (path, text) in files)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(repo, path))!);
                File.WriteAllText(Path.Combine(repo, path), text);
            }

            File.WriteAllText(Path.Combine(repo, "requirements.txt"), "torch==2.3.1\nnumpy==1.26.4\n");
            Commit(repo, "add the training code");
            Git(repo, "tag", "added");

            // A second, benign edit of every file (renamed variables, more logging) reviewed as a change.
            foreach (var (path, text) in BenignCorpus.Files(FilesPerRepository, seed, edit: 1))
            {
                File.WriteAllText(Path.Combine(repo, path), text);
            }

            Commit(repo, "rework");
            foreach (var range in new[] { "main~2..added", "added..main" })
            {
                var report = await ReviewEngine.RunAsync(new ReviewOptions { Repository = repo, Range = range, Parser = Enum.Parse<ParserChoice>(parser) });
                var python = report.Items.Count(i => i.Format == "python");
                Assert.Equal(FilesPerRepository, python);
                var failures = new List<string>();
                foreach (var rule in ReviewRules.All)
                {
                    var hit = report.Items.Count(i => i.Findings.Any(f => f.RuleId == rule.Id));
                    var rate = (double)hit / python;
                    if (hit > 0)
                    {
                        output.WriteLine($"seed {seed} {parser} {range}: {rule.Id} fires on {hit}/{python} benign files ({rate:P1})");
                    }

                    if (rate >= 0.03)
                    {
                        failures.Add($"{rule.Id} {rate:P1}: " + string.Join("; ", report.Items.SelectMany(i => i.Findings).Where(f => f.RuleId == rule.Id).Take(3).Select(f => f.Message)));
                    }
                }

                Assert.True(failures.Count == 0, $"{range}: " + string.Join("\n", failures));
            }
        }
        finally
        {
            Directory.Delete(repo, recursive: true);
        }
    }

    private static void Commit(string repo, string message)
    {
        Git(repo, "add", "-A");
        Git(repo, "-c", "user.name=Bench", "-c", "user.email=bench@example.org", "commit", "-q", "-m", message);
    }

    private static void Git(string repo, params string[] args)
    {
        var start = new ProcessStartInfo("git") { UseShellExecute = false, RedirectStandardError = true };
        start.ArgumentList.Add("-C");
        start.ArgumentList.Add(repo);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["GIT_CONFIG_GLOBAL"] = "/dev/null";
        start.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"git {string.Join(' ', args)}: {error}");
    }
}
