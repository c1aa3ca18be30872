using System.Globalization;
using System.Text.Json.Nodes;
using TrainGuard.Checkpoints.Torch;
using TrainGuard.Parsing;
using TrainGuard.Pickle.Objects;

namespace TrainGuard.Checkpoints.Contents;

/// <summary>One <c>param_groups</c> entry: the hyperparameters every torch optimizer keeps, and all other keys as saved.</summary>
public sealed record ParamGroupInfo
{
    public required int Index { get; init; }

    public double? Lr { get; init; }

    /// <summary>The learning rate the optimizer was built with; added by a scheduler.</summary>
    public double? InitialLr { get; init; }

    public IReadOnlyList<double>? Betas { get; init; }

    public double? Eps { get; init; }

    public double? WeightDecay { get; init; }

    public bool? Amsgrad { get; init; }

    public bool? Maximize { get; init; }

    public bool? Foreach { get; init; }

    public bool? Capturable { get; init; }

    public bool? Differentiable { get; init; }

    public bool? Fused { get; init; }

    public double? Momentum { get; init; }

    public double? Dampening { get; init; }

    public bool? Nesterov { get; init; }

    public int ParamsCount { get; init; }

    /// <summary>Every key except <c>params</c>, as plain JSON (what diff compares).</summary>
    public required JsonObject Fields { get; init; }

    /// <summary>Byte offset of the group's dict in the pickle (to point findings at it).</summary>
    public long Offset { get; init; }

    /// <summary>Offset of the value of <c>maximize</c>, when present.</summary>
    public long? MaximizeOffset { get; init; }
}

/// <summary>One parameter's optimizer state (<c>state[i]</c>): its step count and the tensors kept for it.</summary>
public sealed record ParamStateInfo(string Id, double? Step, IReadOnlyList<string> Buffers);

/// <summary>A torch optimizer <c>state_dict()</c>.</summary>
public sealed record OptimizerContents
{
    public required string File { get; init; }

    /// <summary>Dotted path of the state_dict in the file ("" at the root, <c>optimizer</c> in a combined checkpoint).</summary>
    public required string TreePath { get; init; }

    /// <summary>The member holding the pickle (<c>optimizer/data.pkl</c>), for locations.</summary>
    public string? Member { get; init; }

    public required IReadOnlyList<ParamGroupInfo> ParamGroups { get; init; }

    public required IReadOnlyList<ParamStateInfo> States { get; init; }

    /// <summary>The optimizer classes the saved keys fit (<c>Adam, AdamW</c> cannot be told apart by keys); empty when unknown.</summary>
    public required IReadOnlyList<string> ClassCandidates { get; init; }

    /// <summary>The step counts of all parameters, distinct (one value when they agree).</summary>
    public IReadOnlyList<double> DistinctSteps => States.Where(s => s.Step is not null).Select(s => s.Step!.Value).Distinct().Order().ToList();
}

internal static class OptimizerReader
{
    public static bool Looks(PyDict dict) => dict.Get("param_groups") is { } groups && groups.AsSequence() is not null && dict.Get("state") is { } state && state.AsDict() is not null;

    public static OptimizerContents Read(PyDict dict, TorchCheckpoint checkpoint, string file, string treePath)
    {
        var groups = new List<ParamGroupInfo>();
        var index = 0;
        foreach (var groupValue in dict.Get("param_groups")!.AsSequence()!.Take(10_000))
        {
            if (groupValue.AsDict() is not { } group)
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, $"optimizer param_groups[{index}] is not a dict: {PyRender.ToText(groupValue, 2, 4, 100)}", groupValue.Offset);
                continue;
            }

            var fields = new JsonObject();
            foreach (var (k, v) in group.Items)
            {
                var key = PlainValues.KeyText(k);
                if (key != "params" && !fields.ContainsKey(key))
                {
                    fields[key] = PlainValues.ToJson(v, checkpoint);
                }
            }

