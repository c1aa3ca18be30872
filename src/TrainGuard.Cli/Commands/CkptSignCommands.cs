using System.CommandLine;

namespace TrainGuard.Cli.Commands;

/// <summary><c>trainguard ckpt sign/verify</c>.</summary>
internal static class CkptSignCommands
{
    public static IEnumerable<Command> Create(TextWriter stdout, TextWriter stderr)
    {
        _ = stdout;
        _ = stderr;
        return [];
    }
}
