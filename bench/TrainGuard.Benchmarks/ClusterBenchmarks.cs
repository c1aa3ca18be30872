using System.Net.Http.Headers;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging;
using Npgsql;
using TrainGuard.Ledger.Storage;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Hosting;
using TrainGuard.Server.Ledger;

namespace TrainGuard.Benchmarks;

/// <summary>
/// Several servers on one PostgreSQL database (docs/server.md, "Several servers on PostgreSQL"), all in this process
/// on the same 2 cores. Ingest: four agents each keep one 500-event batch in flight, spread round robin over 1, 2 or 3
/// servers; a follower's batch goes through the staging table and is answered once the sequencer has committed it.
/// Figures are per event, so events/s = 1e9 / mean ns. Failover: the sequencer's database session is terminated (what
/// PostgreSQL sees when its process is killed) and the time until another server sequences is measured.
/// Needs PostgreSQL: <c>scripts/pg-test-cluster.sh start</c>, then <c>export $(scripts/pg-test-cluster.sh env)</c>.
/// </summary>
[MemoryDiagnoser]
public class ClusterBenchmarks : ClusterBenchmarkBase
{
    private const int Agents = 4;
    private const int BatchSize = 500;
    private const int EventsPerInvoke = 24_000;

    private AgentEvents _events = null!;
    private int _next;

    [Params(1, 2, 3)]
    public int Servers { get; set; }

    [GlobalSetup]
    public async Task Start()
    {
        await StartAsync(Servers);
        _events = new AgentEvents();
    }

    [Benchmark(OperationsPerInvoke = EventsPerInvoke)]
    public Task AgentBatchesOf500SpreadOverServers() =>
        Task.WhenAll(Enumerable.Range(0, Agents).Select(_ => AgentAsync(EventsPerInvoke / Agents / BatchSize)));

    /// <summary>One agent: the next batch goes out, to the next server, when the previous one is acknowledged.</summary>
    private async Task AgentAsync(int batches)
    {
        for (var b = 0; b < batches; b++)
        {
            using var content = new ByteArrayContent(_events.Body(BatchSize));
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await Clients[Interlocked.Increment(ref _next) % Clients.Count].PostAsync("api/v1/events", content);
            response.EnsureSuccessStatusCode();
        }
    }
}

/// <summary>Failover among three servers: from the sequencer's database session ending to another server holding the role.</summary>
public class ClusterFailoverBenchmarks : ClusterBenchmarkBase
{
    [GlobalSetup]
    public Task Start() => StartAsync(3);

    [Benchmark]
    public async Task SequencerSessionDiesUntilAnotherSequences()
    {
        // The lock holder's session, whichever server it is (a former sequencer notices its session is gone only at its next check).
        var before = ServerList.Sum(s => s.Cluster!.Takeovers);
        var ledger = (PostgresLedgerStore)ServerList[0].Store.Ledger;
        await using (var command = ledger.DataSource.CreateCommand(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 AND classid::bigint = @hi AND objid::bigint = @lo"))
        {
            command.Parameters.AddWithValue("hi", (long)((ulong)ledger.SequencerLockKey >> 32));
            command.Parameters.AddWithValue("lo", (long)((ulong)ledger.SequencerLockKey & 0xffffffff));
            await command.ExecuteNonQueryAsync();
        }

        while (ServerList.Sum(s => s.Cluster!.Takeovers) == before)
        {
            await Task.Delay(5);
        }
    }
}

/// <summary>N servers in this process on a fresh schema of the PostgreSQL database <c>TRAINGUARD_TEST_PG</c> names, sharing one signing key.</summary>
public abstract class ClusterBenchmarkBase
{
    private readonly List<TrainGuardServer> _servers = [];
    private readonly List<HttpClient> _clients = [];
    private readonly List<string> _directories = [];

    protected IReadOnlyList<TrainGuardServer> ServerList => _servers;

    /// <summary>One agent-token client per server.</summary>
    protected IReadOnlyList<HttpClient> Clients => _clients;

    [GlobalCleanup]
    public async Task Stop()
    {
        foreach (var client in _clients)
        {
            client.Dispose();
        }

        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }

        foreach (var directory in _directories)
        {
            Directory.Delete(directory, recursive: true);
        }

        _clients.Clear();
        _servers.Clear();
        _directories.Clear();
    }

    protected async Task StartAsync(int count)
    {
        var connection = Environment.GetEnvironmentVariable("TRAINGUARD_TEST_PG")
            ?? throw new InvalidOperationException("set TRAINGUARD_TEST_PG to a PostgreSQL connection string: scripts/pg-test-cluster.sh start; export $(scripts/pg-test-cluster.sh env)");
        var schema = "bench_" + Guid.NewGuid().ToString("N");
        await using (var dataSource = NpgsqlDataSource.Create(connection))
        await using (var create = dataSource.CreateCommand($"CREATE SCHEMA {schema}"))
        {
            await create.ExecuteNonQueryAsync();
        }

        var database = new NpgsqlConnectionStringBuilder(connection) { SearchPath = schema }.ToString();
        var token = ApiTokens.NewToken();
        for (var i = 0; i < count; i++)
        {
            var directory = Path.Combine(Path.GetTempPath(), "trainguard-bench-cluster-" + Guid.NewGuid().ToString("N"));
            _directories.Add(directory);
            var server = await TrainGuardServer.StartAsync(new ServerOptions
            {
                DataDirectory = directory,
                Database = database,
                LogSigningKeyFile = i == 0 ? null : LogSigningKey.PathIn(_directories[0]),
                Urls = ["http://127.0.0.1:0"],
                Origin = "bench.trainguard/ledger",
                LogLevel = LogLevel.Warning,
            });
            _servers.Add(server);
            if (i == 0)
            {
                await server.Store.AddTokenAsync(ApiTokens.Hash(token), Role.Agent, "bench");
            }

            var client = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            _clients.Add(client);
        }
    }
}
