namespace TrainGuard.Runs.Model;

/// <summary>What a <see cref="RunEvent"/> reports (the contract's <c>run-*</c> actions; docs/events.md).</summary>
public enum RunEventKind
{
    /// <summary><c>run-started</c>: the client was enabled (seed, optimizer, manifest).</summary>
    Started,

    /// <summary><c>run-step</c>: one sampled optimizer step of one rank.</summary>
    Step,

    /// <summary><c>run-attestation</c>: the optimizer's code checked against the code on disk.</summary>
    Attestation,
}

/// <summary>
/// One event of a training run, whatever file it was read from (TrainGuard JSONL, trainer_state.json, TensorBoard,
/// MLflow) or the ledger it arrived in. Formats without ranks give rank 0 of a world of 1.
/// </summary>
public sealed class RunEvent
{
    public required RunEventKind Kind { get; init; }

    /// <summary><c>trainguard.run.id</c> (the file's name for formats that have none).</summary>
    public required string RunId { get; init; }

    public string? RunName { get; init; }

    public int Rank { get; init; }

    public int WorldSize { get; init; } = 1;

    public string? User { get; init; }

    public string? Host { get; init; }

    public DateTimeOffset? Timestamp { get; init; }

    /// <summary>Where the event was read: the 1-based line of a text file, the byte offset of a TensorBoard record.</summary>
    public long Position { get; init; }

    /// <summary>For <see cref="RunEventKind.Started"/>: <c>trainguard.run.seed.initial</c> (decimal; torch seeds are unsigned 64-bit).</summary>
    public string? InitialSeed { get; init; }

    /// <summary>For <see cref="RunEventKind.Started"/>: <c>trainguard.run.sample_every</c>, the mean interval between the steps whose vector metrics (the cosines) the client samples.</summary>
    public long? SampleEvery { get; init; }

    /// <summary>For <see cref="RunEventKind.Started"/>: the optimizer class.</summary>
    public string? Optimizer { get; init; }

    /// <summary>For <see cref="RunEventKind.Step"/>.</summary>
    public RunStep? Step { get; init; }

    /// <summary>For <see cref="RunEventKind.Attestation"/>: <c>event.outcome</c> was success.</summary>
    public bool AttestationOk { get; init; } = true;

    /// <summary>For <see cref="RunEventKind.Attestation"/>: <c>trainguard.attest.step</c>, the step it was made at.</summary>
    public long? AttestationStep { get; init; }

    /// <summary>For <see cref="RunEventKind.Attestation"/>: the names and details of the checks that failed.</summary>
    public IReadOnlyList<string> FailedChecks { get; init; } = [];
}

/// <summary>One sampled step of one rank (<c>trainguard.step.*</c>). A missing value is null; a non-finite one is NaN or ±∞.</summary>
public sealed class RunStep
{
    public required long Step { get; init; }

    public double? TimeMs { get; init; }

    public double? OptimizerMs { get; init; }

    public double? Loss { get; init; }

    public double? GradNorm { get; init; }

    public double? UpdateNorm { get; init; }

    /// <summary>Cosine between the applied update and the negative gradient on the client's coordinate sample.</summary>
    public double? Cosine { get; init; }

    /// <summary>
    /// <c>trainguard.step.moment_cosine</c>: the gradient the optimizer folded into its first moment against the
    /// gradient, ≈ −1 exactly on a step that used the gradient upside down (absent for optimizers without a moment).
    /// </summary>
    public double? MomentCosine { get; init; }

    /// <summary>The learning rate of each parameter group as applied.</summary>
    public IReadOnlyList<double>? Lr { get; init; }

    public string? BatchHash { get; init; }

    public string? RngHash { get; init; }

    /// <summary><c>trainguard.step.seed</c> (decimal).</summary>
    public string? Seed { get; init; }

    /// <summary><c>trainguard.step.param_hash</c>, when the client sends one.</summary>
    public string? ParamHash { get; init; }
}
