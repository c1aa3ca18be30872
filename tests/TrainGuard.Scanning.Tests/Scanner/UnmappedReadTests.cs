using TrainGuard.Findings;
using TrainGuard.Parsing;
using TrainGuard.Scanning.Scanner;

namespace TrainGuard.Scanning.Tests.Scanner;

/// <summary>
/// <see cref="ScanOptions.MapFiles"/> off (the agent): files are read into memory, so a file truncated by another
/// account during the scan is an error, never a SIGBUS that kills the sensor.
/// </summary>
public class UnmappedReadTests
{
    [Fact]
    public void Every_fixture_gets_the_same_verdict_whether_mapped_or_read()
    {
        var mapped = new ArtifactScanner(new ScanOptions { Parallelism = 1 });
        var read = new ArtifactScanner(new ScanOptions { Parallelism = 1, MapFiles = false });
        var files = Directory.EnumerateFiles(TestPaths.Fixtures, "*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".pkl", StringComparison.Ordinal) || f.EndsWith(".pt", StringComparison.Ordinal) || f.EndsWith(".pth", StringComparison.Ordinal) || f.EndsWith(".bin", StringComparison.Ordinal))
            .ToList();
        Assert.True(files.Count > 50, $"only {files.Count} fixtures found");
        foreach (var file in files)
        {
            var a = mapped.Scan(new ScanTarget(file, file, InCheckpointFolder: false));
            var b = read.Scan(new ScanTarget(file, file, InCheckpointFolder: false));
            Assert.True(a.Verdict == b.Verdict, $"{file}: mapped {a.Verdict}, read {b.Verdict}");
            Assert.Equal(a.Findings.Select(f => f.RuleId), b.Findings.Select(f => f.RuleId));
        }
    }

    [Fact]
    public void A_file_that_shrank_after_it_was_sized_is_malformed_input_naming_both_sizes()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, [0x80, 0x02, 0x4e, 0x2e]);
            using var source = ContentSource.FromFile(path, length: 4_000, mapFile: false);
            var ex = Assert.Throws<MalformedInputException>(() => source.Span(1 << 20).Length);
            Assert.Contains("shrank from 4,000 to 4 bytes", ex.Message, StringComparison.Ordinal);
            Assert.Equal(4, ex.Offset);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void An_unmapped_read_returns_exactly_the_file_bytes()
    {
        var path = Path.GetTempFileName();
        try
        {
            var bytes = Enumerable.Range(0, 70_000).Select(i => (byte)(i * 7)).ToArray();
            File.WriteAllBytes(path, bytes);
            using var source = ContentSource.FromFile(path, bytes.Length, mapFile: false);
            Assert.True(source.Span(1 << 20).SequenceEqual(bytes));
            Assert.Equal(bytes.Take(10), source.ReadHead(10));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
