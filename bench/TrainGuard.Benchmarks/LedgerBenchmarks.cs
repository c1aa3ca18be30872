using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.Data.Sqlite;
using TrainGuard.Ledger.Merkle;
using TrainGuard.Ledger.Storage;

namespace TrainGuard.Benchmarks;

/// <summary>
/// Ledger targets: an inclusion proof in a 10,000,000-leaf tree in under 1 ms, and at least 50,000 durable
/// appends per second to SQLite in batches of 1,000 (WAL, synchronous=FULL: each batch is fsynced).
/// Append figures are per entry (OperationsPerInvoke), so appends/s = 1e9 / mean ns.
/// </summary>
[MemoryDiagnoser]
public class LedgerBenchmarks
{
    private const long TreeSize = 10_000_000;
    private const int BatchSize = 1000;

    private MerkleTree _tree = null!;
    private long[] _indices = [];
    private int _next;
    private byte[] _root = [];
    private byte[][] _proof = [];
    private byte[] _leaf = [];

    private string _directory = string.Empty;
    private SqliteLedgerStore _store = null!;
    private byte[][] _batch = [];

    [GlobalSetup(Targets = [nameof(InclusionProofAt10MillionLeaves), nameof(ConsistencyProofAt10MillionLeaves), nameof(VerifyInclusionAt10MillionLeaves)])]
    public void BuildTree()
    {
        // Synthetic leaf hashes: the benchmark measures the tree, not SHA-256 of entries.
        var levels = new MerkleLevels();
        var random = new Random(10_000_000);
        var chunk = new byte[65_536 * MerkleHash.Size];
        for (long done = 0; done < TreeSize; done += chunk.Length / MerkleHash.Size)
        {
            var count = (int)Math.Min(chunk.Length / MerkleHash.Size, TreeSize - done);
            random.NextBytes(chunk);
            levels.AppendLeafHashes(chunk.AsSpan(0, count * MerkleHash.Size));
        }

        _tree = new MerkleTree(levels);
        _indices = [.. Enumerable.Range(0, 1024).Select(_ => random.NextInt64(TreeSize))];
        _root = _tree.RootHash(TreeSize);
        var index = _indices[0];
        _proof = _tree.InclusionProof(index, TreeSize);
        _leaf = new byte[MerkleHash.Size];
        levels.CopyNode(0, index, _leaf);
    }

    [Benchmark]
    public byte[][] InclusionProofAt10MillionLeaves() => _tree.InclusionProof(_indices[_next++ & 1023], TreeSize);

    [Benchmark]
    public byte[][] ConsistencyProofAt10MillionLeaves() => _tree.ConsistencyProof(1 + _indices[_next++ & 1023], TreeSize);

    [Benchmark]
    public bool VerifyInclusionAt10MillionLeaves() => MerkleTree.VerifyInclusion(_leaf, (ulong)_indices[0], TreeSize, _proof, _root);

    [GlobalSetup(Target = nameof(SqliteDurableAppendsInBatchesOf1000))]
    public async Task OpenStore()
    {
        _directory = Path.Combine(Path.GetTempPath(), "trainguard-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        _store = await SqliteLedgerStore.OpenAsync(Path.Combine(_directory, "ledger.db"));

        // About the size of one serialised event.
        _batch = [.. Enumerable.Range(0, BatchSize).Select(i => Encoding.UTF8.GetBytes(
            $"{{\"@timestamp\":\"2025-01-01T00:00:{i % 60:00}Z\",\"event.action\":\"kill\",\"user.name\":\"user{i}\",\"host.name\":\"gpu-node-{i % 64}\",\"process.pid\":{1000 + i},\"file.path\":\"/data/ckpt/step-{i}/optimizer.pt\"}}"))];
    }

    [Benchmark(OperationsPerInvoke = BatchSize)]
    public Task<long> SqliteDurableAppendsInBatchesOf1000() => _store.AppendBatchAsync(_batch);

    [GlobalCleanup(Target = nameof(SqliteDurableAppendsInBatchesOf1000))]
    public async Task CloseStore()
    {
        await _store.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
