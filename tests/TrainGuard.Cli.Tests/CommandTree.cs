using System.CommandLine;

namespace TrainGuard.Cli.Tests;

/// <summary>The CLI's command tree, built once, walked by the tests that check every verb.</summary>
internal static class CommandTree
{
    public static RootCommand Root { get; } = Program.BuildRoot(TextWriter.Null, TextWriter.Null);

    /// <summary>Every command below the root with its path (<c>ckpt sign</c>), groups included.</summary>
    public static IEnumerable<(string Path, Command Command)> All() => Walk(Root, []);

    /// <summary>Every command that does something (has an action).</summary>
    public static IEnumerable<(string Path, Command Command)> Verbs() => All().Where(c => c.Command.Action is not null);

    private static IEnumerable<(string Path, Command Command)> Walk(Command command, string[] path)
    {
        foreach (var sub in command.Subcommands)
        {
            string[] subPath = [.. path, sub.Name];
            yield return (string.Join(' ', subPath), sub);
            foreach (var nested in Walk(sub, subPath))
            {
                yield return nested;
            }
        }
    }
}
