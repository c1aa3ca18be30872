using System.Globalization;
using TrainGuard.Checkpoints.Runs;
using TrainGuard.Findings;
using TrainGuard.Runs.Model;

namespace TrainGuard.Runs.Detectors;

/// <summary>One run's detector state: its identity, two direction windows, the slowness windows, what was reported.</summary>
internal sealed class RunState
{
    private const int MaxPendingLeads = 32;

    private readonly RunDetectorOptions _options;
    private readonly RunManifest? _manifest;
    private readonly string? _declaredSeed;
    private readonly DeclaredDataOrder? _declaredOrder;
    private readonly HashSet<int> _ranks = [];
    private readonly HashSet<string> _reported = new(StringComparer.Ordinal);
    private readonly List<RunAnomaly> _pendingLeads = [];
    private readonly SortedSet<string> _signals = new(StringComparer.Ordinal);
    private readonly Slowness _slowness;
    private readonly LeadMaker _lead;
    private DirectionWindow? _current;
    private RunEvent? _lastDirectionEvent;
    private DirectionWindow? _previous;
    private long _steps;
    private long _firstStep = long.MaxValue;
    private long _lastStep = long.MinValue;
    private long _cosineSamples;
    private long _sampleEvery = 1;

    public RunState(RunEvent first, RunDetectorOptions options)
    {
        _options = options;
        RunId = first.RunId;
        _manifest = options.Manifest?.Invoke(first);
        _declaredSeed = _manifest?.Seed is { } seed ? RunDetectors.TorchSeed(seed).ToString(CultureInfo.InvariantCulture) : null;
        _declaredOrder = _manifest?.Data is { } data ? new DeclaredDataOrder(_manifest, data) : null;
        _slowness = new Slowness(options);
        _lead = MakeLead;
    }

    public string RunId { get; }

    public string? RunName { get; private set; }

    public string? User { get; private set; }

    public string? Host { get; private set; }

    public int WorldSize { get; private set; } = 1;

    public string? InitialSeed { get; private set; }

    public long LastSeen { get; set; }

    public RunEvent? LastEvent { get; private set; }

    public long Windows => _slowness.Windows;

    /// <summary>Some slowness (straggler, spike, slowdown) was seen in the run.</summary>
    public bool Slowed { get; private set; }

    public long FirstSlowStep { get; private set; } = long.MaxValue;

    public long LastSlowStep { get; private set; }

    public bool SizeConfinedReported { get; set; }

    public RunSummary Summary => new(RunId, RunName, User, Host, WorldSize, _ranks.Count, _steps, _steps == 0 ? 0 : _firstStep, _steps == 0 ? 0 : _lastStep, _cosineSamples, InitialSeed);

    public void Observe(RunEvent e, Dictionary<(int Rank, long Step), string>? referenceBatches, List<RunAnomaly> found)
    {
        RunName ??= e.RunName;
        User ??= e.User;
        Host ??= e.Host;
        WorldSize = Math.Max(WorldSize, e.WorldSize);
        LastEvent = e;
        switch (e.Kind)
        {
            case RunEventKind.Started:
                InitialSeed ??= e.InitialSeed;
                _sampleEvery = e.SampleEvery ?? _sampleEvery;
                if (_declaredSeed is not null && e.InitialSeed is { } initial && initial != _declaredSeed)
                {
                    Signal(e, RunAnomalyKinds.SeedMismatch, Severity.High, "seed", e.Rank, $"rank {e.Rank} started with seed {initial}; {Declared("seed")} declares {_declaredSeed}", null, 0, 0, 1, found);
                }

                break;
            case RunEventKind.Attestation when !e.AttestationOk:
                var step = e.AttestationStep ?? (_steps == 0 ? 0 : _lastStep);
                var checks = e.FailedChecks.Count == 0 ? "no check named" : string.Join("; ", e.FailedChecks);
                Signal(e, RunAnomalyKinds.AttestationFailed, Severity.Critical, $"attest:{e.Rank}", e.Rank, $"rank {e.Rank}: the optimizer's code is not the code on disk ({checks})", null, step, step, 1, found);
                break;
            case RunEventKind.Step when e.Step is { } s:
                ObserveStep(e, s, referenceBatches, found);
                break;
        }
    }

