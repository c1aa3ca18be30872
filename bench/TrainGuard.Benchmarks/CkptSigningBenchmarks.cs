using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using TrainGuard.Checkpoints.Signing;

namespace TrainGuard.Benchmarks;

/// <summary>
/// <c>ckpt sign</c> / <c>ckpt verify</c> over a 1 GiB checkpoint folder (four files of real random bytes: 512, 256, 192 and
/// 64 MiB, written once to a temp folder and deleted after) against the machine's SHA-256 speed: <c>SHA256.HashData</c>
/// over the same number of bytes already in memory (one core), and a read-and-hash of the same files on one thread.
/// The files are in the page cache after the first iteration, so this measures hashing, not the disk.
/// Run: <c>dotnet run -c Release --project bench/TrainGuard.Benchmarks -- --filter *CkptSigningBenchmarks*</c>.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 5)]
public class CkptSigningBenchmarks
{
    private static readonly (string Name, int MiB)[] Files = [("pytorch_model-00001-of-00002.bin", 512), ("pytorch_model-00002-of-00002.bin", 256), ("optimizer.pt", 192), ("rng_state.pth", 64)];
    private string _folder = string.Empty;
    private string _signature = string.Empty;
    private ECDsa _key = null!;
    private byte[] _buffer = [];

    public const long TotalBytes = 1024L << 20;

    [GlobalSetup]
    public async Task Setup()
    {
        _folder = Path.Combine(Path.GetTempPath(), "tg-ckpt-bench-" + Guid.NewGuid().ToString("N")[..8], "checkpoint-1000");
        Directory.CreateDirectory(_folder);
        var chunk = new byte[1 << 20];
        foreach (var (name, mib) in Files)
        {
            await using var stream = File.Create(Path.Combine(_folder, name));
            for (var i = 0; i < mib; i++)
            {
                RandomNumberGenerator.Fill(chunk);
                await stream.WriteAsync(chunk);
            }
        }

        _signature = Path.Combine(_folder, "..", "checkpoint-1000.sig");
        _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        _buffer = new byte[256 << 20];
        RandomNumberGenerator.Fill(_buffer);
        await CheckpointSigning.SignAsync(new CkptSignOptions { Path = _folder, PrivateKey = _key, SignaturePath = _signature });
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _key.Dispose();
        Directory.Delete(Path.GetDirectoryName(_folder)!, recursive: true);
    }

    [Benchmark(Baseline = true, Description = "SHA256.HashData, 1 GiB in memory (4 x 256 MiB)")]
    public int Sha256InMemory()
    {
        var sum = 0;
        for (var i = 0; i < TotalBytes / _buffer.Length; i++)
        {
            sum += SHA256.HashData(_buffer)[0];
        }

        return sum;
    }

    [Benchmark(Description = "read + SHA-256 of the 4 files, one thread")]
    public int Sha256FilesSequential()
    {
        var sum = 0;
        foreach (var (name, _) in Files)
        {
            using var stream = File.OpenRead(Path.Combine(_folder, name));
            sum += SHA256.HashData(stream)[0];
        }

        return sum;
    }

    [Benchmark(Description = "ckpt sign (manifest + signature), 1 GiB folder")]
    public async Task<int> Sign() =>
        (await CheckpointSigning.SignAsync(new CkptSignOptions { Path = _folder, PrivateKey = _key, SignaturePath = _signature })).Files;

    [Benchmark(Description = "ckpt verify, 1 GiB folder")]
    public async Task<int> Verify() =>
        (await CheckpointSigning.VerifyAsync(new CkptVerifyOptions { Path = _folder, PublicKey = _key, SignaturePath = _signature })).ExitCode;
}
