using System.Globalization;
using Microsoft.Data.Sqlite;
using TrainGuard.Server.Alerts;
using TrainGuard.Server.Storage;

namespace TrainGuard.Dashboard.Tests;

/// <summary>
/// The queries behind the pages that read millions of rows follow an index, whatever SQLite knows of the data: their
/// plans (<c>EXPLAIN QUERY PLAN</c>) in a database with the server's schema, without statistics (a server never runs
/// <c>ANALYZE</c>) and with those of the 10-million-event benchmark database (<c>DashboardBenchmarks</c>). Their speed
/// is measured there; here, that no page walks a table or sorts a host's or an account's events.
/// </summary>
public sealed class QueryPlanTests : IAsyncLifetime
{
    /// <summary><c>sqlite_stat1</c> of the benchmark database: 10 million events of 64 hosts, 500 accounts, 4 actions.</summary>
    private static readonly (string Table, string Index, string Stat)[] BenchStatistics =
    [
        ("ledger_entry", "sqlite_autoindex_ledger_entry_1", "10000000 1"),
        ("event_index", "event_index_ts", "10000000 1"),
        ("event_index", "event_index_host", "10000000 156250 1"),
        ("event_index", "event_index_host_ts", "10000000 156250 1"),
        ("event_index", "event_index_host_action", "10000000 156250 39062 1"),
        ("event_index", "event_index_user", "10000000 20000 1"),
        ("event_index", "event_index_action", "10000000 2500000 1"),
        ("event_index", "event_index_event_id", "10000000 1 1"),
        ("actor_event", "actor_event_login_uid", "10000000 20000 1"),
        ("actor_event", "actor_event_name_uid", "10000000 20000 20000 1"),
    ];

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "tg-dashboard-plans", Guid.NewGuid().ToString("N"));

    private string _database = string.Empty;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory);
        _database = Path.Combine(_directory, ServerStores.DefaultDatabaseFile);
        await using var store = await SqliteServerStore.OpenAsync(_database);
        await AlertStore.OpenAsync(store);
    }

    public Task DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
        return Task.CompletedTask;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_events_search_by_host_and_time_range_reads_the_host_time_index_and_joins_only_the_page(bool statistics)
    {
        var plan = await EventsPlanAsync(statistics, HostAndRange);
        Assert.Contains(plan, line => line.Contains("USING COVERING INDEX event_index_host_ts (host=? AND ts>? AND ts<?)", StringComparison.Ordinal));
        Assert.Contains(plan, line => line is "MATERIALIZE s" or "CO-ROUTINE s");
        NoTableWalk(plan);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_events_search_by_host_and_action_seeks_both(bool statistics)
    {
        var query = new EventQuery { Host = "gpu-node-3", Action = "ssh-key-added", Descending = true, Limit = 50 };
        var plan = await EventsPlanAsync(statistics, query);
        Assert.Contains(plan, line => line.Contains("INDEX event_index_host_action (host=? AND action=?)", StringComparison.Ordinal));
        NoTableWalk(plan);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_events_search_by_user_and_action_walks_the_users_events_not_the_actions(bool statistics)
    {
        var query = new EventQuery { User = "user-42", Action = "process-signal", Descending = true, Limit = 50 };
        var plan = await EventsPlanAsync(statistics, query);
        Assert.Contains(plan, line => line.Contains("INDEX event_index_user (user_name=?)", StringComparison.Ordinal));
        Assert.DoesNotContain(plan, line => line.Contains("event_index_action", StringComparison.Ordinal));
        NoTableWalk(plan);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_deep_events_page_starts_at_its_ledger_index(bool statistics)
    {
        var query = new EventQuery { After = 5_000_000, Descending = true, Limit = 50 };
        var plan = await EventsPlanAsync(statistics, query);
        Assert.Contains(plan, line => line.Contains("USING INTEGER PRIMARY KEY (rowid<?)", StringComparison.Ordinal));
        NoTableWalk(plan);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_account_timeline_merges_its_login_uid_and_name_indexes_in_time_order(bool statistics)
    {
        var parameters = new List<(string, object?)>();
        var sql = AlertStore.TimelineSql(["10017"], ["user-17"], null, 1_790_000_000_000_000, null, 400, parameters)!;
        var plan = await PlanAsync(statistics, sql, parameters);
        Assert.Contains(plan, line => line.Contains("MERGE (UNION ALL)", StringComparison.Ordinal));
        Assert.Contains(plan, line => line.Contains("COVERING INDEX actor_event_login_uid (login_uid=? AND ts>?)", StringComparison.Ordinal));
        Assert.Contains(plan, line => line.Contains("COVERING INDEX actor_event_name_uid (account_name=? AND login_uid=? AND ts>?)", StringComparison.Ordinal));


        // Nothing is sorted: the merge yields the page in time order and stops at the limit.
        Assert.DoesNotContain(plan, line => line.Contains("TEMP B-TREE", StringComparison.Ordinal));
        NoTableWalk(plan);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_host_timeline_reads_the_host_time_index_in_order_without_sorting(bool statistics)
    {
        var parameters = new List<(string, object?)>();
        var sql = AlertStore.TimelineSql([], [], "gpu-node-3", null, null, 400, parameters)!;
        var plan = await PlanAsync(statistics, sql, parameters);
        Assert.Contains(plan, line => line.Contains("INDEX event_index_host_ts (host=?)", StringComparison.Ordinal));
        Assert.DoesNotContain(plan, line => line.Contains("TEMP B-TREE", StringComparison.Ordinal));
        NoTableWalk(plan);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_account_name_is_resolved_from_the_name_index_alone(bool statistics)
    {
        var plan = await PlanAsync(statistics, AlertStore.ResolveAccountSql, [("@user", "user-17")]);
        Assert.Contains(plan, line => line.Contains("COVERING INDEX actor_event_name_uid (account_name=?)", StringComparison.Ordinal));
        Assert.Contains(plan, line => line.Contains("INDEX actor_event_login_uid (login_uid=?)", StringComparison.Ordinal));
        NoTableWalk(plan);
    }

    private static EventQuery HostAndRange => new()
    {
        Host = "gpu-node-3",
        FromMicros = 1_793_000_000_000_000,
        ToMicros = 1_793_003_600_000_000,
        Descending = true,
        Limit = 50,
    };

    /// <summary>No plan line walks a table or an index from end to end (a <c>SCAN</c> of anything but a materialized subquery).</summary>
    private static void NoTableWalk(IReadOnlyList<string> plan) =>
        Assert.DoesNotContain(plan, line => line.StartsWith("SCAN", StringComparison.Ordinal) && line != "SCAN s");

    private Task<List<string>> EventsPlanAsync(bool statistics, EventQuery query) =>
        PlanAsync(statistics, SqlServerStore.QuerySql(query), SqlServerStore.QueryParameters(query).Select(p => (p.Name, (object?)p.Value)));

    /// <summary>The plan of <paramref name="sql"/>, one detail per line, in the order SQLite prints them.</summary>
    private async Task<List<string>> PlanAsync(bool statistics, string sql, IEnumerable<(string Name, object? Value)> parameters)
    {
        await using var connection = new SqliteConnection($"Data Source={_database};Pooling=False");
        await connection.OpenAsync();
        await using (var stats = connection.CreateCommand())
        {
            stats.CommandText = "ANALYZE; DELETE FROM sqlite_stat1;";
            await stats.ExecuteNonQueryAsync();
            if (statistics)
            {
                foreach (var (table, index, stat) in BenchStatistics)
                {
                    stats.CommandText = string.Create(CultureInfo.InvariantCulture, $"INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('{table}', '{index}', '{stat}')");
                    await stats.ExecuteNonQueryAsync();
                }
            }

            stats.CommandText = "ANALYZE sqlite_schema;";
            await stats.ExecuteNonQueryAsync();
        }

        await using var command = connection.CreateCommand();
        command.CommandText = "EXPLAIN QUERY PLAN " + sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        var plan = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            plan.Add(reader.GetString(3));
        }

        Assert.True(plan.Count > 0, "no plan for " + sql);
        return plan;
    }
}
