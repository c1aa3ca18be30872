using System.Buffers;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using TrainGuard.Detections.Correlation;
using TrainGuard.Detections.Matching;
using TrainGuard.Detections.Sigma;
using TrainGuard.Events;
using TrainGuard.Parsing;

namespace TrainGuard.Detections;

/// <summary>
/// Evaluates a stream of events against a <see cref="DetectionRuleSet"/>: each event is read once into a reusable view,
/// only the rules whose <c>event.action</c> (or required field) the event has are evaluated, and matches feed the
/// correlations' sliding windows. The same events in the same order give the same hits, in the same order (rule load
/// order, each correlation hit right after the match that raised it): results depend on the events' content and
/// order, never on the wall clock, so a live stream and its replay agree. Not thread-safe: one engine per stream.
/// </summary>
public sealed class DetectionEngine
{
    private readonly RuleSetPlan _plan;
    private readonly EventView _view;
    private readonly CorrelationState[] _states;
    private readonly Dictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _byAction;
    private readonly (int Slot, Dictionary<string, ValueRef[]>.AlternateLookup<ReadOnlySpan<char>> Rules, ulong[] Anchored)[] _byValue;
    private readonly ulong[] _selected;
    private readonly ulong[] _satisfied;
    private readonly ulong[] _anchored;
    private readonly ulong[] _alive;
    private readonly int[] _candidates;
    private readonly int _maxEventBytes;
    private readonly int _maxRefs;
    private ArrayBufferWriter<byte>? _buffer;
    private Utf8JsonWriter? _writer;
    private char[] _key = new char[256];
    private long _seq;
    private long _ruleEvaluations;
    private long _ruleMatches;
    private long _hits;
    private long _withoutTimestamp;
    private long _missingGroupFields;

    internal DetectionEngine(DetectionRuleSet set)
    {
        RuleSet = set;
        _plan = set.Plan;
        _view = new EventView(_plan.Fields, _plan.CollectStrings, _plan.CachedMatchers);
        _states = _plan.Correlations.Select(c => new CorrelationState(c, set.Options.MaxGroupsPerCorrelation)).ToArray();
        _byAction = _plan.ByAction.GetAlternateLookup<ReadOnlySpan<char>>();
        _byValue = [.. _plan.ByValue.Select(v => (v.Slot, v.Rules.GetAlternateLookup<ReadOnlySpan<char>>(), v.Anchored))];
        _selected = new ulong[(_plan.Rules.Length + 63) / 64];
        _satisfied = new ulong[_plan.Required.Length];
        _anchored = new ulong[_selected.Length];
        _alive = new ulong[_selected.Length];
        for (var i = 0; i < _plan.Required.Length; i++)
        {
            _anchored[i % _selected.Length] |= _plan.Required[i];
        }

        _candidates = new int[_plan.Rules.Length];
        _maxEventBytes = set.Options.MaxEventBytes;
        _maxRefs = Math.Max(1, set.Options.MaxHitEventRefs);
    }

    public DetectionRuleSet RuleSet { get; }

    /// <summary>
    /// Evaluates one event (UTF-8 JSON of one object) and appends its hits to <paramref name="hits"/>; returns how many
    /// were added. <paramref name="eventRef"/> is the caller's reference for the event (a ledger index, a line number),
    /// reported in hits. A malformed event changes no state.
    /// </summary>
    /// <exception cref="MalformedInputException">Not one JSON object, not UTF-8, too deep or over <see cref="DetectionOptions.MaxEventBytes"/>.</exception>
    public int Process(ReadOnlySpan<byte> utf8Json, long eventRef, List<DetectionHit> hits)
    {
        ArgumentNullException.ThrowIfNull(hits);
        if (utf8Json.Length > _maxEventBytes)
        {
            DetectionErrors.ThrowEventLimit(_maxEventBytes);
        }

        _view.Load(utf8Json);
        _seq++;
        var before = hits.Count;
        var count = Candidates();
        for (var i = 0; i < count; i++)
        {
            var rule = _plan.Rules[_candidates[i]];
            _ruleEvaluations++;
            if (!rule.Evaluated.Matches(_view))
            {
                continue;
            }

            _ruleMatches++;
            OnMatch(rule, eventRef, hits);
        }

        _hits += hits.Count - before;
        return hits.Count - before;
    }

