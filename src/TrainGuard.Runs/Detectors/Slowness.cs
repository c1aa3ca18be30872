using System.Globalization;
using TrainGuard.Runs.Model;

namespace TrainGuard.Runs.Detectors;

/// <summary>
/// One run's slowness state over time windows: per-rank step times of the open window (straggler scores), optimizer
/// time per rank (spikes), and the run's median per closed window (sustained slowdown by change point). Bounded:
/// one list per rank for the open window, a capped history of window medians.
/// </summary>
internal sealed class Slowness
{
    private const double SpikeAlpha = 0.1;
    private const int SpikeWarmup = 8;

    private readonly RunDetectorOptions _options;
    private readonly Dictionary<int, RankTimes> _ranks = [];
    private readonly List<(double Median, long FirstStep)> _history = [];
    private readonly List<double> _scratch = [];
    private DateTimeOffset? _windowStart;
    private long _windowFirstStep = long.MaxValue;
    private long _windowLastStep = long.MinValue;
    private bool _slowdownReported;

    public Slowness(RunDetectorOptions options) => _options = options;

    /// <summary>Windows closed so far.</summary>
    public long Windows { get; private set; }

    public void Observe(RunEvent e, RunStep step, LeadMaker lead, List<RunAnomaly> found)
    {
        if (e.Timestamp is not { } time)
        {
            return;
        }

        if (_windowStart is { } start && time >= start + _options.SlownessWindow)
        {
            Close(e, lead, found);
        }

        _windowStart ??= Floor(time);
        _windowFirstStep = Math.Min(_windowFirstStep, step.Step);
        _windowLastStep = Math.Max(_windowLastStep, step.Step);
        if (!_ranks.TryGetValue(e.Rank, out var rank))
        {
            rank = new RankTimes();
            _ranks[e.Rank] = rank;
        }

        if (step.TimeMs is { } ms && double.IsFinite(ms) && ms >= 0)
        {
            rank.Times.Add((float)ms);
        }

        if (step.OptimizerMs is { } opt && double.IsFinite(opt) && opt >= 0)
        {
            if (rank.OptimizerSamples >= SpikeWarmup && opt > _options.SpikeFactor * rank.OptimizerEwma && opt - rank.OptimizerEwma >= _options.SpikeMinMs)
            {
                rank.Spikes++;
                rank.SpikeFirst = Math.Min(rank.SpikeFirst, step.Step);
                rank.SpikeLast = Math.Max(rank.SpikeLast, step.Step);
                rank.SpikeWorst = Math.Max(rank.SpikeWorst, opt / Math.Max(rank.OptimizerEwma, 1e-9));
            }
            else
            {
                rank.OptimizerEwma = rank.OptimizerSamples == 0 ? opt : rank.OptimizerEwma + (SpikeAlpha * (opt - rank.OptimizerEwma));
                rank.OptimizerSamples++;
            }
        }
    }

    /// <summary>Closes the open window (at the end of a file, or when the next event is past it).</summary>
    public void Close(RunEvent last, LeadMaker lead, List<RunAnomaly> found)
    {
        if (_windowStart is null)
        {
            return;
        }

        Windows++;
        var medians = new List<(int Rank, double Median)>();
        var spikeRanks = 0;
        long spikes = 0, spikeFirst = long.MaxValue, spikeLast = long.MinValue;
        double spikeWorst = 0;
        foreach (var (rank, times) in _ranks)
        {
            if (times.Times.Count > 0)
            {
                medians.Add((rank, Median(times.Times)));
                times.Times.Clear();
            }
            else
            {
                times.LowStreak = 0;
            }

            if (times.Spikes > 0)
            {
                spikeRanks++;
                spikes += times.Spikes;
                spikeFirst = Math.Min(spikeFirst, times.SpikeFirst);
                spikeLast = Math.Max(spikeLast, times.SpikeLast);
                spikeWorst = Math.Max(spikeWorst, times.SpikeWorst);
                times.Spikes = 0;
                times.SpikeFirst = long.MaxValue;
                times.SpikeLast = long.MinValue;
                times.SpikeWorst = 0;
            }
        }

        if (spikes > 0)
        {
            found.Add(lead(last, RunAnomalyKinds.OptimizerSpike, null, $"{spikes} optimizer-time spike(s) on {spikeRanks} rank(s), steps {spikeFirst}..{spikeLast}, up to {F(spikeWorst)}x the rank's usual optimizer time", spikeWorst, spikeFirst, spikeLast, spikes));
        }

        Stragglers(last, medians, lead, found);
        if (medians.Count > 0)
        {
            _scratch.Clear();
            _scratch.AddRange(medians.Select(m => m.Median));
            _history.Add((MedianOf(_scratch), _windowFirstStep));
            if (_history.Count > _options.SlowdownHistory)
            {
                _history.RemoveAt(0);
            }

            ChangePoint(last, lead, found);
        }

        _windowStart = null;
        _windowFirstStep = long.MaxValue;
        _windowLastStep = long.MinValue;
    }

