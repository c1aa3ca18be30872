using System.Text.Json.Nodes;
using TrainGuard.Checkpoints.Torch;
using TrainGuard.Pickle.Objects;

namespace TrainGuard.Checkpoints.Contents;

/// <summary>A torch learning-rate scheduler <c>state_dict()</c>: the common fields, and every field as saved.</summary>
public sealed record SchedulerContents
{
    public required string File { get; init; }

    public required string TreePath { get; init; }

    public string? Member { get; init; }

    /// <summary>The step the scheduler has reached (<c>last_epoch</c>; HF steps the scheduler once per optimizer step).</summary>
    public long? LastEpoch { get; init; }

    /// <summary><c>_step_count</c>: <c>step()</c> calls including the one in the constructor, normally <c>last_epoch + 1</c>.</summary>
    public long? StepCount { get; init; }

    public IReadOnlyList<double>? BaseLrs { get; init; }

    public IReadOnlyList<double>? LastLr { get; init; }

    /// <summary>The scheduler classes the saved keys fit.</summary>
    public required IReadOnlyList<string> ClassCandidates { get; init; }

    /// <summary>Every field as plain JSON (kind-specific ones included: <c>lr_lambdas</c>, <c>step_size</c>, <c>gamma</c>, <c>T_max</c>...).</summary>
    public required JsonObject Fields { get; init; }

    public long Offset { get; init; }
}

internal static class SchedulerReader
{
    private static readonly (string[] Keys, string Class)[] Signatures =
    [
        (["_schedulers", "_milestones"], "SequentialLR"),
        (["_schedulers"], "ChainedScheduler"),
        (["lr_lambdas"], "LambdaLR"),
        (["total_steps", "_schedule_phases"], "OneCycleLR"),
        (["base_lrs", "max_lrs"], "CyclicLR"),
        (["T_0", "T_mult"], "CosineAnnealingWarmRestarts"),
        (["T_max", "eta_min"], "CosineAnnealingLR"),
        (["start_factor", "end_factor"], "LinearLR"),
        (["power", "total_iters"], "PolynomialLR"),
        (["factor", "total_iters"], "ConstantLR"),
        (["step_size", "gamma"], "StepLR"),
        (["milestones", "gamma"], "MultiStepLR"),
        (["patience", "cooldown"], "ReduceLROnPlateau"),
        (["gamma"], "ExponentialLR"),
    ];

    public static bool Looks(PyDict dict) => dict.Get("last_epoch") is not null && (dict.Get("base_lrs") is not null || dict.Get("_step_count") is not null || dict.Get("patience") is not null);

    public static SchedulerContents Read(PyDict dict, TorchCheckpoint checkpoint, string file, string treePath)
    {
        var fields = new JsonObject();
        foreach (var (k, v) in dict.Items)
        {
            var key = PlainValues.KeyText(k);
            if (!fields.ContainsKey(key))
            {
                fields[key] = PlainValues.ToJson(v, checkpoint);
            }
        }

        return new SchedulerContents
        {
            File = file,
            TreePath = treePath,
            Member = checkpoint.PickleMember,
            LastEpoch = Integer(dict.Get("last_epoch")),
            StepCount = Integer(dict.Get("_step_count")),
            BaseLrs = Numbers(dict.Get("base_lrs"), checkpoint),
            LastLr = Numbers(dict.Get("_last_lr"), checkpoint),
            ClassCandidates = Candidates(fields),
            Fields = fields,
            Offset = dict.Offset,
        };
    }

    /// <summary>The scheduler classes whose saved keys <paramref name="fields"/> has (first signature that fits).</summary>
    internal static List<string> Candidates(JsonObject fields)
    {
        var candidates = new List<string>();
        foreach (var (keys, cls) in Signatures)
        {
            if (keys.All(fields.ContainsKey))
            {
                candidates.Add(cls);
                if (cls == "LambdaLR")
                {
                    // MultiplicativeLR saves the same keys.
                    candidates.Add("MultiplicativeLR");
                }

                break;
            }
        }

        return candidates;
    }

    private static long? Integer(PyValue? value) => value?.AsInt64() ?? (value?.AsDouble() is { } d && Math.Floor(d) == d && Math.Abs(d) < 9e15 ? (long)d : null);

    private static List<double>? Numbers(PyValue? value, TorchCheckpoint checkpoint) =>
        value?.AsSequence()?.Take(100_000).Select(v => PlainValues.Scalar(v, checkpoint) ?? double.NaN).ToList();
}
