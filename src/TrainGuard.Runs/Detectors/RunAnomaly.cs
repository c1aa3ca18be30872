using TrainGuard.Findings;

namespace TrainGuard.Runs.Detectors;

/// <summary>The kinds of <c>run-anomaly</c> (<c>trainguard.anomaly.kind</c>) and the rule id each is reported under.</summary>
public static class RunAnomalyKinds
{
    public const string Direction = "direction";
    public const string AttestationFailed = "attestation-failed";
    public const string SeedMismatch = "seed-mismatch";
    public const string DataOrderMismatch = "data-order-mismatch";
    public const string LrMismatch = "lr-mismatch";
    public const string Straggler = "straggler";
    public const string Slowdown = "slowdown";
    public const string OptimizerSpike = "optimizer-spike";
    public const string SizeConfinedSlowdown = "size-confined-slowdown";

    /// <summary>Kind → rule id (docs/rules/TG-RUN-1xx.md).</summary>
    public static IReadOnlyDictionary<string, string> RuleIds { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        [Direction] = "TG-RUN-101",
        [AttestationFailed] = "TG-RUN-102",
        [SeedMismatch] = "TG-RUN-103",
        [DataOrderMismatch] = "TG-RUN-104",
        [LrMismatch] = "TG-RUN-105",
        [Straggler] = "TG-RUN-106",
        [Slowdown] = "TG-RUN-107",
        [OptimizerSpike] = "TG-RUN-108",
        [SizeConfinedSlowdown] = "TG-RUN-109",
    };

    /// <summary>Slowness kinds: leads, not accusations, until another signal or the size comparison backs them.</summary>
    public static bool IsSlowness(string kind) => kind is Straggler or Slowdown or OptimizerSpike;
}

/// <summary>
/// Something a run detector found in a run: the <c>run-anomaly</c> event the server appends and the line
/// <c>runs inspect</c> prints. A <see cref="Lead"/> (slowness without a second signal) is recorded, never alerted on.
/// </summary>
public sealed record RunAnomaly
{
    public required string Kind { get; init; }

    public string RuleId => RunAnomalyKinds.RuleIds.GetValueOrDefault(Kind, "TG-RUN-100");

    public required Severity Severity { get; init; }

    /// <summary>Slowness alone: kept as a lead (severity low, no alert).</summary>
    public bool Lead { get; init; }

    public required string RunId { get; init; }

    public string? RunName { get; init; }

    /// <summary>The rank, when the anomaly is one rank's (null when it spans ranks).</summary>
    public int? Rank { get; init; }

    public int WorldSize { get; init; } = 1;

    public long FirstStep { get; init; }

    public long LastStep { get; init; }

    /// <summary>How many steps (or windows, for slowness) showed it.</summary>
    public long Steps { get; init; }

    /// <summary>The share of the window's samples that showed it (direction).</summary>
    public double? Fraction { get; init; }

    /// <summary>The measure behind it: the lowest cosine, the straggler score, the slowdown factor.</summary>
    public double? Score { get; init; }

    public required string Detail { get; init; }

    public string? User { get; init; }

    public string? Host { get; init; }

    /// <summary>The time of the event that completed it (the anomaly event's <c>@timestamp</c>).</summary>
    public DateTimeOffset? Timestamp { get; init; }
}
