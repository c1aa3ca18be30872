namespace TrainGuard.Detections.Correlation;

/// <summary>
/// The state of one group (one combination of <c>group-by</c> values) of one correlation: the newest timestamp seen
/// (the group's clock; its window is the timespan before it) and whether the condition held at the last update.
/// </summary>
internal abstract class Group(string key)
{
    public string Key { get; } = key;

    /// <summary>Newest timestamp (UTC ticks) of the group's events.</summary>
    public long Clock { get; set; } = long.MinValue;

    /// <summary>The condition held at the last update (a hit is an onset when it did not).</summary>
    public bool Active { get; set; }

    /// <summary>Drops what is older than <paramref name="limit"/>.</summary>
    public abstract void Expire(long limit);

    /// <summary>The count the condition is judged on.</summary>
    public abstract long Count(long limit);

    /// <summary>The contributing events (newest last, at most <paramref name="max"/>) and the oldest and newest timestamps.</summary>
    public abstract (long[] Refs, long First, long Last) Describe(long limit, int max);
}

/// <summary>One event of a window: its timestamp, the caller's reference and the engine's sequence number.</summary>
internal readonly record struct WindowEntry(long Ticks, long Ref, long Seq);

/// <summary>One event of a count window: its timestamp and the caller's reference.</summary>
internal readonly record struct TimedRef(long Ticks, long Ref);

/// <summary>
/// <c>event_count</c>: the group's events in time order, at most the condition's capacity (the oldest go first). The
/// first event is held inline, so the common group of one event costs no array.
/// </summary>
internal sealed class CountGroup(string key) : Group(key)
{
    private TimedRef[]? _entries;
    private TimedRef _one;
    private int _start;
    private int _count;

    public void Add(TimedRef entry, long capacity)
    {
        if (_entries is null)
        {
            if (_count == 0)
            {
                _one = entry;
                _count = 1;
                return;
            }

            _entries = new TimedRef[(int)Math.Min(4, capacity + 1)];
            _entries[0] = _one;
        }

        if (_start + _count == _entries.Length)
        {
            if (_start > 0)
            {
                Array.Copy(_entries, _start, _entries, 0, _count);
                _start = 0;
            }
            else
            {
                Array.Resize(ref _entries, (int)Math.Min(_entries.Length * 2L, capacity + 1));
            }
        }

        // Keep time order: a slightly late event goes before newer ones.
        var at = _start + _count;
        while (at > _start && _entries[at - 1].Ticks > entry.Ticks)
        {
            _entries[at] = _entries[at - 1];
            at--;
        }

        _entries[at] = entry;
        _count++;
        while (_count > capacity)
        {
            _start++;
            _count--;
        }
    }

    public override void Expire(long limit)
    {
        if (_entries is null)
        {
            if (_count == 1 && _one.Ticks < limit)
            {
                _count = 0;
            }

            return;
        }

        while (_count > 0 && _entries[_start].Ticks < limit)
        {
            _start++;
            _count--;
        }

        if (_count == 0)
        {
            _start = 0;
        }
    }

    public override long Count(long limit) => _count;

    public override (long[] Refs, long First, long Last) Describe(long limit, int max)
    {
        if (_count == 0)
        {
            return ([], 0, 0);
        }

        if (_entries is null)
        {
            return ([_one.Ref], _one.Ticks, _one.Ticks);
        }

        var take = Math.Min(_count, max);
        var refs = new long[take];
        for (var i = 0; i < take; i++)
        {
            refs[i] = _entries[_start + _count - take + i].Ref;
        }

        return (refs, _entries[_start].Ticks, _entries[_start + _count - 1].Ticks);
    }
}

/// <summary>
/// <c>value_count</c>: the newest event of each distinct value (compared exactly), at most the condition's capacity
/// values (the value seen longest ago goes first).
/// </summary>
internal sealed class ValueGroup(string key) : Group(key)
{
    private const int IndexThreshold = 16;

    private readonly List<(string Value, WindowEntry Entry)> _values = [];
    private Dictionary<string, int>? _index;

    public void Add(ReadOnlySpan<char> value, WindowEntry entry, long capacity)
    {
        var at = Find(value);
        if (at >= 0)
        {
            if (entry.Ticks >= _values[at].Entry.Ticks)
            {
                _values[at] = (_values[at].Value, entry);
            }

            return;
        }

        _values.Add((value.ToString(), entry));
        _index?.Add(_values[^1].Value, _values.Count - 1);
        if (_values.Count > capacity)
        {
            var oldest = 0;
            for (var i = 1; i < _values.Count; i++)
            {
                if (_values[i].Entry.Ticks < _values[oldest].Entry.Ticks)
                {
                    oldest = i;
                }
            }

            _values.RemoveAt(oldest);
            Reindex();
        }
        else if (_index is null && _values.Count > IndexThreshold)
        {
            Reindex();
        }
    }

    public override void Expire(long limit)
    {
        if (_values.RemoveAll(v => v.Entry.Ticks < limit) > 0)
        {
            Reindex();
        }
    }

    public override long Count(long limit) => _values.Count;

