using System.Runtime.InteropServices;

namespace TrainGuard.Detections.Correlation;

/// <summary>One event of a window: its timestamp, the caller's reference and the engine's sequence number.</summary>
internal readonly record struct WindowEntry(long Ticks, long Ref, long Seq)
{
    /// <summary>No event (a temporal rule not seen in the window).</summary>
    public static WindowEntry None { get; } = new(long.MinValue, 0, -1);
}

/// <summary>One event of a count window: its timestamp and the caller's reference.</summary>
internal readonly record struct TimedRef(long Ticks, long Ref);

/// <summary>
/// The per-group state of one correlation type, held for every group in arrays indexed by the group's slot
/// (<see cref="GroupKeys"/>), with no object per group: what the window of a group holds, how it expires, the count
/// its condition is judged on, and what a hit reports. A slot is reset when a group is created in it.
/// </summary>
internal abstract class GroupStore
{
    /// <summary>Makes room for slots below <paramref name="capacity"/>.</summary>
    public abstract void Grow(int capacity);

    /// <summary>Empties a slot for a new group.</summary>
    public abstract void Reset(int slot);

    /// <summary>Adds one entry (a match of the referenced rule at <paramref name="position"/>) to the group.</summary>
    public abstract void Add(int slot, int position, ReadOnlySpan<char> value, WindowEntry entry);

    /// <summary>Drops what is older than <paramref name="limit"/>.</summary>
    public abstract void Expire(int slot, long limit);

    /// <summary>The count the condition is judged on.</summary>
    public abstract long Count(int slot, long limit);

    /// <summary>The contributing events (newest last, at most <paramref name="max"/>) and the oldest and newest timestamps.</summary>
    public abstract (long[] Refs, long First, long Last) Describe(int slot, long limit, int max);

    public static GroupStore Create(CorrelationPlan plan) => plan.Type switch
    {
        CorrelationType.EventCount => new CountStore(plan.Capacity),
        CorrelationType.ValueCount => new ValueStore(plan.Capacity),
        CorrelationType.Temporal => new TemporalStore(plan.Sources.Length),
        _ => new OrderedStore(plan.Sources.Length, plan.SpanTicks),
    };
}

/// <summary>
/// <c>event_count</c>: the group's events in time order, at most the condition's capacity (the oldest go first). The
/// first event is held inline, so the common group of one event costs no array.
/// </summary>
internal sealed class CountStore(long capacity) : GroupStore
{
    private Slot[] _slots = [];

    public override void Grow(int capacity) => Array.Resize(ref _slots, capacity);

    public override void Reset(int slot) => _slots[slot] = default;

    public override void Add(int slot, int position, ReadOnlySpan<char> value, WindowEntry entry)
    {
        ref var s = ref _slots[slot];
        var timed = new TimedRef(entry.Ticks, entry.Ref);
        if (s.Entries is null)
        {
            if (s.Count == 0)
            {
                s.One = timed;
                s.Count = 1;
                return;
            }

            s.Entries = new TimedRef[(int)Math.Min(4, capacity + 1)];
            s.Entries[0] = s.One;
        }

        if (s.Start + s.Count == s.Entries.Length)
        {
            if (s.Start > 0)
            {
                Array.Copy(s.Entries, s.Start, s.Entries, 0, s.Count);
                s.Start = 0;
            }
            else
            {
                Array.Resize(ref s.Entries, (int)Math.Min(s.Entries.Length * 2L, capacity + 1));
            }
        }

        // Keep time order: a slightly late event goes before newer ones.
        var at = s.Start + s.Count;
        while (at > s.Start && s.Entries[at - 1].Ticks > timed.Ticks)
        {
            s.Entries[at] = s.Entries[at - 1];
            at--;
        }

        s.Entries[at] = timed;
        s.Count++;
        while (s.Count > capacity)
        {
            s.Start++;
            s.Count--;
        }
    }

    public override void Expire(int slot, long limit)
    {
        ref var s = ref _slots[slot];
        if (s.Entries is null)
        {
            if (s.Count == 1 && s.One.Ticks < limit)
            {
                s.Count = 0;
            }

            return;
        }

        while (s.Count > 0 && s.Entries[s.Start].Ticks < limit)
        {
            s.Start++;
            s.Count--;
        }

        if (s.Count == 0)
        {
            s.Start = 0;
        }
    }

    public override long Count(int slot, long limit) => _slots[slot].Count;

    public override (long[] Refs, long First, long Last) Describe(int slot, long limit, int max)
    {
        ref var s = ref _slots[slot];
        if (s.Count == 0)
        {
            return ([], 0, 0);
        }

        if (s.Entries is null)
        {
            return ([s.One.Ref], s.One.Ticks, s.One.Ticks);
        }

        var take = Math.Min(s.Count, max);
        var refs = new long[take];
        for (var i = 0; i < take; i++)
        {
            refs[i] = s.Entries[s.Start + s.Count - take + i].Ref;
        }

        return (refs, s.Entries[s.Start].Ticks, s.Entries[s.Start + s.Count - 1].Ticks);
    }