    public void Flush(List<RunAnomaly> found)
    {
        if (_previous is not null)
        {
            CloseDirection(_previous, found);
        }

        if (_current is not null)
        {
            CloseDirection(_current, found);
        }

        _previous = _current = null;
        if (LastEvent is { } last)
        {
            _slowness.Close(last, _lead, found);
        }
    }

    /// <summary>An anomaly of this run.</summary>
    public RunAnomaly Anomaly(RunEvent at, string kind, Severity severity, bool lead, int? rank, string detail, double? score, long firstStep, long lastStep, long count, double? fraction = null) => new()
    {
        Kind = kind,
        Severity = severity,
        Lead = lead,
        RunId = RunId,
        RunName = RunName,
        Rank = rank,
        WorldSize = WorldSize,
        FirstStep = firstStep,
        LastStep = lastStep,
        Steps = count,
        Fraction = fraction,
        Score = score,
        Detail = detail,
        User = User,
        Host = Host,
        Timestamp = at.Timestamp,
    };

    /// <summary>Records that the run has a signal besides slowness (its leads are backed from now on).</summary>
    public void MarkSignal(string kind = RunAnomalyKinds.SizeConfinedSlowdown) => _signals.Add(kind);

    private void ObserveStep(RunEvent e, RunStep s, Dictionary<(int Rank, long Step), string>? referenceBatches, List<RunAnomaly> found)
    {
        _steps++;
        _firstStep = Math.Min(_firstStep, s.Step);
        _lastStep = Math.Max(_lastStep, s.Step);
        if (_ranks.Count < RunEventParserLimits.MaxRanksTracked)
        {
            _ranks.Add(e.Rank);
        }

        // The moment cosine, where the client sends one, is −1 on exactly the flipped steps (the update's cosine can
        // stay below 0 for a clean step right after a flip, while momentum carries the flipped gradient).
        if ((s.MomentCosine ?? s.Cosine) is { } cosine)
        {
            _cosineSamples++;
            Direction(e, s.Step, cosine, found);
        }

        if (s.Seed is { } seed)
        {
            if (_declaredSeed is not null && seed != _declaredSeed)
            {
                Signal(e, RunAnomalyKinds.SeedMismatch, Severity.High, "seed", e.Rank, $"rank {e.Rank} at step {s.Step} reports seed {seed}; {Declared("seed")} declares {_declaredSeed}", null, s.Step, s.Step, 1, found);
            }
            else if (InitialSeed is { } initial && seed != initial)
            {
                Signal(e, RunAnomalyKinds.SeedMismatch, Severity.High, "seed", e.Rank, $"rank {e.Rank} at step {s.Step} reports seed {seed}, but the run started with {initial} (reseeded during the run)", null, s.Step, s.Step, 1, found);
            }
        }

        if (s.Lr is { Count: > 0 } lrs && ExpectedLr(s.Step) is { } expected)
        {
            foreach (var lr in lrs)
            {
                if (!expected.Any(x => Same(lr, x)))
                {
                    Signal(e, RunAnomalyKinds.LrMismatch, Severity.High, "lr", e.Rank, $"rank {e.Rank} at step {s.Step} applied lr {RunDetectors.F(lr)}; {Declared("optimizer.lr")} with its schedule gives {RunDetectors.F(expected[1])}", lr / expected[1], s.Step, s.Step, 1, found);
                    break;
                }
            }
        }

        if (referenceBatches is not null && s.BatchHash is { } batch && referenceBatches.TryGetValue((e.Rank, s.Step), out var reference) && reference != batch)
        {
            Signal(e, RunAnomalyKinds.DataOrderMismatch, Severity.High, "data-order", e.Rank, $"rank {e.Rank} at step {s.Step} trained on batch {Short(batch)}, the reference run on {Short(reference)}: the data order differs", null, s.Step, s.Step, 1, found);
        }

        if (_declaredOrder is not null && s.BatchHash is { } hash && !_reported.Contains("data-order") && _declaredOrder.Mismatch(e.Rank, e.WorldSize, s.Step, hash) is { } declared)
        {
            var gives = declared.Hash is { } declaredHash ? $"gives batch {Short(declaredHash)}" : declared.Missing;
            Signal(e, RunAnomalyKinds.DataOrderMismatch, Severity.High, "data-order", e.Rank, $"rank {e.Rank} at step {s.Step} trained on batch {Short(hash)}; the declared data order ({_declaredOrder.Declaration}) {gives}", null, s.Step, s.Step, 1, found);
        }

        _slowness.Observe(e, s, _lead, found);
    }

