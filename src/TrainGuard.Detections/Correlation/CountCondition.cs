namespace TrainGuard.Detections.Correlation;

/// <summary>The four correlation types TrainGuard evaluates.</summary>
public enum CorrelationType
{
    EventCount,
    ValueCount,
    Temporal,
    TemporalOrdered,
}

public static class CorrelationTypeNames
{
    /// <summary>The Sigma name of the type (<c>event_count</c>, <c>value_count</c>, <c>temporal</c>, <c>temporal_ordered</c>).</summary>
    public static string ToSigmaName(this CorrelationType type) => type switch
    {
        CorrelationType.EventCount => "event_count",
        CorrelationType.ValueCount => "value_count",
        CorrelationType.Temporal => "temporal",
        _ => "temporal_ordered",
    };
}

/// <summary>
/// A correlation <c>condition</c>: one or more bounds on a count (events, distinct values or rules), all of which must
/// hold (<c>gt: 100, lte: 200</c> is a range). A condition needs a lower bound (<c>gt</c>, <c>gte</c> or <c>eq</c>):
/// an upper bound alone describes absence, which an event stream cannot show.
/// </summary>
public sealed record CountCondition(long? Gt = null, long? Gte = null, long? Lt = null, long? Lte = null, long? Eq = null, long? Neq = null)
{
    public bool IsSatisfied(long count) =>
        (Gt is not { } gt || count > gt)
        && (Gte is not { } gte || count >= gte)
        && (Lt is not { } lt || count < lt)
        && (Lte is not { } lte || count <= lte)
        && (Eq is not { } eq || count == eq)
        && (Neq is not { } neq || count != neq);

    /// <summary>
    /// How many entries a group must keep for the condition to be decided: beyond it, every larger count gives the same
    /// answer, so a group keeps its newest <see cref="Capacity"/> entries and no more.
    /// </summary>
    public long Capacity
    {
        get
        {
            long capacity = 1;
            if (Gt is { } gt)
            {
                capacity = Math.Max(capacity, gt + 1);
            }

            if (Gte is { } gte)
            {
                capacity = Math.Max(capacity, gte);
            }

            if (Lt is { } lt)
            {
                capacity = Math.Max(capacity, lt);
            }

            if (Lte is { } lte)
            {
                capacity = Math.Max(capacity, lte + 1);
            }

            if (Eq is { } eq)
            {
                capacity = Math.Max(capacity, eq + 1);
            }

            if (Neq is { } neq)
            {
                capacity = Math.Max(capacity, neq + 1);
            }

            return capacity;
        }
    }

    /// <summary>True when the condition has a lower bound that a single group of events must reach.</summary>
    public bool HasLowerBound => Gt is not null || (Gte is { } gte && gte >= 1) || (Eq is { } eq && eq >= 1);

    public override string ToString() => string.Join(", ", new[]
    {
        Gt is { } gt ? $"gt {gt}" : null,
        Gte is { } gte ? $"gte {gte}" : null,
        Lt is { } lt ? $"lt {lt}" : null,
        Lte is { } lte ? $"lte {lte}" : null,
        Eq is { } eq ? $"eq {eq}" : null,
        Neq is { } neq ? $"neq {neq}" : null,
    }.Where(s => s is not null));
}
