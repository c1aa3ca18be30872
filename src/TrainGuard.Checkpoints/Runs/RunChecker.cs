using System.Globalization;
using System.Numerics;
using TrainGuard.Checkpoints.Contents;
using TrainGuard.Checkpoints.Rng;
using TrainGuard.Findings;
using TrainGuard.Rules;

namespace TrainGuard.Checkpoints.Runs;

/// <summary>
/// Compares what a checkpoint contains with what its run declares (<see cref="RunManifest"/>) and with
/// itself: every mismatch is one finding (rules TG-CKP-020..033). Without a manifest only the checks that
/// need none run (maximize, forged RNG states, step counts, learning rates that disagree between files).
/// </summary>
public static class RunChecker
{
    /// <summary>Relative tolerance for floats (a YAML <c>0.001</c> and a pickled <c>1e-3</c> are the same double; float32 values are not).</summary>
    public const double Tolerance = 1e-9;

    public static IReadOnlyList<Finding> Check(CheckpointContents contents, RunManifest? manifest)
    {
        var findings = new List<Finding>();
        var context = new Context(contents, manifest, findings);
        CheckFiles(context);
        foreach (var optimizer in contents.Optimizers)
        {
            CheckOptimizer(context, optimizer);
        }

        foreach (var scheduler in contents.Schedulers)
        {
            CheckScheduler(context, scheduler);
        }

        foreach (var rng in contents.Rng)
        {
            CheckRng(context, rng);
        }

        CheckSteps(context);
        CheckMaxSteps(context);
        return findings;
    }

    /// <summary>The Hugging Face schedule's multiplier at <paramref name="step"/> (transformers <c>get_*_schedule_with_warmup</c>).</summary>
    public static double? ScheduleFactor(string schedule, long step, long warmup, long? total)
    {
        double s = step, w = warmup;
        if (schedule is not ("constant" or "constant_with_warmup") && total is null)
        {
            return null;
        }

        if (schedule != "constant" && step < warmup)
        {
            return s / Math.Max(1.0, w);
        }

        switch (schedule)
        {
            case "constant" or "constant_with_warmup":
                return 1.0;
            case "linear":
                return Math.Max(0.0, (total!.Value - s) / Math.Max(1.0, total.Value - w));
            case "cosine":
                var progress = (s - w) / Math.Max(1.0, total!.Value - w);
                return Math.Max(0.0, 0.5 * (1.0 + Math.Cos(Math.PI * 0.5 * 2.0 * progress)));
            default:
                return null;
        }
    }

    public static bool Same(double a, double b) =>
        a == b || Math.Abs(a - b) <= Tolerance * Math.Max(Math.Abs(a), Math.Abs(b)) || (double.IsNaN(a) && double.IsNaN(b));

