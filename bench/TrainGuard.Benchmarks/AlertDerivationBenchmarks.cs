using BenchmarkDotNet.Attributes;
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
}
