using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using TrainGuard.Findings;

namespace TrainGuard.Checkpoints.Contents;

/// <summary>One difference between two checkpoints.</summary>
/// <param name="Area"><c>file</c>, <c>tensor</c>, <c>optimizer</c>, <c>scheduler</c>, <c>rng</c> or <c>trainer_state</c>.</param>
/// <param name="Subject">What differs: a file name, <c>file:tensor</c>, <c>optimizer.pt param_groups[0].maximize</c>...</param>
/// <param name="Change"><c>added</c>, <c>removed</c>, <c>changed</c>, <c>shape</c>, <c>dtype</c>.</param>
/// <param name="A">The value in the first checkpoint (null when absent).</param>
/// <param name="B">The value in the second checkpoint (null when absent).</param>
public sealed record CheckpointDifference(string Area, string Subject, string Change, string? A, string? B);

/// <summary>What differs between two checkpoints, and what could not be compared.</summary>
public sealed record CheckpointDiffResult
{
    public required string A { get; init; }

    public required string B { get; init; }

    public required IReadOnlyList<CheckpointDifference> Differences { get; init; }

    /// <summary>Tensors compared (by SHA-256 of their contiguous little-endian bytes).</summary>
    public int TensorsCompared { get; init; }

    /// <summary>Files unreadable or refused by the scanner, in either checkpoint: their contents were not compared.</summary>
    public required IReadOnlyList<Finding> Problems { get; init; }

    public bool Identical => Differences.Count == 0 && Problems.Count == 0;
}

/// <summary>
/// Compares two checkpoints read with <see cref="CheckpointReader"/> (tensors hashed): files added and
/// removed, tensors whose bytes, shape or dtype differ, and every optimizer, scheduler, RNG and trainer
/// state field that differs. Files are matched by name, tensors by file and dotted name.
/// </summary>
public static class CheckpointDiff
{
    public static CheckpointDiffResult Compare(string a, string b, CheckpointReadOptions? options = null, CancellationToken cancellationToken = default)
    {
        options = (options ?? CheckpointReadOptions.Default) with { HashTensors = true };
        var left = CheckpointReader.Read(a, options, cancellationToken);
        var right = CheckpointReader.Read(b, options, cancellationToken);
        return Compare(left, right);
    }

    public static CheckpointDiffResult Compare(CheckpointContents a, CheckpointContents b)
    {
        var diffs = new List<CheckpointDifference>();
        var single = !a.IsFolder && !b.IsFolder;
        string Key(string file) => single ? string.Empty : file;

        // Files (by name inside a folder).
        if (!single)
        {
            var filesA = a.Files.ToDictionary(f => f.Name, StringComparer.Ordinal);
            var filesB = b.Files.ToDictionary(f => f.Name, StringComparer.Ordinal);
            foreach (var name in filesA.Keys.Union(filesB.Keys).Order(StringComparer.Ordinal))
            {
                var inA = filesA.GetValueOrDefault(name);
                var inB = filesB.GetValueOrDefault(name);
                if (inA is null || inB is null)
                {
                    diffs.Add(new("file", name, inA is null ? "added" : "removed", inA is null ? null : $"{inA.Size} bytes", inB is null ? null : $"{inB.Size} bytes"));
                }
                else if (inA.Roles is ["config"] or ["other"] && inB.Roles is ["config"] or ["other"] && inA.Format != "folder" && inB.Format != "folder" && FileHash(inA.FullPath) != FileHash(inB.FullPath))
                {
                    diffs.Add(new("file", name, "changed", $"{inA.Size} bytes", $"{inB.Size} bytes"));
                }
            }
        }

        // Tensors.
        var tensorsA = Index(a.Tensors, t => (Key(t.File), t.Name));
        var tensorsB = Index(b.Tensors, t => (Key(t.File), t.Name));
        var compared = 0;
        foreach (var key in tensorsA.Keys.Union(tensorsB.Keys).OrderBy(k => k.Item1, StringComparer.Ordinal).ThenBy(k => k.Item2, StringComparer.Ordinal))
        {
            var ta = tensorsA.GetValueOrDefault(key);
            var tb = tensorsB.GetValueOrDefault(key);
            var subject = key.Item1.Length == 0 ? key.Item2 : $"{key.Item1}:{key.Item2}";
            if (ta is null || tb is null)
            {
                diffs.Add(new("tensor", subject, ta is null ? "added" : "removed", ta is null ? null : Describe(ta), tb is null ? null : Describe(tb)));
                continue;
            }

            compared++;
            if (ta.Dtype != tb.Dtype)
            {
                diffs.Add(new("tensor", subject, "dtype", ta.Dtype, tb.Dtype));
            }
            else if (!ta.Shape.SequenceEqual(tb.Shape))
            {
                diffs.Add(new("tensor", subject, "shape", ta.ShapeText, tb.ShapeText));
            }
            else if (ta.Sha256 != tb.Sha256)
            {
                diffs.Add(new("tensor", subject, "changed", "sha256:" + ta.Sha256, "sha256:" + tb.Sha256));
            }
        }

        // Optimizer, scheduler, RNG and trainer state fields.
        Fields(diffs, "optimizer", Flatten(a.Optimizers, Key), Flatten(b.Optimizers, Key));
        Fields(diffs, "scheduler", Flatten(a.Schedulers, Key), Flatten(b.Schedulers, Key));
        Fields(diffs, "rng", Flatten(a.Rng, Key), Flatten(b.Rng, Key));
        Fields(diffs, "trainer_state", Flatten(a.TrainerState), Flatten(b.TrainerState));

        return new CheckpointDiffResult
        {
            A = a.Path,
            B = b.Path,
            Differences = diffs,
            TensorsCompared = compared,
            Problems = [.. a.Problems.Where(p => p.RuleId.StartsWith("TG-CKP-", StringComparison.Ordinal)), .. b.Problems.Where(p => p.RuleId.StartsWith("TG-CKP-", StringComparison.Ordinal))],
        };
    }

