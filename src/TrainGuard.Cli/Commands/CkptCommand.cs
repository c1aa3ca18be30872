using System.CommandLine;
using TrainGuard.Findings;

namespace TrainGuard.Cli.Commands;

/// <summary><c>trainguard ckpt</c>: sign, verify, inspect, check, diff and convert checkpoints. Each group of verbs lives in its own file.</summary>
public static class CkptCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var command = new Command("ckpt", """
            Checkpoints: prove what a checkpoint was when it was saved (sign, verify), read what it really contains
            without running it (inspect), compare it with the run's declared settings (check) or another checkpoint
            (diff), and get off pickle (convert).
            """ + "\n" + ExitCodes.HelpText);
        foreach (var verb in CkptSignCommands.Create(stdout, stderr)
            .Concat(CkptContentCommands.Create(stdout, stderr))
            .Concat(CkptConvertCommand.Create(stdout, stderr)))
        {
            command.Subcommands.Add(verb);
        }

        return command;
    }
}
