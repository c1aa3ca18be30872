using System.CommandLine;
using System.Text.Json.Nodes;
using TrainGuard.Cli.Options;
using TrainGuard.Cli.Output;
using TrainGuard.Integrity.Keys;

namespace TrainGuard.Cli.Commands;

/// <summary><c>trainguard keys new</c>: an ECDSA P-256 signing key pair for baselines and checkpoints.</summary>
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
        var name = new Option<string>("--name") { Description = "File name stem of the pair.", DefaultValueFactory = _ => "trainguard" };
        var output = new ReportOptions(sarif: false);
        var create = new Command("new", """
            Create an ECDSA P-256 key pair (PEM): the private key signs 'env baseline' and 'ckpt sign', the public key
            verifies. An existing key is never overwritten.

            Example:
              trainguard keys new --dir /etc/trainguard/keys

            Exit codes: 0 created, 2 error (a key of that name exists, the folder cannot be created, bad usage).
            """);
        create.AddOptions(folder, name);
        output.AddTo(create);
        create.SetAction(parse =>
        {
            output.Validate(parse);
            var started = DateTimeOffset.UtcNow;
            var stem = parse.GetValue(name)!;
            if (stem.Length == 0 || stem.IndexOfAny(['/', '\\']) >= 0)
            {
                throw new CliException("--name must be a plain file name");
            }

            var dir = parse.GetValue(folder)!;
            var privatePath = Path.Combine(dir.FullName, stem + ".key");
            var publicPath = Path.Combine(dir.FullName, stem + ".pub");
            if (File.Exists(privatePath) || File.Exists(publicPath))
            {
                throw new CliException($"{privatePath} or {publicPath} already exists; keys are never overwritten");
            }

            if (!dir.Exists)
            {
                CreatePrivateFolder(dir.FullName);
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
