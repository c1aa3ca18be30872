using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using TrainGuard.Ledger.Tests.Support;

namespace TrainGuard.Ledger.Storage.Tests;

/// <summary>
/// <c>scripts/pg-test-cluster.sh acquire/release</c>: the cluster a test run starts is stopped when the last process
/// that acquired it releases it (or is gone), and a cluster that was already running (as <c>.ci/run</c> starts it)
/// keeps running. Each test uses its own data folder and port.
/// </summary>
public sealed class PgTestClusterScriptTests : IDisposable
{
    private readonly string _base = Path.Combine(Path.GetTempPath(), "tg-pg-script-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly int _port = FreePort();
    private readonly List<Process> _holders = [];

    [InitDbFact]
    public async Task Cluster_started_by_acquire_stops_with_the_last_release_only()
    {
        var first = Holder();
        var second = Holder();

        await Script("acquire", Pid(first));
        await Script("acquire", Pid(second));
        Assert.True(await IsRunningAsync(), "not running after acquire");

        await Script("release", Pid(first));
        Assert.True(await IsRunningAsync(), "stopped while the second holder still had it");

        await Script("release", Pid(second));
        Assert.False(await IsRunningAsync(), "still running after the last release");
    }

    [InitDbFact]
    public async Task Holder_that_died_without_releasing_does_not_keep_the_cluster_running()
    {
        var crashed = Holder();
        var live = Holder();
        await Script("acquire", Pid(crashed));
        await Script("acquire", Pid(live));
        crashed.Kill();
        await crashed.WaitForExitAsync();

        await Script("release", Pid(live));

        Assert.False(await IsRunningAsync(), "a dead holder kept the cluster running");
    }

    [InitDbFact]
    public async Task Cluster_started_with_start_keeps_running_after_acquire_and_release()
    {
        var holder = Holder();
        await Script("start");

        await Script("acquire", Pid(holder));
        await Script("release", Pid(holder));

        Assert.True(await IsRunningAsync(), "release stopped a cluster it did not start");
        await Script("stop");
        Assert.False(await IsRunningAsync(), "stop left it running");
    }

    [Fact]
    public async Task Acquire_without_a_pid_is_a_usage_error()
    {
        var (code, _, stderr) = await RunAsync("acquire");

        Assert.Equal(2, code);
        Assert.Contains("acquire needs the pid", stderr, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        foreach (var holder in _holders)
        {
            if (!holder.HasExited)
            {
                holder.Kill();
                holder.WaitForExit();
            }

            holder.Dispose();
        }

        if (Directory.Exists(Path.Combine(_base, "data")))
        {
            RunAsync("stop").GetAwaiter().GetResult();
        }

        try
        {
            Directory.Delete(_base, recursive: true);
            File.Delete(_base + ".lock");
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>A live process whose pid stands for one test assembly holding the cluster.</summary>
    private Process Holder()
    {
        var holder = Process.Start(new ProcessStartInfo("sleep", "300") { UseShellExecute = false }) ?? throw new InvalidOperationException("could not start sleep");
        _holders.Add(holder);
        return holder;
    }

    private static string Pid(Process process) => process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private async Task Script(params string[] arguments)
    {
        var (code, stdout, stderr) = await RunAsync(arguments);
        Assert.True(code == 0, $"pg-test-cluster.sh {string.Join(' ', arguments)} exited {code}: {stdout}{stderr}");
    }

    private async Task<bool> IsRunningAsync()
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, _port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private async Task<(int Code, string Stdout, string Stderr)> RunAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(TestPaths.RepositoryRoot, "scripts", "pg-test-cluster.sh"));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["TRAINGUARD_PG_DIR"] = _base;
        start.Environment["TRAINGUARD_PG_PORT"] = _port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start bash");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>A fact that needs the PostgreSQL 15 server binaries (it starts clusters of its own).</summary>
public sealed class InitDbFactAttribute : FactAttribute
{
    public InitDbFactAttribute()
    {
        if (!File.Exists("/usr/lib/postgresql/15/bin/initdb"))
        {
            Skip = "PostgreSQL 15 server binaries not installed (apt-get install postgresql-15)";
        }
    }
}
