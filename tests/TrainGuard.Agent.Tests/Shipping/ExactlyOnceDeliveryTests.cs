using System.Diagnostics;
using TrainGuard.Agent.Spool;
using TrainGuard.Agent.Tests.Support;
using Xunit.Abstractions;

namespace TrainGuard.Agent.Tests.Shipping;

/// <summary>
/// The spool's delivery guarantee end to end, with real processes: a child appends and ships, is
/// killed with SIGKILL mid-batch, the server goes away for a while, both come back. Every event
/// arrives; the server's dedup by id turns at-least-once into exactly-once.
/// </summary>
public sealed class ExactlyOnceDeliveryTests(ITestOutputHelper output)
{
    private const int Total = 1500;

    [Fact]
    public async Task Every_event_arrives_exactly_once_across_kill_9_and_a_server_outage()
    {
        using var dir = new TempDir();
        using var server = new FakeEventServer { ResponseDelay = TimeSpan.FromMilliseconds(150) };
        server.Start();
        var spoolDir = dir.Combine("spool");

        // 1. Ship until a few hundred events arrived, then SIGKILL while a batch is in flight (the server holds each answer 150 ms).
        using (var child = StartChild(spoolDir, server, chunk: 7))
        {
            await WaitFor(() => server.DistinctCount >= 300, TimeSpan.FromSeconds(60), "first 300 events to arrive");
            await WaitFor(() => server.Requests > 0, TimeSpan.FromSeconds(1), "a request in flight");
            child.Kill(entireProcessTree: true);
            await child.WaitForExitAsync();
        }

        var afterFirstKill = server.DistinctCount;
        output.WriteLine($"after first kill: {afterFirstKill} distinct, {server.Duplicates} duplicates");

        // 2. The server is down; the child keeps producing into the spool, retrying with back-off, and is killed again.
        server.Stop();
        using (var child = StartChild(spoolDir, server, chunk: 11))
        {
            await Task.Delay(TimeSpan.FromSeconds(2));
            Assert.False(child.HasExited, "the child must keep running while the server is down");
            child.Kill(entireProcessTree: true);
            await child.WaitForExitAsync();
        }

        Assert.Equal(afterFirstKill, server.DistinctCount);

        // 3. Server back, child restarted: it resumes after its newest spooled event and drains the spool.
        server.ResponseDelay = TimeSpan.Zero;
        server.Start();
        using (var child = StartChild(spoolDir, server, chunk: 13))
        {
            var stdout = child.StandardOutput.ReadToEndAsync();
            var stderr = child.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            await child.WaitForExitAsync(timeout.Token);
            output.WriteLine(await stdout);
            output.WriteLine(await stderr);
            Assert.Equal(0, child.ExitCode);
        }

        var expected = Enumerable.Range(0, Total).Select(ChildProgram.IdOf).ToHashSet(StringComparer.Ordinal);
        var received = server.ReceivedIds;
        output.WriteLine($"received {received.Count} ids, {server.DistinctCount} distinct, {server.Duplicates} duplicates (re-sent after a kill)");
        Assert.Equal(Total, server.DistinctCount);
        Assert.True(expected.SetEquals(received), "every produced id arrives and nothing else");
        Assert.Equal(0, server.DuplicatesOfUnknownIds);
        Assert.Equal(Total, server.Index.Values.Distinct().Count());

        // Re-sent ids got their first index back, and the spool itself is intact after two SIGKILLs.
        var verification = EventSpool.Verify(spoolDir);
        Assert.False(verification.Tampered, string.Join("; ", verification.Findings.Select(f => f.Message)));
        Assert.Equal(verification.LastSeq, verification.AckedSeq);
    }

    private static Process StartChild(string spoolDir, FakeEventServer server, int chunk)
    {
        var assembly = typeof(ChildProgram).Assembly.Location;
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { assembly, "spool-child", spoolDir, server.Url.ToString(), Total.ToString(System.Globalization.CultureInfo.InvariantCulture), chunk.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            info.ArgumentList.Add(arg);
        }

        return Process.Start(info) ?? throw new InvalidOperationException("cannot start the child process");
    }

    private static async Task WaitFor(Func<bool> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout)
            {
                Assert.Fail($"timed out waiting for {what}");
            }

            await Task.Delay(10);
        }
    }
}
