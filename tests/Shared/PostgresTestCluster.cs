using System.Diagnostics;
using Npgsql;

namespace TrainGuard.Tests.Shared;

/// <summary>
/// PostgreSQL for the integration tests: TRAINGUARD_TEST_PG when set (<c>.ci/run</c> and <c>scripts/test.sh</c>
/// start one cluster for every assembly and stop it at the end), else the private cluster of
/// scripts/pg-test-cluster.sh when PostgreSQL 15 is installed. When it is installed the PostgreSQL cases run
/// and a cluster that fails to start fails them (they are never silently skipped). Test assemblies running in
/// parallel share that cluster: each one acquires it with its process id and releases it when the process exits,
/// and the script stops the cluster with the last release, unless it was running before the first acquire.
/// One source file, compiled into each test project that needs it.
/// </summary>
public static class PostgresTestCluster
{
    public const string EnvironmentVariable = "TRAINGUARD_TEST_PG";
    private const string InitDb = "/usr/lib/postgresql/15/bin/initdb";

    private static readonly Lazy<Task<string>> Connection = new(StartAsync);

    public static bool IsAvailable =>
        !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(EnvironmentVariable)) || File.Exists(InitDb);

    /// <summary>A connection string whose search path is a fresh schema.</summary>
    public static async Task<string> CreateSchemaAsync()
    {
        var baseConnection = await Connection.Value;
        var schema = "s_" + Guid.NewGuid().ToString("N");
        await using (var dataSource = NpgsqlDataSource.Create(baseConnection))
        await using (var command = dataSource.CreateCommand($"CREATE SCHEMA {schema}"))
        {
            await command.ExecuteNonQueryAsync();
        }

        return new NpgsqlConnectionStringBuilder(baseConnection) { SearchPath = schema }.ToString();
    }

    private static async Task<string> StartAsync()
    {
        var configured = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrEmpty(configured))
        {
            return configured;
        }

        var pid = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await RunScriptAsync("acquire", pid);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Release(pid);
        var env = await RunScriptAsync("env");
        const string prefix = EnvironmentVariable + "=";
        var line = env.Split('\n').FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"pg-test-cluster.sh env printed no {EnvironmentVariable}: {env}");
        return line[prefix.Length..].Trim();
    }

    /// <summary>At process exit: a release that fails leaves the cluster running, which the next release prunes; never throws.</summary>
    private static void Release(string pid)
    {
        try
        {
            RunScriptAsync("release", pid).GetAwaiter().GetResult();
        }
        catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException or System.ComponentModel.Win32Exception)
        {
            Console.Error.WriteLine(ex.Message);
        }
    }

    private static async Task<string> RunScriptAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(RepositoryRoot(), "scripts", "pg-test-cluster.sh"));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start bash");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return process.ExitCode == 0
            ? await stdout
            : throw new InvalidOperationException($"scripts/pg-test-cluster.sh {string.Join(' ', arguments)} failed ({process.ExitCode}): {await stderr}");
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TrainGuard.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("TrainGuard.slnx not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>A fact that runs wherever PostgreSQL is configured or installed, and is skipped only where it is neither.</summary>
public sealed class PostgresFactAttribute : FactAttribute
{
    public PostgresFactAttribute()
    {
        if (!PostgresTestCluster.IsAvailable)
        {
            Skip = $"PostgreSQL not available: set {PostgresTestCluster.EnvironmentVariable} or install postgresql-15";
        }
    }
}