    public override (long[] Refs, long First, long Last) Describe(long limit, int max)
    {
        var ordered = _values.Select(v => v.Entry).OrderBy(e => e.Ticks).ThenBy(e => e.Seq).ToArray();
        var refs = ordered.Skip(Math.Max(0, ordered.Length - max)).Select(e => e.Ref).ToArray();
        return (refs, ordered.Length == 0 ? 0 : ordered[0].Ticks, ordered.Length == 0 ? 0 : ordered[^1].Ticks);
    }

    private int Find(ReadOnlySpan<char> value)
    {
        if (_index is not null)
        {
            return _index.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(value, out var i) ? i : -1;
        }

        for (var i = 0; i < _values.Count; i++)
        {
            if (value.SequenceEqual(_values[i].Value))
            {
                return i;
            }
        }

        return -1;
    }

    private void Reindex()
    {
        if (_values.Count <= IndexThreshold)
        {
            _index = null;
            return;
        }

        _index = new Dictionary<string, int>(_values.Count, StringComparer.Ordinal);
        for (var i = 0; i < _values.Count; i++)
        {
            _index[_values[i].Value] = i;
        }
    }
}

/// <summary><c>temporal</c>: the newest event of each referenced rule.</summary>
internal sealed class TemporalGroup : Group
{
    private readonly WindowEntry[] _latest;

    public TemporalGroup(string key, int rules)
        : base(key)
    {
        _latest = new WindowEntry[rules];
        Array.Fill(_latest, new WindowEntry(long.MinValue, 0, -1));
    }

    public void Add(int position, WindowEntry entry)
    {
        if (entry.Ticks >= _latest[position].Ticks)
        {
            _latest[position] = entry;
        }
    }

    public override void Expire(long limit)
    {
        for (var i = 0; i < _latest.Length; i++)
        {
            if (_latest[i].Seq >= 0 && _latest[i].Ticks < limit)
            {
                _latest[i] = new WindowEntry(long.MinValue, 0, -1);
            }
        }
    }

    public override long Count(long limit) => _latest.Count(e => e.Seq >= 0 && e.Ticks >= limit);

    public override (long[] Refs, long First, long Last) Describe(long limit, int max)
    {
        var present = _latest.Where(e => e.Seq >= 0 && e.Ticks >= limit).OrderBy(e => e.Ticks).ThenBy(e => e.Seq).ToArray();
        return (present.TakeLast(max).Select(e => e.Ref).ToArray(), present.Length == 0 ? 0 : present[0].Ticks, present.Length == 0 ? 0 : present[^1].Ticks);
    }
}

/// <summary>
/// <c>temporal_ordered</c>: for each step k, the chain through rules 1..k that started last (so it stays in the window
/// longest). An event of rule k extends the chain of step k-1 only when that chain ended no later than the event (by
/// timestamp, ties by arrival) and with another event; order is checked at every step, not only the first.
/// </summary>
internal sealed class OrderedGroup : Group
{
    private readonly WindowEntry[]?[] _chains;
    private readonly WindowEntry[]?[] _before;
    private readonly long[] _changedBy;

    public OrderedGroup(string key, int rules)
        : base(key)
    {
        _chains = new WindowEntry[]?[rules];
        _before = new WindowEntry[]?[rules];
        _changedBy = new long[rules];
        Array.Fill(_changedBy, -1L);
    }

    public void Add(int position, WindowEntry entry, long span)
    {
        WindowEntry[] candidate;
        if (position == 0)
        {
            candidate = [entry];
        }
        else
        {
            // The previous step as it was before this event: one event that matches two rules fills one step.
            var previous = _changedBy[position - 1] == entry.Seq ? _before[position - 1] : _chains[position - 1];
            if (previous is null)
            {
                return;
            }

            var end = previous[^1];
            if (end.Ticks > entry.Ticks || end.Seq == entry.Seq || previous[0].Ticks < entry.Ticks - span)
            {
                return;
            }

            candidate = [.. previous, entry];
        }

        var current = _chains[position];
        if (current is null || candidate[0].Ticks > current[0].Ticks
            || (candidate[0].Ticks == current[0].Ticks && candidate[0].Seq >= current[0].Seq))
        {
            if (_changedBy[position] != entry.Seq)
            {
                _before[position] = current;
                _changedBy[position] = entry.Seq;
            }

            _chains[position] = candidate;
        }
    }

    public override void Expire(long limit)
    {
        for (var i = 0; i < _chains.Length; i++)
        {
            if (_chains[i] is { } chain && chain[0].Ticks < limit)
            {
                _chains[i] = null;
            }
        }
    }

    /// <summary>The number of rules of the longest live chain (the condition is met when it is all of them).</summary>
    public override long Count(long limit)
    {
        for (var i = _chains.Length - 1; i >= 0; i--)
        {
            if (_chains[i] is { } chain && chain[0].Ticks >= limit)
            {
                return i + 1;
            }
        }

        return 0;
    }

    public override (long[] Refs, long First, long Last) Describe(long limit, int max)
    {
        var chain = _chains[^1] ?? [];
        return (chain.TakeLast(max).Select(e => e.Ref).ToArray(), chain.Length == 0 ? 0 : chain[0].Ticks, chain.Length == 0 ? 0 : chain[^1].Ticks);
    }
}