    /// <summary>Evaluates one event held as a <see cref="JsonElement"/> (its raw JSON is read, not re-serialised).</summary>
    public int Process(JsonElement element, long eventRef, List<DetectionHit> hits) =>
        Process(JsonMarshal.GetRawUtf8Value(element), eventRef, hits);

    /// <summary>Evaluates one <see cref="EventRecord"/> (written to a reused buffer first).</summary>
    public int Process(EventRecord record, long eventRef, List<DetectionHit> hits)
    {
        ArgumentNullException.ThrowIfNull(record);
        _buffer ??= new ArrayBufferWriter<byte>(1024);
        _buffer.ResetWrittenCount();
        if (_writer is null)
        {
            _writer = new Utf8JsonWriter(_buffer, new JsonWriterOptions { SkipValidation = false });
        }
        else
        {
            _writer.Reset(_buffer);
        }

        record.Root.WriteTo(_writer);
        _writer.Flush();
        return Process(_buffer.WrittenSpan, eventRef, hits);
    }

    /// <summary>What the engine has evaluated and what its bounds dropped, so far.</summary>
    public DetectionStats Stats => new()
    {
        Events = _seq,
        RuleEvaluations = _ruleEvaluations,
        RuleMatches = _ruleMatches,
        Hits = _hits,
        EventsWithoutTimestamp = _withoutTimestamp,
        MissingGroupFields = _missingGroupFields,
        LateEvents = _states.Sum(s => s.LateEvents),
        Evictions = _states.Sum(s => s.Evictions),
        ExpiredGroups = _states.Sum(s => s.Expired),
        Groups = _states.Sum(s => (long)s.Groups),
        RegexTimeouts = _view.RegexTimeouts,
        Correlations = _states.Select(s => new CorrelationStats(s.Plan.Label, s.Groups, s.Evictions, s.Expired, s.LateEvents)).ToArray(),
    };

    /// <summary>
    /// The rules worth evaluating on the current event, in rule order: those whose anchors (actions, exact values of
    /// other fields) the event satisfies all of, those its fields select, and the unindexed. Bitmaps dedupe and order
    /// them without sorting (and are left cleared for the next event).
    /// </summary>
    private int Candidates()
    {
        var selected = _selected;
        var satisfied = _satisfied;
        for (var i = _view.First(_plan.Fields.Action); i >= 0; i = _view.Value(i).Next)
        {
            if (_view.Value(i).IsScalar && _byAction.TryGetValue(_view.Text(i), out var rules))
            {
                Select(satisfied, rules);
            }
        }

        // Rules the event's actions leave in play: a field's values are looked up only when one of them is anchored on it.
        var words = selected.Length;
        var required = _plan.Required;
        for (var word = 0; word < words; word++)
        {
            _alive[word] = _anchored[word] & (satisfied[word] | ~required[word]);
        }

        foreach (var (slot, lookup, anchored) in _byValue)
        {
            if (!Intersect(_alive, anchored))
            {
                continue;
            }

            for (var i = _view.First(slot); i >= 0; i = _view.Value(i).Next)
            {
                if (_view.Value(i).IsScalar && lookup.TryGetValue(_view.Text(i), out var refs))
                {
                    foreach (var (rule, anchor) in refs)
                    {
                        satisfied[(anchor * words) + (rule >> 6)] |= 1UL << (rule & 63);
                    }
                }
            }
        }

        foreach (var (slot, rules) in _plan.ByField)
        {
            if (_view.Has(slot))
            {
                Select(selected, rules);
            }
        }

        Select(selected, _plan.Always);
        var count = 0;
        for (var word = 0; word < words; word++)
        {
            var all = _anchored[word];
            for (var at = word; at < required.Length; at += words)
            {
                all &= satisfied[at] | ~required[at];
                satisfied[at] = 0;
            }

            var bits = selected[word] | all;
            selected[word] = 0;
            while (bits != 0)
            {
                _candidates[count++] = (word << 6) + System.Numerics.BitOperations.TrailingZeroCount(bits);
                bits &= bits - 1;
            }
        }

        return count;
    }

    private static bool Intersect(ulong[] a, ulong[] b)
    {
        for (var i = 0; i < a.Length; i++)
        {
            if ((a[i] & b[i]) != 0)
            {
                return true;
            }
        }

        return false;
    }

