using TrainGuard.Detections.Matching;

namespace TrainGuard.Detections.Correlation;

/// <summary>Where a match goes: a correlation and the position of the matching rule in its <c>rules</c>.</summary>
internal readonly record struct Feed(int Correlation, int Position);

/// <summary>A compiled detection rule.</summary>
internal sealed class RulePlan(int index, string label, Matcher matcher, DetectionRule? definition)
{
    public int Index { get; } = index;

    /// <summary>Id, name or title, for messages and statistics.</summary>
    public string Label { get; } = label;

    public Matcher Matcher { get; set; } = matcher;

    /// <summary>What the engine evaluates on the events the rule index selects the rule for (<see cref="Matcher"/> less the test the index made).</summary>
    public Matcher Evaluated { get; set; } = matcher;

    /// <summary>The rule of the family when it raises hits of its own; null when it only feeds correlations.</summary>
    public DetectionRule? Definition { get; } = definition;

    public List<Feed> Feeds { get; } = [];
}

/// <summary>
/// One referenced rule of a correlation: a detection rule (its group and value fields are slots of the event) or a
/// correlation (they are positions in that correlation's <c>group-by</c>).
/// </summary>
internal sealed record SourcePlan(bool FromCorrelation, int Index, int[] GroupFields, int ValueField);

/// <summary>A compiled correlation.</summary>
internal sealed class CorrelationPlan
{
    public required int Index { get; init; }

    public required string Label { get; init; }

    public required CorrelationType Type { get; init; }

    public required long SpanTicks { get; init; }

    public required CountCondition Condition { get; init; }

    /// <summary>Entries one group keeps (<see cref="CountCondition.Capacity"/>).</summary>
    public long Capacity => Condition.Capacity;

    public required string[] GroupBy { get; init; }

    public required SourcePlan[] Sources { get; init; }

    public DetectionRule? Definition { get; init; }

    public List<Feed> Feeds { get; } = [];
}
