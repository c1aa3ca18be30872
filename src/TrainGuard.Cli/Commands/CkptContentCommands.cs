using System.CommandLine;

namespace TrainGuard.Cli.Commands;

/// <summary><c>trainguard ckpt inspect/check/diff</c>.</summary>
internal static class CkptContentCommands
{
    public static IEnumerable<Command> Create(TextWriter stdout, TextWriter stderr)
    {
        _ = stdout;
        _ = stderr;
        return [];
    }
}
