using System.CommandLine;
using System.CommandLine.Parsing;
using TrainGuard.Cli.Commands;
using TrainGuard.Findings;

namespace TrainGuard.Cli;

public static class Program
{
    public const string Description = """
        TrainGuard defends shared GPU training clusters against sabotage from inside: poisoned checkpoints,
        edited PyTorch, sabotaged optimizers, killed jobs and backdoors. It never executes what it inspects.
        """;

    public static async Task<int> Main(string[] args)
    {
        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };

        return await RunAsync(args, Console.Out, Console.Error, cancel.Token);
    }

    /// <summary>Runs the CLI with the given streams (tests call this in-process).</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default)
    {
        var root = BuildRoot(stdout, stderr);
        var parse = root.Parse(args);

        // --help suppresses the parser's own errors, so 'trainguard UNKNOWN --help' would print the root help and
        // exit 0: a word that names no verb is an error with or without --help.
        var errors = parse.Errors.Count > 0
            ? parse.Errors.Select(e => e.Message).ToList()
            : parse.UnmatchedTokens.Select(t => $"Unrecognized command or argument '{t}'.").ToList();
        if (errors.Count > 0)
        {
            foreach (var error in errors)
            {
                await stderr.WriteLineAsync($"trainguard: {error}");
            }

            await stderr.WriteLineAsync($"Run '{CommandPath(parse)} --help' for usage.");
            return ExitCodes.Error;
        }

        var config = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false };
        try
        {
            return await parse.InvokeAsync(config, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            await stderr.WriteLineAsync("trainguard: cancelled");
            return ExitCodes.Error;
        }
        catch (CliException ex)
        {
            await stderr.WriteLineAsync($"trainguard: {ex.Message}");
            return ExitCodes.Error;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            await stderr.WriteLineAsync($"trainguard: {ex.Message}");
            return ExitCodes.Error;
        }
    }

    /// <summary>The verb the parser got as far as, e.g. <c>trainguard ckpt sign</c>.</summary>
    private static string CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var result = parse.CommandResult; result.Parent is CommandResult parent; result = parent)
        {
            names.Insert(0, result.Command.Name);
        }

        return string.Join(' ', ["trainguard", .. names]);
    }

    public static RootCommand BuildRoot(TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand(Description + "\n" + ExitCodes.HelpText);
        root.Subcommands.Add(ScanCommand.Create(stdout, stderr));
        root.Subcommands.Add(ServerCommand.Create(stdout, stderr));
        root.Subcommands.Add(LedgerCommand.Create(stdout, stderr));
        root.Subcommands.Add(EnvCommand.Create(stdout, stderr));
        root.Subcommands.Add(CkptCommand.Create(stdout, stderr));
        root.Subcommands.Add(KeysCommand.Create(stdout, stderr));
        root.Subcommands.Add(AgentCommand.Create(stdout, stderr));
        root.Subcommands.Add(RulesCommand.Create(stdout, stderr));
        root.Subcommands.Add(AlertsCommand.Create(stdout, stderr));
        root.Subcommands.Add(TimelineCommand.Create(stdout, stderr));
        root.Subcommands.Add(ReviewCommand.Create(stdout, stderr));
        root.Subcommands.Add(RunsCommand.Create(stdout, stderr));
        root.Subcommands.Add(AccessCommand.Create(stdout, stderr));
        root.Subcommands.Add(ReportCommand.Create(stdout, stderr));
        return root;
    }
}
