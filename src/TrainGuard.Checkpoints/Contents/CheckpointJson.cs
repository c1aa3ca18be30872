using System.Globalization;
using System.Numerics;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using TrainGuard.Events;
using TrainGuard.Findings;

namespace TrainGuard.Checkpoints.Contents;

/// <summary>
/// JSON renderings of <see cref="CheckpointContents"/> (<c>ckpt inspect --format json</c>, schema in docs/ckpt.md) and
/// <see cref="CheckpointDiffResult"/>: the members the CLI's JSON report carries after its standard ones
/// (<c>schema_version</c>, <c>command</c>, ... docs/json-output.md).
/// </summary>
public static class CheckpointJson
{
    public static JsonObject Inspect(CheckpointContents c) => new()
    {
        ["path"] = c.Path,
        ["is_folder"] = c.IsFolder,
        ["folder_step"] = c.FolderStep,
        ["world_size"] = c.RevealedWorldSize,
        ["files"] = Array(c.Files, f => new JsonObject
        {
            ["name"] = f.Name,
            ["format"] = f.Format,
            ["size"] = f.Size,
            ["roles"] = Strings(f.Roles),
            ["interpreted"] = f.Interpreted,
            ["scan_verdict"] = f.ScanVerdict?.ToWireName(),
            ["problem"] = f.Problem,
            ["summary"] = f.Summary?.DeepClone(),
        }),
        ["tensors"] = Array(c.Tensors, Tensor),
        ["optimizers"] = Array(c.Optimizers, o => new JsonObject
        {
            ["file"] = o.File,
            ["tree_path"] = o.TreePath,
            ["classes"] = Strings(o.ClassCandidates),
            ["param_groups"] = Array(o.ParamGroups, g => new JsonObject
            {
                ["index"] = g.Index,
                ["lr"] = Num(g.Lr),
                ["initial_lr"] = Num(g.InitialLr),
                ["betas"] = g.Betas is null ? null : Array(g.Betas, b => Num(b)),
                ["eps"] = Num(g.Eps),
                ["weight_decay"] = Num(g.WeightDecay),
                ["amsgrad"] = g.Amsgrad,
                ["maximize"] = g.Maximize,
                ["foreach"] = g.Foreach,
                ["capturable"] = g.Capturable,
                ["differentiable"] = g.Differentiable,
                ["fused"] = g.Fused,
                ["momentum"] = Num(g.Momentum),
                ["dampening"] = Num(g.Dampening),
                ["nesterov"] = g.Nesterov,
                ["params"] = g.ParamsCount,
                ["fields"] = g.Fields.DeepClone(),
            }),
            ["states"] = Array(o.States, s => new JsonObject { ["id"] = s.Id, ["step"] = Num(s.Step), ["buffers"] = Strings(s.Buffers) }),
        }),
        ["schedulers"] = Array(c.Schedulers, s => new JsonObject
        {
            ["file"] = s.File,
            ["tree_path"] = s.TreePath,
            ["classes"] = Strings(s.ClassCandidates),
            ["last_epoch"] = s.LastEpoch,
            ["step_count"] = s.StepCount,
            ["base_lrs"] = s.BaseLrs is null ? null : Array(s.BaseLrs, b => Num(b)),
            ["last_lr"] = s.LastLr is null ? null : Array(s.LastLr, b => Num(b)),
            ["fields"] = s.Fields.DeepClone(),
        }),
        ["rng"] = Array(c.Rng, r => new JsonObject
        {
            ["file"] = r.File,
            ["rank"] = r.Rank,
            ["tree_path"] = r.TreePath,
            ["generators"] = Array(r.Generators, g => new JsonObject
            {
                ["name"] = g.Name,
                ["kind"] = g.Kind switch { Rng.RngKind.TorchCpu => "torch-cpu", Rng.RngKind.Numpy => "numpy", _ => "python" },
                ["position"] = g.Position,
                ["seed_found"] = g.Origin.Found,
                ["seed"] = g.Origin.Found ? Big(g.Origin.Seed) : null,
                ["twists"] = g.Origin.Found ? g.Origin.Twists : null,
                ["draws"] = g.WordsDrawn,
                ["seed_field"] = g.DeclaredSeedField,
                ["position_consistent"] = g.PositionConsistent,
                ["gauss_cached"] = g.GaussCached,
            }),
            ["cuda"] = Array(r.Cuda, s => new JsonObject { ["seed"] = s.Seed, ["philox_offset"] = s.PhiloxOffset }),
            ["other_keys"] = Strings(r.OtherKeys),
            ["problems"] = Strings(r.Problems),
        }),
        ["rng_max_twists"] = c.MaxRngTwists,
        ["trainer_state"] = c.TrainerState is not { } t ? null : new JsonObject
        {
            ["global_step"] = t.GlobalStep,
            ["epoch"] = Num(t.Epoch),
            ["max_steps"] = t.MaxSteps,
            ["num_train_epochs"] = Num(t.NumTrainEpochs),
            ["train_batch_size"] = t.TrainBatchSize,
            ["logging_steps"] = t.LoggingSteps,
            ["save_steps"] = t.SaveSteps,
            ["log_history"] = Array(t.LogHistory, e => new JsonObject
            {
                ["step"] = e.Step,
                ["epoch"] = Num(e.Epoch),
                ["loss"] = Num(e.Loss),
                ["grad_norm"] = Num(e.GradNorm),
                ["learning_rate"] = Num(e.LearningRate),
            }),
        },
        ["problems"] = Array(c.Problems, Finding),
    };

