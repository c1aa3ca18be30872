using System.Diagnostics;
using System.Text;

namespace TrainGuard.Ledger.Storage.Tests.Support;

/// <summary>
/// The test assembly's own entry point (the test host never calls it). The crash tests start this assembly
/// as a child process that appends batches forever, then kill it mid-write.
/// </summary>
public static class ChildProcessEntryPoint
{
    public const string AppendForeverVerb = "append-forever";
    public const int BatchSize = 100;

    public static async Task<int> Main(string[] args)
    {
        if (args is not [AppendForeverVerb, var backend, var target])
        {
            return 2;
        }

        await using ILedgerStore store = backend == "sqlite"
            ? await SqliteLedgerStore.OpenAsync(target)
            : await PostgresLedgerStore.OpenAsync(target);
        using var stdout = new StreamWriter(Console.OpenStandardOutput(), Encoding.ASCII) { AutoFlush = true };
        for (var batch = 0; ; batch++)
        {
            var entries = Enumerable.Range(0, BatchSize)
                .Select(i => new LedgerAppend(Encoding.UTF8.GetBytes($"child batch {batch} entry {i} " + new string('x', i)), $"child-{batch}-{i}"))
                .ToList();
            var result = await store.AppendBatchAsync(entries);
            await stdout.WriteLineAsync($"committed {result.TreeSize}");
        }
    }

    /// <summary>Starts the child on <paramref name="backend"/>/<paramref name="target"/>.</summary>
    public static Process StartAppendForever(string backend, string target)
    {
        var host = Environment.ProcessPath;
        if (host is null || !Path.GetFileNameWithoutExtension(host).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            host = "dotnet";
        }

        var start = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(typeof(ChildProcessEntryPoint).Assembly.Location);
        start.ArgumentList.Add(AppendForeverVerb);
        start.ArgumentList.Add(backend);
        start.ArgumentList.Add(target);
        return Process.Start(start) ?? throw new InvalidOperationException("could not start the child process");
    }
}
