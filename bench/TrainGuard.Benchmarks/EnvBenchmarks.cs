using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using TrainGuard.Integrity.Environments;
using TrainGuard.Integrity.Hashing;

namespace TrainGuard.Benchmarks;

/// <summary>
/// <c>env verify</c> over the Debian torch files against the peer tool in the same run:
/// <c>debsums -s python3-torch libtorch1.13</c> (MD5 over the same files, one process, one core).
/// Also raw SHA-256 / MD5 throughput over the same bytes, to compare with the machine's hash speed.
/// Run: <c>dotnet run -c Release --project bench/TrainGuard.Benchmarks -- --filter *EnvBenchmarks*</c>.
/// </summary>
[MemoryDiagnoser]
public class EnvBenchmarks
{
    private static readonly string[] TorchPackages = ["python3-torch", "libtorch1.13"];
    private string[] _files = [];

    [GlobalSetup]
    public void Setup()
    {
        _files = TorchPackages
            .SelectMany(p => Directory.EnumerateFiles("/var/lib/dpkg/info", p + "*.md5sums"))
            .SelectMany(File.ReadLines)
            .Where(l => l.Length > 34)
            .Select(l => "/" + l[34..])
            .Where(File.Exists)
            .OrderByDescending(f => new FileInfo(f).Length)
            .ToArray();
    }

    [Benchmark(Baseline = true, Description = "debsums -s python3-torch libtorch1.13")]
    public int Debsums()
    {
        var start = new ProcessStartInfo("debsums") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-s");
        foreach (var package in TorchPackages)
        {
            start.ArgumentList.Add(package);
        }

        using var process = Process.Start(start)!;
        process.StandardOutput.ReadToEnd();
        process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode;
    }

    [Benchmark(Description = "env verify --package python3-torch --package libtorch1.13")]
    public async Task<int> TrainGuardVerify()
    {
        var report = await EnvironmentVerifier.VerifyAsync(new EnvVerifyOptions { Sites = ["/usr/lib/python3/dist-packages"], Packages = TorchPackages });
        return report.Items.Count;
    }

    [Benchmark(Description = "MD5 of the same files, both cores")]
    public long Md5Parallel() => HashAll(DigestAlgorithm.Md5);

    [Benchmark(Description = "SHA-256 of the same files, both cores")]
    public long Sha256Parallel() => HashAll(DigestAlgorithm.Sha256);

    private long HashAll(DigestAlgorithm algorithm)
    {
        long total = 0;
        Parallel.ForEach(_files, f => Interlocked.Add(ref total, FileHasher.Compute(f, algorithm).Size));
        return total;
    }
}
