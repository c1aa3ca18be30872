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

    /// <summary>
    /// Events as the agent writes them (<see cref="EventRecord.ToJsonLine"/>: members in the order set, id first),
    /// each kind split around its id so batches get fresh ids cheaply.
    /// </summary>
    private sealed class AgentEvents
    {
        private const string IdMark = "00000000-0000-7000-8000-000000000000";
        private readonly (byte[] Before, byte[] After)[] _kinds;

        public AgentEvents()
        {
            var at = new DateTimeOffset(2026, 11, 23, 10, 12, 4, 551, TimeSpan.Zero);
            EventRecord[] kinds =
            [
                new EventRecord(at, EventActions.ProcessSignal, id: IdMark)
                    .Set("event.category", ["process"]).Set("event.type", ["end"]).Set(EventFields.Module, "auditd").Set(EventFields.Dataset, "auditd").Set(EventFields.Outcome, "success")
                    .Set(EventFields.HostName, "gpu-node-17").Set(EventFields.AgentVersion, "0.1.0").Set("user.name", "mallory").Set("user.id", "1600").Set("user.audit.id", "1600").Set("user.audit.name", "mallory")
                    .Set("process.pid", 41877).Set("process.name", "kill").Set("process.executable", "/usr/bin/kill").Set("process.args", ["kill", "-9", "5120"])
                    .Set("trainguard.signal.name", "SIGKILL").Set("trainguard.signal.number", 9).Set("trainguard.target.pid", 5120).Set("trainguard.target.name", "python3")
                    .Set("trainguard.target.user.name", "alice").Set("trainguard.cross_user", true),
                new EventRecord(at, EventActions.FileChanged, id: IdMark)
                    .Set("event.category", ["file"]).Set("event.type", ["change"]).Set(EventFields.Module, "auditd").Set(EventFields.HostName, "gpu-node-03").Set(EventFields.AgentVersion, "0.1.0")
                    .Set("user.name", "bob").Set("user.id", "1002").Set("process.pid", 90211).Set("process.executable", "/opt/conda/bin/python3.11")
                    .Set("file.path", "/mnt/shared/runs/llama-7b/step-12000/optimizer.pt").Set("file.size", 14_738_221_056L).Set("trainguard.run", "llama-7b-sft"),
                new EventRecord(at, EventActions.UserLogin, id: IdMark)
                    .Set("event.category", ["authentication", "session"]).Set("event.type", ["start"]).Set(EventFields.Outcome, "success").Set(EventFields.HostName, "gpu-node-09")
                    .Set(EventFields.Module, "system").Set(EventFields.Dataset, "auth").Set(EventFields.AgentVersion, "0.1.0").Set("user.name", "carol").Set("user.id", "1003")
                    .Set("source.ip", "10.20.3.41").Set("source.port", 51234).Set("process.pid", 2211).Set("process.name", "sshd").Set("process.executable", "/usr/sbin/sshd")
                    .Set("trainguard.auth.method", "publickey").Set("trainguard.auth.key_fingerprint", "SHA256:4j1rWn0m5Qy7cHvN2sS8bKqVd3xZp6tL9aE0fGhIuJk"),
                new EventRecord(at, EventActions.ArtifactScanned, id: IdMark)
                    .Set("event.category", ["file", "intrusion_detection"]).Set("event.type", ["info"]).Set(EventFields.Kind, EventKinds.Alert).Set(EventFields.HostName, "gpu-node-17")
                    .Set(EventFields.AgentVersion, "0.1.0").Set("file.path", "/mnt/shared/runs/llama-7b/step-12000/model-00002-of-00004.safetensors")
                    .Set("file.hash.sha256", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08").Set(EventFields.TrainGuardSeverity, "high")
                    .Set("trainguard.finding.rule", "TG-PKL-001").Set("trainguard.finding.message", "pickle global os.system reached through a memoized STACK_GLOBAL; loading this file runs a command")
                    .Set("trainguard.finding.location", "data.pkl offset 1311").Set("trainguard.verdict", "malicious"),
            ];
            _kinds = [.. kinds.Select(Split)];
        }

        /// <summary>A body <c>{"events":[...]}</c> of <paramref name="count"/> events, kinds in turn, fresh UUIDv7 ids.</summary>
        public byte[] Body(int count)
        {
            var body = new MemoryStream(count * 700);
            body.Write("{\"events\":["u8);
            Span<byte> id = stackalloc byte[36];
            for (var i = 0; i < count; i++)
            {
                if (i > 0)
                {
                    body.WriteByte((byte)',');
                }

                var (before, after) = _kinds[i % _kinds.Length];
                Guid.CreateVersion7().TryFormat(id, out _, "D");
                body.Write(before);
                body.Write(id);
                body.Write(after);
            }

            body.Write("]}"u8);
            return body.ToArray();
        }

        private static (byte[] Before, byte[] After) Split(EventRecord record)
        {
            var line = record.ToJsonLine();
            var at = line.IndexOf(IdMark, StringComparison.Ordinal);
            return (Encoding.UTF8.GetBytes(line[..at]), Encoding.UTF8.GetBytes(line[(at + IdMark.Length)..]));
        }
    }
}
