using System.Net.Http.Headers;
using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using TrainGuard.Events;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Events;
using TrainGuard.Server.Hosting;

namespace TrainGuard.Benchmarks;

/// <summary>
/// Server targets on 2 cores: at least 20,000 events/s end to end over HTTP on loopback, and the same append path
/// without HTTP. End to end: two agents (clients) each keep one <c>POST /api/v1/events</c> in flight, one after
/// the other, with bodies as the agent ships them (<c>{"events":[...]}</c>, 500 events by default, 1,000 here too)
/// of realistic events (four kinds, 460 to 720 bytes each as sent, fresh ids); each batch is validated, canonicalised,
/// appended durably to SQLite (WAL, <c>synchronous=FULL</c>) with its query index and a signed checkpoint, and only
/// then answered. Figures are per event (OperationsPerInvoke), so events/s = 1e9 / mean ns.
/// </summary>
[MemoryDiagnoser]
public class ServerBenchmarks
{
    private const int InFlight = 2;
    private const int EventsPerInvoke = 24_000;
    private const int PathBatchSize = 1000;

    private string _directory = string.Empty;
    private TrainGuardServer _server = null!;
    private HttpClient _http = null!;
    private AgentEvents _events = null!;

    [GlobalSetup]
    public async Task StartServer()
    {
        _directory = Path.Combine(Path.GetTempPath(), "trainguard-bench-server-" + Guid.NewGuid().ToString("N"));
        _server = await TrainGuardServer.StartAsync(new ServerOptions
        {
            DataDirectory = _directory,
            Urls = ["http://127.0.0.1:0"],
            Origin = "bench.trainguard/ledger",
            LogLevel = LogLevel.Warning,
        });
        var token = ApiTokens.NewToken();
        await _server.Store.AddTokenAsync(ApiTokens.Hash(token), Role.Agent, "bench");
        _http = new HttpClient { BaseAddress = _server.BaseAddress };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        _events = new AgentEvents();
    }

    /// <summary>The agent's default batch size (500).</summary>
    [Benchmark(OperationsPerInvoke = EventsPerInvoke)]
    public Task HttpEndToEndAgentBatchesOf500() => AgentsAsync(500);

    [Benchmark(OperationsPerInvoke = EventsPerInvoke)]
    public Task HttpEndToEndAgentBatchesOf1000() => AgentsAsync(1000);

    [Benchmark(OperationsPerInvoke = PathBatchSize)]
    public async Task AppendPathWithoutHttpInBatchesOf1000()
    {
        var batch = EventBatchParser.Parse(_events.Body(PathBatchSize), new BatchLimits(), DateTimeOffset.UtcNow, out _, out _)!;
        await _server.TreeHeads.AppendAsync(batch.Entries);
    }

    /// <summary>Validation and RFC 8785 canonicalisation alone (the CPU part of an append), for attribution.</summary>
    [Benchmark(OperationsPerInvoke = PathBatchSize)]
    public int ValidateAndCanonicaliseBatchOf1000() =>
        EventBatchParser.Parse(_events.Body(PathBatchSize), new BatchLimits(), DateTimeOffset.UtcNow, out _, out _)!.Entries.Count;

    [GlobalCleanup]
    public async Task StopServer()
    {
        _http.Dispose();
        await _server.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    private Task AgentsAsync(int batchSize)
    {
        var agents = new Task[InFlight];
        for (var i = 0; i < InFlight; i++)
        {
            agents[i] = AgentAsync(EventsPerInvoke / InFlight / batchSize, batchSize);
        }

        return Task.WhenAll(agents);
    }

    /// <summary>One agent: the next batch goes out when the previous one is acknowledged.</summary>
    private async Task AgentAsync(int batches, int batchSize)
    {
        for (var b = 0; b < batches; b++)
        {
            using var content = new ByteArrayContent(_events.Body(batchSize));
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await _http.PostAsync("api/v1/events", content);
            response.EnsureSuccessStatusCode();
        }
    }
}
