using System.Globalization;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TrainGuard.Checkpoints.Rng;
using TrainGuard.Checkpoints.Runs;
using TrainGuard.Findings;
using TrainGuard.Parsing;
using TrainGuard.Rules;

namespace TrainGuard.Checkpoints.Contents;

/// <summary>
/// The ckpt content rules (<c>Rules/ckpt-content.yaml</c>) as a <see cref="RuleFamily"/> whose matcher is what
/// <c>ckpt check</c> runs: <see cref="RunChecker"/> on checkpoint contents against a run manifest, and the
/// <see cref="CheckpointReader"/> (with the scanner) for files it cannot or will not read. A sample is a mapping:
/// <list type="bullet">
/// <item><c>run: {...}</c>: the run manifest (the fields of run.yaml; <c>version: 1</c> when not given), read by <see cref="RunManifestParser"/>; absent: no manifest;</item>
/// <item><c>checkpoint: NAME</c>: a <c>checkpoint-N</c> folder (default <c>checkpoint-6</c>) or a single file (<c>model.pt</c>);</item>
/// <item><c>files: [NAME]</c>: other files present (default <c>[model.safetensors]</c>);</item>
/// <item><c>optimizer: {param_groups: [{lr, initial_lr, betas, eps, weight_decay, amsgrad, maximize, momentum...}], steps: [N]}</c> in optimizer.pt
/// (its class follows from the param group's keys, as torch saves them);</item>
/// <item><c>scheduler: {last_epoch, step_count, base_lrs, last_lr, keys: [NAME]}</c> in scheduler.pt (keys: the class's own fields, e.g. lr_lambdas);</item>
/// <item><c>trainer_state: {...}</c>: trainer_state.json, read by <see cref="TrainerState"/>;</item>
/// <item><c>rng: {FILE: {cpu|numpy|python: {seed: N | words: random, twists: N, position: N, seed_field: N, position_consistent: BOOL}}}</c>:
/// generator states made by seeding MT19937 as each library does and drawing <c>twists</c> blocks, traced back by <see cref="SeedFinder"/>
/// within <c>max_twists</c> (default 100);</item>
/// <item><c>raw: {FILE: {text: TEXT} | {hex: HEX}}</c>: instead of all the above, real files in a folder read by <see cref="CheckpointReader"/>;</item>
/// <item><c>severity: LEVEL</c> (must_match only): the finding has this severity.</item>
/// </list>
/// A must_match sample yields a finding of the rule; a must_not_match sample yields none.
/// </summary>
public sealed class CheckpointRuleFamily : RuleFamily
{
    private static readonly string[] Fields = ["run", "checkpoint", "files", "optimizer", "scheduler", "trainer_state", "rng", "max_twists", "raw", "severity"];

    public CheckpointRuleFamily(IEnumerable<RuleDefinition> rules)
        : base(CheckpointRules.FamilyName, "What a checkpoint holds against what its run declares (`trainguard ckpt inspect/check`)", rules)
    {
    }

    public override bool HasMatcher(RuleDefinition rule) => rule?.Family == CheckpointRules.FamilyName;

    public override ValueTask<string?> CheckSampleAsync(RuleDefinition rule, string sample, bool expectMatch, CancellationToken cancellationToken = default)
    {
        var spec = RuleSamples.ParseMapping(sample, CheckpointRules.FamilyName, Fields);
        var severity = RuleSamples.ExpectedSeverity(spec);
        var findings = Run(spec, cancellationToken);
        return ValueTask.FromResult(Expect(expectMatch, RuleSamples.Flags(findings, rule, severity), RuleSamples.Describe(findings)));
    }

    private static List<Finding> Run(JsonObject spec, CancellationToken cancellationToken)
    {
        RunManifest? manifest = null;
        if (spec["run"] is JsonObject run)
        {
            var text = (JsonObject)run.DeepClone();
            text.TryAdd("version", RunManifest.CurrentVersion);
            manifest = RunManifestParser.Parse(text.ToJsonString(), "sample run.yaml");
        }

        var name = Text(spec["checkpoint"], "checkpoint") ?? "checkpoint-6";
        if (spec["raw"] is JsonObject raw)
        {
            return ReadRaw(name, raw, manifest, cancellationToken);
        }

        var contents = Build(spec, name, cancellationToken);
        return [.. RunChecker.Check(contents, manifest)];
    }

    /// <summary>Real files in a temporary folder, read by the checkpoint reader (and its scanner), then checked.</summary>
    private static List<Finding> ReadRaw(string name, JsonObject raw, RunManifest? manifest, CancellationToken cancellationToken)
    {
        using var root = new SampleFolder("ckpt-sample");
        var folder = Path.Combine(root.Path, name);
        Directory.CreateDirectory(folder);
        foreach (var (file, content) in raw)
        {
            if (file.Contains('/', StringComparison.Ordinal) || file is "." or ".." || content is not JsonObject body)
            {
                throw MalformedInputException.Create(InputErrorKind.Config, $"raw.{file} must be a file name with {{text: ...}} or {{hex: ...}}");
            }

            var bytes = body["hex"] is { } hex ? Convert.FromHexString(Text(hex, $"raw.{file}.hex")!) : Encoding.UTF8.GetBytes(Text(body["text"], $"raw.{file}.text") ?? string.Empty);
            File.WriteAllBytes(Path.Combine(folder, file), bytes);
        }

        var contents = CheckpointReader.Read(folder, cancellationToken: cancellationToken);
        return [.. contents.Problems, .. RunChecker.Check(contents, manifest)];
    }

