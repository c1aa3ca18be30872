using System.Globalization;
using System.Text;
using TrainGuard.Agent.Shipping;
using TrainGuard.Agent.Spool;
using TrainGuard.Events;

namespace TrainGuard.Agent.Tests.Support;

/// <summary>
/// The test assembly's entry point. Under the test runner it is never called; tests relaunch the
/// assembly as a child process (<c>dotnet TrainGuard.Agent.Tests.dll spool-child ...</c>) so they can kill it with SIGKILL.
/// </summary>
public static class ChildProgram
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "spool-child")
        {
            return await SpoolChild(args[1..]);
        }

        if (args.Length > 0 && args[0] == "agent-run")
        {
            return await Runtime.AgentRunChild.RunAsync(args[1..]);
        }

        await Console.Error.WriteLineAsync("usage: spool-child DIR URL TOTAL CHUNK | agent-run CONFIG");
        return 2;
    }

    /// <summary>Deterministic event number <paramref name="n"/>: the id depends only on n.</summary>
    public static EventRecord MakeEvent(int n)
    {
        var time = new DateTimeOffset(2026, 11, 22, 8, 0, 0, TimeSpan.Zero).AddMilliseconds(n);
        var e = new EventRecord(time, "test-event", id: UuidV7.FromKey(time, Encoding.UTF8.GetBytes("child|" + n.ToString(CultureInfo.InvariantCulture))));
        e.Set("trainguard.test.n", n);
        e.Set("message", new string('x', 64 + (n % 200)));
        return e;
    }

    public static string IdOf(int n) => MakeEvent(n).Id;

    /// <summary>Appends events TOTAL in chunks while shipping; resumes after the newest spooled event; exits when all are acknowledged.</summary>
    private static async Task<int> SpoolChild(string[] args)
    {
        var dir = args[0];
        var url = new Uri(args[1]);
        var total = int.Parse(args[2], CultureInfo.InvariantCulture);
        var chunk = int.Parse(args[3], CultureInfo.InvariantCulture);
        using var spool = EventSpool.Open(dir, new SpoolOptions { MaxSegmentBytes = 32 * 1024 });
        foreach (var finding in spool.OpenReport.Findings)
        {
            await Console.Error.WriteLineAsync($"open: {finding.RuleId} {finding.Message}");
        }

        var next = spool.LastEvent?.GetInt64("trainguard.test.n") is { } last ? (int)last + 1 : 0;
        using var shipper = new EventShipper(
            spool,
            new ShipperOptions { ServerUrl = url, Token = "child-token", BatchSize = 40, BackoffBase = TimeSpan.FromMilliseconds(100), BackoffMax = TimeSpan.FromMilliseconds(800), IdlePoll = TimeSpan.FromMilliseconds(100), RequestTimeout = TimeSpan.FromSeconds(5) },
            m => Console.Error.WriteLine("ship: " + m));
        using var cancel = new CancellationTokenSource();
        var shipping = shipper.RunAsync(cancel.Token);
        await Console.Out.WriteLineAsync($"resume {next}");
        await Console.Out.FlushAsync();
        while (next < total)
        {
            var batch = new List<EventRecord>();
            for (var i = 0; i < chunk && next < total; i++)
            {
                batch.Add(MakeEvent(next++));
            }

            spool.Append(batch);
            shipper.Nudge();
            await Task.Delay(10);
        }

        while (spool.Pending > 0)
        {
            await Task.Delay(20);
        }

        await cancel.CancelAsync();
        await shipping;
        await Console.Out.WriteLineAsync("done");
        return 0;
    }
}
