using System.CommandLine;

namespace TrainGuard.Cli.Commands;

/// <summary><c>trainguard ckpt convert</c>.</summary>
internal static class CkptConvertCommand
{
    public static IEnumerable<Command> Create(TextWriter stdout, TextWriter stderr)
    {
        _ = stdout;
        _ = stderr;
        return [];
    }
}