    private static CheckpointContents Build(JsonObject spec, string name, CancellationToken cancellationToken)
    {
        var isFolder = Path.GetExtension(name).Length == 0;
        var path = Path.Combine("/sample", name);
        var maxTwists = spec["max_twists"] is { } max ? Integer(max, "max_twists") : 100;
        var files = new List<(string Name, string Role)>();
        var optimizers = new List<OptimizerContents>();
        var schedulers = new List<SchedulerContents>();
        var rngs = new List<RngFileContents>();
        TrainerState? trainerState = null;
        var single = isFolder ? null : name;

        if (spec["optimizer"] is { } optimizer)
        {
            var file = single ?? "optimizer.pt";
            optimizers.Add(Optimizer(Map(optimizer, "optimizer"), file));
            files.Add((file, "optimizer"));
        }

        if (spec["scheduler"] is { } scheduler)
        {
            var file = single ?? "scheduler.pt";
            schedulers.Add(Scheduler(Map(scheduler, "scheduler"), file));
            files.Add((file, "scheduler"));
        }

        if (spec["trainer_state"] is { } state)
        {
            trainerState = TrainerState.Parse(Encoding.UTF8.GetBytes(Map(state, "trainer_state").ToJsonString()));
            files.Add(("trainer_state.json", "trainer-state"));
        }

        foreach (var (file, generators) in spec["rng"] is { } rng ? Map(rng, "rng") : [])
        {
            rngs.Add(new RngFileContents
            {
                File = file,
                Rank = CheckpointContents.RankOf(file),
                Generators = Map(generators, $"rng.{file}").Select(g => Generator(g.Key, Map(g.Value, $"rng.{file}.{g.Key}"), maxTwists, cancellationToken)).ToList(),
            });
            files.Add((file, "rng"));
        }

        foreach (var file in spec["files"] is { } listed ? Strings(listed, "files") : isFolder ? ["model.safetensors"] : [])
        {
            files.Add((file, file.StartsWith("model", StringComparison.Ordinal) || file.StartsWith("pytorch_model", StringComparison.Ordinal) ? "model" : "other"));
        }

        var infos = files.GroupBy(f => f.Name, StringComparer.Ordinal).Select(g => new CheckpointFileInfo
        {
            Name = g.Key,
            FullPath = isFolder ? Path.Combine(path, g.Key) : path,
            Format = g.Key.EndsWith(".json", StringComparison.Ordinal) ? "json" : g.Key.EndsWith(".safetensors", StringComparison.Ordinal) ? "safetensors" : "torch-zip",
            Roles = g.Select(f => f.Role).Distinct(StringComparer.Ordinal).ToList(),
            Interpreted = true,
            ScanVerdict = Verdict.Clean,
        }).ToList();
        return new CheckpointContents
        {
            Path = path,
            IsFolder = isFolder,
            FolderStep = isFolder ? CheckpointReader.FolderStepOf(name) : null,
            Files = infos,
            Tensors = [],
            Optimizers = optimizers,
            Schedulers = schedulers,
            Rng = rngs,
            TrainerState = trainerState,
            Problems = [],
            MaxRngTwists = maxTwists,
        };
    }

    private static OptimizerContents Optimizer(JsonObject spec, string file)
    {
        var groups = new List<ParamGroupInfo>();
        foreach (var node in spec["param_groups"] is JsonArray list ? list : throw MalformedInputException.Create(InputErrorKind.Config, "optimizer.param_groups must be a list"))
        {
            var group = Map(node, "optimizer.param_groups[]");
            groups.Add(new ParamGroupInfo
            {
                Index = groups.Count,
                Lr = Number(group["lr"]),
                InitialLr = Number(group["initial_lr"]),
                Betas = group["betas"] is JsonArray betas ? betas.Select(b => Number(b) ?? double.NaN).ToList() : null,
                Eps = Number(group["eps"]),
                WeightDecay = Number(group["weight_decay"]),
                Amsgrad = Flag(group["amsgrad"]),
                Maximize = Flag(group["maximize"]),
                Foreach = Flag(group["foreach"]),
                Capturable = Flag(group["capturable"]),
                Differentiable = Flag(group["differentiable"]),
                Fused = Flag(group["fused"]),
                Momentum = Number(group["momentum"]),
                Dampening = Number(group["dampening"]),
                Nesterov = Flag(group["nesterov"]),
                ParamsCount = 1,
                Fields = (JsonObject)group.DeepClone(),
            });
        }

        var steps = spec["steps"] is { } s ? Strings(s, "optimizer.steps").Select(x => double.Parse(x, CultureInfo.InvariantCulture)).ToList() : [];
        return new OptimizerContents
        {
            File = file,
            TreePath = string.Empty,
            ParamGroups = groups,
            States = steps.Select((step, i) => new ParamStateInfo(i.ToString(CultureInfo.InvariantCulture), step, ["exp_avg", "exp_avg_sq"])).ToList(),
            ClassCandidates = OptimizerClasses.Infer(groups.Count > 0 ? groups[0].Fields : new JsonObject()),
        };
    }