    private void Direction(RunEvent e, long step, double cosine, List<RunAnomaly> found)
    {
        var index = step / _options.DirectionWindowSteps;
        if (_current is null)
        {
            _current = new DirectionWindow(index);
        }
        else if (index > _current.Index)
        {
            if (_previous is not null)
            {
                CloseDirection(_previous, found);
            }

            _previous = _current;
            _current = new DirectionWindow(index);
        }

        // A rank lagging one window behind still counts; older samples are too late to matter.
        var window = index == _current.Index ? _current : index == _previous?.Index ? _previous : null;
        window?.Add(step, e.Rank, cosine, e.Timestamp);
        if (window is not null)
        {
            _lastDirectionEvent = e;
            if (_options.LiveDirection && cosine < 0)
            {
                DirectionNow(window, e, step, cosine, found);
            }
        }

        // The previous window closes once the current one is a tenth in: ranks lag each other by a few steps, not more.
        if (_previous is not null && step >= (_current.Index * _options.DirectionWindowSteps) + Math.Max(1, _options.DirectionWindowSteps / 10))
        {
            CloseDirection(_previous, found);
            _previous = null;
        }
    }

    /// <summary>
    /// Live: the first negative of a window is reported at once, and the window as critical as soon as its negatives
    /// exceed the critical share of the most samples it can hold, so an alert never waits for the window to end.
    /// </summary>
    private void DirectionNow(DirectionWindow window, RunEvent e, long step, double cosine, List<RunAnomaly> found)
    {
        var capacity = Math.Max(1.0, (double)_options.DirectionWindowSteps * Math.Max(WorldSize, _ranks.Count) / _sampleEvery);
        var share = window.Negatives / capacity;
        if (!window.ReportedCritical && share > _options.DirectionCriticalFraction)
        {
            window.ReportedCritical = true;
            window.ReportedNegatives = window.Negatives;
            var detail = $"{window.Negatives} sampled steps in steps {WindowSteps(window)} have already moved against the gradient (cos < 0, lowest {RunDetectors.F(window.Lowest)}) on {window.Where}, first at step {window.FirstNegative}: more than {RunDetectors.F(_options.DirectionCriticalFraction * 100)}% of the {RunDetectors.F(capacity)} samples the window can hold, before it ends";
            found.Add(Anomaly(e, RunAnomalyKinds.Direction, Severity.Critical, lead: false, window.OnlyRank, detail, window.Lowest, window.FirstNegative, window.LastNegative, window.Negatives, share));
            Backed(RunAnomalyKinds.Direction, found);
        }
        else if (window.ReportedNegatives == 0)
        {
            window.ReportedNegatives = window.Negatives;
            var detail = $"rank {e.Rank} at step {step} moved against the gradient (cos {RunDetectors.F(cosine)} < 0), the first such step in steps {WindowSteps(window)}; the window's share follows when it ends";
            found.Add(Anomaly(e, RunAnomalyKinds.Direction, Severity.High, lead: false, e.Rank, detail, cosine, step, step, 1));
            Backed(RunAnomalyKinds.Direction, found);
        }
    }

    private string WindowSteps(DirectionWindow window) => $"{window.Index * _options.DirectionWindowSteps}..{((window.Index + 1) * _options.DirectionWindowSteps) - 1}";

