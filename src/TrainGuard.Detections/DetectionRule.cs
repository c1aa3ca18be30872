using TrainGuard.Detections.Correlation;
using TrainGuard.Rules;

namespace TrainGuard.Detections;

/// <summary>
/// A Sigma rule or correlation that raises hits of its own, as a rule of the <c>detections</c> family: its Sigma
/// <c>id</c>, <c>title</c>, <c>level</c> (severity), <c>description</c> (why), and from its <c>x-trainguard</c> section
/// the guidance and the sample events it must and must not match. Rules that only feed a correlation (referenced and
/// not <c>generate</c>d) are not rules of the family.
/// </summary>
public sealed class DetectionRule : RuleDefinition
{
    /// <summary>The file (or name) the rule was loaded from.</summary>
    public required string Source { get; init; }

    /// <summary>The line of the document in <see cref="Source"/> (1-based).</summary>
    public required int Line { get; init; }

    /// <summary>The Sigma <c>name</c>, when the document has one.</summary>
    public string? SigmaName { get; init; }

    /// <summary>The correlation type, or null for a detection rule.</summary>
    public CorrelationType? CorrelationType { get; init; }

    /// <summary>The correlation's <c>group-by</c> (as written, aliases included); empty for a detection rule.</summary>
    public IReadOnlyList<string> GroupBy { get; init; } = [];

    /// <summary>The correlation's <c>timespan</c>.</summary>
    public TimeSpan? Timespan { get; init; }

    /// <summary>The Sigma <c>tags</c> (e.g. <c>attack.t1098.004</c>).</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary><c>x-trainguard.account: first-event</c>: the alert names the account of the correlation's first event.</summary>
    public bool AccountOfFirstEvent { get; init; }

    public bool IsCorrelation => CorrelationType is not null;
}
