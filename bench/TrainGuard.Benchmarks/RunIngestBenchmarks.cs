using BenchmarkDotNet.Attributes;
using TrainGuard.Events;
using TrainGuard.Runs.Detectors;
using TrainGuard.Server.Alerts;
using TrainGuard.Server.Events;
using TrainGuard.Server.Runs;

namespace TrainGuard.Benchmarks;

/// <summary>
/// The server's run detector path at the load: per-rank <c>run-step</c> events of a 4,096-rank job at one step
/// per second (4,096 events a second), as committed ledger entries (canonical JSON with the submitter stamp), for 61
/// seconds so the one-minute slowness window closes once (medians and straggler scores of all 4,096 ranks). Fresh
/// state per invocation. <c>RunDetectorsOnly</c> is <see cref="RunAnomalyDerivation"/> alone (parse and detect);
/// <c>WithAlertDerivation</c> is what the deriver does with each entry (the built-in rules too). The figure to hold
/// against one second is the mean per event × 4,096.
/// </summary>
[MemoryDiagnoser]
public class RunIngestBenchmarks
{
    private const int Ranks = 4096;
    private const int Seconds = 61;
    private const int Events = Ranks * Seconds;
    private const int Round = 1000;
    private byte[][] _entries = [];

    [GlobalSetup]
    public void Setup()
    {
        var start = new DateTimeOffset(2026, 12, 7, 1, 0, 0, TimeSpan.Zero);
        var random = new Random(4096);
        _entries = new byte[Events][];
        var i = 0;
        for (var step = 0; step < Seconds; step++)
        {
            for (var rank = 0; rank < Ranks; rank++)
            {
                var time = start.AddSeconds(step + 1).AddMilliseconds(rank % 1000);
                var record = new EventRecord(time, "run-step", EventKinds.Event, Guid.CreateVersion7(time).ToString())
                    .Set(EventFields.Module, "run")
                    .Set(EventFields.Dataset, "run")
                    .Set(EventFields.HostName, $"gpu-node-{rank / 8}")
                    .Set("user.name", "lena")
                    .Set("user.id", "2001")
                    .Set("process.pid", 4000 + (rank % 8))
                    .Set("trainguard.run.id", "job-4096")
                    .Set("trainguard.run.name", "llama-70b")
                    .Set("trainguard.run.rank", rank)
                    .Set("trainguard.run.world_size", Ranks)
                    .Set("trainguard.run.local_rank", rank % 8)
                    .Set("trainguard.step.step", step)
                    .Set("trainguard.step.time_ms", Math.Round(950 + (random.NextDouble() * 40), 3))
                    .Set("trainguard.step.optimizer_ms", Math.Round(20 + (random.NextDouble() * 4), 3))
                    .Set("trainguard.step.loss", Math.Round(2.5 - (step * 0.001), 6))
                    .Set("trainguard.step.grad_norm", Math.Round(1 + random.NextDouble(), 6))
                    .Set("trainguard.step.update_norm", 0.001)
                    .Set("trainguard.step.cosine", Math.Round(0.7 + (random.NextDouble() * 0.2), 6))
                    .SetNode("trainguard.step.lr", new System.Text.Json.Nodes.JsonArray(0.0001, 0.0001))
                    .Set("trainguard.step.batch_hash", Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()) + Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()))
                    .Set("trainguard.submitter.token_id", "3f2a9c01b7de")
                    .Set("trainguard.submitter.role", "agent")
                    .Set("trainguard.submitter.identity", $"gpu-node-{rank / 8}")
                    .Set(EventFields.Ingested, EventRecord.FormatTimestamp(time));
                _entries[i++] = record.ToCanonicalJson();
            }
        }
    }

    [Benchmark(OperationsPerInvoke = Events)]
    public long RunDetectorsOnly()
    {
        var runs = new RunAnomalyDerivation(new RunDetectorOptions());
        var appends = new List<EventAppend>();
        for (var i = 0; i < _entries.Length; i++)
        {
            runs.Observe(i, _entries[i], appends);
        }

        return runs.RunEvents + appends.Count;
    }

    [Benchmark(OperationsPerInvoke = Events)]
    public long WithAlertDerivation()
    {
        var derivation = new AlertDerivation(new AlertDerivationOptions());
        var runs = new RunAnomalyDerivation(new RunDetectorOptions());
        var appends = new List<EventAppend>();
        for (var at = 0; at < _entries.Length; at += Round)
        {
            var changes = new AlertChanges();
            for (var i = at; i < Math.Min(at + Round, _entries.Length); i++)
            {
                derivation.Process(i, _entries[i], changes);
                runs.Observe(i, _entries[i], appends);
            }
        }

        return runs.RunEvents + appends.Count;
    }
}
