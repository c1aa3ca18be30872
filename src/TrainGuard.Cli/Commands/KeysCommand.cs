using System.CommandLine;
using System.Text.Json.Nodes;
using TrainGuard.Cli.Options;
using TrainGuard.Cli.Output;
using TrainGuard.Integrity.Keys;
using TrainGuard.Ledger.Notes;

namespace TrainGuard.Cli.Commands;

/// <summary><c>trainguard keys new</c>: an ECDSA P-256 signing key pair for baselines and checkpoints, or (<c>--witness NAME</c>) a ledger witness key.</summary>
public static class KeysCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var command = new Command("keys", "Signing keys for environment baselines and checkpoint signatures.");
        var folder = new Option<DirectoryInfo>("--dir")
        {
            HelpName = "DIR",
            Description = "Folder for the pair: trainguard.key (private, mode 0600) and trainguard.pub. Created (mode 0700) when missing. Default: the current folder.",
            DefaultValueFactory = _ => new DirectoryInfo("."),
        };
        var name = new Option<string>("--name") { Description = "File name stem of the pair (default trainguard, or witness with --witness).", DefaultValueFactory = _ => "trainguard" };
        var witness = new Option<string?>("--witness")
        {
            HelpName = "NAME",
            Description = "Make a ledger witness key named NAME (a schema-less URL such as witness.example/w1) instead: an Ed25519 C2SP cosignature/v1 key, STEM.key (private, for 'ledger witness --key') and STEM.vkey (its verifier key, for 'server run --witness-key').",
        };
        var output = new ReportOptions(sarif: false);
        var create = new Command("new", """
            Create an ECDSA P-256 key pair (PEM): the private key signs 'env baseline' and 'ckpt sign', the public key
            verifies. With --witness NAME, create a ledger witness key instead (see 'ledger witness'). An existing key
            is never overwritten.

            Examples:
              trainguard keys new --dir /etc/trainguard/keys
              trainguard keys new --witness witness.example/w1 --dir /etc/trainguard-witness

            Exit codes: 0 created, 2 error (a key of that name exists, the folder cannot be created, bad usage).
            """);
        create.AddOptions(folder, name, witness);
        output.AddTo(create);
        create.SetAction(parse =>
        {
            output.Validate(parse);
            var started = DateTimeOffset.UtcNow;
            var witnessName = parse.GetValue(witness);
            var stem = witnessName is not null && parse.GetResult(name) is null or { Implicit: true } ? "witness" : parse.GetValue(name)!;
            if (stem.Length == 0 || stem.IndexOfAny(['/', '\\']) >= 0)
            {
                throw new CliException("--name must be a plain file name");
            }

            var dir = parse.GetValue(folder)!;
            var privatePath = Path.Combine(dir.FullName, stem + ".key");
            var publicPath = Path.Combine(dir.FullName, stem + (witnessName is null ? ".pub" : ".vkey"));
            if (File.Exists(privatePath) || File.Exists(publicPath))
            {
                throw new CliException($"{privatePath} or {publicPath} already exists; keys are never overwritten");
            }

            if (!dir.Exists)
            {
                CreatePrivateFolder(dir.FullName);
            }

            if (witnessName is not null)
            {
                return output.Write(parse, WitnessKey(witnessName, privatePath, publicPath, started), stdout, stderr);
            }

            var hint = KeyPairGenerator.Create(privatePath, publicPath);
            var json = new JsonObject { ["private_key"] = privatePath, ["public_key"] = publicPath, ["key_hint"] = hint };
            var report = ResultReports.Create("keys new", publicPath, "key-pair", json, text =>
            {
                text.WriteLine($"private key: {privatePath} (keep it secret; mode 0600)");
                text.WriteLine($"public key:  {publicPath}");
                text.WriteLine($"key hint:    {hint}");
            }, started, DateTimeOffset.UtcNow - started);
            return output.Write(parse, report, stdout, stderr);
        });
        command.Subcommands.Add(create);
        return command;
    }

    private static Findings.Report WitnessKey(string witnessName, string privatePath, string publicPath, DateTimeOffset started)
    {
        Cosigner cosigner;
        try
        {
            cosigner = Cosigner.Generate(witnessName);
        }
        catch (ArgumentException)
        {
            throw new CliException($"--witness '{witnessName}': a witness name is non-empty, without spaces or '+' (e.g. witness.example/w1)");
        }

        using (cosigner)
        {
            WritePrivate(privatePath, cosigner.SignerKey + "\n");
            File.WriteAllText(publicPath, cosigner.Verifier.VerifierKey + "\n");
            var json = new JsonObject { ["private_key"] = privatePath, ["public_key"] = publicPath, ["witness"] = cosigner.Name, ["verifier_key"] = cosigner.Verifier.VerifierKey };
            return ResultReports.Create("keys new", publicPath, "witness-key", json, text =>
            {
                text.WriteLine($"witness key:   {privatePath} (keep it secret; mode 0600)");
                text.WriteLine($"verifier key:  {publicPath} (give it to the server: server run --witness-key {publicPath})");
                text.WriteLine($"               {cosigner.Verifier.VerifierKey}");
            }, started, DateTimeOffset.UtcNow - started);
        }
    }

    /// <summary>Creates <paramref name="path"/> readable by its owner only, then writes <paramref name="text"/>.</summary>
    private static void WritePrivate(string path, string text)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using var writer = new StreamWriter(path, new System.Text.UTF8Encoding(false), options);
        writer.Write(text);
    }

    private static void CreatePrivateFolder(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }
}
