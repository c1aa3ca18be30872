using System.Globalization;
using System.Numerics;
using TrainGuard.Findings;
using TrainGuard.Parsing;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace TrainGuard.Checkpoints.Runs;

/// <summary>
/// Reads a run manifest (YAML). Strict on purpose: an unknown key, a wrong type or a duplicate is an
/// error naming the file, the line and the field (<c>run.yaml:9: optimizer.lr: expected a number, got 'fast'</c>),
/// because a typo must never silently switch a check off.
/// </summary>
public static class RunManifestParser
{
    /// <summary>Largest manifest read (a manifest is a few hundred bytes).</summary>
    public const int MaxBytes = 1024 * 1024;

    /// <summary>Schedules <c>scheduler.schedule</c> accepts (Hugging Face <c>get_scheduler</c> names).</summary>
    public static IReadOnlyList<string> Schedules { get; } = ["linear", "cosine", "constant", "constant_with_warmup"];

    /// <summary>Samplers <c>data.sampler</c> accepts.</summary>
    public static IReadOnlyList<string> Samplers { get; } = ["distributed", "random", "sequential"];

    private static readonly string[] TopKeys = ["version", "name", "seed", "world_size", "max_steps", "optimizer", "scheduler", "data", "files"];
    private static readonly string[] OptimizerKeys = ["name", "lr", "betas", "eps", "weight_decay", "amsgrad", "maximize", "momentum", "dampening", "nesterov", "foreach", "fused", "capturable", "differentiable"];
    private static readonly string[] SchedulerKeys = ["name", "schedule", "warmup_steps"];
    private static readonly string[] DataKeys = ["sampler", "seed", "dataset_size", "batch_size", "drop_last", "shuffle", "sampler_drop_last", "batches_per_step", "set_epoch"];
    private static readonly string[] DistributedOnlyKeys = ["shuffle", "sampler_drop_last", "set_epoch"];
    private static readonly BigInteger MinTorchSeed = -(BigInteger.One << 63);
    private static readonly BigInteger MaxTorchSeed = (BigInteger.One << 64) - 1;

    /// <exception cref="MalformedInputException">The file is too large or the manifest is invalid.</exception>
    public static RunManifest Load(string path)
    {
        var info = new FileInfo(path);
        if (info.Length > MaxBytes)
        {
            MalformedInputException.ThrowLimit($"{path}: run manifest size", MaxBytes, 0);
        }

        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Parses manifest text; <paramref name="source"/> names it in errors.</summary>
    /// <exception cref="MalformedInputException">Invalid YAML or an invalid manifest.</exception>
    public static RunManifest Parse(string yaml, string source)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException ex)
        {
            throw Error(source, ex.Start, null, $"not valid YAML: {ex.InnerException?.Message ?? ex.Message}");
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or FormatException)
        {
            // YamlDotNet's scanner throws these on some malformed input instead of a YamlException.
            throw MalformedInputException.CreateAt(InputErrorKind.Config, $"not valid YAML ({ex.GetType().Name}: {ex.Message})", source, line: null, offset: 0);
        }

        if (stream.Documents.Count != 1)
        {
            throw MalformedInputException.CreateAt(InputErrorKind.Config, $"expected one YAML document, found {stream.Documents.Count}", source, line: null, offset: 0);
        }

        if (stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw Error(source, stream.Documents[0].RootNode.Start, null, "expected a mapping (version, seed, optimizer, ...)");
        }

        var reader = new Reader(source);
        var top = reader.Mapping(root, null, TopKeys);
        if (!top.TryGetValue("version", out var versionNode))
        {
            throw Error(source, root.Start, "version", $"required; write 'version: {RunManifest.CurrentVersion}'");
        }

        var version = reader.Int(versionNode, "version", 1, int.MaxValue);
        if (version != RunManifest.CurrentVersion)
        {
            throw Error(source, versionNode.Start, "version", $"version {version} is not understood; this TrainGuard reads version {RunManifest.CurrentVersion}");
        }

