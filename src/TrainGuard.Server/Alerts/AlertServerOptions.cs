using TrainGuard.Detections;
using TrainGuard.Runs.Detectors;

namespace TrainGuard.Server.Alerts;

/// <summary>The server's alert settings (<c>trainguard server run --rules, --placeholder, --agent-silent-factor</c>).</summary>
public sealed record AlertServerOptions
{
    /// <summary>The default factor: an agent is silent after three of its heartbeat intervals without one.</summary>
    public const double DefaultSilentFactor = 3;

    /// <summary>The rules events are evaluated against: the built-in ones unless the server was given its site's.</summary>
    public DetectionRuleSet Rules { get; init; } = DetectionRuleSet.Default;

    /// <summary>An agent is silent when its latest heartbeat is older than its announced interval × this.</summary>
    public double SilentFactor { get; init; } = DefaultSilentFactor;

    /// <summary>How often silence is checked (and the ledger polled for events another server appended).</summary>
    public TimeSpan CheckInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How far after an open alert's last event a match still folds into it (event time).</summary>
    public TimeSpan FoldWindow { get; init; } = AlertDerivationOptions.DefaultFoldWindow;

    /// <summary>
    /// Most ledger entries derived and stored in one transaction. Large, so that under heavy ingest the deriver stores
    /// what a whole group commit appended in one turn at the writer instead of falling behind one small batch per turn.
    /// </summary>
    public int BatchSize { get; init; } = 20_000;

    /// <summary>False: no alerts are derived (the API still answers from what is stored).</summary>
    public bool Derive { get; init; } = true;

    /// <summary>The run detectors' settings (docs/runs-forensics.md); null: no <c>run-anomaly</c> events are derived.</summary>
    public RunDetectorOptions? Runs { get; init; } = new() { LiveDirection = true };
}
