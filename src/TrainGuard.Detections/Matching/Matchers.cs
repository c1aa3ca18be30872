using System.Runtime.CompilerServices;

namespace TrainGuard.Detections.Matching;

/// <summary>
/// A compiled piece of a rule's detection: a test of one field, a keyword search, or <c>and</c>/<c>or</c>/<c>not</c>
/// over other matchers. Built once when the rule set loads; <see cref="Matches"/> allocates nothing. A matcher
/// several rules share (the same field test written in several rules is compiled once) gets a <see cref="CacheId"/>:
/// it is then evaluated at most once per event and its result reused.
/// </summary>
internal abstract class Matcher
{
    /// <summary>Slot of the per-event result cache of <see cref="EventView"/>, or -1 when the result is not cached.</summary>
    public int CacheId { get; set; } = -1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Matches(EventView view) => CacheId < 0 ? Evaluate(view) : view.Cached(CacheId, this);

    /// <summary>Evaluates the matcher on the event (uncached).</summary>
    public abstract bool Evaluate(EventView view);

    /// <summary>A rough relative cost of <see cref="Evaluate"/>, to test cheap parts of <c>and</c>/<c>or</c> first.</summary>
    public abstract int Cost { get; }

    /// <summary>What an event must have for this matcher to pass (the engine evaluates a rule only on events that do).</summary>
    public abstract Anchor Anchor(int actionSlot);
}

/// <summary>
/// A precondition of a rule that the engine checks before evaluating it: <c>event.action</c> is one of a set of values,
/// or a field is present, or nothing is known.
/// </summary>
internal sealed record Anchor(AnchorKind Kind, IReadOnlySet<string>? Actions = null, int Slot = -1)
{
    public static Anchor None { get; } = new(AnchorKind.None);

    public static Anchor Field(int slot) => new(AnchorKind.Field, Slot: slot);

    public static Anchor ForActions(IEnumerable<string> actions) =>
        new(AnchorKind.Actions, actions.ToHashSet(StringComparer.OrdinalIgnoreCase));

    /// <summary>For <c>a and b</c>: the more selective of the two (a set of actions over a field over nothing).</summary>
    public static Anchor Both(Anchor a, Anchor b) => (a.Kind, b.Kind) switch
    {
        (AnchorKind.Actions, AnchorKind.Actions) => a.Actions!.Count <= b.Actions!.Count ? a : b,
        (AnchorKind.Actions, _) => a,
        (_, AnchorKind.Actions) => b,
        (AnchorKind.Field, _) => a,
        _ => b,
    };

    /// <summary>For <c>a or b</c>: a precondition both share (the union of two action sets, one field), else none.</summary>
    public static Anchor Either(Anchor a, Anchor b) => (a.Kind, b.Kind) switch
    {
        (AnchorKind.Actions, AnchorKind.Actions) => ForActions(a.Actions!.Concat(b.Actions!)),
        (AnchorKind.Field, AnchorKind.Field) when a.Slot == b.Slot => a,
        _ => None,
    };
}

internal enum AnchorKind
{
    None,
    Field,
    Actions,
}

/// <summary><c>field: value</c> or <c>field: [values]</c>: one of the field's values passes the test.</summary>
internal sealed class FieldMatcher(int slot, ValueTest test) : Matcher
{
    public int Slot => slot;

    public ValueTest Test => test;

    public override int Cost => 1 + test.Cost;

    public override bool Evaluate(EventView view)
    {
        for (var i = view.First(slot); i >= 0; i = view.Value(i).Next)
        {
            if (test.Test(view, i))
            {
                return true;
            }
        }

        return false;
    }

    public override Anchor Anchor(int actionSlot) =>
        slot == actionSlot && test is StringTest { ExactOnly: { Count: > 0 } exact } ? Matching.Anchor.ForActions(exact) : Matching.Anchor.Field(slot);
}

