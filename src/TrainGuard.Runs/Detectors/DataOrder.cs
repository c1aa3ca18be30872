using System.Buffers.Binary;
using System.Security.Cryptography;
using TrainGuard.Checkpoints.Rng;
using TrainGuard.Checkpoints.Runs;

namespace TrainGuard.Runs.Detectors;

/// <summary>
/// The sample ids a declared data order (run.yaml's <c>data</c>) gives each rank at each step, hashed as the training
/// client makes a step's <c>batch_hash</c>: SHA-256 over the ids, little-endian signed 64-bit. Epochs count from 0;
/// rank r of R (distributed) takes positions r, r + R, ... of the epoch's permutation, padded by repeating it or cut
/// (<c>sampler_drop_last</c>); <c>BatchSampler</c> cuts the rank's share into batches; step k (from 1) takes the next
/// <c>batches_per_step</c> batches of its epoch, and the batches an epoch has left over no step takes (the client drops
/// them when the next pass starts). Torch's own code is the model: <see cref="TorchCpuGenerator"/>, checked against
/// torch 1.13 and 2.14 (tests/fixtures/runs/order). Holds at most two epochs' permutations.
/// </summary>
internal sealed class DataOrder
{
    /// <summary>Draws a random sampler's stream is moved at most to reach an epoch (about two seconds); past it the step is not checked.</summary>
    public const long MaxReplayDraws = 1L << 28;

    private const int IdsPerChunk = 512;

    private readonly DataSpec _spec;
    private readonly int _replicas;
    private readonly long _perRank;
    private readonly long _batchesPerEpoch;
    private readonly long _stepsPerEpoch;
    private readonly List<(ulong Key, int[] Permutation)> _cache = [];
    private TorchCpuGenerator? _stream;
    private long _streamEpoch;

    /// <param name="worldSize">The ranks a distributed sampler splits each epoch over (ignored by the others).</param>
    public DataOrder(DataSpec spec, int worldSize)
    {
        _spec = spec;
        _replicas = spec.Sampler == DataSampler.Distributed ? Math.Max(1, worldSize) : 1;
        var n = spec.DatasetSize;
        _perRank = spec.Sampler != DataSampler.Distributed ? n
            : spec.SamplerDropLast && n % _replicas != 0 ? n / _replicas
            : (n + _replicas - 1) / _replicas;
        _batchesPerEpoch = spec.DropLast ? _perRank / spec.BatchSize : (_perRank + spec.BatchSize - 1) / spec.BatchSize;
        _stepsPerEpoch = _batchesPerEpoch / spec.BatchesPerStep;
    }

    /// <summary>What the declared order gives <paramref name="rank"/> at <paramref name="step"/>.</summary>
    public ExpectedBatch Expected(int rank, long step)
    {
        if (step < 1)
        {
            return default; // steps count from 1: another numbering is not a data order
        }

        if (rank < 0 || rank >= _replicas)
        {
            return new ExpectedBatch(null, $"has no rank {rank} (world size {_replicas})");
        }

        if (_stepsPerEpoch == 0)
        {
            return new ExpectedBatch(null, $"gives no step: {_perRank} samples per rank and epoch make {_batchesPerEpoch} batch(es) of {_spec.BatchSize}, fewer than batches_per_step {_spec.BatchesPerStep}");
        }

        var epoch = (step - 1) / _stepsPerEpoch;
        if (!TryPermutation(epoch, out var permutation))
        {
            return default;
        }

        var start = (step - 1) % _stepsPerEpoch * _spec.BatchesPerStep * _spec.BatchSize;
        var end = Math.Min(start + (_spec.BatchesPerStep * _spec.BatchSize), _perRank);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> chunk = stackalloc byte[IdsPerChunk * sizeof(long)];
        for (var at = start; at < end; at += IdsPerChunk)
        {
            var count = (int)Math.Min(IdsPerChunk, end - at);
            for (var i = 0; i < count; i++)
            {
                BinaryPrimitives.WriteInt64LittleEndian(chunk[(i * sizeof(long))..], SampleAt(permutation, rank, at + i));
            }

            hash.AppendData(chunk[..(count * sizeof(long))]);
        }

        return new ExpectedBatch(Convert.ToHexStringLower(hash.GetHashAndReset()), null);
    }

