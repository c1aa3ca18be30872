using System.CommandLine;
using TrainGuard.Findings;
using TrainGuard.Integrity.Keys;

namespace TrainGuard.Cli.Commands;

/// <summary><c>trainguard keys new</c>: an ECDSA P-256 signing key pair for baselines and checkpoints.</summary>
public static class KeysCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var command = new Command("keys", "Signing keys for environment baselines and checkpoint signatures.");
        var folder = new Option<DirectoryInfo>("--output", "-o")
        {
            Description = "Folder for the pair: trainguard.key (private, mode 0600) and trainguard.pub.",
            DefaultValueFactory = _ => new DirectoryInfo("."),
        };
        var name = new Option<string>("--name") { Description = "File name stem of the pair.", DefaultValueFactory = _ => "trainguard" };
        var create = new Command("new", """
            Create an ECDSA P-256 key pair (PEM): the private key signs 'env baseline' and 'ckpt sign', the public key
            verifies. An existing key is never overwritten.

            Example:
              trainguard keys new -o /etc/trainguard/keys
            """ + "\n" + ExitCodes.HelpText);
        create.Options.Add(folder);
        create.Options.Add(name);
        create.SetAction(async parse =>
        {
            var dir = parse.GetValue(folder)!;
            if (!dir.Exists)
            {
                throw new CliException($"--output: folder {dir.FullName} does not exist");
            }

            var stem = parse.GetValue(name)!;
            if (stem.Length == 0 || stem.IndexOfAny(['/', '\\']) >= 0)
            {
                throw new CliException("--name must be a plain file name");
            }

            var privatePath = Path.Combine(dir.FullName, stem + ".key");
            var publicPath = Path.Combine(dir.FullName, stem + ".pub");
            if (File.Exists(privatePath) || File.Exists(publicPath))
            {
                throw new CliException($"{privatePath} or {publicPath} already exists; keys are never overwritten");
            }

            var hint = KeyPairGenerator.Create(privatePath, publicPath);
            await stdout.WriteLineAsync($"private key: {privatePath} (keep it secret; mode 0600)");
            await stdout.WriteLineAsync($"public key:  {publicPath}");
            await stdout.WriteLineAsync($"key hint:    {hint}");
            return ExitCodes.Clean;
        });
        command.Subcommands.Add(create);
        return command;
    }
}
