using BenchmarkDotNet.Attributes;
using TrainGuard.Detections;
using TrainGuard.Server.Alerts;
using TrainGuard.Server.Events;

namespace TrainGuard.Benchmarks;

/// <summary>
/// The live deriver's CPU part alone: committed entries (agent events as the server stores them, after validation,
/// canonicalisation and the submitter stamp) through <see cref="AlertDerivation.Process"/> — the built-in rules,
/// attribution, actor rows and alert folding — in rounds of 1,000 as the deriver reads them. The deriver must keep up
/// with ingest (about 27,000 events/s on this machine end to end), or alert latency grows without bound.
/// </summary>
[MemoryDiagnoser]
public class AlertDerivationBenchmarks
{
    private const int Events = 20_000;
    private const int Round = 1000;
    private byte[][] _entries = [];

    /// <summary>False: a quarter of the events are cross-user kills and a quarter malicious scans (every one a detection); true: none.</summary>
    [Params(false, true)]
    public bool Benign { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var events = new AgentEvents(Benign);
        var entries = new List<byte[]>(Events);
        while (entries.Count < Events)
        {
            var batch = EventBatchParser.Parse(events.Body(Round), new BatchLimits(), DateTimeOffset.UtcNow, out _, out _)!;
            entries.AddRange(batch.Entries.Select(e => e.Entry));
        }

        _entries = [.. entries];
    }

    [Benchmark(OperationsPerInvoke = Events)]
    public int DeriveCommittedEntries()
    {
        var derivation = new AlertDerivation(new AlertDerivationOptions());
        var changed = 0;
        for (var at = 0; at < _entries.Length; at += Round)
        {
            var changes = new AlertChanges();
            for (var i = at; i < at + Round; i++)
            {
                derivation.Process(i, _entries[i], changes);
            }

            changed += changes.Count;
        }

        return changed;
    }

    /// <summary>The part of <see cref="DeriveCommittedEntries"/> that reads each entry's facts (parse, then every field the deriver uses).</summary>
    [Benchmark(OperationsPerInvoke = Events)]
    public int ReadFactsOnly()
    {
        var actors = 0;
        for (var i = 0; i < _entries.Length; i++)
        {
            using var document = System.Text.Json.JsonDocument.Parse(_entries[i]);
            actors += EventFacts.Read(i, document.RootElement).Actor.Name is null ? 0 : 1;
        }

        return actors;
    }

    /// <summary>The part of <see cref="DeriveCommittedEntries"/> that runs the built-in rules over each entry.</summary>
    [Benchmark(OperationsPerInvoke = Events)]
    public int EngineOnly()
    {
        var engine = DetectionRuleSet.Default.CreateEngine();
        var hits = new List<DetectionHit>();
        var total = 0;
        for (var i = 0; i < _entries.Length; i++)
        {
            hits.Clear();
            engine.Process(_entries[i], i, hits);
            total += hits.Count;
        }

        return total;
    }
}
