using System.CommandLine;
using TrainGuard.Cli.Output;
using TrainGuard.Findings;
using TrainGuard.Integrity.Environments;

namespace TrainGuard.Cli.Commands;

/// <summary><c>trainguard env verify|baseline|diff</c>: prove the cluster's Python and PyTorch have not been edited.</summary>
public static class EnvCommand
{
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

    private static Command Verify(TextWriter stdout, TextWriter stderr)
    {
        var sites = SiteOption();
        var python = PythonOption();
        var useInterpreter = new Option<bool>("--use-interpreter") { Description = "Ask the interpreter (run with -I -S, so no .pth hook runs) where its packages are." };
        var packages = new Option<string[]>("--package") { Description = "Check only these distributions or Debian packages (repeatable), e.g. --package torch --package python3-torch." };
        var noRecompile = new Option<bool>("--no-recompile") { Description = "Skip recompiling .pyc files with the interpreter (faster; header checks still run)." };
        var noProgress = new Option<bool>("--no-progress") { Description = "Never show a progress bar." };
        var output = new ReportOutput();
        var command = new Command("verify", """
            Check every installed file of a Python environment against what its package says it should be.

            Wheel installs are checked against *.dist-info/RECORD (SHA-256 and size), Debian packages against
            /var/lib/dpkg/info/<pkg>.md5sums. Reported: changed and missing files, files inside a package that no
            RECORD lists (an injected module), malformed RECORD lines, .pyc files that do not match their source or
            have none, and every startup hook (.pth 'import' lines, sitecustomize, usercustomize) with the code it runs.
            Findings are grouped by package, most important first (a changed torch/optim/adamw.py is critical).

            Examples:
              trainguard env verify                                   the environment found on this machine
              trainguard env verify --site /opt/venv/lib/python3.11/site-packages
              trainguard env verify --python /opt/venv/bin/python --package torch
            """ + "\n" + ExitCodes.HelpText);
        foreach (var option in new Option[] { sites, python, useInterpreter, packages, noRecompile, noProgress })
        {
            command.Options.Add(option);
        }

        output.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var options = new EnvVerifyOptions
            {
                Sites = ExistingFolders(parse.GetValue(sites), "--site"),
                PythonPath = ExistingFile(parse.GetValue(python), "--python"),
                UseInterpreter = parse.GetValue(useInterpreter),
                Packages = parse.GetValue(packages) ?? [],
                RecompileByteCode = parse.GetValue(noRecompile) ? false : null,
            };
            var report = !parse.GetValue(noProgress) && ProgressDisplay.CanShow(stderr)
                ? await ProgressDisplay.RunAsync<EnvProgress, Report>(stderr, p => EnvironmentVerifier.VerifyAsync(options, p, ct), p => (p.FilesDone, p.FilesTotal, $"{p.Stage} {p.FilesDone}/{p.FilesTotal}"))
                : await EnvironmentVerifier.VerifyAsync(options, null, ct);
            return output.Write(parse, report, stdout, stderr);
        });
        return command;
    }

    private static Command Baseline(TextWriter stdout, TextWriter stderr)
    {
        var sites = SiteOption();
        var python = PythonOption();
        var key = new Option<FileInfo>("--key") { Description = "Private signing key (PEM, from 'trainguard keys new').", Required = true };
        var output = new Option<FileInfo>("--output", "-o") { Description = "Where to write the signed baseline.", DefaultValueFactory = _ => new FileInfo("env.sig") };
        var command = new Command("baseline", """
            Record every file of the environment (sources, .pyc, .pth, native libraries) with its SHA-256 and sign the
            list: an OpenSSF model-signing bundle (DSSE envelope over an in-toto statement). Keep the public key and
            the baseline somewhere the environment's users cannot write; 'env diff' later shows every change.

            Example:
              trainguard keys new -o keys/ && trainguard env baseline --key keys/trainguard.key -o env.sig
            """);
        command.Options.Add(sites);
        command.Options.Add(python);
        command.Options.Add(key);
        command.Options.Add(output);
        command.SetAction(async (parse, ct) =>
        {
            var keyFile = ExistingFile(parse.GetValue(key), "--key")!;
            var siteList = ResolveSites(parse.GetValue(sites), parse.GetValue(python));
            var summary = await EnvironmentBaseline.CreateAsync(siteList, keyFile, parse.GetValue(output)!.FullName, ct);
            await stdout.WriteLineAsync($"baseline of {summary.Files:N0} files ({summary.Bytes:N0} bytes) in {summary.Sites.Count} site folder(s) signed with key {summary.KeyHint}: {summary.SignaturePath}");
            return ExitCodes.Clean;
        });
        return command;
    }

    private static Command Diff(TextWriter stdout, TextWriter stderr)
    {
        var signature = new Argument<FileInfo>("baseline") { Description = "The signed baseline written by 'env baseline'." };
        var key = new Option<FileInfo>("--key") { Description = "Public key (PEM) that must have signed the baseline.", Required = true };
        var sites = SiteOption();
        sites.Description = "Compare these folders instead of the ones recorded in the baseline (repeatable).";
        var output = new ReportOutput();
        var command = new Command("diff", """
            Check the baseline's signature, then report every file added, removed or changed since it was taken,
            grouped by package. A bad signature is an error (exit 2): the baseline itself cannot be trusted.
            """ + "\n" + ExitCodes.HelpText);
        command.Arguments.Add(signature);
        command.Options.Add(key);
        command.Options.Add(sites);
        output.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var sig = ExistingFile(parse.GetValue(signature), "baseline")!;
            var pub = ExistingFile(parse.GetValue(key), "--key")!;
            var siteList = parse.GetValue(sites) is { Length: > 0 } given ? ExistingFolders(given, "--site") : null;
            var report = await EnvironmentBaseline.DiffAsync(sig, pub, siteList, ct);
            return output.Write(parse, report, stdout, stderr);
        });
        return command;
    }

    private static List<string> ResolveSites(string[]? sites, FileInfo? python)
    {
        if (sites is { Length: > 0 })
        {
            return ExistingFolders(sites, "--site");
        }

        var located = EnvironmentLocator.Locate(new EnvLocateOptions { PythonPath = ExistingFile(python, "--python") });
        if (located.Sites.Count == 0)
        {
            throw new CliException("no site-packages folder found; name one with --site");
        }

        return located.Sites.Select(s => s.Path).ToList();
    }

    internal static List<string> ExistingFolders(string[]? folders, string option)
    {
        var list = folders ?? [];
        foreach (var folder in list)
        {
            if (!Directory.Exists(folder))
            {
                throw new CliException($"{option}: folder {folder} does not exist");
            }
        }

        return [.. list];
    }

    internal static string? ExistingFile(FileInfo? file, string option)
    {
        if (file is null)
        {
            return null;
        }

        if (!file.Exists)
        {
            throw new CliException($"{option}: file {file.FullName} does not exist");
        }

        return file.FullName;
    }
}