        OptimizerSpec? optimizer = null;
        if (top.TryGetValue("optimizer", out var optimizerNode))
        {
            var o = reader.Mapping(optimizerNode, "optimizer", OptimizerKeys);
            optimizer = new OptimizerSpec
            {
                Name = reader.OptionalString(o, "optimizer", "name"),
                Lr = reader.OptionalNumber(o, "optimizer", "lr"),
                Betas = o.TryGetValue("betas", out var betas) ? reader.NumberList(betas, "optimizer.betas", 2) : null,
                Eps = reader.OptionalNumber(o, "optimizer", "eps"),
                WeightDecay = reader.OptionalNumber(o, "optimizer", "weight_decay"),
                Amsgrad = reader.OptionalBool(o, "optimizer", "amsgrad"),
                Maximize = reader.OptionalBool(o, "optimizer", "maximize"),
                Momentum = reader.OptionalNumber(o, "optimizer", "momentum"),
                Dampening = reader.OptionalNumber(o, "optimizer", "dampening"),
                Nesterov = reader.OptionalBool(o, "optimizer", "nesterov"),
                Foreach = reader.OptionalBool(o, "optimizer", "foreach"),
                Fused = reader.OptionalBool(o, "optimizer", "fused"),
                Capturable = reader.OptionalBool(o, "optimizer", "capturable"),
                Differentiable = reader.OptionalBool(o, "optimizer", "differentiable"),
            };
        }

        SchedulerSpec? scheduler = null;
        if (top.TryGetValue("scheduler", out var schedulerNode))
        {
            var s = reader.Mapping(schedulerNode, "scheduler", SchedulerKeys);
            var schedule = reader.OptionalString(s, "scheduler", "schedule");
            if (schedule is not null && !Schedules.Contains(schedule))
            {
                throw Error(source, s["schedule"].Start, "scheduler.schedule", $"'{schedule}' is not one of: {string.Join(", ", Schedules)}");
            }

            scheduler = new SchedulerSpec
            {
                Name = reader.OptionalString(s, "scheduler", "name"),
                Schedule = schedule,
                WarmupSteps = s.TryGetValue("warmup_steps", out var warmup) ? reader.Int(warmup, "scheduler.warmup_steps", 0, long.MaxValue) : null,
            };
        }

