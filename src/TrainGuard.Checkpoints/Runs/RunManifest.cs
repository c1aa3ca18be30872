using System.Numerics;

namespace TrainGuard.Checkpoints.Runs;

/// <summary>
/// What a training run must be (docs/ckpt.md "Run manifest"): its seed, world size, optimizer and
/// hyperparameters, schedule, data order and the checkpoint files it writes. A field left out is not checked.
/// </summary>
public sealed record RunManifest
{
    public const int CurrentVersion = 1;

    /// <summary>Where the manifest came from (a path), for messages.</summary>
    public required string Source { get; init; }

    public int Version { get; init; } = CurrentVersion;

    public string? Name { get; init; }

    /// <summary>The seed given to <c>random.seed</c>, <c>np.random.seed</c> and <c>torch.manual_seed</c>.</summary>
    public BigInteger? Seed { get; init; }

    public int? WorldSize { get; init; }

    public long? MaxSteps { get; init; }

    public OptimizerSpec? Optimizer { get; init; }

    public SchedulerSpec? Scheduler { get; init; }

    /// <summary>The order the run's data loader hands out its samples (checked against each step's <c>batch_hash</c>).</summary>
    public DataSpec? Data { get; init; }

    /// <summary>Files every checkpoint of the run must contain (besides the ones the other fields imply).</summary>
    public IReadOnlyList<string> Files { get; init; } = [];

    /// <summary>The 1-based line of each field given (<c>optimizer.lr</c> → 9), to point findings at the declaration.</summary>
    public IReadOnlyDictionary<string, int> Lines { get; init; } = new Dictionary<string, int>();

    /// <summary>The line a field was declared on, when it was.</summary>
    public int? LineOf(string field) => Lines.TryGetValue(field, out var line) ? line : null;
}

/// <summary>The optimizer a run declares: its torch class and the hyperparameters it was constructed with.</summary>
public sealed record OptimizerSpec
{
    /// <summary>The torch class name: <c>AdamW</c>, <c>Adam</c>, <c>SGD</c>...</summary>
    public string? Name { get; init; }

    /// <summary>The base learning rate (what the optimizer was constructed with, before any schedule).</summary>
    public double? Lr { get; init; }

    public IReadOnlyList<double>? Betas { get; init; }

    public double? Eps { get; init; }

    public double? WeightDecay { get; init; }

    public bool? Amsgrad { get; init; }

    public bool? Maximize { get; init; }

    public double? Momentum { get; init; }

    public double? Dampening { get; init; }

    public bool? Nesterov { get; init; }

    public bool? Foreach { get; init; }

    public bool? Fused { get; init; }

    public bool? Capturable { get; init; }

    public bool? Differentiable { get; init; }
}

/// <summary>The learning-rate scheduler a run declares.</summary>
public sealed record SchedulerSpec
{
    /// <summary>The torch class name: <c>LambdaLR</c>, <c>LinearLR</c>, <c>StepLR</c>...</summary>
    public string? Name { get; init; }

    /// <summary>For <c>LambdaLR</c>: the Hugging Face schedule, <c>linear</c>, <c>cosine</c> or <c>constant</c>.</summary>
    public string? Schedule { get; init; }

    public long? WarmupSteps { get; init; }
}

/// <summary>The torch sampler a run's data loader draws sample ids from.</summary>
public enum DataSampler
{
    /// <summary><c>torch.utils.data.DistributedSampler</c>: one permutation per epoch (seed + epoch), padded or cut, sliced by rank.</summary>
    Distributed,

    /// <summary><c>RandomSampler(dataset, generator=torch.Generator().manual_seed(seed))</c>: one generator stream across epochs.</summary>
    Random,

    /// <summary><c>SequentialSampler</c>: 0, 1, 2, ... every epoch.</summary>
    Sequential,
}

/// <summary>
/// The data order a run declares (the <c>data</c> section of run.yaml): its sampler and seed, the dataset and batch
/// sizes, and how many batches an optimizer step takes. Together they fix every step's sample ids on every rank.
/// </summary>
public sealed record DataSpec
{
    /// <summary>
    /// Largest dataset_size read: a permutation of it is held in memory (4 bytes a sample), and torch 2.x draws
    /// <c>randperm</c> differently from 2^32/20 samples on (torch 1.13 does not).
    /// </summary>
    public const long MaxDatasetSize = 1L << 24;

    public required DataSampler Sampler { get; init; }

    /// <summary>The seed given to the sampler's generator as torch takes it (modulo 2^64); 0 for <see cref="DataSampler.Sequential"/>.</summary>
    public ulong Seed { get; init; }

    public required long DatasetSize { get; init; }

    /// <summary>Samples per batch on each rank (<c>BatchSampler</c>'s batch_size).</summary>
    public required long BatchSize { get; init; }

    /// <summary><c>BatchSampler</c>'s drop_last: a last batch smaller than <see cref="BatchSize"/> is not made.</summary>
    public bool DropLast { get; init; }

    /// <summary>Distributed: the sampler permutes (else each epoch is 0, 1, 2, ... before padding and slicing).</summary>
    public bool Shuffle { get; init; } = true;

    /// <summary>Distributed: <c>DistributedSampler</c>'s drop_last (cut the tail to an even split instead of padding it).</summary>
    public bool SamplerDropLast { get; init; }

    /// <summary>Batches one optimizer step consumes (gradient accumulation).</summary>
    public int BatchesPerStep { get; init; } = 1;

    /// <summary>Distributed: the training calls <c>sampler.set_epoch(epoch)</c> every epoch (so epoch e permutes with seed + e).</summary>
    public bool SetEpoch { get; init; } = true;
}
