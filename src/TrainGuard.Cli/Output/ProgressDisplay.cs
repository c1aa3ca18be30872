using Spectre.Console;

namespace TrainGuard.Cli.Output;

/// <summary>A Spectre.Console progress bar on standard error, only when standard error is a terminal.</summary>
public static class ProgressDisplay
{
    public static bool CanShow(TextWriter stderr) =>
        ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("CI") is null;

    /// <summary>Runs <paramref name="work"/> with a progress bar fed by <paramref name="describe"/> (done, total, label).</summary>
    public static async Task<T> RunAsync<TProgress, T>(TextWriter stderr, Func<IProgress<TProgress>, Task<T>> work, Func<TProgress, (double Done, double Total, string Label)> describe)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(stderr) });
        T result = default!;
        await console.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask("starting", maxValue: 1);
                var progress = new Progress<TProgress>(p =>
                {
                    var (done, total, label) = describe(p);
                    task.MaxValue = Math.Max(1, total);
                    task.Value = Math.Min(done, task.MaxValue);
                    task.Description = TrainGuard.Findings.TextSanitizer.Escape(label, 60);
                });
                result = await work(progress);
                task.Value = task.MaxValue;
            });
        return result;
    }
}