        BigInteger? seed = top.TryGetValue("seed", out var seedNode) ? reader.BigInt(seedNode, "seed") : null;
        return new RunManifest
        {
            Source = source,
            Version = (int)version,
            Name = reader.OptionalString(top, null, "name"),
            Seed = seed,
            WorldSize = top.TryGetValue("world_size", out var world) ? (int)reader.Int(world, "world_size", 1, 1_000_000) : null,
            MaxSteps = top.TryGetValue("max_steps", out var maxSteps) ? reader.Int(maxSteps, "max_steps", 0, long.MaxValue) : null,
            Optimizer = optimizer,
            Scheduler = scheduler,
            Data = top.TryGetValue("data", out var data) ? ReadData(reader, source, data, seed) : null,
            Files = top.TryGetValue("files", out var files) ? reader.FileList(files) : [],
            Lines = reader.Lines,
        };
    }

    /// <summary>Fuzz target: never throws anything but <see cref="MalformedInputException"/>.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        try
        {
            _ = Parse(System.Text.Encoding.UTF8.GetString(data), "fuzz.yaml");
        }
        catch (MalformedInputException)
        {
        }
    }

    private static DataSpec ReadData(Reader reader, string source, YamlNode node, BigInteger? topSeed)
    {
        var d = reader.Mapping(node, "data", DataKeys);
        var name = reader.OptionalString(d, "data", "sampler") ?? throw Error(source, node.Start, "data.sampler", $"required; one of: {string.Join(", ", Samplers)}");
        var sampler = name switch
        {
            "distributed" => DataSampler.Distributed,
            "random" => DataSampler.Random,
            "sequential" => DataSampler.Sequential,
            _ => throw Error(source, d["sampler"].Start, "data.sampler", $"'{TextSanitizer.Escape(name, 60)}' is not one of: {string.Join(", ", Samplers)}"),
        };
        foreach (var key in DistributedOnlyKeys)
        {
            if (sampler != DataSampler.Distributed && d.TryGetValue(key, out var only))
            {
                throw Error(source, only.Start, "data." + key, $"only for sampler distributed (DistributedSampler), not {name}");
            }
        }

        var size = Required(d, "dataset_size", "the number of samples, len(dataset)");
        var datasetSize = reader.BigInt(size, "data.dataset_size");
        if (datasetSize < (sampler == DataSampler.Random ? 1 : 0) || datasetSize > DataSpec.MaxDatasetSize)
        {
            throw Error(source, size.Start, "data.dataset_size", datasetSize > DataSpec.MaxDatasetSize
                ? $"{datasetSize} samples is more than the {DataSpec.MaxDatasetSize} (2^24) TrainGuard models (it holds a permutation of the dataset in memory)"
                : sampler == DataSampler.Random ? $"must be at least 1 (RandomSampler refuses an empty dataset), got {datasetSize}" : $"must be at least 0, got {datasetSize}");
        }

        ulong dataSeed = 0;
        if (d.TryGetValue("seed", out var seedNode))
        {
            if (sampler == DataSampler.Sequential)
            {
                throw Error(source, seedNode.Start, "data.seed", "a sequential sampler has no seed");
            }

            var value = reader.BigInt(seedNode, "data.seed");
            if (value < MinTorchSeed || value > MaxTorchSeed)
            {
                throw Error(source, seedNode.Start, "data.seed", $"torch.Generator.manual_seed takes -2^63..2^64-1, got {value}");
            }

            dataSeed = RunChecker.TorchSeed(value);
        }
        else if (topSeed is { } top)
        {
            dataSeed = RunChecker.TorchSeed(top);
        }
        else if (sampler == DataSampler.Random)
        {
            throw Error(source, node.Start, "data.seed", "required for sampler random (the seed of its generator) when the manifest has no seed");
        }

        return new DataSpec
        {
            Sampler = sampler,
            Seed = dataSeed,
            DatasetSize = (long)datasetSize,
            BatchSize = reader.Int(Required(d, "batch_size", "samples per batch on each rank"), "data.batch_size", 1, int.MaxValue),
            DropLast = reader.OptionalBool(d, "data", "drop_last") ?? false,
            Shuffle = reader.OptionalBool(d, "data", "shuffle") ?? true,
            SamplerDropLast = reader.OptionalBool(d, "data", "sampler_drop_last") ?? false,
            BatchesPerStep = d.TryGetValue("batches_per_step", out var perStep) ? (int)reader.Int(perStep, "data.batches_per_step", 1, 1_000_000) : 1,
            SetEpoch = reader.OptionalBool(d, "data", "set_epoch") ?? true,
        };

        YamlNode Required(Dictionary<string, YamlNode> map, string key, string what) =>
            map.TryGetValue(key, out var value) ? value : throw Error(source, node.Start, "data." + key, $"required ({what})");
    }

    private static MalformedInputException Error(string source, Mark mark, string? field, string problem) =>
        MalformedInputException.CreateAt(
            InputErrorKind.Config,
            field is null ? problem : $"{field}: {problem}",
            source,
            mark.Line > 0 ? (int)mark.Line : null,
            offset: mark.Index,
            field: field);

    private sealed class Reader(string source)
    {
        public Dictionary<string, int> Lines { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, YamlNode> Mapping(YamlNode node, string? parent, string[] allowed)
        {
            if (node is not YamlMappingNode mapping)
            {
                throw Error(source, node.Start, parent, $"expected a mapping with keys {string.Join(", ", allowed)}, got {Describe(node)}");
            }

            var result = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
            foreach (var (keyNode, valueNode) in mapping.Children)
            {
                if (keyNode is not YamlScalarNode { Value: { } key })
                {
                    throw Error(source, keyNode.Start, parent, "keys must be plain names");
                }

                var path = parent is null ? key : parent + "." + key;
                if (!allowed.Contains(key))
                {
                    throw Error(source, keyNode.Start, path, $"unknown key; {(parent is null ? "a run manifest" : "'" + parent + "'")} has: {string.Join(", ", allowed)}");
                }

                if (!result.TryAdd(key, valueNode))
                {
                    throw Error(source, keyNode.Start, path, "given twice");
                }

                Lines[path] = (int)Math.Min(int.MaxValue, keyNode.Start.Line);
            }

            return result;
        }

        public string? OptionalString(Dictionary<string, YamlNode> map, string? parent, string key)
        {
            if (!map.TryGetValue(key, out var node))
            {
                return null;
            }

            if (node is not YamlScalarNode { Value: { Length: > 0 } value } || IsNull(node))
            {
                throw Error(source, node.Start, Path(parent, key), $"expected a name, got {Describe(node)}");
            }

            return value;
        }

        public double? OptionalNumber(Dictionary<string, YamlNode> map, string parent, string key) =>
            map.TryGetValue(key, out var node) ? Number(node, Path(parent, key)) : null;

        public bool? OptionalBool(Dictionary<string, YamlNode> map, string parent, string key)
        {
            if (!map.TryGetValue(key, out var node))
            {
                return null;
            }

            if (node is YamlScalarNode { Style: ScalarStyle.Plain, Value: { } value })
            {
                switch (value)
                {
                    case "true" or "True" or "TRUE":
                        return true;
                    case "false" or "False" or "FALSE":
                        return false;
                }
            }

            throw Error(source, node.Start, Path(parent, key), $"expected true or false, got {Describe(node)}");
        }

        public double Number(YamlNode node, string field)
        {
            if (node is YamlScalarNode { Style: ScalarStyle.Plain, Value: { } text }
                && !text.Contains('_', StringComparison.Ordinal)
                && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
                && double.IsFinite(value))
            {
                return value;
            }

            throw Error(source, node.Start, field, $"expected a number, got {Describe(node)}");
        }

        public long Int(YamlNode node, string field, long min, long max)
        {
            var value = BigInt(node, field);
            if (value < min || value > max)
            {
                throw Error(source, node.Start, field, max == long.MaxValue ? $"must be at least {min}, got {value}" : $"must be between {min} and {max}, got {value}");
            }

            return (long)value;
        }

        public BigInteger BigInt(YamlNode node, string field)
        {
            if (node is YamlScalarNode { Style: ScalarStyle.Plain, Value: { Length: > 0 and <= 700 } text }
                && BigInteger.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
            {
                return value;
            }

            throw Error(source, node.Start, field, $"expected an integer, got {Describe(node)}");
        }

        public IReadOnlyList<double> NumberList(YamlNode node, string field, int count)
        {
            if (node is not YamlSequenceNode sequence || sequence.Children.Count != count)
            {
                throw Error(source, node.Start, field, $"expected a list of {count} numbers, got {Describe(node)}");
            }

            return sequence.Children.Select(child => Number(child, field)).ToList();
        }

        public IReadOnlyList<string> FileList(YamlNode node)
        {
            if (node is not YamlSequenceNode sequence)
            {
                throw Error(source, node.Start, "files", $"expected a list of file names, got {Describe(node)}");
            }

            var files = new List<string>();
            foreach (var child in sequence.Children)
            {
                if (child is not YamlScalarNode { Value: { Length: > 0 } name } || IsNull(child))
                {
                    throw Error(source, child.Start, "files", $"expected a file name, got {Describe(child)}");
                }

                if (name.Contains('/', StringComparison.Ordinal) || name.Contains('\\', StringComparison.Ordinal) || name is "." or "..")
                {
                    throw Error(source, child.Start, "files", $"'{name}' must be a plain file name inside the checkpoint folder");
                }

                files.Add(name);
            }

            return files;
        }

        private static string Path(string? parent, string key) => parent is null ? key : parent + "." + key;

        private static bool IsNull(YamlNode node) => node is YamlScalarNode { Style: ScalarStyle.Plain, Value: null or "" or "~" or "null" or "Null" or "NULL" };

        private static string Describe(YamlNode node) => node switch
        {
            YamlMappingNode => "a mapping",
            YamlSequenceNode s => $"a list of {s.Children.Count}",
            YamlScalarNode scalar when IsNull(scalar) => "nothing (null)",
            YamlScalarNode { Style: ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted } scalar => $"the quoted text '{TextSanitizer.Escape(scalar.Value, 60)}'",
            YamlScalarNode scalar => $"'{TextSanitizer.Escape(scalar.Value, 60)}'",
            _ => "an unsupported YAML node",
        };
    }
}
