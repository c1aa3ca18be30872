using System.CommandLine;
using TrainGuard.Agent.Common;
using TrainGuard.Checkpoints.Contents;
using TrainGuard.Checkpoints.Rng;
using TrainGuard.Checkpoints.Runs;
using TrainGuard.Cli.Options;
using TrainGuard.Cli.Output;
using TrainGuard.Findings;
using TrainGuard.Parsing;
using TrainGuard.Scanning.Policy;

namespace TrainGuard.Cli.Commands;

/// <summary><c>trainguard ckpt inspect/check/diff</c>: read what a checkpoint contains without running it, compare it with its run or another checkpoint.</summary>
internal static class CkptContentCommands
{
    private const string ScanFirstText = """
        Every file is scanned first (as 'trainguard scan' does); a file the scanner does not find clean is not
        interpreted: it is listed with the scanner's findings (TG-CKP-033), and nothing in it is read further.
        """;

    public static IEnumerable<Command> Create(TextWriter stdout, TextWriter stderr) => [Inspect(stdout, stderr), Check(stdout, stderr), Diff(stdout, stderr)];

    private static Option<long> MaxTwistsOption() => new("--rng-max-twists")
    {
        Description = $"How far back (in MT19937 twists of 624 draws) a generator state is traced to its seeding (default {SeedFinder.DefaultMaxTwists:N0}, about {SeedFinder.DefaultMaxTwists * Mt19937.N / 1_000_000:N0} million draws).",
        DefaultValueFactory = _ => SeedFinder.DefaultMaxTwists,
    };

    private static Option<FileInfo?> EventsOption() => CommonOptions.Events("checkpoint-inspected");

