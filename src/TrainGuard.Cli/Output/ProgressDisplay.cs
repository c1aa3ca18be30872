using Spectre.Console;
using TrainGuard.Scanning.Scanner;

namespace TrainGuard.Cli.Output;

/// <summary>A Spectre.Console progress bar on standard error, only when standard error is a terminal.</summary>
public static class ProgressDisplay
{
    public static bool CanShow(TextWriter stderr) =>
        ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("CI") is null;

    public static async Task<T> RunAsync<T>(TextWriter stderr, Func<IProgress<ScanProgress>, Task<T>> work)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(stderr) });
        T result = default!;
        await console.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask("scanning", maxValue: 1);
                var progress = new Progress<ScanProgress>(p =>
                {
                    task.MaxValue = Math.Max(1, p.FilesTotal);
                    task.Value = p.FilesDone;
                    task.Description = $"scanning {p.FilesDone}/{p.FilesTotal}";
                });
                result = await work(progress);
                task.Value = task.MaxValue;
            });
        return result;
    }
}
