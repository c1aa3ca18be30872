using System.Buffers.Text;
using System.Diagnostics;
using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using TrainGuard.Integrity.Environments;
using TrainGuard.Integrity.Hashing;

namespace TrainGuard.Benchmarks;

/// <summary>
/// <c>env verify</c> over the Debian torch files against the peer tool in the same run:
/// <c>debsums -s python3-torch libtorch1.13</c> (MD5 over the same files, one process, one core).
/// Also raw SHA-256 / MD5 throughput over the same bytes, to compare with the machine's hash speed, and the
/// issue's 40k-file synthetic site-packages.
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

    /// <summary>
    /// The target: a 40k-file site-packages (400 wheel-style packages of 99 modules, 200 B to 12 KB each, with
    /// RECORDs) verifies in under a second warm. Generated once under the temp folder.
    /// </summary>
    [Benchmark(Description = "env verify --site <40,400-file synthetic site-packages>")]
    public async Task<int> SyntheticSite40k()
    {
        var report = await EnvironmentVerifier.VerifyAsync(new EnvVerifyOptions { Sites = [SyntheticSite.Value], RecompileByteCode = false });
        return report.Items.Count;
    }

    private static readonly Lazy<string> SyntheticSite = new(() =>
    {
        var root = Path.Combine(Path.GetTempPath(), "trainguard-bench-site40k");
        if (File.Exists(Path.Combine(root, "pkg399-1.0.dist-info", "RECORD")))
        {
            return root;
        }

        var random = new Random(1);
        for (var p = 0; p < 400; p++)
        {
            var name = $"pkg{p}";
            Directory.CreateDirectory(Path.Combine(root, name));
            var distInfo = Path.Combine(root, $"{name}-1.0.dist-info");
            Directory.CreateDirectory(distInfo);
            var lines = new List<string>();
            for (var i = 0; i < 99; i++)
            {
                var data = System.Text.Encoding.ASCII.GetBytes(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6000))[..random.Next(200, 12000)]);
                var relative = $"{name}/m{i}.py";
                File.WriteAllBytes(Path.Combine(root, relative), data);
                lines.Add($"{relative},sha256={Base64Url.EncodeToString(SHA256.HashData(data))},{data.Length}");
            }

            File.WriteAllText(Path.Combine(distInfo, "METADATA"), $"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n");
            lines.Add($"{name}-1.0.dist-info/METADATA,,");
            lines.Add($"{name}-1.0.dist-info/RECORD,,");
            File.WriteAllText(Path.Combine(distInfo, "RECORD"), string.Join('\n', lines) + "\n");
        }

        return root;
    });

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