/// <summary><c>field|all: [values]</c>: every test is passed by one of the field's values.</summary>
internal sealed class FieldAllMatcher(int slot, ValueTest[] tests) : Matcher
{
    public int Slot => slot;

    public IReadOnlyList<ValueTest> Tests => tests;

    public override int Cost => 1 + tests.Sum(t => t.Cost);

    public override bool Evaluate(EventView view)
    {
        foreach (var test in tests)
        {
            var passed = false;
            for (var i = view.First(slot); i >= 0 && !passed; i = view.Value(i).Next)
            {
                passed = test.Test(view, i);
            }

            if (!passed)
            {
                return false;
            }
        }

        return true;
    }

    public override Anchor Anchor(int actionSlot) =>
        slot == actionSlot && tests[0] is StringTest { ExactOnly: { Count: > 0 } exact } ? Matching.Anchor.ForActions(exact) : Matching.Anchor.Field(slot);
}

/// <summary><c>field|neq: value</c>: the field has a value and none of its values passes the test.</summary>
internal sealed class FieldNotMatcher(int slot, ValueTest test) : Matcher
{
    public int Slot => slot;

    public ValueTest Test => test;

    public override int Cost => 1 + test.Cost;

    public override bool Evaluate(EventView view)
    {
        var present = false;
        for (var i = view.First(slot); i >= 0; i = view.Value(i).Next)
        {
            if (!view.Value(i).IsScalar)
            {
                continue;
            }

            present = true;
            if (test.Test(view, i))
            {
                return false;
            }
        }

        return present;
    }

    public override Anchor Anchor(int actionSlot) => Matching.Anchor.Field(slot);
}

/// <summary><c>field|exists: true/false</c>: the field is present (whatever its value, null included) or absent.</summary>
internal sealed class ExistsMatcher(int slot, bool expected) : Matcher
{
    public override int Cost => 1;

    public override bool Evaluate(EventView view) => view.Has(slot) == expected;

    public override Anchor Anchor(int actionSlot) => expected ? Matching.Anchor.Field(slot) : Matching.Anchor.None;
}

/// <summary><c>field: null</c>: the field is absent or null.</summary>
internal sealed class NullMatcher(int slot) : Matcher
{
    public override int Cost => 1;

    public override bool Evaluate(EventView view)
    {
        for (var i = view.First(slot); i >= 0; i = view.Value(i).Next)
        {
            if (view.Value(i).Kind != ValueKind.Null)
            {
                return false;
            }
        }

        return true;
    }

    public override Anchor Anchor(int actionSlot) => Matching.Anchor.None;
}

/// <summary>How <c>fieldref</c> compares the two fields' values.</summary>
internal enum FieldRefMode
{
    Equals,
    Contains,
    StartsWith,
    EndsWith,
}

/// <summary>
/// <c>field|fieldref: other</c>: a value of <c>field</c> equals (or contains, starts or ends with) a value of
/// <c>other</c>; with <c>neq</c>, both fields have a value and no pair compares. An absent field never compares.
/// </summary>
internal sealed class FieldRefMatcher(int slot, int other, FieldRefMode mode, bool cased, bool negate) : Matcher
{
    public override int Cost => 6;

    public override bool Evaluate(EventView view)
    {
        var comparison = cased ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase;
        var sawPair = false;
        for (var i = view.First(slot); i >= 0; i = view.Value(i).Next)
        {
            ref readonly var a = ref view.Value(i);
            if (!a.IsScalar)
            {
                continue;
            }

            var left = view.Text(i);
            for (var j = view.First(other); j >= 0; j = view.Value(j).Next)
            {
                ref readonly var b = ref view.Value(j);
                if (!b.IsScalar)
                {
                    continue;
                }

                sawPair = true;
                var right = view.Text(j);
                var same = mode switch
                {
                    FieldRefMode.Contains => left.Contains(right, comparison),
                    FieldRefMode.StartsWith => left.StartsWith(right, comparison),
                    FieldRefMode.EndsWith => left.EndsWith(right, comparison),
                    _ => left.Equals(right, comparison) || NumbersEqual(left, in a, right, in b),
                };
                if (same)
                {
                    return !negate;
                }
            }
        }

        return negate && sawPair;
    }