    private static string F(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static void CheckFiles(Context c)
    {
        var m = c.Manifest;
        var contents = c.Contents;
        var present = contents.Files.Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
        var worldSizeReported = false;

        if (m?.WorldSize is { } declared && contents.IsFolder)
        {
            var revealed = contents.RevealedWorldSize;
            if (revealed is { } r && r != declared)
            {
                var files = contents.Files.Where(f => f.Name.StartsWith("rng_state", StringComparison.Ordinal)).Select(f => f.Name).ToList();
                c.Add(CheckpointRules.WorldSize, $"the checkpoint was written by {r} process(es) ({string.Join(", ", files)}); the run declares world_size {declared}",
                    new Location(contents.Path), c.Evidence("world_size", declared.ToString(CultureInfo.InvariantCulture), r.ToString(CultureInfo.InvariantCulture)));
                worldSizeReported = true;
            }
        }

        if (!contents.IsFolder)
        {
            if (m?.Optimizer is not null && contents.Optimizers.Count == 0 && !c.AnyRefused)
            {
                c.Add(CheckpointRules.FileMissing, $"{Path.GetFileName(contents.Path)} holds no optimizer state; the run declares an optimizer", new Location(contents.Path));
            }

            return;
        }

        var required = new List<(string Name, string Why)>();
        if (!contents.Files.Any(f => f.Roles.Contains("model")) && !contents.Files.Any(f => IsModelName(f.Name)))
        {
            c.Add(CheckpointRules.FileMissing, "no model weights (pytorch_model.bin, model.safetensors or shards) in the checkpoint", new Location(contents.Path));
        }

        if (m?.Optimizer is not null)
        {
            required.Add(("optimizer.pt", "the run declares an optimizer; without it the Trainer resumes with a fresh optimizer state"));
        }

        if (m?.Scheduler is not null)
        {
            required.Add(("scheduler.pt", "the run declares a scheduler; without it the Trainer restarts the schedule"));
        }

        if (m?.MaxSteps is not null)
        {
            required.Add(("trainer_state.json", "the run declares max_steps"));
        }

        if ((m?.Seed is not null || m?.WorldSize is not null) && !worldSizeReported)
        {
            var world = m.WorldSize ?? contents.RevealedWorldSize ?? 1;
            if (world == 1)
            {
                required.Add(("rng_state.pth", "the run declares its seed; the Trainer restores the generators from it"));
            }
            else
            {
                for (var rank = 0; rank < world && rank < 100_000; rank++)
                {
                    required.Add(($"rng_state_{rank}.pth", $"the run has {world} processes, each saving its generators"));
                }
            }
        }

        foreach (var file in m?.Files ?? [])
        {
            required.Add((file, "the run manifest lists it under 'files'"));
        }

        foreach (var (name, why) in required.DistinctBy(r => r.Name))
        {
            if (!present.Contains(name))
            {
                c.Add(CheckpointRules.FileMissing, $"{name} is missing: {why}", new Location(Path.Combine(contents.Path, name)),
                    new Dictionary<string, string> { ["file"] = name });
            }
        }
    }

    private static bool IsModelName(string name) =>
        name.StartsWith("pytorch_model", StringComparison.Ordinal) || name.StartsWith("model", StringComparison.Ordinal) && name.EndsWith(".safetensors", StringComparison.Ordinal);

    private static void CheckOptimizer(Context c, OptimizerContents optimizer)
    {
        var spec = c.Manifest?.Optimizer;
        var file = c.FileOf(optimizer.File);
        if (spec?.Name is { } name && optimizer.ClassCandidates.Count > 0 && !optimizer.ClassCandidates.Contains(name, StringComparer.OrdinalIgnoreCase))
        {
            c.Add(CheckpointRules.OptimizerClass, $"{optimizer.File}: the optimizer state has the keys of {OptimizerClasses.Describe(optimizer.ClassCandidates)}; the run declares {name}",
                new Location(file, optimizer.Member), c.Evidence("optimizer.name", name, string.Join("|", optimizer.ClassCandidates)));
        }

        foreach (var group in optimizer.ParamGroups)
        {
            var at = $"{optimizer.File}: {Prefix(optimizer.TreePath)}param_groups[{group.Index}]";
            var location = new Location(file, optimizer.Member, group.Offset);
            if (group.Maximize == true && spec?.Maximize != true)
            {
                c.Add(CheckpointRules.Maximize, $"{at}.maximize is True: every update of its {group.ParamsCount} parameter tensor(s) goes uphill",
                    new Location(file, optimizer.Member, group.MaximizeOffset ?? group.Offset), c.Evidence("optimizer.maximize", "false", "true"));
            }
            else if (spec?.Maximize is { } maximize && group.Maximize is { } actual && actual != maximize)
            {
                c.Add(CheckpointRules.Hyperparameter, $"{at}.maximize is {Py(actual)}; the run declares {Py(maximize)}", location, c.Evidence("optimizer.maximize", Py(maximize), Py(actual)));
            }

            CheckLearningRate(c, optimizer, group, at, location);
            if (spec is null)
            {
                continue;
            }

            if (spec.Betas is { } betas && group.Betas is { } actualBetas && (actualBetas.Count != betas.Count || betas.Where((b, i) => !Same(b, actualBetas[i])).Any()))
            {
                var declared = "(" + string.Join(", ", betas.Select(F)) + ")";
                var saved = "(" + string.Join(", ", actualBetas.Select(F)) + ")";
                c.Add(CheckpointRules.Hyperparameter, $"{at}.betas is {saved}; the run declares {declared}", location, c.Evidence("optimizer.betas", declared, saved));
            }

            Number(c, at, location, "eps", spec.Eps, group.Eps);
            if (!(group.WeightDecay == 0 && optimizer.ParamGroups.Count > 1))
            {
                Number(c, at, location, "weight_decay", spec.WeightDecay, group.WeightDecay);
            }

            Number(c, at, location, "momentum", spec.Momentum, group.Momentum);
            Number(c, at, location, "dampening", spec.Dampening, group.Dampening);
            Flag(c, at, location, "amsgrad", spec.Amsgrad, group.Amsgrad);
            Flag(c, at, location, "nesterov", spec.Nesterov, group.Nesterov);
            Flag(c, at, location, "foreach", spec.Foreach, group.Foreach);
            Flag(c, at, location, "fused", spec.Fused, group.Fused);
            Flag(c, at, location, "capturable", spec.Capturable, group.Capturable);
            Flag(c, at, location, "differentiable", spec.Differentiable, group.Differentiable);
        }
    }

    private static void CheckLearningRate(Context c, OptimizerContents optimizer, ParamGroupInfo group, string at, Location location)
    {
        var declared = c.Manifest?.Optimizer?.Lr;
        var scheduler = c.Contents.Schedulers.FirstOrDefault();
        var baseLr = scheduler?.BaseLrs is { } bases && group.Index < bases.Count ? bases[group.Index] : (double?)null;

        // The learning rate the optimizer was built with: initial_lr when a scheduler ran, else lr itself.
        var built = group.InitialLr ?? (scheduler is null ? group.Lr : null);
        var builtName = group.InitialLr is not null ? "initial_lr" : "lr";
        if (declared is { } lr && built is { } b && !Same(lr, b))
        {
            c.Add(CheckpointRules.LearningRate, $"{at}.{builtName} is {F(b)}; the run declares lr {F(lr)}", location, c.Evidence("optimizer.lr", F(lr), F(b)));
        }
        else if (declared is null && group.InitialLr is { } initial && baseLr is { } bl && !Same(initial, bl))
        {
            c.Add(CheckpointRules.LearningRate, $"{at}.initial_lr is {F(initial)} but {scheduler!.File} base_lrs[{group.Index}] is {F(bl)}: one of the two files was edited",
                location, new Dictionary<string, string> { ["initial_lr"] = F(initial), ["base_lr"] = F(bl) });
        }

        // The current learning rate: what the declared schedule gives at this step, else what the scheduler says it set.
        if (group.Lr is not { } current || scheduler is null)
        {
            return;
        }

        double? expected = null;
        string? because = null;
        var spec = c.Manifest?.Scheduler;
        if (declared is { } d && spec?.Schedule is { } schedule && ConsensusStep(c.Contents) is { } step
            && ScheduleFactor(schedule, step, spec.WarmupSteps ?? 0, c.Manifest?.MaxSteps ?? c.Contents.TrainerState?.MaxSteps) is { } factor)
        {
            expected = d * factor;
            because = $"the declared {schedule} schedule gives {F(expected.Value)} at step {step} (lr {F(d)} × {F(factor)})";
        }
        else if (scheduler.LastLr is { } last && group.Index < last.Count)
        {
            expected = last[group.Index];
            because = $"{scheduler.File} _last_lr[{group.Index}] is {F(expected.Value)}";
        }

        if (expected is { } e && !Same(current, e) && !(Math.Abs(current - e) <= 1e-12 * Math.Max(1, Math.Abs(e))))
        {
            c.Add(CheckpointRules.LearningRate, $"{at}.lr is {F(current)}; {because}", location, new Dictionary<string, string> { ["expected"] = F(e), ["actual"] = F(current) });
        }
    }

    private static void Number(Context c, string at, Location location, string field, double? declared, double? actual)
    {
        if (declared is { } d && actual is { } a && !Same(d, a))
        {
            c.Add(CheckpointRules.Hyperparameter, $"{at}.{field} is {F(a)}; the run declares {F(d)}", location, c.Evidence("optimizer." + field, F(d), F(a)));
        }
    }

    private static void Flag(Context c, string at, Location location, string field, bool? declared, bool? actual)
    {
        if (declared is { } d && actual is { } a && d != a)
        {
            c.Add(CheckpointRules.Hyperparameter, $"{at}.{field} is {Py(a)}; the run declares {Py(d)}", location, c.Evidence("optimizer." + field, Py(d), Py(a)));
        }
    }

    private static void CheckScheduler(Context c, SchedulerContents scheduler)
    {
        var spec = c.Manifest?.Scheduler;
        var file = c.FileOf(scheduler.File);
        var location = new Location(file, scheduler.Member, scheduler.Offset);
        if (spec?.Name is { } name && scheduler.ClassCandidates.Count > 0 && !scheduler.ClassCandidates.Contains(name, StringComparer.OrdinalIgnoreCase))
        {
            c.Add(CheckpointRules.Scheduler, $"{scheduler.File}: the scheduler state has the keys of {string.Join(" or ", scheduler.ClassCandidates)}; the run declares {name}",
                location, c.Evidence("scheduler.name", name, string.Join("|", scheduler.ClassCandidates)));
        }

        if (c.Manifest?.Optimizer?.Lr is { } lr && scheduler.BaseLrs is { } bases)
        {
            for (var i = 0; i < bases.Count; i++)
            {
                if (!Same(lr, bases[i]))
                {
                    c.Add(CheckpointRules.LearningRate, $"{scheduler.File}: {Prefix(scheduler.TreePath)}base_lrs[{i}] is {F(bases[i])}; the run declares lr {F(lr)}", location, c.Evidence("optimizer.lr", F(lr), F(bases[i])));
                }
            }
        }
    }

    private static void CheckRng(Context c, RngFileContents rng)
    {
        var file = c.FileOf(rng.File);
        var seed = c.Manifest?.Seed;
        foreach (var g in rng.Generators)
        {
            var what = $"{rng.File}: {Prefix(rng.TreePath)}{g.Name} generator";
            var location = new Location(file, c.MemberOf(rng.File));
            var drawn = g.WordsDrawn is { } w ? $" after {w:N0} draws" : string.Empty;
            if (g.SeedFieldContradictsState)
            {
                c.Add(CheckpointRules.RngForged, $"{what}: its seed field says {g.DeclaredSeedField} but its state words are seed {g.Origin.Seed}'s stream{drawn}",
                    location, new Dictionary<string, string> { ["seed_field"] = g.DeclaredSeedField!.Value.ToString(CultureInfo.InvariantCulture), ["state_seed"] = g.Origin.Seed.ToString(CultureInfo.InvariantCulture) });
                continue;
            }

            if (!g.PositionConsistent)
            {
                c.Add(CheckpointRules.RngForged, $"{what}: its position fields disagree ('left' and 'next' do not add up as torch keeps them)", location);
                continue;
            }

            if (seed is not { } declared)
            {
                continue;
            }

            var declaredText = declared.ToString(CultureInfo.InvariantCulture);
            if (g.Origin.Found)
            {
                if (!SeedFinder.SameStream(g.Kind, g.Origin.Seed, declared))
                {
                    c.Add(CheckpointRules.SeedMismatch, $"{what} is seed {g.Origin.Seed}'s stream{drawn}, not seed {declaredText}'s", location,
                        c.Evidence("seed", declaredText, g.Origin.Seed.ToString(CultureInfo.InvariantCulture)));
                }

                continue;
            }

            if (g.DeclaredSeedField is { } field && TorchSeed(declared) != field)
            {
                c.Add(CheckpointRules.SeedMismatch, $"{what} was seeded with {field} (its seed field); the run declares {declaredText}", location,
                    c.Evidence("seed", declaredText, field.ToString(CultureInfo.InvariantCulture)));
                continue;
            }

            c.Add(CheckpointRules.SeedUnconfirmed, $"{what}: no seeding found within {c.Contents.MaxRngTwists:N0} twists ({c.Contents.MaxRngTwists * Mt19937.N:N0} draws) back{(g.DeclaredSeedField is not null ? "; its seed field matches" : string.Empty)}", location);
        }
    }

    /// <summary>Every step count the checkpoint holds, with where it comes from.</summary>
    private static List<(string Source, string File, double Value)> StepCounts(CheckpointContents contents)
    {
        var counts = new List<(string Source, string File, double Value)>();
        foreach (var optimizer in contents.Optimizers)
        {
            if (optimizer.DistinctSteps is { Count: > 0 } steps)
            {
                counts.Add(($"{optimizer.File} state step", optimizer.File, steps[^1]));
            }
        }

        foreach (var scheduler in contents.Schedulers)
        {
            if (scheduler.LastEpoch is { } last)
            {
                counts.Add(($"{scheduler.File} last_epoch", scheduler.File, last));
            }
        }

        if (contents.TrainerState?.GlobalStep is { } global)
        {
            counts.Add(("trainer_state.json global_step", "trainer_state.json", global));
        }

        if (contents.FolderStep is { } folder)
        {
            counts.Add(($"checkpoint-{folder}", string.Empty, folder));
        }

        return counts;
    }

    /// <summary>The step most sources agree on (ties: the larger), or null without any.</summary>
    private static long? ConsensusStep(CheckpointContents contents)
    {
        var counts = StepCounts(contents);
        return counts.Count == 0 ? null : (long)counts.GroupBy(x => x.Value).OrderByDescending(g => g.Count()).ThenByDescending(g => g.Key).First().Key;
    }

    private static void CheckSteps(Context c)
    {
        var contents = c.Contents;
        foreach (var optimizer in contents.Optimizers)
        {
            var steps = optimizer.DistinctSteps;
            if (steps.Count > 1)
            {
                c.Add(CheckpointRules.StepMismatch, $"{optimizer.File}: parameters have different step counts ({string.Join(", ", steps.Select(F))}); one optimizer steps all its parameters together",
                    new Location(c.FileOf(optimizer.File), optimizer.Member));
            }
        }

        var counts = StepCounts(contents);
        if (counts.Select(x => x.Value).Distinct().Count() > 1)
        {
            var majority = counts.GroupBy(x => x.Value).OrderByDescending(g => g.Count()).ThenByDescending(g => g.Key).First();
            var odd = counts.Where(x => x.Value != majority.Key).ToList();
            var oddText = string.Join("; ", odd.Select(x => $"{x.Source} is {F(x.Value)}"));
            var agree = string.Join(", ", majority.Select(x => x.Source));
            var scaler = contents.Files.Any(f => f.Name == "scaler.pt") && odd.All(x => x.Source.EndsWith("state step", StringComparison.Ordinal) && x.Value < majority.Key);
            c.Add(CheckpointRules.StepMismatch,
                $"{oddText}; {agree} say{(majority.Count() == 1 ? "s" : string.Empty)} {F(majority.Key)}{(scaler ? " (mixed precision skips optimizer steps on overflow: with scaler.pt this can be benign)" : string.Empty)}",
                new Location(odd[0].File.Length > 0 ? c.FileOf(odd[0].File) : contents.Path, odd[0].File.Length > 0 ? c.MemberOf(odd[0].File) : null),
                counts.ToDictionary(x => x.Source.Replace(' ', '_'), x => F(x.Value)),
                severity: scaler ? Severity.Medium : null);
        }

        foreach (var scheduler in contents.Schedulers)
        {
            if (scheduler.LastEpoch is { } last && scheduler.StepCount is { } count && count != last + 1 && !counts.Any(x => x.Value != last))
            {
                c.Add(CheckpointRules.StepMismatch, $"{scheduler.File}: _step_count is {count} but last_epoch is {last} (torch keeps _step_count = last_epoch + 1)",
                    new Location(c.FileOf(scheduler.File), scheduler.Member, scheduler.Offset));
            }
        }
    }

    private static void CheckMaxSteps(Context c)
    {
        var declared = c.Manifest?.MaxSteps;
        var state = c.Contents.TrainerState;
        if (declared is not { } max || state is null)
        {
            return;
        }

        var location = new Location(c.FileOf("trainer_state.json"));
        if (state.MaxSteps is { } saved && saved != max)
        {
            c.Add(CheckpointRules.MaxSteps, $"trainer_state.json max_steps is {saved}; the run declares {max}", location, c.Evidence("max_steps", max.ToString(CultureInfo.InvariantCulture), saved.ToString(CultureInfo.InvariantCulture)));
        }
        else if (state.GlobalStep is { } step && step > max)
        {
            c.Add(CheckpointRules.MaxSteps, $"trainer_state.json global_step {step} is past the declared max_steps {max}", location);
        }
    }

    private static string Prefix(string treePath) => treePath.Length == 0 ? string.Empty : treePath + ".";

    private static string Py(bool value) => value ? "True" : "False";

    private sealed class Context(CheckpointContents contents, RunManifest? manifest, List<Finding> findings)
    {
        public CheckpointContents Contents { get; } = contents;

        public RunManifest? Manifest { get; } = manifest;

        public bool AnyRefused => Contents.Files.Any(f => f.ScanVerdict is Verdict.Suspicious or Verdict.Malicious or Verdict.Error);

        public void Add(RuleDefinition rule, string message, Location location, IReadOnlyDictionary<string, string>? evidence = null, Severity? severity = null) =>
            findings.Add(rule.Finding(message, location, evidence, severity));

        public string FileOf(string name) => Contents.Files.FirstOrDefault(f => f.Name == name)?.FullPath ?? (Contents.IsFolder ? Path.Combine(Contents.Path, name) : Contents.Path);

        public string? MemberOf(string name) =>
            Contents.Optimizers.FirstOrDefault(o => o.File == name)?.Member ?? Contents.Schedulers.FirstOrDefault(s => s.File == name)?.Member;

        /// <summary>Evidence naming the manifest field, its declared value (with file:line) and what the checkpoint has.</summary>
        public Dictionary<string, string> Evidence(string field, string declared, string actual)
        {
            var evidence = new Dictionary<string, string> { ["field"] = field, ["declared"] = declared, ["actual"] = actual };
            if (Manifest?.LineOf(field) is { } line)
            {
                evidence["declared_at"] = $"{Manifest.Source}:{line}";
            }

            return evidence;
        }
    }

    /// <summary>The seed as torch stores it: two's complement in 64 bits.</summary>
    internal static ulong TorchSeed(BigInteger seed) => (ulong)(seed & ulong.MaxValue);
}
