using System.CommandLine;
using TrainGuard.Cli.Options;
using TrainGuard.Cli.Output;
using TrainGuard.Findings;
using TrainGuard.Formats.Zip;
using TrainGuard.Parsing;
using TrainGuard.Pickle;
using TrainGuard.Scanning.Policy;
using TrainGuard.Scanning.Scanner;

namespace TrainGuard.Cli.Commands;

/// <summary><c>trainguard scan PATH...</c>: static, default-deny analysis of model and checkpoint files.</summary>
public static class ScanCommand
{
    public const string Description = """
        Find injected code in model and checkpoint files without running it.

        Formats are detected by content, never by extension: raw pickles (protocols 0-5, several back to back),
        torch zip checkpoints (every pickle member, nested archives, local vs central zip headers), legacy torch
        files and tars, numpy .npy/.npz, joblib, safetensors (header validated), 7z. Folders are scanned
        recursively; Hugging Face Trainer checkpoint-*/ folders have every file checked.

        Each file gets a verdict: clean, suspicious (a global outside the allowlist), malicious (a known-dangerous
        call such as os.system, with what would have run and where), error (unparseable, truncated or over a
        limit: never reported clean) or skipped (not a model format).

        Examples:
          trainguard scan checkpoints/                      scan a folder tree
          trainguard scan run/checkpoint-500 --format json  JSON for scripts (docs/json-output.md)
          trainguard scan model.pt --allow mylib.layers.Block   allow a known class of yours
          trainguard scan . --format sarif -o scan.sarif    for code-scanning dashboards
        """;

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var paths = new Argument<string[]>("path")
        {
            Description = "Files or folders to scan (folders recursively).",
            Arity = ArgumentArity.OneOrMore,
        };
        var output = new ReportOptions(sarif: true);
        var profile = new Option<string>("--profile")
        {
            Description = "Allowlist profile: default (all below), torch-weights (what torch.load(weights_only=True) accepts), numpy, hf-trainer, plain (plain Python data only).",
            DefaultValueFactory = _ => "default",
        };
        profile.AcceptOnlyFromAmong("default", "torch-weights", "numpy", "hf-trainer", "plain");
        var allow = new Option<string[]>("--allow")
        {
            Description = "Also allow this global (module.name, or module.* for a whole module); repeatable. Known-dangerous callables need their exact name.",
            AllowMultipleArgumentsPerToken = false,
        };
        var config = CommonOptions.Config("YAML policy file: 'profile: NAME' and 'allow: [module.name, ...]' (see docs/configuration.md).");
        var followSymlinks = new Option<bool>("--follow-symlinks") { Description = "Follow symbolic links (off by default: a checkpoint folder can link anywhere)." };
        var jobs = new Option<int>("--jobs", "-j")
        {
            Description = "Files scanned in parallel.",
            DefaultValueFactory = _ => Environment.ProcessorCount,
        }.AtLeast(1, "--jobs must be at least 1");
        var hash = new Option<bool>("--hash") { Description = "Also compute each file's SHA-256 (reads tensor bytes; off by default)." };
        var noProgress = CommonOptions.NoProgress();
        var timeout = new Option<int>("--timeout")
        {
            HelpName = "SECONDS",
            Description = "Seconds allowed per file before it is reported as an error.",
            DefaultValueFactory = _ => 120,
        }.AtLeast(1, "--timeout must be at least 1 second");
        var maxPickleMb = new Option<long>("--max-pickle-mb")
        {
            Description = "Largest pickle analysed, in MiB (a larger one is an error, not clean).",
            DefaultValueFactory = _ => PickleLimits.Default.MaxBytes / (1024 * 1024),
        }.AtLeast(1L, "--max-pickle-mb must be at least 1");
        var maxEntryMb = new Option<long>("--max-entry-mb")
        {
            Description = "Largest archive member inflated for analysis, in MiB.",
            DefaultValueFactory = _ => new ZipLimits().MaxEntryBytes / (1024 * 1024),
        }.AtLeast(1L, "--max-entry-mb must be at least 1");
        var maxDepth = new Option<int>("--max-archive-depth")
        {
            Description = "Archives inside archives followed.",
            DefaultValueFactory = _ => 4,
        }.AtLeast(0, "--max-archive-depth must not be negative");

        var command = new Command("scan", Description + "\n" + ExitCodes.HelpText);
        command.Arguments.Add(paths);
        output.AddTo(command);
        command.AddOptions(profile, allow, config, followSymlinks, jobs, hash, noProgress, timeout, maxPickleMb, maxEntryMb, maxDepth);
        command.SetAction(async (parse, ct) =>
        {
            var targets = parse.GetValue(paths)!;
            InputValidation.ExistingPaths(targets, "scan");
            output.Validate(parse);
            var policy = BuildPolicy(parse.GetValue(profile)!, parse.GetValue(allow) ?? [], parse.GetValue(config), parse.GetResult(profile) is { Implicit: false });
            var options = new ScanOptions
            {
                Policy = policy,
                FollowSymlinks = parse.GetValue(followSymlinks),
                Parallelism = parse.GetValue(jobs),
                Hash = parse.GetValue(hash),
                PerFileTimeout = TimeSpan.FromSeconds(parse.GetValue(timeout)),
                Pickle = PickleLimits.Default with { MaxBytes = checked(parse.GetValue(maxPickleMb) * 1024 * 1024) },
                Zip = new ZipLimits { MaxEntryBytes = checked(parse.GetValue(maxEntryMb) * 1024 * 1024) },
                MaxArchiveDepth = parse.GetValue(maxDepth),
            };
            ArtifactScanner scanner;
            try
            {
                scanner = new ArtifactScanner(options);
            }
            catch (MalformedInputException ex)
            {
                throw new CliException(ex.Message, ex);
            }

            var showProgress = !parse.GetValue(noProgress) && ProgressDisplay.CanShow(stderr);
            var report = showProgress
                ? await ProgressDisplay.RunAsync<ScanProgress, TrainGuard.Findings.Report>(stderr, progress => scanner.ScanAsync(targets, progress, ct), p => (p.FilesDone, p.FilesTotal, $"scanning {p.FilesDone}/{p.FilesTotal}"))
                : await scanner.ScanAsync(targets, null, ct);
            return output.Write(parse, report, stdout, stderr);
        });
        return command;
    }

    private static PolicyOptions BuildPolicy(string profile, string[] allow, FileInfo? config, bool profileGiven)
    {
        var options = new PolicyOptions();
        if (config is not null)
        {
            try
            {
                options = PolicyOptions.LoadConfig(InputValidation.ExistingFile(config, "--config")!);
            }
            catch (MalformedInputException ex)
            {
                throw new CliException(ex.Message, ex);
            }
        }

        if (profileGiven || config is null)
        {
            try
            {
                options = options with { Profile = ProfileNames.Parse(profile) };
            }
            catch (MalformedInputException ex)
            {
                throw new CliException(ex.Message, ex);
            }
        }

        if (allow.Length > 0)
        {
            options = options with { ExtraAllowed = [.. options.ExtraAllowed, .. allow] };
        }

        return options;
    }
}
