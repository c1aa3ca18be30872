using TrainGuard.Runs.Tests.Support;

namespace TrainGuard.Runs.Tests;

/// <summary>The committed fixtures (tests/fixtures/runs, samples/runs) are exactly what the generators write.</summary>
public sealed class Fixtures
{
    /// <summary>The repository root (the folder holding TrainGuard.slnx).</summary>
    public static string Repo(params string[] parts)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TrainGuard.slnx")))
            {
                return Path.Combine([dir.FullName, .. parts]);
            }
        }

        throw new DirectoryNotFoundException("TrainGuard.slnx not found above " + AppContext.BaseDirectory);
    }

    public static string Path_(string relative) => Repo("tests", "fixtures", "runs", relative);

    /// <summary>The files under samples/runs: the README's compare and inspect examples.</summary>
    public static SortedDictionary<string, byte[]> Samples() => new(StringComparer.Ordinal)
    {
        ["clean.jsonl"] = System.Text.Encoding.UTF8.GetBytes(new SyntheticRun { RunId = "job-1001" }.Text()),
        ["rerun.jsonl"] = System.Text.Encoding.UTF8.GetBytes(new SyntheticRun { RunId = "job-1002", FlipFrom = 120, FlipChance = 0.05, SleepMs = 400 }.Text()),
        ["run.yaml"] = System.Text.Encoding.UTF8.GetBytes("# The declared run of samples/runs/clean.jsonl and rerun.jsonl (docs/runs-forensics.md); written by\n# tests/TrainGuard.Runs.Tests Support/Fixtures.cs (TRAINGUARD_WRITE_FIXTURES=1 rewrites it).\n" + SyntheticRun.Manifest + "\n"),
    };

    [Fact]
    public void Committed_fixtures_are_what_the_generator_writes()
    {
        var write = Environment.GetEnvironmentVariable("TRAINGUARD_WRITE_FIXTURES") == "1";
        var sets = new[] { (Root: Repo("tests", "fixtures", "runs"), Files: FormatFixtures.All()), (Root: Repo("samples", "runs"), Files: Samples()) };
        var stale = new List<string>();
        foreach (var (root, files) in sets)
        {
            foreach (var (name, bytes) in files)
            {
                var path = Path.Combine(root, name);
                if (write)
                {
                    Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                    File.WriteAllBytes(path, bytes);
                }
                else if (!File.Exists(path) || !File.ReadAllBytes(path).AsSpan().SequenceEqual(bytes))
                {
                    stale.Add(path);
                }
            }
        }

        Assert.True(stale.Count == 0, "fixtures differ from the generator (TRAINGUARD_WRITE_FIXTURES=1 dotnet test ... rewrites them):\n" + string.Join('\n', stale));
    }
}