    private static SchedulerContents Scheduler(JsonObject spec, string file)
    {
        var fields = new JsonObject();
        foreach (var key in spec["keys"] is { } keys ? Strings(keys, "scheduler.keys") : [])
        {
            fields[key] = 0;
        }

        return new SchedulerContents
        {
            File = file,
            TreePath = string.Empty,
            LastEpoch = spec["last_epoch"] is { } last ? Integer(last, "scheduler.last_epoch") : null,
            StepCount = spec["step_count"] is { } count ? Integer(count, "scheduler.step_count") : null,
            BaseLrs = spec["base_lrs"] is JsonArray bases ? bases.Select(b => Number(b) ?? double.NaN).ToList() : null,
            LastLr = spec["last_lr"] is JsonArray lastLr ? lastLr.Select(b => Number(b) ?? double.NaN).ToList() : null,
            ClassCandidates = SchedulerReader.Candidates(fields),
            Fields = fields,
        };
    }

    /// <summary>A generator state as a library leaves it: seeded its way, then <c>twists</c> blocks drawn.</summary>
    private static RngGenerator Generator(string name, JsonObject spec, long maxTwists, CancellationToken cancellationToken)
    {
        var kind = name switch
        {
            "cpu" => RngKind.TorchCpu,
            "numpy" => RngKind.Numpy,
            "python" => RngKind.Python,
            _ => throw MalformedInputException.Create(InputErrorKind.Config, $"generator '{name}' must be cpu, numpy or python"),
        };
        uint[] words;
        BigInteger? seed = null;
        if (Text(spec["words"], "words") == "random")
        {
            words = new uint[Mt19937.N];
            var bytes = SHA256.HashData(Encoding.ASCII.GetBytes("trainguard sample"));
            for (var i = 0; i < words.Length; i++)
            {
                bytes = SHA256.HashData(bytes);
                words[i] = BitConverterLittle(bytes);
            }
        }
        else
        {
            seed = spec["seed"] is { } s ? BigInteger.Parse(s.ToJsonString(), CultureInfo.InvariantCulture) : throw MalformedInputException.Create(InputErrorKind.Config, $"generator '{name}' needs a seed or words: random");
            words = kind == RngKind.Python ? Mt19937.InitByArray(Mt19937.KeyOf(BigInteger.Abs(seed.Value))) : Mt19937.InitGenrand(SeedFinder.Low32(seed.Value));
            var twists = spec["twists"] is { } t ? Integer(t, "twists") : 1;
            for (var i = 0; i < twists; i++)
            {
                Mt19937.Twist(words);
            }
        }

        ulong? seedField = kind != RngKind.TorchCpu ? null
            : spec["seed_field"] is { } field ? ulong.Parse(field.ToJsonString(), CultureInfo.InvariantCulture)
            : seed is { } declared ? RunChecker.TorchSeed(declared) : null;
        var position = spec["position"] is { } p ? (int)Integer(p, "position") : 10;
        var consistent = Flag(spec["position_consistent"]) ?? true;
        return new RngGenerator(name, kind, words, position, SeedFinder.Find(words, kind, maxTwists, cancellationToken), seedField, consistent, false);
    }

    private static uint BitConverterLittle(byte[] bytes) => System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(bytes);

    private static JsonObject Map(JsonNode? node, string where) => node as JsonObject ?? throw MalformedInputException.Create(InputErrorKind.Config, $"'{where}' must be a mapping");

    private static IEnumerable<string> Strings(JsonNode node, string where) =>
        node is JsonArray items ? items.Select(i => i is JsonValue v ? (v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : v.ToJsonString()) : throw MalformedInputException.Create(InputErrorKind.Config, $"'{where}' items must be values"))
        : throw MalformedInputException.Create(InputErrorKind.Config, $"'{where}' must be a list");

    private static string? Text(JsonNode? node, string where) =>
        node is null ? null : node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : throw MalformedInputException.Create(InputErrorKind.Config, $"'{where}' must be text");

    private static long Integer(JsonNode node, string where) =>
        node is JsonValue v && v.TryGetValue<long>(out var value) ? value : throw MalformedInputException.Create(InputErrorKind.Config, $"'{where}' must be an integer");

    private static double? Number(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.Number ? v.GetValue<double>() : null;

    private static bool? Flag(JsonNode? node) => node is JsonValue v ? v.GetValueKind() switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    } : null;
}
