using System.CommandLine;
using System.Text.Json.Nodes;
using TrainGuard.Agent.Common;
using TrainGuard.Agent.Runtime;
using TrainGuard.Cli.Options;
using TrainGuard.Cli.Output;
using TrainGuard.Findings;
using TrainGuard.Integrity.Environments;

namespace TrainGuard.Cli.Commands;

/// <summary><c>trainguard env verify|baseline|diff</c>: prove the cluster's Python and PyTorch have not been edited.</summary>
public static class EnvCommand
{
    public const string DefaultBaseline = "env.sig";

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var command = new Command("env", """
            Prove that the cluster's Python environment (PyTorch included) has not been edited.

            verify    every installed file against its wheel RECORD hash (or Debian md5sums), files no record lists,
                      byte-code that does not match its source, and startup hooks (.pth, sitecustomize)
            baseline  record every file of the environment and sign it (OpenSSF model-signing format)
            diff      what was added, removed or changed since a signed baseline
            """);
        command.Subcommands.Add(Verify(stdout, stderr));
        command.Subcommands.Add(Baseline(stdout, stderr));
        command.Subcommands.Add(Diff(stdout, stderr));
        return command;
    }

    private static Option<string[]> SiteOption() => new("--site")
    {
        Description = "A site-packages / dist-packages folder to check (repeatable). Default: the folders of the environment found without running Python (venv, conda, system, user site).",
    };

    private static Option<FileInfo?> PythonOption() => new("--python")
    {
        Description = "The environment's interpreter. Its folders are found from its location; with --use-interpreter it is also run, isolated (-I -S), to list them, and .pyc files are recompiled with it to catch replaced byte-code.",
    };

    private static Option<FileInfo> BaselineOption(string description) => new("--baseline")
    {
        HelpName = "FILE",
        Description = description,
        DefaultValueFactory = _ => new FileInfo(DefaultBaseline),
    };

    private static Command Verify(TextWriter stdout, TextWriter stderr)
    {
        var sites = SiteOption();
        var python = PythonOption();
        var useInterpreter = new Option<bool>("--use-interpreter") { Description = "Ask the interpreter (run with -I -S, so no .pth hook runs) where its packages are." };
        var packages = new Option<string[]>("--package") { Description = "Check only these distributions or Debian packages (repeatable), e.g. --package torch --package python3-torch. A name that matches no installed package is an error." };
        var noRecompile = new Option<bool>("--no-recompile") { Description = "Skip recompiling .pyc files with the interpreter (faster; header checks still run)." };
        var noProgress = CommonOptions.NoProgress();
        var events = new Option<FileInfo?>("--events")
        {
            HelpName = "FILE",
            Description = "Append one 'env-finding' event (a JSON line, docs/events.md) per finding to FILE, as the agent's scheduled env verify writes them ('trainguard agent ship' sends them to the server).",
        };
        var output = new ReportOptions(sarif: true);
        var command = new Command("verify", """
            Check every installed file of a Python environment against what its package says it should be.

            Wheel installs are checked against *.dist-info/RECORD (SHA-256 and size), Debian packages against
            /var/lib/dpkg/info/<pkg>.md5sums. Reported: changed and missing files, files inside a package that no
            RECORD lists (an injected module), malformed RECORD lines, .pyc files that do not match their source or
            have none, and every startup hook (.pth 'import' lines, sitecustomize, usercustomize) with the code it runs.
            Findings are grouped by package, most important first (a changed torch/optim/adamw.py is critical).

            Examples:
              trainguard env verify                                   the environment found on this machine
              trainguard env verify --site samples/env/site-packages  one site folder
              trainguard env verify --python /opt/venv/bin/python --package torch
              trainguard env verify --site samples/env/edited-site-packages --events env.jsonl   findings as events
            """ + "\n" + ExitCodes.HelpText);
        command.AddOptions(sites, python, useInterpreter, packages, noRecompile, noProgress, events);
        output.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            output.Validate(parse);
            var eventsFile = parse.GetValue(events) is { } e ? InputValidation.WritableFile(e.FullName, "--events") : null;
            var options = new EnvVerifyOptions
            {
                Sites = InputValidation.ExistingFolders(parse.GetValue(sites), "--site"),
                PythonPath = InputValidation.ExistingFile(parse.GetValue(python), "--python"),
                UseInterpreter = parse.GetValue(useInterpreter),
                Packages = parse.GetValue(packages) ?? [],
                RecompileByteCode = parse.GetValue(noRecompile) ? false : null,
            };
            Report report;
            try
            {
                report = !parse.GetValue(noProgress) && ProgressDisplay.CanShow(stderr)
                    ? await ProgressDisplay.RunAsync<EnvProgress, Report>(stderr, p => EnvironmentVerifier.VerifyAsync(options, p, ct), p => (p.FilesDone, p.FilesTotal, $"{p.Stage} {p.FilesDone}/{p.FilesTotal}"))
                    : await EnvironmentVerifier.VerifyAsync(options, null, ct);
            }
            catch (ArgumentException ex)
            {
                throw new CliException(ex.Message, ex);
            }

            if (eventsFile is not null)
            {
                var now = DateTimeOffset.UtcNow;
                var accounts = FileOwnership.NodeAccounts();
                var lines = report.Items.SelectMany(item => item.Findings.Select(f => EnvChecks.FindingEvent(item, f, now, accounts).ToJsonLine() + "\n"));
                await File.AppendAllTextAsync(eventsFile, string.Concat(lines), ct);
            }

            return output.Write(parse, report, stdout, stderr);
        });
        return command;
    }

    private static Command Baseline(TextWriter stdout, TextWriter stderr)
    {
        var sites = SiteOption();
        var python = PythonOption();
        var key = CommonOptions.PrivateKey();
        var baseline = BaselineOption($"Where to write the signed baseline (default {DefaultBaseline}).");
        var output = new ReportOptions(sarif: false);
        var command = new Command("baseline", $"""
            Record every file of the environment (sources, .pyc, .pth, native libraries) with its SHA-256 and sign the
            list: an OpenSSF model-signing bundle (DSSE envelope over an in-toto statement). Keep the public key and
            the baseline somewhere the environment's users cannot write; 'env diff' later shows every change.

            Example:
              trainguard keys new --dir keys
              trainguard env baseline --key keys/trainguard.key --baseline env.sig

            Exit codes: 0 baseline written, 2 error (no site folder, unreadable key, bad usage).
            """);
        command.AddOptions(sites, python, key, baseline);
        output.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            output.Validate(parse);
            var started = DateTimeOffset.UtcNow;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var keyFile = InputValidation.ExistingFile(parse.GetValue(key), "--key")!;
            var target = InputValidation.WritableFile(parse.GetValue(baseline)!.FullName, "--baseline");
            var siteList = ResolveSites(parse.GetValue(sites), parse.GetValue(python));
            var summary = await EnvironmentBaseline.CreateAsync(siteList, keyFile, target, ct);
            var json = new JsonObject
            {
                ["baseline"] = summary.SignaturePath,
                ["files"] = summary.Files,
                ["bytes"] = summary.Bytes,
                ["sites"] = new JsonArray([.. summary.Sites.Select(s => JsonValue.Create(s))]),
                ["key_hint"] = summary.KeyHint,
            };
            var report = ResultReports.Create("env baseline", summary.SignaturePath, "baseline", json, text =>
                text.WriteLine($"baseline of {summary.Files:N0} files ({summary.Bytes:N0} bytes) in {summary.Sites.Count} site folder(s) signed with key {summary.KeyHint}: {summary.SignaturePath}"),
                started, clock.Elapsed);
            return output.Write(parse, report, stdout, stderr);
        });
        return command;
    }

    private static Command Diff(TextWriter stdout, TextWriter stderr)
    {
        var baseline = BaselineOption($"The signed baseline written by 'env baseline' (default {DefaultBaseline}).");
        var key = CommonOptions.PublicKey(required: true, "Public key (PEM) that must have signed the baseline.");
        var sites = SiteOption();
        sites.Description = "Compare these folders instead of the ones recorded in the baseline (repeatable).";
        var output = new ReportOptions(sarif: true);
        var command = new Command("diff", """
            Check the baseline's signature, then report every file added, removed or changed since it was taken,
            grouped by package. A bad signature is an error (exit 2): the baseline itself cannot be trusted.

            Example:
              trainguard env diff --baseline env.sig --key keys/trainguard.pub
            """ + "\n" + ExitCodes.HelpText);
        command.AddOptions(baseline, key, sites);
        output.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            output.Validate(parse);
            var sig = InputValidation.ExistingFile(parse.GetValue(baseline), "--baseline")!;
            var pub = InputValidation.ExistingFile(parse.GetValue(key), "--key")!;
            var siteList = parse.GetValue(sites) is { Length: > 0 } given ? InputValidation.ExistingFolders(given, "--site") : null;
            var report = await EnvironmentBaseline.DiffAsync(sig, pub, siteList, ct);
            return output.Write(parse, report, stdout, stderr);
        });
        return command;
    }

    private static List<string> ResolveSites(string[]? sites, FileInfo? python)
    {
        if (sites is { Length: > 0 })
        {
            return InputValidation.ExistingFolders(sites, "--site");
        }

        var located = EnvironmentLocator.Locate(new EnvLocateOptions { PythonPath = InputValidation.ExistingFile(python, "--python") });
        if (located.Sites.Count == 0)
        {
            throw new CliException("no site-packages folder found; name one with --site");
        }

        return located.Sites.Select(s => s.Path).ToList();
    }
}
