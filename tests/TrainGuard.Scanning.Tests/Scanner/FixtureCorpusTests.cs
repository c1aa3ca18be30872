using System.Text.Json;
using TrainGuard.Findings;
using TrainGuard.Scanning.Scanner;

namespace TrainGuard.Scanning.Tests.Scanner;

/// <summary>
/// One theory over <c>tests/fixtures/expected.json</c>: every fixture (benign files written by real
/// PyTorch/numpy, crafted payloads for every evasion, hostile and broken files) gets its expected verdict,
/// and every dangerous global the manifest names is named by a finding.
/// </summary>
public class FixtureCorpusTests
{
    private static readonly ArtifactScanner Scanner = new(new ScanOptions { Parallelism = 1 });

    public static TheoryData<string> Fixtures()
    {
        var data = new TheoryData<string>();
        foreach (var property in Manifest().RootElement.EnumerateObject())
        {
            data.Add(property.Name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Fixture_gets_its_expected_verdict_and_names_its_dangerous_globals(string relativePath)
    {
        var expected = Manifest().RootElement.GetProperty(relativePath);
        var path = Path.Combine(TestPaths.Fixtures, relativePath);
        var item = Scanner.Scan(new ScanTarget(path, relativePath, InCheckpointFolder: IsInCheckpointFolder(relativePath)));
        var describe = Describe(item);

        Assert.True(expected.GetProperty("verdict").GetString() == item.Verdict.ToWireName(), $"{relativePath}: expected {expected.GetProperty("verdict").GetString()}, got {describe}");
        if (expected.TryGetProperty("globals", out var globals))
        {
            foreach (var global in globals.EnumerateArray().Select(g => g.GetString()!))
            {
                Assert.True(
                    item.Findings.Any(f => f.Global == global || (f.Call?.Contains(global, StringComparison.Ordinal) ?? false) || f.Message.Contains(global, StringComparison.Ordinal)),
                    $"{relativePath}: no finding names {global}; got {describe}");
            }
        }
    }

    /// <summary>Fixtures that say which rules must fire (the second adversarial round: a damaged container names both the damage and the payload).</summary>
    public static TheoryData<string> FixturesWithRules()
    {
        var data = new TheoryData<string>();
        foreach (var property in Manifest().RootElement.EnumerateObject().Where(p => p.Value.TryGetProperty("rules", out _)))
        {
            data.Add(property.Name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(FixturesWithRules))]
    public void Fixture_gets_every_rule_its_manifest_entry_names(string relativePath)
    {
        var expected = Manifest().RootElement.GetProperty(relativePath);
        var path = Path.Combine(TestPaths.Fixtures, relativePath);
        var item = Scanner.Scan(new ScanTarget(path, relativePath, InCheckpointFolder: IsInCheckpointFolder(relativePath)));
        foreach (var rule in expected.GetProperty("rules").EnumerateArray().Select(r => r.GetString()!))
        {
            Assert.True(item.Findings.Any(f => f.RuleId == rule), $"{relativePath}: no {rule} finding; got {Describe(item)}");
        }

        if (item.Verdict == Verdict.Malicious)
        {
            // Named as malicious with the call that would run, or the import that would be called.
            Assert.Contains(item.Findings, f => f.Verdict == Verdict.Malicious && (f.Call is not null || f.Global is not null));
        }
    }

    [Fact]
    public void Manifest_covers_every_fixture_file()
    {
        var listed = Manifest().RootElement.EnumerateObject().Select(p => p.Name.Replace('\\', '/')).ToHashSet(StringComparer.Ordinal);
        var onDisk = Directory.EnumerateFiles(TestPaths.Fixtures, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(TestPaths.Fixtures, f).Replace('\\', '/'))
            .Where(f => f.Contains('/', StringComparison.Ordinal) && !f.StartsWith("_", StringComparison.Ordinal) && !NotScanFixtures.Any(d => f.StartsWith(d + "/", StringComparison.Ordinal)))
            .ToList();
        var missing = onDisk.Where(f => !listed.Contains(f)).ToList();
        Assert.True(missing.Count == 0, "fixtures without an expected verdict: " + string.Join(", ", missing));
    }

    /// <summary>The real-PyTorch checkpoint fixtures of <c>ckpt</c> (tests/fixtures/ckpt/make_ckpt.py): tampering with values is not code, so every copy scans clean.</summary>
    public static TheoryData<string> CheckpointFolders()
    {
        var data = new TheoryData<string>();
        foreach (var dir in Directory.EnumerateDirectories(Path.Combine(TestPaths.Fixtures, CheckpointFixtures), "*", SearchOption.AllDirectories)
            .Where(d => ScanTargets.IsCheckpointFolder(Path.GetFileName(d)) || Path.GetFileName(d) is "legacy" or "tensors" or "single"))
        {
            data.Add(Path.GetRelativePath(TestPaths.Fixtures, dir).Replace('\\', '/'));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(CheckpointFolders))]
    public void Real_pytorch_checkpoint_fixture_folder_scans_clean_file_by_file(string relativeFolder)
    {
        var folder = Path.Combine(TestPaths.Fixtures, relativeFolder);
        var files = Directory.GetFiles(folder);
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            var item = Scanner.Scan(new ScanTarget(file, Path.GetRelativePath(TestPaths.Fixtures, file), InCheckpointFolder: ScanTargets.IsCheckpointFolder(Path.GetFileName(folder))));
            Assert.True(item.Verdict == Verdict.Clean, $"{relativeFolder}/{Path.GetFileName(file)}: {Describe(item)}");
        }
    }

    private const string CheckpointFixtures = "ckpt";

    /// <summary>Fixture folders of other commands, not in the scan manifest: checkpoints, public test vectors, audit captures, the review command's repository scripts, the dashboard tests' recorded incident, the recorded training runs.</summary>
    private static readonly string[] NotScanFixtures = [CheckpointFixtures, "vectors", "audit", "review", "dashboard", "runs"];

    private static bool IsInCheckpointFolder(string relativePath) =>
        relativePath.Split('/').SkipLast(1).Any(ScanTargets.IsCheckpointFolder);

    private static string Describe(AnalyzedItem item) =>
        $"{item.Verdict.ToWireName()} ({item.Format}): " + string.Join(" | ", item.Findings.Select(f => $"{f.RuleId} {f.Message} [{f.Location}]"));

    private static JsonDocument Manifest() => JsonDocument.Parse(File.ReadAllText(Path.Combine(TestPaths.Fixtures, "expected.json")));
}
