namespace TrainGuard.Detections.Correlation;

/// <summary>
/// The live state of one correlation: a sliding window per group key. An update adds one event (or one hit of a
/// referenced correlation) to its group, drops what fell out of the group's window (the timespan before the newest
/// timestamp the group has seen, bounds included) and judges the condition. State is bounded: a group keeps at most
/// the entries its condition needs, groups silent for two timespans are dropped, and beyond
/// <see cref="DetectionOptions.MaxGroupsPerCorrelation"/> the least recently seen groups are evicted and counted.
/// Everything depends only on the updates and their order, never on the wall clock. Groups are slots in arrays, not
/// objects: each key interned once (<see cref="GroupKeys"/>), the newest timestamp and condition state in arrays,
/// the window in the type's <see cref="GroupStore"/> (a million groups take well under 200 MB; see
/// DetectionCorrelationMemoryBenchmarks).
/// </summary>
internal sealed class CorrelationState
{
    private const int SweepEvery = 4096;

    private readonly CorrelationPlan _plan;
    private readonly int _maxGroups;
    private readonly GroupKeys _keys = new();
    private readonly GroupStore _store;
    private long[] _clocks = [];
    private bool[] _active = [];
    private long _clock = long.MinValue;
    private long _lastSweepClock = long.MinValue;
    private long _updatesSinceSweep;

    public CorrelationState(CorrelationPlan plan, int maxGroups)
    {
        _plan = plan;
        _maxGroups = Math.Max(1, maxGroups);
        _store = GroupStore.Create(plan);
    }

    public CorrelationPlan Plan => _plan;

    public int Groups => _keys.Count;

    /// <summary>Live groups dropped to stay within the group limit.</summary>
    public long Evictions { get; private set; }

    /// <summary>Groups dropped because their events all left the window.</summary>
    public long Expired { get; private set; }

    /// <summary>Events older than their group's window when they arrived (ignored).</summary>
    public long LateEvents { get; private set; }

    /// <summary>
    /// Adds one entry to the group <paramref name="key"/> at <paramref name="position"/> (the referenced rule's place
    /// in <c>rules</c>). Returns the group's slot when the condition holds after it, with <paramref name="onset"/> true
    /// when it did not hold before; -1 otherwise. The slot's key and description stay readable until the next update.
    /// </summary>
    public int Update(ReadOnlySpan<char> key, ReadOnlySpan<char> value, int position, WindowEntry entry, out bool onset)
    {
        onset = false;
        _clock = Math.Max(_clock, entry.Ticks);
        if (_lastSweepClock == long.MinValue)
        {
            _lastSweepClock = entry.Ticks;
        }

        var slot = _keys.Find(key);
        if (slot < 0)
        {
            if (_keys.Count >= _maxGroups)
            {
                MakeRoom();
            }

            slot = Create(key);
        }
        else if (entry.Ticks < _clocks[slot] - _plan.SpanTicks)
        {
            LateEvents++;
            return -1;
        }

        var clock = _clocks[slot] = Math.Max(_clocks[slot], entry.Ticks);
        var limit = clock - _plan.SpanTicks;
        _store.Add(slot, position, value, entry);
        _store.Expire(slot, limit);
        var satisfied = _plan.Condition.IsSatisfied(_store.Count(slot, limit));
        onset = satisfied && !_active[slot];
        _active[slot] = satisfied;
        MaybeSweep();
        return satisfied ? slot : -1;
    }

    /// <summary>The key of the group in <paramref name="slot"/> (as <see cref="Update"/> was given it).</summary>
    public ReadOnlySpan<char> Key(int slot) => _keys.Key(slot);

    /// <summary>The count, contributing events and first/last timestamps of a group that holds.</summary>
    public (long Count, long[] Refs, long First, long Last) Describe(int slot, int maxRefs)
    {
        var limit = _clocks[slot] - _plan.SpanTicks;
        var (refs, first, last) = _store.Describe(slot, limit, maxRefs);
        return (_store.Count(slot, limit), refs, first, last);
    }

    private int Create(ReadOnlySpan<char> key)
    {
        var slot = _keys.Add(key);
        if (_keys.Capacity > _clocks.Length)
        {
            Array.Resize(ref _clocks, _keys.Capacity);
            Array.Resize(ref _active, _keys.Capacity);
            _store.Grow(_keys.Capacity);
        }

        _clocks[slot] = long.MinValue;
        _active[slot] = false;
        _store.Reset(slot);
        return slot;
    }

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
        var expired = 0;
        for (var slot = 0; slot < _keys.HighWater; slot++)
        {
            if (_keys.IsLive(slot) && _clocks[slot] < horizon)
            {
                _keys.Remove(slot);
                expired++;
            }
        }

        Expired += expired;
    }

    /// <summary>At the group limit: drops expired groups, then the least recently seen eighth of the groups (ties by key).</summary>
    private void MakeRoom()
    {
        SweepExpired();
        if (_keys.Count < _maxGroups)
        {
            return;
        }

        var target = _maxGroups - Math.Max(1, _maxGroups / 8);
        var live = new List<int>(_keys.Count);
        for (var slot = 0; slot < _keys.HighWater; slot++)
        {
            if (_keys.IsLive(slot))
            {
                live.Add(slot);
            }
        }

        live.Sort((a, b) => _clocks[a] != _clocks[b] ? _clocks[a].CompareTo(_clocks[b]) : _keys.Key(a).SequenceCompareTo(_keys.Key(b)));
        var victims = live.Count - target;
        for (var i = 0; i < victims; i++)
        {
            _keys.Remove(live[i]);
        }

        Evictions += victims;
    }
}
