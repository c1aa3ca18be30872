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
        // A run that names a verb builds only that verb's commands (its help, errors and parsing are the same);
        // anything else (no verb, a mistyped one, --help) gets every verb.
        var verb = args.Length > 0 && Verbs.Any(v => v.Name == args[0]) ? args[0] : null;
        var root = BuildRoot(stdout, stderr, verb);
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

    /// <summary>The verbs, by name, in the order help lists them.</summary>
    internal static readonly (string Name, Func<TextWriter, TextWriter, Command> Create)[] Verbs =
    [
        ("scan", ScanCommand.Create),
        ("server", ServerCommand.Create),
        ("ledger", LedgerCommand.Create),
        ("env", EnvCommand.Create),
        ("ckpt", CkptCommand.Create),
        ("keys", KeysCommand.Create),
        ("agent", AgentCommand.Create),
        ("rules", RulesCommand.Create),
        ("alerts", AlertsCommand.Create),
        ("timeline", TimelineCommand.Create),
        ("review", ReviewCommand.Create),
        ("runs", RunsCommand.Create),
        ("access", AccessCommand.Create),
        ("report", ReportCommand.Create),
    ];

    public static RootCommand BuildRoot(TextWriter stdout, TextWriter stderr) => BuildRoot(stdout, stderr, verb: null);

    /// <summary>The command tree with every verb, or only <paramref name="verb"/>'s (building all of them costs a short run ~10 ms).</summary>
    internal static RootCommand BuildRoot(TextWriter stdout, TextWriter stderr, string? verb)
    {
        var root = new RootCommand(Description + "\n" + ExitCodes.HelpText);
        foreach (var (name, create) in Verbs)
        {
            if (verb is null || verb == name)
            {
                root.Subcommands.Add(create(stdout, stderr));
            }
        }

        return root;
    }
}