            groups.Add(new ParamGroupInfo
            {
                Index = index,
                Lr = Number(group, "lr", checkpoint),
                InitialLr = Number(group, "initial_lr", checkpoint),
                Betas = group.Get("betas")?.AsSequence()?.Select(b => PlainValues.Scalar(b, checkpoint) ?? double.NaN).ToList(),
                Eps = Number(group, "eps", checkpoint),
                WeightDecay = Number(group, "weight_decay", checkpoint),
                Amsgrad = group.Get("amsgrad")?.AsBool(),
                Maximize = group.Get("maximize")?.AsBool(),
                Foreach = group.Get("foreach")?.AsBool(),
                Capturable = group.Get("capturable")?.AsBool(),
                Differentiable = group.Get("differentiable")?.AsBool(),
                Fused = group.Get("fused")?.AsBool(),
                Momentum = Number(group, "momentum", checkpoint),
                Dampening = Number(group, "dampening", checkpoint),
                Nesterov = group.Get("nesterov")?.AsBool(),
                ParamsCount = group.Get("params")?.AsSequence()?.Count ?? 0,
                Fields = fields,
                Offset = groupValue.Offset,
                MaximizeOffset = group.Get("maximize")?.Offset,
            });
            index++;
        }

        var states = new List<ParamStateInfo>();
        foreach (var (k, v) in dict.Get("state")!.AsDict()!.Items.Take(1_000_000))
        {
            var id = PlainValues.KeyText(k);
            if (v.AsDict() is not { } paramState)
            {
                states.Add(new ParamStateInfo(id, null, []));
                continue;
            }

            var buffers = paramState.Items
                .Where(kv => checkpoint.TensorOf(kv.Value) is not null && PlainValues.KeyText(kv.Key) != "step")
                .Select(kv => PlainValues.KeyText(kv.Key))
                .ToList();
            states.Add(new ParamStateInfo(id, PlainValues.Scalar(paramState.Get("step"), checkpoint), buffers));
        }

        return new OptimizerContents
        {
            File = file,
            TreePath = treePath,
            Member = checkpoint.PickleMember,
            ParamGroups = groups,
            States = states,
            ClassCandidates = OptimizerClasses.Infer(groups.Count > 0 ? groups[0].Fields : new JsonObject()),
        };
    }

    private static double? Number(PyDict group, string key, TorchCheckpoint checkpoint) => PlainValues.Scalar(group.Get(key), checkpoint);
}

/// <summary>Which torch (and Hugging Face) optimizer classes a param group's keys fit.</summary>
public static class OptimizerClasses
{
    /// <summary>Characteristic keys, first match wins; Adam and AdamW save the same keys.</summary>
    private static readonly (string[] Keys, string[] Classes)[] Signatures =
    [
        (["nesterov"], ["SGD"]),
        (["alpha", "centered"], ["RMSprop"]),
        (["lr_decay"], ["Adagrad"]),
        (["rho"], ["Adadelta"]),
        (["lambd"], ["ASGD"]),
        (["etas"], ["Rprop"]),
        (["history_size"], ["LBFGS"]),
        (["relative_step"], ["Adafactor"]),
        (["momentum_decay"], ["NAdam"]),
        (["betas", "amsgrad"], ["Adam", "AdamW"]),
        (["betas", "eps"], ["Adamax", "RAdam"]),
        (["betas"], ["Lion"]),
    ];

    public static IReadOnlyList<string> Infer(JsonObject fields)
    {
        foreach (var (keys, classes) in Signatures)
        {
            if (keys.All(fields.ContainsKey))
            {
                return classes;
            }
        }

        return [];
    }

    /// <summary>True when the class is one <see cref="Infer"/> can recognise (so a mismatch is meaningful).</summary>
    public static bool IsKnown(string name) => Signatures.Any(s => s.Classes.Contains(name, StringComparer.OrdinalIgnoreCase));

    public static string Describe(IReadOnlyList<string> candidates) => candidates.Count switch
    {
        0 => "an unknown optimizer",
        1 => candidates[0],
        _ => string.Join(" or ", candidates),
    };

    internal static string Id(int index) => index.ToString(CultureInfo.InvariantCulture);
}
