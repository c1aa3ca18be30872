using System.Net.Http.Headers;
using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Events;
using TrainGuard.Server.Hosting;

namespace TrainGuard.Benchmarks;

/// <summary>
/// Server targets on 2 cores: at least 20,000 events/s end-to-end over HTTP on loopback (batches of 1,000, two
/// clients in flight; each batch validated, canonicalised, appended durably to SQLite with its query index and
/// covered by a freshly signed, stored checkpoint before the answer), and the same append path without HTTP.
/// Figures are per event (OperationsPerInvoke), so events/s = 1e9 / mean ns.
/// </summary>
[MemoryDiagnoser]
public class ServerBenchmarks
{
    private const int BatchSize = 1000;
    private const int InFlight = 2;

    private string _directory = string.Empty;
    private TrainGuardServer _server = null!;
    private HttpClient _http = null!;
    private string[] _template = [];
    private int _batch;

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

        // A realistic process-signal event split around its id, so each batch gets fresh ids cheaply.
        _template =
        [
            "{\"id\":\"",
            "\",\"@timestamp\":\"2026-11-23T10:12:04.551Z\",\"event\":{\"kind\":\"event\",\"action\":\"process-signal\",\"module\":\"auditd\",\"dataset\":\"auditd\"},"
            + "\"host\":{\"name\":\"gpu-node-17\"},\"agent\":{\"version\":\"0.1.0\"},\"user\":{\"name\":\"mallory\",\"id\":\"1600\",\"audit\":{\"id\":\"1600\",\"name\":\"mallory\"}},"
            + "\"process\":{\"pid\":41877,\"name\":\"kill\",\"executable\":\"/usr/bin/kill\"},\"trainguard\":{\"signal\":{\"name\":\"SIGKILL\",\"number\":9},"
            + "\"target\":{\"pid\":5120,\"name\":\"python3\",\"user\":{\"name\":\"alice\"}},\"cross_user\":true}}",
        ];
    }

    [Benchmark(OperationsPerInvoke = BatchSize * InFlight)]
    public async Task HttpEndToEndEventsInBatchesOf1000()
    {
        var posts = new Task[InFlight];
        for (var i = 0; i < InFlight; i++)
        {
            posts[i] = PostAsync(NextBody());
        }

        await Task.WhenAll(posts);
    }

    [Benchmark(OperationsPerInvoke = BatchSize)]
    public async Task AppendPathWithoutHttpInBatchesOf1000()
    {
        var body = Encoding.UTF8.GetBytes(NextBody());
        var batch = EventBatchParser.Parse(body, new BatchLimits(), DateTimeOffset.UtcNow, out _, out _)!;
        var result = await _server.Log.AppendAsync(batch.Entries);
        await _server.Checkpoints.EnsureAsync(result.TreeSize);
    }

    /// <summary>Validation and RFC 8785 canonicalisation alone (the CPU part of an append), for attribution.</summary>
    [Benchmark(OperationsPerInvoke = BatchSize)]
    public int ValidateAndCanonicaliseBatchOf1000()
    {
        var body = Encoding.UTF8.GetBytes(NextBody());
        return EventBatchParser.Parse(body, new BatchLimits(), DateTimeOffset.UtcNow, out _, out _)!.Entries.Count;
    }

    [GlobalCleanup]
    public async Task StopServer()
    {
        _http.Dispose();
        await _server.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    private async Task PostAsync(string body)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await _http.PostAsync("api/v1/events", content);
        response.EnsureSuccessStatusCode();
    }

    private string NextBody()
    {
        var text = new StringBuilder(BatchSize * 700);
        text.Append('[');
        var now = DateTimeOffset.UtcNow;
        for (var i = 0; i < BatchSize; i++)
        {
            text.Append(i == 0 ? string.Empty : ",").Append(_template[0]).Append(Guid.CreateVersion7(now.AddTicks((_batch * BatchSize) + i)).ToString()).Append(_template[1]);
        }

        _batch++;
        return text.Append(']').ToString();
    }
}
