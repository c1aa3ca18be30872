using System.Numerics;

namespace TrainGuard.Checkpoints.Runs;

/// <summary>
/// What a training run must be (docs/ckpt.md "Run manifest"): its seed, world size, optimizer and
/// hyperparameters, schedule and the checkpoint files it writes. A field left out is not checked.
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
