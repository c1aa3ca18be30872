using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using TrainGuard.Checkpoints.Runs;
using TrainGuard.Cli.Options;
using TrainGuard.Cli.Output;
using TrainGuard.Findings;
using TrainGuard.Parsing;
using TrainGuard.Runs.Analysis;
using TrainGuard.Runs.Detectors;
using TrainGuard.Runs.Model;
using TrainGuard.Runs.Readers;
using static TrainGuard.Cli.Output.DataText;

namespace TrainGuard.Cli.Commands;

/// <summary><c>trainguard runs compare|inspect</c>: forensics on training runs that already happened (docs/runs-forensics.md).</summary>
public static class RunsCommand
{
    private const string Formats = """
        A RUN is any of:
          TrainGuard run JSONL   the run-* events the training client writes (TRAINGUARD_EVENTS_FILE)
          trainer_state.json     a Hugging Face Trainer state, or the checkpoint folder holding it
          events.out.tfevents.*  a TensorBoard event file, or the folder holding them
          mlruns/EXP/RUN         an MLflow run folder (metrics/NAME lines 'timestamp value step')
        """;

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var command = new Command("runs", """
            Forensics on training runs: where a rerun first diverged from the original (compare), and what the run
            detectors find in one run (inspect) - flipped updates, failed attestations, a changed seed, data order or
            learning rate, and slowness that is confined to one rank or to large jobs.
            """ + "\n" + ExitCodes.HelpText);
        command.Subcommands.Add(Compare(stdout, stderr));
        command.Subcommands.Add(Inspect(stdout, stderr));
        return command;
    }

    private static Command Compare(TextWriter stdout, TextWriter stderr)
    {
        var a = new Argument<string>("A") { Description = "The original run." };
        var b = new Argument<string>("B") { Description = "The rerun (or the run suspected of sabotage)." };
        var tolerance = new Option<double>("--loss-tolerance")
        {
            HelpName = "REL",
            Description = "Losses equal within this relative difference are the same (default 1e-6; 0 for bit-identical reruns, larger for GPU non-determinism).",
            DefaultValueFactory = _ => 1e-6,
        };
        tolerance.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double>() is < 0 or > 1 or double.NaN)
            {
                r.AddError("--loss-tolerance must be between 0 and 1");
            }
        });
        var output = new ReportOptions(sarif: false);
        var command = new Command("compare", $"""
            The first step where two runs (a run and its rerun) diverge, and the first step of each criterion:
            initial seed, step seed, RNG-state hash, batch hash (data order), parameter hash and loss. Steps are
            matched by rank and step number; a criterion only one run carries is not compared (the report lists
            what was). A changed cause (seed, data order) is reported before the loss it moves at the same step.

            {Formats}
            Examples:
              trainguard runs compare samples/runs/clean.jsonl samples/runs/rerun.jsonl
              trainguard runs compare out/checkpoint-500 rerun/checkpoint-500 --loss-tolerance 1e-4
              trainguard runs compare mlruns/0/abc123 mlruns/0/def456 -f json

            Exit codes: 0 the runs agree on every step both have, 1 they diverge, 2 error (unreadable or
            malformed input, named with its file and line or offset; bad usage).
            """);
        command.Arguments.Add(a);
        command.Arguments.Add(b);
        command.Options.Add(tolerance);
        output.AddTo(command);
        command.SetAction((parse, ct) =>
        {
            output.Validate(parse);
            var started = DateTimeOffset.UtcNow;
            var runA = Load(parse.GetValue(a)!);
            var runB = Load(parse.GetValue(b)!);
            var result = RunComparison.Compare(runA, runB, parse.GetValue(tolerance));
            var json = new JsonObject
            {
                ["a"] = Describe(runA),
                ["b"] = Describe(runB),
                ["diverged"] = result.First is not null,
                ["first"] = result.First is { } first ? DivergenceJson(first) : null,
                ["by_criterion"] = new JsonArray([.. result.ByCriterion.Select(DivergenceJson)]),
                ["compared"] = new JsonArray([.. result.Compared.Select(c => JsonValue.Create(c))]),
                ["common_steps"] = result.CommonSteps,
                ["only_in_a"] = result.OnlyInA,
                ["only_in_b"] = result.OnlyInB,
            };
            var report = new Report
            {
                Command = "runs compare",
                Items = [new AnalyzedItem { Path = $"{runA.Source} vs {runB.Source}", Format = "run-comparison", Verdict = result.First is null ? Verdict.Clean : Verdict.Suspicious, Elapsed = DateTimeOffset.UtcNow - started }],
                ItemsName = "comparisons",
                StartedAt = started,
                Elapsed = DateTimeOffset.UtcNow - started,
                Details = new CommandDetails(json, text => WriteComparison(text, runA, runB, result)),
            };
            return Task.FromResult(output.Write(parse, report, stdout, stderr));
        });
        return command;
    }

    private static Command Inspect(TextWriter stdout, TextWriter stderr)
    {
        var runs = new Argument<string[]>("RUN") { Description = "One or more runs (several: the size comparison runs across them).", Arity = ArgumentArity.OneOrMore };
        var manifest = new Option<FileInfo?>("--run")
        {
            HelpName = "FILE",
            Description = "The run manifest (run.yaml, as 'ckpt check --run' reads it): the seed and the learning-rate schedule the run must follow.",
        };
        var reference = new Option<string?>("--reference")
        {
            HelpName = "RUN",
            Description = "A clean run of the same job: batches that differ from it at the same step and rank are a data-order mismatch.",
        };
        var output = new ReportOptions(sarif: false);
        var command = new Command("inspect", $"""
            Run the server's run detectors over one run (or several) offline and list what they find:
              direction               a step whose update went against the gradient (cos < 0); critical when
                                      more than 1% of a 100-step window did
              attestation-failed      the optimizer's step was not the code on disk (run-attestation failure)
              seed-mismatch           a seed other than run.yaml's, or a reseed during the run
              data-order-mismatch     a batch other than the --reference run's at the same step
              lr-mismatch             a learning rate the declared schedule does not give
              straggler, slowdown,    slowness: a rank below 0.75 of the fastest rank's speed for 3 one-minute
              optimizer-spike         windows, a sustained change point of at least 10%, optimizer-time spikes
              size-confined-slowdown  slowness only in the larger of several runs (the insider's trigger)
            Slowness alone is a lead, listed but not a finding: it counts only together with another signal of
            the same run, or when the size comparison across the runs given confines it to large jobs.

            {Formats}
            Examples:
              trainguard runs inspect samples/runs/rerun.jsonl --run samples/runs/run.yaml
              trainguard runs inspect job-64.jsonl job-512.jsonl job-1024.jsonl     size comparison
              trainguard runs inspect rerun.jsonl --reference clean.jsonl -f json

            Exit codes: 0 nothing but leads, 1 anomalies, 2 error (unreadable or malformed input, named with
            its file and line or offset; bad usage).
            """);
        command.Arguments.Add(runs);
        command.AddOptions(manifest, reference);
        output.AddTo(command);
        command.SetAction((parse, ct) =>
        {
            output.Validate(parse);
            var started = DateTimeOffset.UtcNow;
            RunManifest? declared = null;
            if (InputValidation.ExistingFile(parse.GetValue(manifest), "--run") is { } manifestPath)
            {
                try
                {
                    declared = RunManifestParser.Load(manifestPath);
                }
                catch (MalformedInputException ex)
                {
                    throw new CliException($"--run: {ex.Message}", ex);
                }
            }

            var referenceRun = parse.GetValue(reference) is { } r ? Load(r) : null;
            var logs = parse.GetValue(runs)!.Select(Load).ToList();
            var detectors = new RunDetectors(new RunDetectorOptions { Manifest = declared is null ? null : _ => declared, Reference = referenceRun });
            var found = new List<RunAnomaly>();
            foreach (var log in logs)
            {
                foreach (var e in log.Events)
                {
                    detectors.Observe(e, found);
                }
            }

            detectors.Flush(found);
            var anomalies = found.Where(f => !f.Lead).ToList();
            // A lead that another signal backed later is listed once, with the anomalies.
            var leads = found.Where(f => f.Lead && !anomalies.Any(a => a.Kind == f.Kind && a.Rank == f.Rank && a.FirstStep == f.FirstStep && a.LastStep == f.LastStep)).ToList();
            var json = new JsonObject
            {
                ["inputs"] = new JsonArray([.. logs.Select(Describe)]),
                ["manifest"] = declared?.Source,
                ["reference"] = referenceRun?.Source,
                ["runs"] = new JsonArray([.. detectors.Runs.Select(SummaryJson)]),
                ["anomalies"] = new JsonArray([.. anomalies.Select(AnomalyJson)]),
                ["leads"] = new JsonArray([.. leads.Select(AnomalyJson)]),
            };
            var report = new Report
            {
                Command = "runs inspect",
                Items = [.. logs.Select(l => new AnalyzedItem { Path = l.Source, Format = RunLog.FormatName(l.Format), Verdict = VerdictOf(l, anomalies) })],
                ItemsName = "files",
                StartedAt = started,
                Elapsed = DateTimeOffset.UtcNow - started,
                Details = new CommandDetails(json, text => WriteInspection(text, detectors.Runs, anomalies, leads)) { ExitCode = anomalies.Count > 0 ? ExitCodes.Findings : ExitCodes.Clean },
            };
            return Task.FromResult(output.Write(parse, report, stdout, stderr));
        });
        return command;
    }

    /// <summary>The worst anomaly of the runs a file holds: critical is malicious, any other suspicious.</summary>
    private static Verdict VerdictOf(RunLog log, List<RunAnomaly> anomalies)
    {
        var ids = log.Events.Select(e => e.RunId).ToHashSet(StringComparer.Ordinal);
        var mine = anomalies.Where(a => ids.Contains(a.RunId)).ToList();
        return mine.Count == 0 ? Verdict.Clean : mine.Any(a => a.Severity == Severity.Critical) ? Verdict.Malicious : Verdict.Suspicious;
    }

    private static RunLog Load(string path)
    {
        try
        {
            return RunFile.Load(path);
        }
        catch (MalformedInputException ex)
        {
            throw new CliException(ex.Origin is null ? $"{path}: {ex.Message}" : ex.Message, ex);
        }
        catch (FileNotFoundException ex)
        {
            throw new CliException(ex.Message, ex);
        }
    }

    private static JsonObject Describe(RunLog log) => new()
    {
        ["source"] = log.Source,
        ["format"] = RunLog.FormatName(log.Format),
        ["events"] = log.Events.Count,
        ["steps"] = log.Steps.Count(),
    };

    private static JsonObject DivergenceJson(Divergence d) => new()
    {
        ["criterion"] = d.Criterion,
        ["step"] = d.Step,
        ["rank"] = d.Rank,
        ["a"] = d.A,
        ["b"] = d.B,
        ["detail"] = d.Detail,
    };

    private static JsonObject SummaryJson(RunSummary s) => new()
    {
        ["id"] = s.RunId,
        ["name"] = s.RunName,
        ["user"] = s.User,
        ["host"] = s.Host,
        ["world_size"] = s.WorldSize,
        ["ranks"] = s.Ranks,
        ["steps"] = s.Steps,
        ["first_step"] = s.FirstStep,
        ["last_step"] = s.LastStep,
        ["cosine_samples"] = s.CosineSamples,
        ["initial_seed"] = s.InitialSeed,
    };

    private static JsonObject AnomalyJson(RunAnomaly a) => new()
    {
        ["kind"] = a.Kind,
        ["rule"] = a.RuleId,
        ["severity"] = a.Severity.ToWireName(),
        ["lead"] = a.Lead,
        ["run_id"] = a.RunId,
        ["run_name"] = a.RunName,
        ["rank"] = a.Rank,
        ["world_size"] = a.WorldSize,
        ["first_step"] = a.FirstStep,
        ["last_step"] = a.LastStep,
        ["steps"] = a.Steps,
        ["fraction"] = a.Fraction is { } f && double.IsFinite(f) ? f : null,
        ["score"] = a.Score is { } s && double.IsFinite(s) ? s : null,
        ["detail"] = a.Detail,
        ["user"] = a.User,
        ["host"] = a.Host,
    };

    private static void WriteComparison(TextWriter text, RunLog a, RunLog b, ComparisonResult result)
    {
        text.WriteLine($"A: {Safe(a.Source)} ({RunLog.FormatName(a.Format)}, {a.Steps.Count()} steps)");
        text.WriteLine($"B: {Safe(b.Source)} ({RunLog.FormatName(b.Format)}, {b.Steps.Count()} steps)");
        text.WriteLine($"compared by: {(result.Compared.Count == 0 ? "nothing both runs carry" : string.Join(", ", result.Compared))}; {result.CommonSteps} common steps ({result.OnlyInA} only in A, {result.OnlyInB} only in B)");
        text.WriteLine();
        if (result.First is not { } first)
        {
            text.WriteLine(result.CommonSteps == 0 && result.Compared.Count == 0
                ? "no step in common: nothing to compare (are they the same job?)"
                : "the runs agree on every step both have");
            return;
        }

        text.WriteLine($"diverged {(first.Step is { } s ? $"at step {s}" : "at the start")} (rank {first.Rank}) by {first.Criterion}: {Safe(first.Detail, 400)}");
        var rows = new List<string[]> { new[] { "CRITERION", "FIRST STEP", "DETAIL" } };
        rows.AddRange(result.ByCriterion.Select(d => new[] { d.Criterion, d.Step?.ToString(CultureInfo.InvariantCulture) ?? "start", Safe(d.Detail, 300) }));
        WriteColumns(text, rows, "  ");
    }

    private static void WriteInspection(TextWriter text, IReadOnlyCollection<RunSummary> runs, List<RunAnomaly> anomalies, List<RunAnomaly> leads)
    {
        foreach (var run in runs)
        {
            var who = run.User is null && run.Host is null ? string.Empty : $", {Safe(run.User ?? "-", 60)}@{Safe(run.Host ?? "-", 60)}";
            text.WriteLine($"run {Safe(run.RunName ?? run.RunId, 120)} ({Safe(run.RunId, 80)}{who}): {run.Ranks} of {run.WorldSize} rank(s), {run.Steps} step records, steps {run.FirstStep}..{run.LastStep}, {run.CosineSamples} cosine samples");
        }

        text.WriteLine();
        WriteAnomalies(text, "anomalies", anomalies);
        if (leads.Count > 0)
        {
            text.WriteLine();
            WriteAnomalies(text, "leads (slowness without a second signal: not findings)", leads);
        }

        text.WriteLine();
        text.WriteLine(anomalies.Count == 0 ? "no anomaly" : $"{anomalies.Count} {(anomalies.Count == 1 ? "anomaly" : "anomalies")}; docs/runs-forensics.md says what each kind means and what to do");
    }

    private static void WriteAnomalies(TextWriter text, string title, List<RunAnomaly> list)
    {
        if (list.Count == 0)
        {
            text.WriteLine($"{title}: none");
            return;
        }

        text.WriteLine($"{title}:");
        var rows = new List<string[]> { new[] { "SEVERITY", "RULE", "KIND", "STEPS", "RANK", "DETAIL" } };
        rows.AddRange(list.Select(a => new[]
        {
            a.Severity.ToWireName(),
            a.RuleId,
            a.Kind,
            a.FirstStep == a.LastStep ? a.FirstStep.ToString(CultureInfo.InvariantCulture) : $"{a.FirstStep}..{a.LastStep}",
            a.Rank?.ToString(CultureInfo.InvariantCulture) ?? "-",
            Safe(a.Detail, 400),
        }));
        WriteColumns(text, rows, "  ");
    }
}
