using System.Globalization;
using System.Text;
using TrainGuard.Checkpoints.Rng;
using TrainGuard.Findings;

namespace TrainGuard.Checkpoints.Contents;

/// <summary>Plain-text renderings for people: <c>ckpt inspect</c> grouped by what was found, <c>ckpt diff</c> one line per difference.</summary>
public static class CheckpointText
{
    /// <summary>Model tensors listed one per line before the rest is summarised.</summary>
    public const int MaxTensorLines = 200;

    public static string Inspect(CheckpointContents c)
    {
        var s = new StringBuilder();
        var kind = c.IsFolder ? (c.FolderStep is { } step ? $"Hugging Face checkpoint folder, step {step}" : "checkpoint folder") : "checkpoint file";
        s.Append(E(c.Path)).Append("  (").Append(kind).AppendLine(")");

        s.AppendLine().AppendLine("files");
        var nameWidth = Math.Min(40, c.Files.Select(f => E(f.Name).Length).DefaultIfEmpty(4).Max());
        foreach (var f in c.Files)
        {
            s.Append("  ").Append(E(f.Name).PadRight(nameWidth)).Append("  ").Append(f.Format.PadRight(13)).Append(' ')
                .Append(Bytes(f.Size).PadLeft(12)).Append("  ").Append(string.Join(", ", f.Roles));
            if (f.Problem is { } problem)
            {
                s.Append("  [").Append(E(problem)).Append(']');
            }

            s.AppendLine();
        }

        foreach (var group in c.Tensors.GroupBy(t => t.File))
        {
            var isModel = c.Files.FirstOrDefault(f => f.Name == group.Key)?.Roles.Contains("model") == true;
            var total = group.Sum(t => t.Bytes);
            s.AppendLine().Append("tensors in ").Append(E(group.Key)).Append(": ").Append(group.Count().ToString("N0", CultureInfo.InvariantCulture))
                .Append(", ").AppendLine(Bytes(total));
            if (!isModel)
            {
                continue;
            }

            var width = Math.Min(60, group.Max(t => E(t.Name).Length));
            foreach (var t in group.Take(MaxTensorLines))
            {
                s.Append("  ").Append(E(t.Name).PadRight(width)).Append("  ").Append(t.Dtype.PadRight(9)).Append(' ').Append(t.ShapeText.PadRight(14))
                    .Append(' ').Append(Bytes(t.Bytes).PadLeft(10)).Append("  storage ").Append(E(t.Storage));
                if (t.StorageOffset != 0 || !t.Contiguous)
                {
                    s.Append(" @").Append(t.StorageOffset.ToString(CultureInfo.InvariantCulture)).Append(t.Contiguous ? string.Empty : " (strided)");
                }

                s.AppendLine();
            }

            if (group.Count() > MaxTensorLines)
            {
                s.Append("  ... ").Append((group.Count() - MaxTensorLines).ToString("N0", CultureInfo.InvariantCulture)).AppendLine(" more (--format json lists all)");
            }
        }

        foreach (var o in c.Optimizers)
        {
            s.AppendLine().Append("optimizer in ").Append(E(o.File)).Append(At(o.TreePath)).Append(": ").AppendLine(OptimizerClasses.Describe(o.ClassCandidates));
            foreach (var g in o.ParamGroups)
            {
                s.Append("  param_groups[").Append(g.Index).Append("]: ");
                var parts = new List<string>();
                foreach (var (key, value) in g.Fields)
                {
                    parts.Add($"{E(key)} {(value is null ? "None" : value.ToJsonString())}");
                }

                s.Append(string.Join("  ", parts)).Append("  params ").Append(g.ParamsCount);
                if (g.Maximize == true)
                {
                    s.Append("  <-- maximize=True: every update goes uphill");
                }

                s.AppendLine();
            }

            var steps = o.DistinctSteps;
            s.Append("  state: ").Append(o.States.Count).Append(" parameter(s), step ")
                .Append(steps.Count == 0 ? "none" : steps.Count == 1 ? F(steps[0]) : "differs: " + string.Join(", ", steps.Select(F)));
            var buffers = o.States.SelectMany(x => x.Buffers).Distinct(StringComparer.Ordinal).ToList();
            if (buffers.Count > 0)
            {
                s.Append(", buffers ").Append(E(string.Join(", ", buffers)));
            }

            s.AppendLine();
        }

        foreach (var sch in c.Schedulers)
        {
            s.AppendLine().Append("scheduler in ").Append(E(sch.File)).Append(At(sch.TreePath)).Append(": ")
                .AppendLine(sch.ClassCandidates.Count == 0 ? "unknown class" : string.Join(" or ", sch.ClassCandidates));
            s.Append("  ").AppendLine(string.Join("  ", sch.Fields.Select(kv => $"{E(kv.Key)} {(kv.Value is null ? "None" : E(kv.Value.ToJsonString()))}")));
        }

        foreach (var r in c.Rng)
        {
            s.AppendLine().Append("random generators in ").Append(E(r.File)).AppendLine(At(r.TreePath));
            foreach (var g in r.Generators)
            {
                s.Append("  ").Append(g.Name.PadRight(7)).Append(' ');
                s.Append(g.Origin.Found
                    ? $"seed {g.Origin.Seed}, {g.WordsDrawn:N0} 32-bit draws since seeding"
                    : $"seed not found within {c.MaxRngTwists:N0} twists back");
                s.Append(g.Kind switch
                {
                    RngKind.TorchCpu => $" (seed field {g.DeclaredSeedField}, next {g.Position})",
                    RngKind.Numpy => $" (pos {g.Position})",
                    _ => $" (index {g.Position})",
                });
                if (g.SeedFieldContradictsState || !g.PositionConsistent)
                {
                    s.Append("  <-- inconsistent: edited");
                }

                s.AppendLine();
            }

            foreach (var (cuda, i) in r.Cuda.Select((x, i) => (x, i)))
            {
                s.Append("  cuda[").Append(i).Append("] seed ").Append(cuda.Seed).Append(", philox offset ").Append(cuda.PhiloxOffset).AppendLine();
            }

            foreach (var problem in r.Problems)
            {
                s.Append("  not decoded: ").AppendLine(E(problem));
            }
        }

        if (c.TrainerState is { } ts)
        {
            s.AppendLine().Append("trainer_state.json: global_step ").Append(ts.GlobalStep?.ToString(CultureInfo.InvariantCulture) ?? "?")
                .Append(", epoch ").Append(ts.Epoch is { } e ? F(e) : "?").Append(", max_steps ").Append(ts.MaxSteps?.ToString(CultureInfo.InvariantCulture) ?? "?")
                .Append(", ").Append(ts.LogHistory.Count).AppendLine(" log entries");
            foreach (var entry in ts.LogHistory.TakeLast(10))
            {
                s.Append("  step ").Append(entry.Step?.ToString(CultureInfo.InvariantCulture) ?? "?")
                    .Append(entry.Loss is { } loss ? "  loss " + F(loss) : string.Empty)
                    .Append(entry.GradNorm is { } gn ? "  grad_norm " + F(gn) : string.Empty)
                    .Append(entry.LearningRate is { } lr ? "  learning_rate " + F(lr) : string.Empty)
                    .AppendLine();
            }
        }

        if (c.Problems.Count > 0)
        {
            s.AppendLine().AppendLine("problems");
            foreach (var p in c.Problems)
            {
                s.Append("  ").Append(p.Severity.ToWireName().ToUpperInvariant()).Append(' ').Append(p.RuleId).Append(' ').Append(E(p.Message, 400))
                    .Append("  (").Append(E(p.Location.ToString(), 300)).AppendLine(")");
            }
        }

        return s.ToString();
    }

