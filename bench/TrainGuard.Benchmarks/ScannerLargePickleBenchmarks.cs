using BenchmarkDotNet.Attributes;
using TrainGuard.Scanning.Scanner;

namespace TrainGuard.Benchmarks;

/// <summary>
/// <c>trainguard scan</c> of a ~51 MB pickle of millions of small objects (~17 million opcodes), in process: the
/// analysis alone, without the CLI's start-up. Issue #18's target is for the whole process: under 0.2x the CPU time
/// CPython needs to <c>pickle.load</c> the same file, and under 100 MB peak RSS; <c>bash scripts/bench-scan.sh</c>
/// measures that (Release build, <c>write-corpus</c>, several timed runs of both, minimum and median). The files are
/// written at setup; the scanner maps them and lets the OS drop the pages it has read, so the allocations shown are
/// the machine's own (the memo, a bounded window of recent containers).
/// Run: <c>dotnet run -c Release --project bench/TrainGuard.Benchmarks -- --filter *ScannerLargePickle*</c>.
/// </summary>
[MemoryDiagnoser]
public class ScannerLargePickleBenchmarks
{
    private string _dir = string.Empty;
    private string _manySmallObjects = string.Empty;
    private string _smallDicts = string.Empty;
    private ArtifactScanner _scanner = null!;

    [GlobalSetup]
    public void Setup()
    {
        _dir = Directory.CreateTempSubdirectory("tg-bench-pickle-").FullName;
        _manySmallObjects = Path.Combine(_dir, "many-small-objects.pkl");
        _smallDicts = Path.Combine(_dir, "small-dicts.pkl");
        File.WriteAllBytes(_manySmallObjects, PickleCorpus.ManySmallObjects(PickleCorpus.ItemsFor51MB));
        File.WriteAllBytes(_smallDicts, PickleCorpus.SmallDicts(PickleCorpus.DictsFor51MB));
        _scanner = new ArtifactScanner(new ScanOptions { Parallelism = 1 });
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_dir, recursive: true);

    [Benchmark(Description = "Scan: 51 MB pickle of ~1.3M mixed small objects")]
    public int ScanManySmallObjects() => Scan(_manySmallObjects);

    [Benchmark(Description = "Scan: 51 MB pickle of 2.3M {'a': i, 'b': str(i)} dicts")]
    public int ScanSmallDicts() => Scan(_smallDicts);

    private int Scan(string path)
    {
        var item = _scanner.Scan(new ScanTarget(path, path, InCheckpointFolder: false));
        return item.Verdict == Findings.Verdict.Clean ? item.Findings.Count : -1;
    }
}
