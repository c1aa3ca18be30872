using TrainGuard.Checkpoints.Runs;
using TrainGuard.Runs.Model;

namespace TrainGuard.Runs.Detectors;

/// <summary>The run detectors' thresholds (docs/runs-forensics.md "Detectors").</summary>
public sealed record RunDetectorOptions
{
    /// <summary>Direction: steps per window (step numbers <c>[k·N, (k+1)·N)</c>, all ranks together).</summary>
    public int DirectionWindowSteps { get; init; } = 100;

    /// <summary>Direction: a window where more than this share of the sampled steps has cos &lt; 0 is critical (any is an alert).</summary>
    public double DirectionCriticalFraction { get; init; } = 0.01;

    /// <summary>
    /// Direction, live (the server): the first sampled step against the gradient in a window is reported when it
    /// arrives (high), and the window as critical as soon as its negatives exceed <see cref="DirectionCriticalFraction"/>
    /// of the most samples the window can hold (steps × ranks ÷ the client's <c>sample_every</c>); the window's close
    /// reports only what was not said yet. Off (<c>runs inspect</c>, which has the whole run): one report per window.
    /// </summary>
    public bool LiveDirection { get; init; }

    /// <summary>Slowness: the window the rank medians are taken over.</summary>
    public TimeSpan SlownessWindow { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Straggler: score (fastest rank's median / this rank's median) below this...</summary>
    public double StragglerScore { get; init; } = 0.75;

    /// <summary>...for this many consecutive windows.</summary>
    public int StragglerWindows { get; init; } = 3;

    /// <summary>Sustained slowdown: the shift of the run's median step time at the change point (0.10 = 10% slower).</summary>
    public double SlowdownShift { get; init; } = 0.10;

    /// <summary>Sustained slowdown: windows needed on each side of the change point.</summary>
    public int SlowdownMinWindows { get; init; } = 3;

    /// <summary>Windows of run median kept per run for the change-point search.</summary>
    public int SlowdownHistory { get; init; } = 120;

    /// <summary>Optimizer-time spike: this many times the rank's usual optimizer time...</summary>
    public double SpikeFactor { get; init; } = 3.0;

    /// <summary>...and at least this many milliseconds above it.</summary>
    public double SpikeMinMs { get; init; } = 5.0;

    /// <summary>Learning rate: relative tolerance against the declared schedule.</summary>
    public double LrTolerance { get; init; } = 1e-4;

    /// <summary>Size comparison: smaller runs without slowness needed before slowness confined to larger runs is an alert.</summary>
    public int SizeComparisonMinRuns { get; init; } = 2;

    /// <summary>Runs held at once (the least recently seen is forgotten beyond it).</summary>
    public int MaxRuns { get; init; } = 1024;

    /// <summary>The declared manifest of a run (by its first event), or null when none is known.</summary>
    public Func<RunEvent, RunManifest?>? Manifest { get; init; }

    /// <summary>A reference run (the clean original of a rerun): batch hashes that differ from it are a data-order mismatch.</summary>
    public RunLog? Reference { get; init; }
}