    public static JsonObject Diff(CheckpointDiffResult d) => new()
    {
        ["a"] = d.A,
        ["b"] = d.B,
        ["identical"] = d.Identical,
        ["tensors_compared"] = d.TensorsCompared,
        ["differences"] = Array(d.Differences, x => new JsonObject { ["area"] = x.Area, ["subject"] = x.Subject, ["change"] = x.Change, ["a"] = x.A, ["b"] = x.B }),
        ["problems"] = Array(d.Problems, Finding),
    };

    /// <summary>A <c>checkpoint-inspected</c> event (docs/events.md): what was read and, for <c>check</c>, the rules that fired.</summary>
    public static EventRecord InspectedEvent(CheckpointContents c, IReadOnlyList<Finding> findings, DateTimeOffset timestamp)
    {
        var e = new EventRecord(timestamp, EventActions.CheckpointInspected, EventKinds.State);
        e.Set(EventFields.Category, ["file"]).Set(EventFields.Type, ["info"]);
        e.Set(EventFields.Module, "ckpt").Set(EventFields.Dataset, "ckpt");
        e.Set("file.path", System.IO.Path.GetFullPath(c.Path));
        e.Set(EventFields.Outcome, findings.Any(f => f.Verdict == Verdict.Error) ? EventOutcomes.Failure : EventOutcomes.Success);
        e.Set("trainguard.ckpt.files", c.Files.Select(f => f.Name));
        e.Set("trainguard.ckpt.tensors", c.Tensors.Count);
        if (c.FolderStep is { } step)
        {
            e.Set("trainguard.ckpt.step", step);
        }

        var optimizers = new JsonArray();
        foreach (var o in c.Optimizers)
        {
            foreach (var g in o.ParamGroups)
            {
                optimizers.Add(new JsonObject
                {
                    ["file"] = o.File,
                    ["group"] = g.Index,
                    ["classes"] = Strings(o.ClassCandidates),
                    ["lr"] = Num(g.Lr),
                    ["initial_lr"] = Num(g.InitialLr),
                    ["betas"] = g.Betas is null ? null : Array(g.Betas, b => Num(b)),
                    ["eps"] = Num(g.Eps),
                    ["weight_decay"] = Num(g.WeightDecay),
                    ["maximize"] = g.Maximize,
                });
            }
        }

        e.SetNode("trainguard.ckpt.optimizer", optimizers);
        var seeds = new JsonObject();
        foreach (var r in c.Rng)
        {
            foreach (var g in r.Generators)
            {
                seeds[$"{r.File}:{g.Name}"] = g.Origin.Found ? Big(g.Origin.Seed) : null;
            }
        }

        e.SetNode("trainguard.ckpt.rng_seeds", seeds);
        e.Set("trainguard.ckpt.findings", findings.Select(f => f.RuleId).Distinct(StringComparer.Ordinal));
        if (findings.Count > 0)
        {
            e.WithFinding(findings.OrderByDescending(f => f.Severity).First());
        }

        return e;
    }

    public static JsonObject Finding(Finding f)
    {
        var location = new JsonObject { ["file"] = f.Location.File, ["member"] = f.Location.Member, ["offset"] = f.Location.Offset, ["line"] = f.Location.Line };
        var obj = new JsonObject
        {
            ["rule"] = f.RuleId,
            ["severity"] = f.Severity.ToWireName(),
            ["verdict"] = f.Verdict.ToWireName(),
            ["message"] = f.Message,
            ["location"] = location,
        };
        if (f.Evidence is { Count: > 0 } evidence)
        {
            var ev = new JsonObject();
            foreach (var (k, v) in evidence.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                ev[k] = v;
            }

            obj["evidence"] = ev;
        }

        return obj;
    }

    private static JsonObject Tensor(TensorInfo t) => new()
    {
        ["file"] = t.File,
        ["name"] = t.Name,
        ["dtype"] = t.Dtype,
        ["shape"] = Array(t.Shape, s => JsonValue.Create(s)),
        ["bytes"] = t.Bytes,
        ["storage"] = t.Storage,
        ["storage_offset"] = t.StorageOffset,
        ["contiguous"] = t.Contiguous,
        ["sha256"] = t.Sha256,
    };

    private static JsonNode? Num(double? value) => value is { } v ? PlainValues.Number(v) : null;

    /// <summary>An integer as a JSON number when it fits in 64 bits, else as a decimal string.</summary>
    private static JsonNode Big(BigInteger value) =>
        value >= long.MinValue && value <= long.MaxValue ? JsonValue.Create((long)value) : JsonValue.Create(value.ToString(CultureInfo.InvariantCulture));

    private static JsonArray Strings(IEnumerable<string> values) => new([.. values.Select(v => (JsonNode?)JsonValue.Create(v))]);

    private static JsonArray Array<T>(IEnumerable<T> items, Func<T, JsonNode?> map) => new([.. items.Select(map)]);
}
