namespace TrainGuard.Detections.Correlation;

/// <summary>
/// The live state of one correlation: a sliding window per group key. An update adds one event (or one hit of a
/// referenced correlation) to its group, drops what fell out of the group's window (the timespan before the newest
/// timestamp the group has seen, bounds included) and judges the condition. State is bounded: a group keeps at most
/// the entries its condition needs, groups silent for two timespans are dropped, and beyond
/// <see cref="DetectionOptions.MaxGroupsPerCorrelation"/> the least recently seen groups are evicted and counted.
/// Everything depends only on the updates and their order, never on the wall clock.
/// </summary>
internal sealed class CorrelationState
{
    private const int SweepEvery = 4096;

    private readonly CorrelationPlan _plan;
    private readonly int _maxGroups;
    private readonly Dictionary<string, Group> _groups = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Group>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private long _clock = long.MinValue;
    private long _lastSweepClock = long.MinValue;
    private long _updatesSinceSweep;

    public CorrelationState(CorrelationPlan plan, int maxGroups)
    {
        _plan = plan;
        _maxGroups = Math.Max(1, maxGroups);
        _lookup = _groups.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public CorrelationPlan Plan => _plan;

    public int Groups => _groups.Count;

    /// <summary>Live groups dropped to stay within the group limit.</summary>
    public long Evictions { get; private set; }

    /// <summary>Groups dropped because their events all left the window.</summary>
    public long Expired { get; private set; }

    /// <summary>Events older than their group's window when they arrived (ignored).</summary>
    public long LateEvents { get; private set; }

    /// <summary>
    /// Adds one entry to the group <paramref name="key"/> at <paramref name="position"/> (the referenced rule's place
    /// in <c>rules</c>). Returns the group when the condition holds after it, with <paramref name="onset"/> true when it
    /// did not hold before; null otherwise.
    /// </summary>
    public Group? Update(ReadOnlySpan<char> key, ReadOnlySpan<char> value, int position, WindowEntry entry, out bool onset)
    {
        onset = false;
        _clock = Math.Max(_clock, entry.Ticks);
        if (_lastSweepClock == long.MinValue)
        {
            _lastSweepClock = entry.Ticks;
        }

        if (!_lookup.TryGetValue(key, out var group))
        {
            if (_groups.Count >= _maxGroups)
            {
                MakeRoom();
            }

            group = Create(key.ToString());
            _groups.Add(group.Key, group);
        }
        else if (entry.Ticks < group.Clock - _plan.SpanTicks)
        {
            LateEvents++;
            return null;
        }

        group.Clock = Math.Max(group.Clock, entry.Ticks);
        var limit = group.Clock - _plan.SpanTicks;
        switch (group)
        {
            case CountGroup count:
                count.Add(new TimedRef(entry.Ticks, entry.Ref), _plan.Capacity);
                break;
            case ValueGroup values:
                values.Add(value, entry, _plan.Capacity);
                break;
            case TemporalGroup temporal:
                temporal.Add(position, entry);
                break;
            case OrderedGroup ordered:
                ordered.Add(position, entry, _plan.SpanTicks);
                break;
        }

        group.Expire(limit);
        var satisfied = _plan.Condition.IsSatisfied(group.Count(limit));
        onset = satisfied && !group.Active;
        group.Active = satisfied;
        MaybeSweep();
        return satisfied ? group : null;
    }

    /// <summary>The count, contributing events and first/last timestamps of a group that holds.</summary>
    public (long Count, long[] Refs, long First, long Last) Describe(Group group, int maxRefs)
    {
        var limit = group.Clock - _plan.SpanTicks;
        var (refs, first, last) = group.Describe(limit, maxRefs);
        return (group.Count(limit), refs, first, last);
    }

    private Group Create(string key) => _plan.Type switch
    {
        CorrelationType.EventCount => new CountGroup(key),
        CorrelationType.ValueCount => new ValueGroup(key),
        CorrelationType.Temporal => new TemporalGroup(key, _plan.Sources.Length),
        _ => new OrderedGroup(key, _plan.Sources.Length),
    };

    private void MaybeSweep()
    {
        if (++_updatesSinceSweep < SweepEvery || _clock - _lastSweepClock < _plan.SpanTicks)
        {
            return;
        }

        SweepExpired();
    }

    /// <summary>Drops groups whose newest event is more than two timespans older than the newest event seen.</summary>
    private void SweepExpired()
    {
        _updatesSinceSweep = 0;
        _lastSweepClock = _clock;
        var horizon = _clock - (2 * _plan.SpanTicks);
        List<string>? dead = null;
        foreach (var (key, group) in _groups)
        {
            if (group.Clock < horizon)
            {
                (dead ??= []).Add(key);
            }
        }

        if (dead is null)
        {
            return;
        }

        foreach (var key in dead)
        {
            _groups.Remove(key);
        }

        Expired += dead.Count;
    }

    /// <summary>At the group limit: drops expired groups, then the least recently seen eighth of the groups (ties by key).</summary>
    private void MakeRoom()
    {
        SweepExpired();
        if (_groups.Count < _maxGroups)
        {
            return;
        }

        var target = _maxGroups - Math.Max(1, _maxGroups / 8);
        var victims = _groups.Values
            .OrderBy(g => g.Clock)
            .ThenBy(g => g.Key, StringComparer.Ordinal)
            .Take(_groups.Count - target)
            .Select(g => g.Key)
            .ToList();
        foreach (var key in victims)
        {
            _groups.Remove(key);
        }

        Evictions += victims.Count;
    }
}