    private static Dictionary<(string, string), TensorInfo> Index(IEnumerable<TensorInfo> tensors, Func<TensorInfo, (string, string)> key)
    {
        var index = new Dictionary<(string, string), TensorInfo>();
        foreach (var t in tensors)
        {
            index.TryAdd(key(t), t);
        }

        return index;
    }

    private static string Describe(TensorInfo t) => $"{t.Dtype}{t.ShapeText}";

    private static void Fields(List<CheckpointDifference> diffs, string area, SortedDictionary<string, string> a, SortedDictionary<string, string> b)
    {
        foreach (var key in a.Keys.Union(b.Keys).Order(StringComparer.Ordinal))
        {
            var va = a.GetValueOrDefault(key);
            var vb = b.GetValueOrDefault(key);
            if (va != vb)
            {
                diffs.Add(new(area, key, va is null ? "added" : vb is null ? "removed" : "changed", va, vb));
            }
        }
    }

    private static SortedDictionary<string, string> Flatten(IEnumerable<OptimizerContents> optimizers, Func<string, string> key)
    {
        var fields = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var o in optimizers)
        {
            var at = Join(key(o.File), o.TreePath);
            foreach (var g in o.ParamGroups)
            {
                foreach (var (name, value) in g.Fields)
                {
                    fields[$"{at}param_groups[{g.Index}].{name}"] = Text(value);
                }

                fields[$"{at}param_groups[{g.Index}].params"] = $"{g.ParamsCount} parameters";
            }

            foreach (var s in o.States)
            {
                fields[$"{at}state[{s.Id}].step"] = s.Step is { } step ? F(step) : "none";
                fields[$"{at}state[{s.Id}].buffers"] = string.Join(", ", s.Buffers);
            }
        }

        return fields;
    }

    private static SortedDictionary<string, string> Flatten(IEnumerable<SchedulerContents> schedulers, Func<string, string> key)
    {
        var fields = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var s in schedulers)
        {
            var at = Join(key(s.File), s.TreePath);
            foreach (var (name, value) in s.Fields)
            {
                fields[at + name] = Text(value);
            }
        }

        return fields;
    }

    private static SortedDictionary<string, string> Flatten(IEnumerable<RngFileContents> files, Func<string, string> key)
    {
        var fields = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var f in files)
        {
            var at = Join(key(f.File), f.TreePath);
            foreach (var g in f.Generators)
            {
                var p = at + g.Name;
                fields[p + ".seed"] = g.Origin.Found ? g.Origin.Seed.ToString(CultureInfo.InvariantCulture) : "unknown";
                fields[p + ".draws"] = g.WordsDrawn is { } d ? d.ToString(CultureInfo.InvariantCulture) : "unknown";
                fields[p + ".position"] = g.Position.ToString(CultureInfo.InvariantCulture);
                fields[p + ".state_sha256"] = WordsHash(g.Words);
                fields[p + ".gauss_cached"] = g.GaussCached ? "true" : "false";
                if (g.DeclaredSeedField is { } seedField)
                {
                    fields[p + ".seed_field"] = seedField.ToString(CultureInfo.InvariantCulture);
                }
            }

            for (var i = 0; i < f.Cuda.Count; i++)
            {
                fields[$"{at}cuda[{i}]"] = $"seed {f.Cuda[i].Seed}, offset {f.Cuda[i].PhiloxOffset}";
            }
        }

        return fields;
    }

    private static SortedDictionary<string, string> Flatten(TrainerState? state)
    {
        var fields = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (state is null)
        {
            return fields;
        }

        Put(fields, "global_step", state.GlobalStep);
        Put(fields, "max_steps", state.MaxSteps);
        Put(fields, "epoch", state.Epoch);
        Put(fields, "num_train_epochs", state.NumTrainEpochs);
        Put(fields, "train_batch_size", state.TrainBatchSize);
        fields["log_history.count"] = state.LogHistory.Count.ToString(CultureInfo.InvariantCulture);
        for (var i = 0; i < state.LogHistory.Count && i < 100_000; i++)
        {
            var e = state.LogHistory[i];
            var at = $"log_history[{i}]";
            Put(fields, at + ".step", e.Step);
            Put(fields, at + ".loss", e.Loss);
            Put(fields, at + ".grad_norm", e.GradNorm);
            Put(fields, at + ".learning_rate", e.LearningRate);
        }

        return fields;
    }

    private static void Put(SortedDictionary<string, string> fields, string key, double? value)
    {
        if (value is { } v)
        {
            fields[key] = F(v);
        }
    }

    private static void Put(SortedDictionary<string, string> fields, string key, long? value)
    {
        if (value is { } v)
        {
            fields[key] = v.ToString(CultureInfo.InvariantCulture);
        }
    }

    private static string Join(string file, string treePath)
    {
        var at = file.Length == 0 ? string.Empty : file + " ";
        return treePath.Length == 0 ? at : at + treePath + ".";
    }

    private static string Text(JsonNode? node) => node is null ? "None" : node.ToJsonString();

    private static string F(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string WordsHash(uint[] words)
    {
        var bytes = new byte[words.Length * 4];
        for (var i = 0; i < words.Length; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(i * 4), words[i]);
        }

        return System.Convert.ToHexStringLower(SHA256.HashData(bytes));
    }

    private static string FileHash(string path)
    {
        using var stream = File.OpenRead(path);
        return System.Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
