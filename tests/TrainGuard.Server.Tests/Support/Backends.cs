namespace TrainGuard.Server.Tests.Support;

/// <summary>The stores every integration test runs against: SQLite always, PostgreSQL wherever it is configured or installed.</summary>
public static class Backends
{
    public const string Sqlite = "sqlite";
    public const string Postgres = "postgres";

    public static TheoryData<string> All
    {
        get
        {
            var data = new TheoryData<string> { Sqlite };
            if (PostgresTestCluster.IsAvailable)
            {
                data.Add(Postgres);
            }

            return data;
        }
    }

    /// <summary>A fresh, empty store for <paramref name="backend"/> as a <c>--db</c> value.</summary>
    public static async Task<string> NewDatabaseAsync(string backend, string directory) => backend switch
    {
        Sqlite => "sqlite:" + Path.Combine(directory, "trainguard.db"),
        Postgres => "postgresql:" + await PostgresTestCluster.CreateSchemaAsync(),
        _ => throw new ArgumentOutOfRangeException(nameof(backend), backend, "unknown backend"),
    };
}
