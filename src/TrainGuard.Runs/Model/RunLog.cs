namespace TrainGuard.Runs.Model;

/// <summary>The formats <c>runs compare</c> and <c>runs inspect</c> read.</summary>
public enum RunFormat
{
    /// <summary>TrainGuard's run JSONL: one <c>run-*</c> event per line (docs/events.md).</summary>
    TrainGuardJsonl,

    /// <summary>A Hugging Face <c>trainer_state.json</c> (its <c>log_history</c>).</summary>
    TrainerState,

    /// <summary>TensorBoard event files (<c>events.out.tfevents.*</c>).</summary>
    TensorBoard,

    /// <summary>An MLflow run folder (<c>mlruns/EXP/RUN/metrics/NAME</c>).</summary>
    Mlflow,
}

/// <summary>A run read from a file or folder: its events in file order.</summary>
public sealed class RunLog
{
    public required string Source { get; init; }

    public required RunFormat Format { get; init; }

    public required IReadOnlyList<RunEvent> Events { get; init; }

    public IEnumerable<RunEvent> Steps => Events.Where(e => e.Kind == RunEventKind.Step);

    public static string FormatName(RunFormat format) => format switch
    {
        RunFormat.TrainGuardJsonl => "trainguard-jsonl",
        RunFormat.TrainerState => "trainer-state",
        RunFormat.TensorBoard => "tensorboard",
        _ => "mlflow",
    };
}