    private struct Slot
    {
        public TimedRef One;
        public TimedRef[]? Entries;
        public int Start;
        public int Count;
    }
}

/// <summary>
/// <c>value_count</c>: the newest event of each distinct value, at most the condition's capacity values (the value
/// seen longest ago goes first). Values are kept as keyed 64-bit hashes (<see cref="ValueHash"/>), not as text: two
/// different values are told apart unless their hashes collide, which a random key per engine makes a 2^-64 chance
/// per pair that no event stream can steer. The first value is held inline.
/// </summary>
internal sealed class ValueStore(long capacity) : GroupStore
{
    private readonly ValueHash _hash = ValueHash.Random();
    private Slot[] _slots = [];

    public override void Grow(int capacity) => Array.Resize(ref _slots, capacity);

    public override void Reset(int slot) => _slots[slot] = default;

    public override void Add(int slot, int position, ReadOnlySpan<char> value, WindowEntry entry)
    {
        ref var s = ref _slots[slot];
        var hash = _hash.Of(value);
        var hashes = Hashes(ref s);
        var at = hashes.IndexOf(hash);
        if (at >= 0)
        {
            ref var existing = ref Entries(ref s)[at];
            if (entry.Ticks >= existing.Ticks)
            {
                existing = entry;
            }

            return;
        }

        if (s.Count == 0 && s.Hashes is null)
        {
            s.Hash = hash;
            s.Entry = entry;
            s.Count = 1;
            return;
        }

        if (s.Hashes is null)
        {
            var size = (int)Math.Min(4, capacity + 1);
            s.Hashes = new ulong[size];
            s.Entries = new WindowEntry[size];
            s.Hashes[0] = s.Hash;
            s.Entries![0] = s.Entry;
        }
        else if (s.Count == s.Hashes.Length)
        {
            var size = (int)Math.Min(s.Hashes.Length * 2L, capacity + 1);
            Array.Resize(ref s.Hashes, size);
            Array.Resize(ref s.Entries, size);
        }

        s.Hashes[s.Count] = hash;
        s.Entries![s.Count] = entry;
        s.Count++;
        if (s.Count > capacity)
        {
            // The value seen longest ago (the first in insertion order among equal timestamps).
            var entries = Entries(ref s);
            var oldest = 0;
            for (var i = 1; i < entries.Length; i++)
            {
                if (entries[i].Ticks < entries[oldest].Ticks)
                {
                    oldest = i;
                }
            }

            RemoveAt(ref s, oldest);
        }
    }

    public override void Expire(int slot, long limit)
    {
        ref var s = ref _slots[slot];
        var hashes = Hashes(ref s);
        var entries = Entries(ref s);
        var kept = 0;
        for (var i = 0; i < entries.Length; i++)
        {
            if (entries[i].Ticks >= limit)
            {
                hashes[kept] = hashes[i];
                entries[kept] = entries[i];
                kept++;
            }
        }

        s.Count = kept;
    }

    public override long Count(int slot, long limit) => _slots[slot].Count;

    public override (long[] Refs, long First, long Last) Describe(int slot, long limit, int max)
    {
        var ordered = Entries(ref _slots[slot]).ToArray();
        Array.Sort(ordered, static (a, b) => a.Ticks != b.Ticks ? a.Ticks.CompareTo(b.Ticks) : a.Seq.CompareTo(b.Seq));
        var refs = ordered.Skip(Math.Max(0, ordered.Length - max)).Select(e => e.Ref).ToArray();
        return (refs, ordered.Length == 0 ? 0 : ordered[0].Ticks, ordered.Length == 0 ? 0 : ordered[^1].Ticks);
    }

    private static Span<ulong> Hashes(ref Slot s) =>
        s.Hashes is { } hashes ? hashes.AsSpan(0, s.Count) : MemoryMarshal.CreateSpan(ref s.Hash, s.Count);

    private static Span<WindowEntry> Entries(ref Slot s) =>
        s.Entries is { } entries ? entries.AsSpan(0, s.Count) : MemoryMarshal.CreateSpan(ref s.Entry, s.Count);

    private static void RemoveAt(ref Slot s, int index)
    {
        var count = s.Count;
        Array.Copy(s.Hashes!, index + 1, s.Hashes!, index, count - index - 1);
        Array.Copy(s.Entries!, index + 1, s.Entries!, index, count - index - 1);
        s.Count--;
    }

    private struct Slot
    {
        public ulong Hash;
        public WindowEntry Entry;
        public ulong[]? Hashes;
        public WindowEntry[]? Entries;
        public int Count;
    }
}

