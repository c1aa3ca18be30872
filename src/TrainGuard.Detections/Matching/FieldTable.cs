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

        return root;
    }
}

/// <summary>One segment of a field path: its UTF-8 name, the slot when a rule reads the path that ends here, and its children.</summary>
internal sealed class FieldNode(byte[] name)
{
    private FieldNode[] _children = [];

    public byte[] Name { get; } = name;

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

    /// <summary>
    /// The child for a JSON member name: an exact segment, or a flattened dotted name (<c>"user.audit.id"</c>) walked
    /// segment by segment, as ECS allows both.
    /// </summary>
    public FieldNode? Find(ReadOnlySpan<byte> name)
    {
        var children = _children;
        for (var i = 0; i < children.Length; i++)
        {
            var candidate = children[i].Name;
            if (candidate.Length == name.Length && name.SequenceEqual(candidate))
            {
                return children[i];
            }
        }

        return name.IndexOf((byte)'.') < 0 ? null : FindDotted(name);
    }

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
