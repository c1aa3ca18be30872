using System.CommandLine;

namespace TrainGuard.Cli.Tests;

/// <summary>
/// Every command line the docs and the built-in help show uses spellings the CLI accepts (the README's lines are
/// also run: <see cref="ReadmeCommandTests"/>).
/// </summary>
public sealed class DocumentedCommandLineTests
{
    private static RootCommand Root => CommandTree.Root;

    public static TheoryData<string, string> DocsLines()
    {
        var data = new TheoryData<string, string>();
        foreach (var file in Directory.GetFiles(CliRunner.Repo("docs"), "*.md", SearchOption.AllDirectories).Append(CliRunner.Repo("README.md")).Order(StringComparer.Ordinal))
        {
            var inBlock = false;
            var number = 0;
            string? pending = null;
            foreach (var line in File.ReadLines(file))
            {
                number++;
                if (line.TrimStart().StartsWith("```", StringComparison.Ordinal))
                {
                    inBlock = !inBlock;
                    continue;
                }

                if (!inBlock)
                {
                    continue;
                }

                var text = pending is null ? line.Trim() : pending + " " + line.Trim();
                pending = null;
                if (text.EndsWith('\\'))
                {
                    pending = text[..^1].TrimEnd();
                    continue;
                }

                if (Command(text) is { } command)
                {
                    data.Add($"{Path.GetRelativePath(CliRunner.Root, file)}:{number}", command);
                }
            }
        }

        return data;
    }

    public static TheoryData<string, string> HelpExamples()
    {
        var data = new TheoryData<string, string>();
        foreach (var (path, command) in CommandTree.All())
        {
            string? pending = null;
            foreach (var line in (command.Description ?? string.Empty).Split('\n'))
            {
                var text = pending is null ? line.Trim() : pending + " " + line.Trim();
                pending = null;
                if (text.EndsWith('\\'))
                {
                    pending = text[..^1].TrimEnd();
                    continue;
                }

                // Examples are followed by two or more spaces and what they do.
                var example = text.Split("  ", 2)[0];
                if (Command(example) is { } commandLine)
                {
                    data.Add(path, commandLine);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(DocsLines))]
    public void A_command_line_in_the_docs_parses(string where, string commandLine) => AssertParses(where, commandLine);

    [Theory]
    [MemberData(nameof(HelpExamples))]
    public void An_example_in_the_help_parses(string verb, string commandLine) => AssertParses(verb, commandLine);

    private static void AssertParses(string where, string commandLine)
    {
        var words = ShellWords.Split(commandLine);
        var parse = Root.Parse(words.Skip(1).ToArray());

        Assert.True(parse.Errors.Count == 0 && parse.UnmatchedTokens.Count == 0, $"{where}: {commandLine}\n  {string.Join("\n  ", parse.Errors.Select(e => e.Message).Concat(parse.UnmatchedTokens))}");
        Assert.NotNull(parse.CommandResult.Command.Action);
    }

    /// <summary>The trainguard command of a line (an environment assignment before it allowed), without its comment.</summary>
    private static string? Command(string line)
    {
        var text = ShellWords.StripComment(line).Trim();
        var at = text.IndexOf("trainguard ", StringComparison.Ordinal);
        if (at < 0 || (at > 0 && !text[..at].TrimEnd().Split(' ').All(w => w.Contains('=', StringComparison.Ordinal))))
        {
            return null;
        }

        var command = text[at..];
        var cut = command.IndexOf(" && ", StringComparison.Ordinal);
        return cut < 0 ? command : command[..cut];
    }
}