    /// <summary>The id at <paramref name="position"/> of <paramref name="rank"/>'s share of an epoch (a null permutation: 0, 1, 2, ...).</summary>
    private long SampleAt(int[]? permutation, int rank, long position)
    {
        var index = _spec.Sampler == DataSampler.Distributed ? (rank + (position * _replicas)) % _spec.DatasetSize : position;
        return permutation is null ? index : permutation[index];
    }

    /// <summary>The epoch's permutation (null: the identity); false when reaching it would replay too much of a stream.</summary>
    private bool TryPermutation(long epoch, out int[]? permutation)
    {
        permutation = null;
        switch (_spec.Sampler)
        {
            case DataSampler.Sequential:
            case DataSampler.Distributed when !_spec.Shuffle:
                return true;
            case DataSampler.Distributed:
                // DistributedSampler seeds a new generator with seed + epoch each epoch (seed alone without set_epoch).
                var seed = unchecked(_spec.Seed + (_spec.SetEpoch ? (ulong)epoch : 0UL));
                permutation = Cached(seed) ?? Computed(seed, p => new TorchCpuGenerator(seed).Randperm(p));
                return true;
            default:
                permutation = Cached((ulong)epoch) ?? RandomEpoch(epoch);
                return permutation is not null;
        }
    }

    /// <summary>
    /// RandomSampler with its own generator: each epoch draws <c>randperm(n)</c>, then once more <c>randperm(n)</c> for the
    /// <c>num_samples % n</c> (= 0) samples its last line yields when the loader runs the pass to its end.
    /// </summary>
    private int[]? RandomEpoch(long epoch)
    {
        var draws = TorchCpuGenerator.RandpermDraws(_spec.DatasetSize);
        var restart = _stream is null || epoch < _streamEpoch;
        var from = restart ? 0 : _streamEpoch;
        if (draws > 0 && epoch - from > MaxReplayDraws / (2 * draws))
        {
            return null;
        }

        var stream = restart ? _stream = new TorchCpuGenerator(_spec.Seed) : _stream!;
        stream.Skip((epoch - from) * 2 * draws);
        var permutation = Computed((ulong)epoch, stream.Randperm);
        stream.Skip(draws);
        _streamEpoch = epoch + 1;
        return permutation;
    }

    private int[]? Cached(ulong key)
    {
        foreach (var (k, permutation) in _cache)
        {
            if (k == key)
            {
                return permutation;
            }
        }

        return null;
    }

    /// <summary>A permutation made by <paramref name="fill"/>, kept with the last one made (the oldest's array is reused).</summary>
    private int[] Computed(ulong key, Fill fill)
    {
        int[] permutation;
        if (_cache.Count == 2)
        {
            permutation = _cache[0].Permutation;
            _cache.RemoveAt(0);
        }
        else
        {
            permutation = new int[_spec.DatasetSize];
        }

        fill(permutation);
        _cache.Add((key, permutation));
        return permutation;
    }

    private delegate void Fill(Span<int> permutation);
}

/// <summary>A step's batch as the declared order has it: its hash, or why it has none; neither: not checked.</summary>
internal readonly record struct ExpectedBatch(string? Hash, string? Missing);

/// <summary>
/// A run's declared data order, checked step by step, for the manifest's <c>world_size</c>, else the world size of the
/// run's first step with a batch hash.
/// </summary>
internal sealed class DeclaredDataOrder(RunManifest manifest, DataSpec data)
{
    private DataOrder? _order;

    /// <summary>Where the order is declared, for messages: <c>run.yaml:14 data</c>.</summary>
    public string Declaration => manifest.LineOf("data") is { } line ? $"{manifest.Source}:{line} data" : $"{manifest.Source} data";

    /// <summary>What the declared order gives instead of <paramref name="batchHash"/>, or null when it agrees (or the step is not checked).</summary>
    public ExpectedBatch? Mismatch(int rank, int eventWorldSize, long step, string batchHash)
    {
        _order ??= new DataOrder(data, manifest.WorldSize ?? eventWorldSize);
        var expected = _order.Expected(rank, step);
        return expected.Missing is not null || (expected.Hash is not null && !string.Equals(expected.Hash, batchHash, StringComparison.OrdinalIgnoreCase)) ? expected : null;
    }
}