    private static Command Inspect(TextWriter stdout, TextWriter stderr)
    {
        var path = new Argument<string>("PATH") { Description = "A checkpoint file (.pt, .pth, .bin, .safetensors...) or a Hugging Face checkpoint-N/ folder." };
        var output = new ReportOptions(sarif: true);
        var maxTwists = MaxTwistsOption();
        var events = EventsOption();
        var command = new Command("inspect", $"""
            Read what a checkpoint contains, with the symbolic pickle machine (nothing is executed, tensor bytes are not
            read except scalars and generator states): tensors (name, dtype, shape, bytes, storage), optimizer
            param_groups (lr, betas, eps, weight_decay, amsgrad, maximize, foreach, fused...) and per-parameter step
            counts, scheduler state, random-generator states (torch CPU and CUDA, numpy, Python; each traced back to
            the seed it was seeded with) and trainer_state.json.

            {ScanFirstText}

            Examples:
              trainguard ckpt inspect out/checkpoint-500
              trainguard ckpt inspect out/checkpoint-500/optimizer.pt --format json

            Exit codes: 0 read, 1 a file was refused by the scanner, 2 a file could not be read (or bad usage).
            """);
        command.Arguments.Add(path);
        command.AddOptions(maxTwists, events);
        output.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            output.Validate(parse);
            var started = DateTimeOffset.UtcNow;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var target = parse.GetValue(path)!;
            var contents = Read(target, parse.GetValue(maxTwists), hashTensors: false, ct);
            await AppendEvent(parse.GetValue(events), contents, contents.Problems);
            var report = new Report
            {
                Command = "ckpt inspect",
                Items = [Item(target, contents, contents.Problems, clock.Elapsed)],
                ItemsName = "checkpoints",
                Rules = [.. CheckpointRules.Descriptors, .. RuleCatalog.Default.Descriptors],
                StartedAt = started,
                Elapsed = clock.Elapsed,
                Details = new CommandDetails(CheckpointJson.Inspect(contents), text => text.Write(CheckpointText.Inspect(contents))),
            };
            return output.Write(parse, report, stdout, stderr);
        });
        return command;
    }

    private static Command Check(TextWriter stdout, TextWriter stderr)
    {
        var path = new Argument<string>("PATH") { Description = "A checkpoint file or a Hugging Face checkpoint-N/ folder." };
        var run = new Option<FileInfo>("--run") { Description = "The run manifest (YAML, docs/ckpt.md 'Run manifest'): seed, world size, optimizer and hyperparameters, schedule, files.", Required = true };
        var maxTwists = MaxTwistsOption();
        var events = EventsOption();
        var output = new ReportOptions(sarif: true);
        var command = new Command("check", $"""
            Compare a checkpoint with what its run declares and with itself, and report every mismatch:
            maximize=True (TG-CKP-020), a learning rate that is not the declared one or not what the schedule gives
            (021), other hyperparameters (022), another optimizer class (023), random-generator states from another
            seed (024) or edited (025), step counts that disagree between optimizer, scheduler, trainer_state.json and
            checkpoint-N (027), another world size (028), missing files the run needs (029), scheduler (030) and
            max_steps (031) mismatches. Rules: docs/rules/TG-CKP-0xx.md.

            {ScanFirstText}

            Example:
              trainguard ckpt check out/checkpoint-500 --run run.yaml --format sarif -o ckpt.sarif
            """ + "\n" + ExitCodes.HelpText);
        command.Arguments.Add(path);
        command.AddOptions(run, maxTwists, events);
        output.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            output.Validate(parse);
            var started = DateTimeOffset.UtcNow;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var manifestPath = InputValidation.ExistingFile(parse.GetValue(run), "--run")!;
            RunManifest manifest;
            try
            {
                manifest = RunManifestParser.Load(manifestPath);
            }
            catch (MalformedInputException ex)
            {
                throw new CliException($"--run: {ex.Message}");
            }

            var target = parse.GetValue(path)!;
            var contents = Read(target, parse.GetValue(maxTwists), hashTensors: false, ct);
            var findings = contents.Problems.Concat(RunChecker.Check(contents, manifest)).ToList();
            var item = Item(target, contents, findings, clock.Elapsed);
            var report = new Report
            {
                Command = "ckpt check",
                Items = [item],
                ItemsName = "checkpoints",
                Rules = [.. CheckpointRules.Descriptors, .. RuleCatalog.Default.Descriptors],
                StartedAt = started,
                Elapsed = clock.Elapsed,
            };
            await AppendEvent(parse.GetValue(events), contents, findings);
            return output.Write(parse, report, stdout, stderr);
        });
        return command;
    }

    private static Command Diff(TextWriter stdout, TextWriter stderr)
    {
        var a = new Argument<string>("A") { Description = "The reference checkpoint (file or folder)." };
        var b = new Argument<string>("B") { Description = "The checkpoint to compare with it." };
        var output = new ReportOptions(sarif: false);
        var maxTwists = MaxTwistsOption();
        var command = new Command("diff", $"""
            Show what differs between two checkpoints: files added and removed, tensors whose bytes differ (compared by
            SHA-256 of their contiguous little-endian elements, streamed, never held whole in memory), tensors added,
            removed or changed in shape or dtype, and every optimizer, scheduler, random-generator and trainer-state
            field that differs. Files are matched by name, tensors by file and dotted name.

            {ScanFirstText}

            Example:
              trainguard ckpt diff backup/checkpoint-500 out/checkpoint-500

            Exit codes: 0 identical, 1 differences, 2 a file could not be compared (unreadable or refused) or bad usage.
            """);
        command.Arguments.Add(a);
        command.Arguments.Add(b);
        command.AddOptions(maxTwists);
        output.AddTo(command);
        command.SetAction((parse, ct) =>
        {
            output.Validate(parse);
            var started = DateTimeOffset.UtcNow;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var left = Read(parse.GetValue(a)!, parse.GetValue(maxTwists), hashTensors: true, ct);
            var right = Read(parse.GetValue(b)!, parse.GetValue(maxTwists), hashTensors: true, ct);
            var result = CheckpointDiff.Compare(left, right);

            // Each side is an item with the problems that kept it from being compared; differences alone call for exit 1.
            var report = new Report
            {
                Command = "ckpt diff",
                Items =
                [
                    Item(parse.GetValue(a)!, left, [.. left.Problems.Where(result.Problems.Contains)], clock.Elapsed),
                    Item(parse.GetValue(b)!, right, [.. right.Problems.Where(result.Problems.Contains)], clock.Elapsed),
                ],
                ItemsName = "checkpoints",
                Rules = [.. CheckpointRules.Descriptors, .. RuleCatalog.Default.Descriptors],
                StartedAt = started,
                Elapsed = clock.Elapsed,
                Details = new CommandDetails(CheckpointJson.Diff(result), text => text.Write(CheckpointText.Diff(result)))
                {
                    ExitCode = result.Problems.Count > 0 ? ExitCodes.Error : result.Differences.Count > 0 ? ExitCodes.Findings : ExitCodes.Clean,
                },
            };
            return Task.FromResult(output.Write(parse, report, stdout, stderr));
        });
        return command;
    }

    private static CheckpointContents Read(string path, long maxTwists, bool hashTensors, CancellationToken ct)
    {
        if (!File.Exists(path) && !Directory.Exists(path))
        {
            throw new CliException($"no such file or folder: {path}");
        }

        if (maxTwists < 0)
        {
            throw new CliException("--rng-max-twists must be 0 or more");
        }

        try
        {
            return CheckpointReader.Read(path, new CheckpointReadOptions { MaxRngTwists = maxTwists, HashTensors = hashTensors }, ct);
        }
        catch (MalformedInputException ex)
        {
            throw new CliException($"{path}: {ex.Message}");
        }
    }

    /// <summary>The checkpoint as one report item: its verdict is the worst of the findings.</summary>
    private static AnalyzedItem Item(string path, CheckpointContents contents, IReadOnlyList<Finding> findings, TimeSpan elapsed) => new()
    {
        Path = path,
        Format = contents.IsFolder ? "hf-checkpoint" : contents.Files.FirstOrDefault()?.Format ?? "unknown",
        Verdict = findings.Aggregate(Verdict.Clean, (acc, f) => acc.Combine(f.Verdict)),
        Findings = findings,
        Members = contents.IsFolder ? contents.Files.Select(f => f.Name).ToList() : null,
        Elapsed = elapsed,
    };

    private static async Task AppendEvent(FileInfo? file, CheckpointContents contents, IReadOnlyList<Finding> findings)
    {
        if (file is null)
        {
            return;
        }

        var target = InputValidation.WritableFile(file.FullName, "--events");
        var e = CheckpointJson.InspectedEvent(contents, findings, DateTimeOffset.UtcNow);
        var line = FileOwnership.Describe(e, FileOwnership.FindingFile(e), FileOwnership.NodeAccounts()).ToJsonLine();
        await File.AppendAllTextAsync(target, line + "\n");
    }
}
