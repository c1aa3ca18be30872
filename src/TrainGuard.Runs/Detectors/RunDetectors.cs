using System.Globalization;
using System.Numerics;
using TrainGuard.Checkpoints.Runs;
using TrainGuard.Findings;
using TrainGuard.Runs.Model;

namespace TrainGuard.Runs.Detectors;

/// <summary>
/// The run detectors (docs/runs-forensics.md "Detectors"), fed run events one at a time: by the server as they are
/// committed (bounded state per run, at most <see cref="RunDetectorOptions.MaxRuns"/> runs) and by
/// <c>runs inspect</c> over a file. Direction, attestation failure, seed / data-order / learning-rate mismatch against
/// the declared manifest, and slowness: stragglers, optimizer-time spikes and sustained slowdowns are leads until
/// another signal of the same run or the comparison across job sizes backs them. Not thread-safe.
/// </summary>
public sealed class RunDetectors
{
    private readonly RunDetectorOptions _options;
    private readonly Dictionary<string, RunState> _runs = new(StringComparer.Ordinal);
    private readonly Dictionary<(int Rank, long Step), string>? _referenceBatches;
    private long _clock;

    public RunDetectors(RunDetectorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        if (options.Reference is { } reference)
        {
            _referenceBatches = [];
            foreach (var e in reference.Steps)
            {
                if (e.Step!.BatchHash is { } hash)
                {
                    _referenceBatches.TryAdd((e.Rank, e.Step.Step), hash);
                }
            }
        }
    }

    /// <summary>Runs held (for a summary; the server forgets the least recently seen beyond the cap).</summary>
    public IReadOnlyCollection<RunSummary> Runs => [.. _runs.Values.Select(r => r.Summary)];

    /// <summary>Run events seen.</summary>
    public long Observed { get; private set; }

    /// <summary>Feeds one event; what it completes is added to <paramref name="found"/>.</summary>
    public void Observe(RunEvent e, List<RunAnomaly> found)
    {
        ArgumentNullException.ThrowIfNull(e);
        ArgumentNullException.ThrowIfNull(found);
        Observed++;
        if (!_runs.TryGetValue(e.RunId, out var run))
        {
            if (_runs.Count >= _options.MaxRuns)
            {
                Forget();
            }

            run = new RunState(e, _options);
            _runs[e.RunId] = run;
        }

        run.LastSeen = ++_clock;
        var start = found.Count;
        run.Observe(e, _referenceBatches, found);
        if (found.Count > start && found.Skip(start).Any(a => RunAnomalyKinds.IsSlowness(a.Kind)))
        {
            CompareSizes(e, found);
        }
    }

    /// <summary>Closes every open window (the end of the files <c>runs inspect</c> reads).</summary>
    public void Flush(List<RunAnomaly> found)
    {
        foreach (var run in _runs.Values.OrderBy(r => r.LastSeen))
        {
            var start = found.Count;
            run.Flush(found);
            if (found.Count > start && found.Skip(start).Any(a => RunAnomalyKinds.IsSlowness(a.Kind)) && run.LastEvent is { } last)
            {
                CompareSizes(last, found);
            }
        }
    }

    /// <summary>
    /// Slowness confined to jobs above a size (the reference attacker's trigger: only jobs over 256 GPUs): every run
    /// with slowness is at least as large as the smallest slowed one, at least half the runs that large are slowed, and
    /// at least <see cref="RunDetectorOptions.SizeComparisonMinRuns"/> smaller runs ran as long without any.
    /// </summary>
    private void CompareSizes(RunEvent trigger, List<RunAnomaly> found)
    {
        var slowed = _runs.Values.Where(r => r.Slowed).ToList();
        if (slowed.Count == 0)
        {
            return;
        }

        var threshold = slowed.Min(r => r.WorldSize);
        var minWindows = slowed.Min(r => r.Windows);
        var smallClean = _runs.Values.Where(r => r.WorldSize < threshold && !r.Slowed && r.Windows >= Math.Max(1, minWindows)).ToList();
        var large = _runs.Values.Where(r => r.WorldSize >= threshold).ToList();
        if (smallClean.Count < _options.SizeComparisonMinRuns || slowed.Count * 2 < large.Count)
        {
            return;
        }

        var largestClean = smallClean.Max(r => r.WorldSize);
        foreach (var run in slowed.Where(r => !r.SizeConfinedReported))
        {
            run.SizeConfinedReported = true;
            var detail = $"slowness in {slowed.Count} of {large.Count} run(s) of {threshold} or more ranks and in none of {smallClean.Count} run(s) of at most {largestClean} ranks: confined to jobs above a size";
            found.Add(run.Anomaly(trigger.RunId == run.RunId ? trigger : run.LastEvent ?? trigger, RunAnomalyKinds.SizeConfinedSlowdown, Severity.High, lead: false, null, detail, threshold, run.FirstSlowStep, run.LastSlowStep, slowed.Count));
            run.MarkSignal();
        }
    }

    private void Forget()
    {
        var oldest = _runs.Values.MinBy(r => r.LastSeen);
        if (oldest is not null)
        {
            _runs.Remove(oldest.RunId);
        }
    }

    internal static ulong TorchSeed(BigInteger seed) => (ulong)(seed & ulong.MaxValue);

    internal static string F(double value) => value.ToString("G6", CultureInfo.InvariantCulture);
}

/// <summary>What <c>runs inspect</c> says about a run besides its anomalies.</summary>
public sealed record RunSummary(string RunId, string? RunName, string? User, string? Host, int WorldSize, int Ranks, long Steps, long FirstStep, long LastStep, long CosineSamples, string? InitialSeed);
