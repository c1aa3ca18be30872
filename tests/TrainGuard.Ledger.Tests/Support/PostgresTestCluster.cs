using System.Diagnostics;
using Npgsql;

namespace TrainGuard.Ledger.Tests.Support;

/// <summary>
/// Where the PostgreSQL tests run: the connection string in TRAINGUARD_TEST_PG, or else a private cluster
/// started through scripts/pg-test-cluster.sh when PostgreSQL 15 is installed. When the server binaries are
/// installed the tests must run: failing to start the cluster fails them instead of skipping them.
/// </summary>
public static class PostgresTestCluster
{
    public const string EnvironmentVariable = "TRAINGUARD_TEST_PG";
    private const string InitDb = "/usr/lib/postgresql/15/bin/initdb";

    private static readonly Lazy<Task<string>> Connection = new(StartAsync);

    /// <summary>True when PostgreSQL tests can run here (and therefore must).</summary>
    public static bool IsAvailable =>
        !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(EnvironmentVariable)) || File.Exists(InitDb);

    /// <summary>The base connection string (starting the cluster on first use if needed).</summary>
    public static Task<string> ConnectionStringAsync() => Connection.Value;

    /// <summary>Creates a fresh schema and returns a connection string whose search path is that schema.</summary>
    public static async Task<string> CreateSchemaAsync()
    {
        var baseConnection = await ConnectionStringAsync();
        var schema = "t_" + Guid.NewGuid().ToString("N");
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

        await RunScriptAsync("start");
        var env = await RunScriptAsync("env");
        const string prefix = EnvironmentVariable + "=";
        var line = env.Split('\n').FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"pg-test-cluster.sh env printed no {EnvironmentVariable}: {env}");
        return line[prefix.Length..].Trim();
    }

    private static async Task<string> RunScriptAsync(string verb)
    {
        var script = Path.Combine(TestPaths.RepositoryRoot, "scripts", "pg-test-cluster.sh");
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(script);
        start.ArgumentList.Add(verb);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start bash");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"scripts/pg-test-cluster.sh {verb} failed ({process.ExitCode}): {await stderr}");
        }

        return await stdout;
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

/// <summary>
/// Leaves the private cluster running after the PostgreSQL tests: other test assemblies (the server's) use the
/// same cluster at the same time, so stopping it here would pull it from under them. `.ci/run` stops it at the end;
/// locally `scripts/pg-test-cluster.sh stop` does.
/// </summary>
public sealed class PostgresClusterFixture : IAsyncLifetime
{
    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => Task.CompletedTask;
}