    private void Stragglers(RunEvent last, List<(int Rank, double Median)> medians, LeadMaker lead, List<RunAnomaly> found)
    {
        if (medians.Count < 2)
        {
            return;
        }

        var fastest = medians.Min(m => m.Median);
        foreach (var (rank, median) in medians)
        {
            var times = _ranks[rank];
            var score = median > 0 ? fastest / median : 1.0;
            if (score >= _options.StragglerScore)
            {
                times.LowStreak = 0;
                times.Reported = false;
                continue;
            }

            times.LowStreak++;
            times.LowestScore = times.LowStreak == 1 ? score : Math.Min(times.LowestScore, score);
            times.StreakFirstStep = times.LowStreak == 1 ? _windowFirstStep : times.StreakFirstStep;
            if (times.LowStreak >= _options.StragglerWindows && !times.Reported)
            {
                times.Reported = true;
                found.Add(lead(last, RunAnomalyKinds.Straggler, rank, $"rank {rank} ran at {F(score)} of the fastest rank's speed (median step {F(median)} ms vs {F(fastest)} ms) for {times.LowStreak} consecutive windows of {_options.SlownessWindow.TotalSeconds:0} s", times.LowestScore, times.StreakFirstStep, _windowLastStep, times.LowStreak));
            }
        }
    }

    /// <summary>
    /// The change point of the run's window medians (the split that maximises the mean shift weighted by
    /// √(k(n−k)/n), as a CUSUM would): a slowdown when the later segment is at least <see cref="RunDetectorOptions.SlowdownShift"/>
    /// slower and every later window stays above the earlier mean.
    /// </summary>
    private void ChangePoint(RunEvent last, LeadMaker lead, List<RunAnomaly> found)
    {
        var n = _history.Count;
        var min = _options.SlowdownMinWindows;
        if (n < 2 * min)
        {
            return;
        }

        var prefix = new double[n + 1];
        for (var i = 0; i < n; i++)
        {
            prefix[i + 1] = prefix[i] + _history[i].Median;
        }

        var best = -1;
        var bestStat = 0.0;
        for (var k = min; k <= n - min; k++)
        {
            var before = prefix[k] / k;
            var after = (prefix[n] - prefix[k]) / (n - k);
            var stat = (after - before) * Math.Sqrt((double)k * (n - k) / n);
            if (stat > bestStat)
            {
                bestStat = stat;
                best = k;
            }
        }

        if (best < 0)
        {
            return;
        }

        var baseline = prefix[best] / best;
        var later = (prefix[n] - prefix[best]) / (n - best);
        var sustained = true;
        for (var i = best; i < n; i++)
        {
            sustained &= _history[i].Median > baseline * (1 + (_options.SlowdownShift / 2));
        }

        var shifted = baseline > 0 && later >= baseline * (1 + _options.SlowdownShift) && sustained;
        if (shifted && !_slowdownReported)
        {
            _slowdownReported = true;
            found.Add(lead(last, RunAnomalyKinds.Slowdown, null, $"median step time rose from {F(baseline)} ms to {F(later)} ms (+{F((later / baseline - 1) * 100)}%) from about step {_history[best].FirstStep}, sustained over {n - best} windows", later / baseline, _history[best].FirstStep, _windowLastStep, n - best));
        }
        else if (!shifted && _slowdownReported && _history[^1].Median <= baseline * (1 + (_options.SlowdownShift / 2)))
        {
            _slowdownReported = false;
        }
    }

    private DateTimeOffset Floor(DateTimeOffset time)
    {
        var ticks = _options.SlownessWindow.Ticks;
        return new DateTimeOffset(time.UtcTicks - (time.UtcTicks % ticks), TimeSpan.Zero);
    }

    private double Median(List<float> values)
    {
        _scratch.Clear();
        foreach (var v in values)
        {
            _scratch.Add(v);
        }

        return MedianOf(_scratch);
    }

    private static double MedianOf(List<double> values)
    {
        values.Sort();
        var mid = values.Count / 2;
        return values.Count % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
    }

    internal static string F(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);

    private sealed class RankTimes
    {
        public List<float> Times { get; } = [];

        public int LowStreak { get; set; }

        public double LowestScore { get; set; } = 1;

        public long StreakFirstStep { get; set; }

        public bool Reported { get; set; }

        public double OptimizerEwma { get; set; }

        public long OptimizerSamples { get; set; }

        public long Spikes { get; set; }

        public long SpikeFirst { get; set; } = long.MaxValue;

        public long SpikeLast { get; set; } = long.MinValue;

        public double SpikeWorst { get; set; }
    }
}

/// <summary>Makes a slowness anomaly of the run (the run state decides whether it is a lead or backed by another signal).</summary>
internal delegate RunAnomaly LeadMaker(RunEvent last, string kind, int? rank, string detail, double? score, long firstStep, long lastStep, long count);