/// <summary><c>temporal</c>: the newest event of each referenced rule, for every group in one flat array.</summary>
internal sealed class TemporalStore(int rules) : GroupStore
{
    private WindowEntry[] _latest = [];

    public override void Grow(int capacity) => Array.Resize(ref _latest, checked(capacity * rules));

    public override void Reset(int slot) => Latest(slot).Fill(WindowEntry.None);

    public override void Add(int slot, int position, ReadOnlySpan<char> value, WindowEntry entry)
    {
        ref var latest = ref _latest[(slot * rules) + position];
        if (entry.Ticks >= latest.Ticks)
        {
            latest = entry;
        }
    }

    public override void Expire(int slot, long limit)
    {
        foreach (ref var latest in Latest(slot))
        {
            if (latest.Seq >= 0 && latest.Ticks < limit)
            {
                latest = WindowEntry.None;
            }
        }
    }

    public override long Count(int slot, long limit)
    {
        var count = 0;
        foreach (var latest in Latest(slot))
        {
            if (latest.Seq >= 0 && latest.Ticks >= limit)
            {
                count++;
            }
        }

        return count;
    }

    public override (long[] Refs, long First, long Last) Describe(int slot, long limit, int max)
    {
        var present = Latest(slot).ToArray().Where(e => e.Seq >= 0 && e.Ticks >= limit).OrderBy(e => e.Ticks).ThenBy(e => e.Seq).ToArray();
        return (present.TakeLast(max).Select(e => e.Ref).ToArray(), present.Length == 0 ? 0 : present[0].Ticks, present.Length == 0 ? 0 : present[^1].Ticks);
    }

    private Span<WindowEntry> Latest(int slot) => _latest.AsSpan(slot * rules, rules);
}

/// <summary>
/// <c>temporal_ordered</c>: for each step k, the chain through rules 1..k that started last (so it stays in the window
/// longest). An event of rule k extends the chain of step k-1 only when that chain ended no later than the event (by
/// timestamp, ties by arrival) and with another event; order is checked at every step, not only the first.
/// </summary>
internal sealed class OrderedStore(int rules, long span) : GroupStore
{
    private Chains?[] _groups = [];

    public override void Grow(int capacity) => Array.Resize(ref _groups, capacity);

    public override void Reset(int slot) => _groups[slot] = null;

    public override void Add(int slot, int position, ReadOnlySpan<char> value, WindowEntry entry)
    {
        var group = _groups[slot] ??= new Chains(rules);
        WindowEntry[] candidate;
        if (position == 0)
        {
            candidate = [entry];
        }
        else
        {
            // The previous step as it was before this event: one event that matches two rules fills one step.
            var previous = group.ChangedBy[position - 1] == entry.Seq ? group.Before[position - 1] : group.Current[position - 1];
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

        var current = group.Current[position];
        if (current is null || candidate[0].Ticks > current[0].Ticks
            || (candidate[0].Ticks == current[0].Ticks && candidate[0].Seq >= current[0].Seq))
        {
            if (group.ChangedBy[position] != entry.Seq)
            {
                group.Before[position] = current;
                group.ChangedBy[position] = entry.Seq;
            }

            group.Current[position] = candidate;
        }
    }

    public override void Expire(int slot, long limit)
    {
        if (_groups[slot] is not { } group)
        {
            return;
        }

        for (var i = 0; i < group.Current.Length; i++)
        {
            if (group.Current[i] is { } chain && chain[0].Ticks < limit)
            {
                group.Current[i] = null;
            }
        }
    }

    /// <summary>The number of rules of the longest live chain (the condition is met when it is all of them).</summary>
    public override long Count(int slot, long limit)
    {
        if (_groups[slot] is not { } group)
        {
            return 0;
        }

        for (var i = group.Current.Length - 1; i >= 0; i--)
        {
            if (group.Current[i] is { } chain && chain[0].Ticks >= limit)
            {
                return i + 1;
            }
        }

        return 0;
    }

    public override (long[] Refs, long First, long Last) Describe(int slot, long limit, int max)
    {
        var chain = _groups[slot]?.Current[^1] ?? [];
        return (chain.TakeLast(max).Select(e => e.Ref).ToArray(), chain.Length == 0 ? 0 : chain[0].Ticks, chain.Length == 0 ? 0 : chain[^1].Ticks);
    }

    private sealed class Chains
    {
        public Chains(int rules)
        {
            Current = new WindowEntry[]?[rules];
            Before = new WindowEntry[]?[rules];
            ChangedBy = new long[rules];
            Array.Fill(ChangedBy, -1L);
        }

        public WindowEntry[]?[] Current { get; }

        public WindowEntry[]?[] Before { get; }

        public long[] ChangedBy { get; }
    }
}