    private void CloseDirection(DirectionWindow window, List<RunAnomaly> found)
    {
        if (window.Negatives == 0)
        {
            return;
        }

        var fraction = (double)window.Negatives / window.Samples;
        var critical = fraction > _options.DirectionCriticalFraction;
        // Live: what was reported while the window was open is not said again, unless the close adds to it.
        if (window.ReportedCritical || (window.ReportedNegatives >= window.Negatives && !critical))
        {
            return;
        }
        var detail = $"{window.Negatives} of {window.Samples} sampled steps ({RunDetectors.F(fraction * 100)}%) in steps {WindowSteps(window)} moved against the gradient (cos < 0, lowest {RunDetectors.F(window.Lowest)}) on {window.Where}, first at step {window.FirstNegative}"
            + (critical ? $"; more than {RunDetectors.F(_options.DirectionCriticalFraction * 100)}% of the window" : string.Empty);
        var at = _lastDirectionEvent ?? LastEvent!;
        found.Add(Anomaly(at, RunAnomalyKinds.Direction, critical ? Severity.Critical : Severity.High, lead: false, window.OnlyRank, detail, window.Lowest, window.FirstNegative, window.LastNegative, window.Negatives, fraction));
        Backed(RunAnomalyKinds.Direction, found);
    }

    /// <summary>A non-slowness anomaly, once per key: recorded, and it backs the run's slowness leads.</summary>
    private void Signal(RunEvent e, string kind, Severity severity, string key, int? rank, string detail, double? score, long first, long last, long count, List<RunAnomaly> found)
    {
        if (!_reported.Add(key))
        {
            return;
        }

        found.Add(Anomaly(e, kind, severity, lead: false, rank, detail, score, first, last, count));
        Backed(kind, found);
    }

    /// <summary>The run now has <paramref name="kind"/>: its pending slowness leads become anomalies backed by it.</summary>
    private void Backed(string kind, List<RunAnomaly> found)
    {
        _signals.Add(kind);
        foreach (var lead in _pendingLeads)
        {
            found.Add(lead with { Lead = false, Severity = Severity.High, Detail = $"{lead.Detail}; backed by {kind} in the same run" });
        }

        _pendingLeads.Clear();
    }

    private RunAnomaly MakeLead(RunEvent last, string kind, int? rank, string detail, double? score, long first, long lastStep, long count)
    {
        Slowed = true;
        FirstSlowStep = Math.Min(FirstSlowStep, first);
        LastSlowStep = Math.Max(LastSlowStep, lastStep);
        if (_signals.Count > 0)
        {
            return Anomaly(last, kind, Severity.High, lead: false, rank, $"{detail}; backed by {string.Join(", ", _signals)} in the same run", score, first, lastStep, count);
        }

        var anomaly = Anomaly(last, kind, Severity.Low, lead: true, rank, detail, score, first, lastStep, count);
        if (_pendingLeads.Count < MaxPendingLeads)
        {
            _pendingLeads.Add(anomaly);
        }

        return anomaly;
    }

    /// <summary>The learning rates the declared schedule gives at the step before, at and after <paramref name="step"/> (clients count steps from 0 or 1).</summary>
    private double[]? ExpectedLr(long step)
    {
        if (_manifest?.Optimizer?.Lr is not { } baseLr)
        {
            return null;
        }

        if (_manifest.Scheduler is null)
        {
            return [baseLr, baseLr, baseLr];
        }

        if (_manifest.Scheduler.Schedule is not { } schedule)
        {
            return null;
        }

        var warmup = _manifest.Scheduler.WarmupSteps ?? 0;
        var factors = new double[3];
        for (var i = 0; i < 3; i++)
        {
            if (RunChecker.ScheduleFactor(schedule, Math.Max(0, step - 1 + i), warmup, _manifest.MaxSteps) is not { } factor)
            {
                return null;
            }

            factors[i] = baseLr * factor;
        }

        return factors;
    }

    private bool Same(double actual, double expected) =>
        actual == expected || Math.Abs(actual - expected) <= _options.LrTolerance * Math.Max(Math.Abs(actual), Math.Abs(expected));

    private string Declared(string field) => _manifest?.LineOf(field) is { } line ? $"{_manifest.Source}:{line} ({field})" : $"{_manifest?.Source} ({field})";

    private static string Short(string hash) => hash.Length > 16 ? hash[..16] + "…" : hash;
}

/// <summary>Caps on what a run's state holds.</summary>
internal static class RunEventParserLimits
{
    /// <summary>Distinct ranks counted per run (a count, not state the detectors need).</summary>
    public const int MaxRanksTracked = 65_536;
}
