using TrainGuard.Detections;

namespace TrainGuard.Server.Alerts;

/// <summary>How events become alerts: the rule set, how long a fold stays open, the clock that stamps creation times.</summary>
public sealed record AlertDerivationOptions
{
    /// <summary>The default fold window: a match more than this after an open alert's last event opens a new alert.</summary>
    public static readonly TimeSpan DefaultFoldWindow = TimeSpan.FromHours(24);

    /// <summary>The built-in rules and the site's (loaded with the server's placeholders).</summary>
    public DetectionRuleSet Rules { get; init; } = DetectionRuleSet.Default;

    /// <summary>How far (in event time) after an alert's last event a match still folds into it.</summary>
    public TimeSpan FoldWindow { get; init; } = DefaultFoldWindow;

    /// <summary>Stamps <see cref="Alert.CreatedAt"/> and <see cref="Alert.UpdatedAt"/> (nothing else reads a clock).</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>
    /// How much event time before the cursor a restarted server re-reads to rebuild correlation windows and the
    /// planted-key state: the longest correlation timespan of the rules, and at least the planted-key window.
    /// </summary>
    public TimeSpan WarmUpWindow =>
        Rules.Rules.Where(r => r.Timespan is not null).Select(r => r.Timespan!.Value).DefaultIfEmpty(TimeSpan.Zero).Max() is var longest && longest > PlantedKeyAttribution.DefaultWindow
            ? longest
            : PlantedKeyAttribution.DefaultWindow;
}
