using System.Text;

namespace TrainGuard.Detections.Matching;

/// <summary>
/// The fields a compiled rule set reads, each with a slot number, and the trie of their dotted paths that
/// <see cref="EventView"/> walks while it reads an event: only these fields are copied out of the JSON.
/// </summary>
internal sealed class FieldTable
{
    private readonly Dictionary<string, int> _slots = new(StringComparer.Ordinal);
    private readonly List<string> _names = [];

    public FieldTable()
    {
        Timestamp = Slot("@timestamp");
        Action = Slot("event.action");
    }

    /// <summary>Slot of <c>@timestamp</c> (correlation windows).</summary>
    public int Timestamp { get; }

    /// <summary>Slot of <c>event.action</c> (the rule index).</summary>
    public int Action { get; }

    public int Count => _names.Count;

    public string Name(int slot) => _names[slot];

    /// <summary>The slot of <paramref name="field"/>, added when new.</summary>
    public int Slot(string field)
    {
        if (!_slots.TryGetValue(field, out var slot))
        {
            slot = _names.Count;
            _slots.Add(field, slot);
            _names.Add(field);
        }

        return slot;
    }

    /// <summary>The trie of every field path (built once the rule set is compiled).</summary>
    public FieldNode BuildTrie()
    {
        var root = new FieldNode([]);
        for (var slot = 0; slot < _names.Count; slot++)
        {
            var node = root;
            foreach (var segment in _names[slot].Split('.'))
            {
                node = node.GetOrAdd(Encoding.UTF8.GetBytes(segment));
            }

            node.Slot = slot;
        }

        root.Freeze();
        return root;
    }
}

/// <summary>
/// One segment of a field path: its UTF-8 name, the slot when a rule reads the path that ends here, and its children,
/// found by a small open-addressing table keyed on the name's first eight bytes and length (one or two probes, no
/// byte-by-byte comparison for names of up to eight bytes).
/// </summary>
internal sealed class FieldNode(byte[] name)
{
    private FieldNode[] _children = [];
    private FieldNode?[] _table = [];
    private int _shift;

    public byte[] Name { get; } = name;

    /// <summary>The first (up to) eight bytes of <see cref="Name"/>, little-endian.</summary>
    public ulong Key { get; } = Pack(name);

    /// <summary>The field's slot, or -1 when no rule reads the path that ends here.</summary>
    public int Slot { get; set; } = -1;

    public FieldNode GetOrAdd(byte[] segment)
    {
        foreach (var child in _children)
        {
            if (child.Name.AsSpan().SequenceEqual(segment))
            {
                return child;
            }
        }

        var added = new FieldNode(segment);
        _children = [.. _children, added];
        return added;
    }

    /// <summary>Builds the lookup tables of this node and every node below it (once the trie is complete).</summary>
    public void Freeze()
    {
        var size = 4;
        while (size < _children.Length * 4)
        {
            size *= 2;
        }

        _table = new FieldNode?[size];
        _shift = 64 - System.Numerics.BitOperations.Log2((uint)size);
        foreach (var child in _children)
        {
            var i = Bucket(child.Key, child.Name.Length);
            while (_table[i] is not null)
            {
                i = (i + 1) & (size - 1);
            }

            _table[i] = child;
            child.Freeze();
        }
    }

    /// <summary>
    /// The child for a JSON member name: an exact segment, or a flattened dotted name (<c>"user.audit.id"</c>) walked
    /// segment by segment, as ECS allows both.
    /// </summary>
    public FieldNode? Find(ReadOnlySpan<byte> name) => Find(name, Pack(name));

    /// <summary><see cref="Find(ReadOnlySpan{byte})"/> with the name's <see cref="Pack"/> already computed.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public FieldNode? Find(ReadOnlySpan<byte> name, ulong key)
    {
        var table = _table;
        if (table.Length != 0)
        {
            var mask = table.Length - 1;
            for (var i = Bucket(key, name.Length); ; i = (i + 1) & mask)
            {
                var candidate = table[i];
                if (candidate is null)
                {
                    break;
                }

                if (candidate.Key == key && candidate.Name.Length == name.Length && (name.Length <= 8 || name[8..].SequenceEqual(candidate.Name.AsSpan(8))))
                {
                    return candidate;
                }
            }
        }

        return name.IndexOf((byte)'.') < 0 ? null : FindDotted(name);
    }

    /// <summary>The first (up to) eight bytes of a name as a number (little-endian: the first byte is the lowest).</summary>
    public static ulong Pack(ReadOnlySpan<byte> name)
    {
        if (name.Length >= 8)
        {
            return System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(name);
        }

        ulong key = 0;
        for (var i = name.Length - 1; i >= 0; i--)
        {
            key = (key << 8) | name[i];
        }

        return key;
    }

    private int Bucket(ulong key, int length) => (int)(((key ^ (ulong)length) * 0x9E3779B97F4A7C15UL) >> _shift);

    private FieldNode? FindDotted(ReadOnlySpan<byte> name)
    {
        var node = this;
        while (true)
        {
            var dot = name.IndexOf((byte)'.');
            var segment = dot < 0 ? name : name[..dot];
            FieldNode? next = null;
            foreach (var child in node._children)
            {
                if (segment.SequenceEqual(child.Name))
                {
                    next = child;
                    break;
                }
            }

            if (next is null || dot < 0)
            {
                return next;
            }

            node = next;
            name = name[(dot + 1)..];
        }
    }
}