    public override Anchor Anchor(int actionSlot) => Matching.Anchor.Field(slot);

    private static bool NumbersEqual(ReadOnlySpan<char> left, in EventValue a, ReadOnlySpan<char> right, in EventValue b) =>
        a.Kind == ValueKind.Number && b.Kind == ValueKind.Number
        && Numbers.TryGet(left, a.Kind, out var x) && Numbers.TryGet(right, b.Kind, out var y) && x == y;
}

/// <summary>A keyword list: one of the event's string values (any field) passes the test.</summary>
internal sealed class KeywordMatcher(StringTest test) : Matcher
{
    public override int Cost => 50 + test.Cost;

    public override bool Evaluate(EventView view)
    {
        for (var i = 0; i < view.StringCount; i++)
        {
            if (test.TestText(view.StringAt(i)))
            {
                return true;
            }
        }

        return false;
    }

    public override Anchor Anchor(int actionSlot) => Matching.Anchor.None;
}

/// <summary>
/// <c>a and b and ...</c>. Nested ands are flattened and the parts tested cheapest first (<see cref="Matcher.Cost"/>):
/// matchers have no effect but their result, so the order changes the time a rule takes, never its result.
/// </summary>
internal sealed class AndMatcher : Matcher
{
    private readonly Matcher[] _parts;

    public AndMatcher(Matcher[] parts)
    {
        _parts = [.. parts.SelectMany(p => p is AndMatcher and ? and._parts : [p]).OrderBy(p => p.Cost)];
        Cost = _parts.Sum(p => p.Cost);
    }

    public IReadOnlyList<Matcher> Parts => _parts;

    public override int Cost { get; }

    public override bool Evaluate(EventView view)
    {
        foreach (var part in _parts)
        {
            if (!part.Matches(view))
            {
                return false;
            }
        }

        return true;
    }

    public override Anchor Anchor(int actionSlot) => _parts.Select(p => p.Anchor(actionSlot)).Aggregate(Matching.Anchor.None, Matching.Anchor.Both);
}

/// <summary><c>a or b or ...</c>: nested ors flattened, the cheapest part tested first.</summary>
internal sealed class OrMatcher : Matcher
{
    private readonly Matcher[] _parts;

    public OrMatcher(Matcher[] parts)
    {
        _parts = [.. parts.SelectMany(p => p is OrMatcher or ? or._parts : [p]).OrderBy(p => p.Cost)];
        Cost = _parts.Sum(p => p.Cost);
    }

    public override int Cost { get; }

    public override bool Evaluate(EventView view)
    {
        foreach (var part in _parts)
        {
            if (part.Matches(view))
            {
                return true;
            }
        }

        return false;
    }

    public override Anchor Anchor(int actionSlot) =>
        _parts.Length == 0 ? Matching.Anchor.None : _parts.Select(p => p.Anchor(actionSlot)).Aggregate(Matching.Anchor.Either);
}

internal sealed class NotMatcher(Matcher part) : Matcher
{
    public override int Cost => part.Cost;

    public override bool Evaluate(EventView view) => !part.Matches(view);

    public override Anchor Anchor(int actionSlot) => Matching.Anchor.None;
}

/// <summary>A matcher that always passes (what is left of a rule whose only test the rule index already made).</summary>
internal sealed class TrueMatcher : Matcher
{
    public static TrueMatcher Instance { get; } = new();

    public override int Cost => 0;

    public override bool Evaluate(EventView view) => true;

    public override Anchor Anchor(int actionSlot) => Matching.Anchor.None;
}
