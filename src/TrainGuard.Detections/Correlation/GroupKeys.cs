namespace TrainGuard.Detections.Correlation;

/// <summary>
/// The group keys of one correlation, each interned once: a key's characters live in one shared character arena and
/// the key is found by an open-addressing table of slot numbers (linear probing, backward-shift deletion), so a group
/// costs its characters and a few integers rather than a string and a dictionary entry. A slot is the group's index
/// into the per-group arrays of <see cref="CorrelationState"/> and its store; removed slots are reused. The arena is
/// compacted when removed keys take more of it than live ones.
/// </summary>
internal sealed class GroupKeys
{
    private const int MinimumArena = 1024;

    private int[] _table = new int[16];
    private int[] _hashes = new int[16];
    private int[] _starts = new int[16];
    private int[] _lengths = new int[16];
    private bool[] _live = new bool[16];
    private int[] _free = new int[16];
    private char[] _arena = new char[MinimumArena];
    private int _arenaUsed;
    private int _arenaGarbage;
    private int _freeCount;
    private int _slots;

    /// <summary>Live keys.</summary>
    public int Count { get; private set; }

    /// <summary>Slots ever handed out (live or free): the per-slot arrays must hold at least this many.</summary>
    public int Capacity => _hashes.Length;

    /// <summary>Slots handed out so far (the live ones are among them): iterate <c>0..HighWater</c> with <see cref="IsLive"/>.</summary>
    public int HighWater => _slots;

    public bool IsLive(int slot) => _live[slot];

    /// <summary>The key of a slot (also of a slot removed since, until it is reused).</summary>
    public ReadOnlySpan<char> Key(int slot) => _arena.AsSpan(_starts[slot], _lengths[slot]);

    /// <summary>The slot of <paramref name="key"/>, or -1.</summary>
    public int Find(ReadOnlySpan<char> key)
    {
        var hash = string.GetHashCode(key, StringComparison.Ordinal);
        var mask = _table.Length - 1;
        for (var i = hash & mask; ; i = (i + 1) & mask)
        {
            var entry = _table[i] - 1;
            if (entry < 0)
            {
                return -1;
            }

            if (_hashes[entry] == hash && key.SequenceEqual(Key(entry)))
            {
                return entry;
            }
        }
    }

    /// <summary>Adds a key that is not present; returns its slot (a free one reused, else a new one; the arrays may grow).</summary>
    public int Add(ReadOnlySpan<char> key)
    {
        int slot;
        if (_freeCount > 0)
        {
            slot = _free[--_freeCount];
        }
        else
        {
            if (_slots == _hashes.Length)
            {
                var size = _hashes.Length * 2;
                Array.Resize(ref _hashes, size);
                Array.Resize(ref _starts, size);
                Array.Resize(ref _lengths, size);
                Array.Resize(ref _live, size);
            }

            slot = _slots++;
        }

        if ((Count + 1) * 4L > _table.Length * 3L)
        {
            Rehash(_table.Length * 2);
        }

        if (_arenaUsed + key.Length > _arena.Length)
        {
            MakeArenaRoom(key.Length);
        }

        key.CopyTo(_arena.AsSpan(_arenaUsed));
        _starts[slot] = _arenaUsed;
        _lengths[slot] = key.Length;
        _arenaUsed += key.Length;
        _hashes[slot] = string.GetHashCode(key, StringComparison.Ordinal);
        _live[slot] = true;
        Insert(slot);
        Count++;
        return slot;
    }

    /// <summary>Removes a live slot's key; the slot is reused by a later <see cref="Add"/>.</summary>
    public void Remove(int slot)
    {
        var mask = _table.Length - 1;
        var i = _hashes[slot] & mask;
        while (_table[i] - 1 != slot)
        {
            i = (i + 1) & mask;
        }

        // Backward-shift deletion: move later entries of the probe run into the hole, so lookups need no tombstones.
        var hole = i;
        for (var j = (hole + 1) & mask; _table[j] != 0; j = (j + 1) & mask)
        {
            var home = _hashes[_table[j] - 1] & mask;
            if (((j - home) & mask) >= ((j - hole) & mask))
            {
                _table[hole] = _table[j];
                hole = j;
            }
        }

        _table[hole] = 0;
        _live[slot] = false;
        _arenaGarbage += _lengths[slot];
        if (_freeCount == _free.Length)
        {
            Array.Resize(ref _free, _free.Length * 2);
        }

        _free[_freeCount++] = slot;
        Count--;
    }

    private void Insert(int slot)
    {
        var mask = _table.Length - 1;
        var i = _hashes[slot] & mask;
        while (_table[i] != 0)
        {
            i = (i + 1) & mask;
        }

        _table[i] = slot + 1;
    }

    private void Rehash(int size)
    {
        _table = new int[size];
        for (var slot = 0; slot < _slots; slot++)
        {
            if (_live[slot])
            {
                Insert(slot);
            }
        }
    }

    /// <summary>Compacts the arena when removed keys take half of it or more, else grows it by half.</summary>
    private void MakeArenaRoom(int needed)
    {
        var live = _arenaUsed - _arenaGarbage;
        var size = _arena.Length;
        if (_arenaGarbage < live || live + needed > size)
        {
            size = (int)Math.Min(Array.MaxLength, Math.Max(MinimumArena, (live + needed) * 3L / 2));
        }

        var arena = new char[size];
        var used = 0;
        for (var slot = 0; slot < _slots; slot++)
        {
            if (_live[slot])
            {
                Key(slot).CopyTo(arena.AsSpan(used));
                _starts[slot] = used;
                used += _lengths[slot];
            }
            else
            {
                _lengths[slot] = 0;
                _starts[slot] = 0;
            }
        }

        _arena = arena;
        _arenaUsed = used;
        _arenaGarbage = 0;
    }
}