    private static void Select(ulong[] selected, int[] rules)
    {
        foreach (var rule in rules)
        {
            selected[rule >> 6] |= 1UL << (rule & 63);
        }
    }

    private void OnMatch(RulePlan rule, long eventRef, List<DetectionHit> hits)
    {
        var hasTime = _view.TryGetTimestamp(out var ticks);
        if (rule.Definition is { } definition)
        {
            hits.Add(new DetectionHit
            {
                Rule = definition,
                EventRef = eventRef,
                Timestamp = hasTime ? Time(ticks) : null,
                EventRefs = [eventRef],
                FirstSeen = hasTime ? Time(ticks) : null,
                LastSeen = hasTime ? Time(ticks) : null,
            });
        }

        foreach (var feed in rule.Feeds)
        {
            if (!hasTime)
            {
                _withoutTimestamp++;
                continue;
            }

            var plan = _plan.Correlations[feed.Correlation];
            var source = plan.Sources[feed.Position];
            var length = 0;
            var complete = true;
            foreach (var slot in source.GroupFields)
            {
                if (!_view.TryGetFirstScalar(slot, out var text))
                {
                    complete = false;
                    break;
                }

                length = AppendKey(length, text);
            }

            ReadOnlySpan<char> value = default;
            if (!complete || (source.ValueField >= 0 && !_view.TryGetFirstScalar(source.ValueField, out value)))
            {
                _missingGroupFields++;
                continue;
            }

            Update(feed, _key.AsSpan(0, length), value, new WindowEntry(ticks, eventRef, _seq), hits);
        }
    }

    private void Update(Feed feed, ReadOnlySpan<char> key, ReadOnlySpan<char> value, WindowEntry entry, List<DetectionHit> hits)
    {
        var state = _states[feed.Correlation];
        var slot = state.Update(key, value, feed.Position, entry, out var onset);
        if (slot < 0)
        {
            return;
        }

        var plan = state.Plan;
        if (plan.Definition is null && !onset)
        {
            return;
        }

        var values = DecodeKey(state.Key(slot), plan.GroupBy.Length);
        if (plan.Definition is { } definition)
        {
            var (count, refs, first, last) = state.Describe(slot, _maxRefs);
            hits.Add(new DetectionHit
            {
                Rule = definition,
                EventRef = entry.Ref,
                Timestamp = Time(entry.Ticks),
                Onset = onset,
                EventRefs = refs,
                GroupBy = plan.GroupBy.Select((name, i) => KeyValuePair.Create(name, values[i])).ToArray(),
                Count = count,
                FirstSeen = Time(first),
                LastSeen = Time(last),
            });
        }

        if (!onset)
        {
            return;
        }

        // A correlation's onset is one event of the correlations that refer to it.
        foreach (var outer in plan.Feeds)
        {
            var source = _plan.Correlations[outer.Correlation].Sources[outer.Position];
            var length = 0;
            foreach (var index in source.GroupFields)
            {
                length = AppendKey(length, values[index]);
            }

            var outerValue = source.ValueField >= 0 ? values[source.ValueField] : string.Empty;
            Update(outer, _key.AsSpan(0, length).ToArray(), outerValue, entry, hits);
        }
    }

    /// <summary>Appends one group value as <c>length:text</c> (so no value can forge another key).</summary>
    private int AppendKey(int length, ReadOnlySpan<char> text)
    {
        Span<char> digits = stackalloc char[11];
        text.Length.TryFormat(digits, out var written, provider: CultureInfo.InvariantCulture);
        var needed = length + written + 1 + text.Length;
        if (needed > _key.Length)
        {
            Array.Resize(ref _key, Math.Max(_key.Length * 2, needed));
        }

        digits[..written].CopyTo(_key.AsSpan(length));
        length += written;
        _key[length++] = ':';
        text.CopyTo(_key.AsSpan(length));
        return length + text.Length;
    }

    private static string[] DecodeKey(ReadOnlySpan<char> key, int count)
    {
        var values = new string[count];
        var at = 0;
        for (var i = 0; i < count; i++)
        {
            var colon = at + key[at..].IndexOf(':');
            var length = int.Parse(key[at..colon], NumberStyles.None, CultureInfo.InvariantCulture);
            values[i] = key.Slice(colon + 1, length).ToString();
            at = colon + 1 + length;
        }

        return values;
    }

    private static DateTimeOffset Time(long ticks) => new(ticks, TimeSpan.Zero);
}