    public static string Diff(CheckpointDiffResult d)
    {
        var s = new StringBuilder();
        s.Append("a: ").AppendLine(E(d.A)).Append("b: ").AppendLine(E(d.B));
        foreach (var group in d.Differences.GroupBy(x => x.Area))
        {
            s.AppendLine().AppendLine(group.Key);
            foreach (var x in group)
            {
                s.Append("  ").Append(x.Change.PadRight(8)).Append(' ').Append(E(x.Subject, 300));
                if (x.A is not null || x.B is not null)
                {
                    s.Append(": ").Append(E(x.A ?? "(absent)", 200)).Append(" -> ").Append(E(x.B ?? "(absent)", 200));
                }

                s.AppendLine();
            }
        }

        if (d.Problems.Count > 0)
        {
            s.AppendLine().AppendLine("not compared");
            foreach (var p in d.Problems)
            {
                s.Append("  ").Append(p.RuleId).Append(' ').AppendLine(E(p.Message, 400));
            }
        }

        s.AppendLine().Append(d.Differences.Count == 0 ? "identical" : $"{d.Differences.Count} difference(s)")
            .Append(" (").Append(d.TensorsCompared.ToString("N0", CultureInfo.InvariantCulture)).Append(" tensors compared by SHA-256");
        if (d.Problems.Count > 0)
        {
            s.Append("; ").Append(d.Problems.Count).Append(" file(s) could not be compared");
        }

        return s.AppendLine(")").ToString();
    }

    private static string At(string treePath) => treePath.Length == 0 ? string.Empty : $" ({E(treePath)})";

    private static string E(string? text, int max = 200) => TextSanitizer.Escape(text, max);

    private static string F(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string Bytes(long bytes) => bytes < 1024
        ? $"{bytes} B"
        : bytes < 1024 * 1024 ? $"{bytes / 1024.0:0.0} KiB" : bytes < 1L << 30 ? $"{bytes / 1048576.0:0.0} MiB" : $"{bytes / 1073741824.0:0.00} GiB";
}
