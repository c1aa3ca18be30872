using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TrainGuard.Parsing;

namespace TrainGuard.Pickle.Machine;

/// <summary>
/// The containers of one analysis (8 bytes each), with memory bounded whatever the pickle builds:
/// <list type="bullet">
/// <item>a container keeps its first child inline and up to <see cref="BlockChildren"/> more in a block of a
/// recycled ring, so only the most recent containers keep all their children; a tuple of 2 or 3 (the pairs and
/// triples data pickles are full of) keeps its other children in a slot of its own beside the window instead,
/// until it leaves the window;</item>
/// <item>only the last <see cref="WindowNodes"/> containers are kept at all; an older one is forgotten unless it
/// holds an import or call (then it survives, with its first child, count and imports and calls), so a
/// 50 MB pickle of millions of plain dicts costs a few MB here. A forgotten container renders as
/// <c>[…]</c> and has unknown children: nothing it held was an import or a call, so nothing a policy judges is lost.</item>
/// </list>
/// Imports, calls and persistent loads are not stored here: their values carry the index of their record.
/// </summary>
internal sealed class ObjectStore
{
    public const int InlineChildren = 1;
    public const int BlockChildren = 15;
    public const int MaxKept = InlineChildren + BlockChildren;
    public const int RingBlocks = 1 << 14;
    public const int MaxExtras = 256;

    /// <summary>Children a small tuple keeps beside the window, after its inline first child.</summary>
    public const int SmallChildren = 2;

    /// <summary>Containers kept whatever they hold (a power of two): the most recent ones.</summary>
    public const int WindowNodes = 1 << 18;

    /// <summary>What an evicted container that held nothing interesting looks like: children unknown.</summary>
    private const uint ForgottenMeta = Node.FlagTruncated | (Node.MaxCount << Node.HighShift);

    private readonly int _maxObjects;
    private Node[] _window = new Node[64];

    // Children 2 and 3 of a small tuple, SmallChildren per window slot. A container keeps them here when it has
    // more than InlineChildren kept children and no block (FlagBlock unset): nothing else is in that state.
    // Allocated with the first small tuple, as long as the window.
    private ulong[]? _small;
    private int _count = 1; // node 0: the shared empty tuple
    private Dictionary<int, Node>? _survivors;
    private Node _scratch;
    private ulong[]? _ring;
    private int[]? _ringOwner;
    private uint[]? _ringCount;
    private bool[]? _ringInteresting;
    private int _ringNext;
    private Dictionary<int, List<ulong>>? _extras;
    private Dictionary<int, ulong>? _wideC0;

    public ObjectStore(int maxObjects) => _maxObjects = maxObjects;

    /// <summary>Containers created so far.</summary>
    public int Count => _count;

    /// <summary>A new, empty container.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int NewNode(int offset)
    {
        var id = _count;
        if (id >= _maxObjects)
        {
            MalformedInputException.ThrowLimit("number of containers", _maxObjects, offset);
        }

        if (id >= _window.Length && (_window.Length < WindowNodes || MustEvict(_window[id & (_window.Length - 1)])))
        {
            MakeRoom(id);
        }

        _window[id & (_window.Length - 1)] = default;
        _count = id + 1;
        return id;
    }

    /// <summary>
    /// Whether the container leaving the window (the one whose slot a new container takes) needs
    /// <see cref="MakeRoom"/>: it owns a block, is kept as a survivor, or has a wide first child in the side table.
    /// The usual plain container (a plain small tuple too: its slot beside the window is simply reused) is overwritten.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool MustEvict(in Node n) => (n.Meta & (Node.FlagBlock | Node.FlagInteresting)) != 0 || n.C0 == Packed.Wide;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool InWindow(int id) => (uint)(_count - 1 - id) < (uint)_window.Length && id != 0;

    /// <summary>The node of a container: in the window, a survivor, or a scratch copy for the empty tuple and forgotten ones.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref Node At(int id)
    {
        if (InWindow(id))
        {
            return ref _window[id & (_window.Length - 1)];
        }

        return ref Evicted(id);
    }

    private ref Node Evicted(int id)
    {
        if (id != 0 && _survivors is not null)
        {
            ref var survivor = ref CollectionsMarshal.GetValueRefOrNullRef(_survivors, id);
            if (!Unsafe.IsNullRef(ref survivor))
            {
                return ref survivor;
            }
        }

        _scratch = new Node { Meta = id == 0 ? 0 : ForgottenMeta };
        return ref _scratch;
    }

    /// <summary>Grows the window while it is small; once full, evicts the oldest container to reuse its slot.</summary>
    /// <remarks>
    /// Called for many new containers once the window is full (see <see cref="MustEvict"/>), like <see cref="Evict"/> for
    /// every reused block: both are compiled optimized on first use rather than running their ReadyToRun code until
    /// tiering promotes them.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void MakeRoom(int id)
    {
        if (_window.Length < WindowNodes)
        {
            Array.Resize(ref _window, _window.Length * 2);
            if (_small is not null)
            {
                Array.Resize(ref _small, _window.Length * SmallChildren);
            }

            return;
        }

        var old = id - _window.Length;
        if (old == 0)
        {
            return;
        }

        ref var n = ref _window[old & (_window.Length - 1)];
        if ((n.Meta & Node.FlagBlock) != 0)
        {
            var block = (int)(n.Meta >> Node.HighShift);
            Evict(old, block);
            _ringOwner![block] = 0;
        }
        else if (n.Kept > InlineChildren)
        {
            EvictSmall(old);
        }

        if (n.Interesting)
        {
            (_survivors ??= [])[old] = n;
        }
        else if (n.C0 == Packed.Wide)
        {
            _wideC0!.Remove(old);
        }
    }

    /// <summary>
    /// A new tuple of 2 or 3 children: the first inline, the others in the tuple's slot beside the window, so
    /// the pairs and triples of a data pickle do not each take (and recycle) a block of the ring.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int NewSmallTuple(ReadOnlySpan<ulong> children, int offset)
    {
        Debug.Assert(children.Length is > InlineChildren and <= InlineChildren + SmallChildren, "a small tuple has 2 or 3 children");
        var id = NewNode(offset);
        var slot = id & (_window.Length - 1);
        var meta = ((uint)children.Length << Node.HighShift) | (uint)children.Length;
        foreach (var v in children)
        {
            if (IsInterestingChild(v))
            {
                meta |= Node.FlagInteresting;
            }
        }

        ref var n = ref _window[slot];
        SetC0(ref n, id, children[0]);
        var small = (_small ??= new ulong[_window.Length * SmallChildren]).AsSpan(slot * SmallChildren, SmallChildren);
        small[0] = children[1];
        small[1] = children.Length > 2 ? children[2] : 0;
        n.Meta = meta;
        return id;
    }

    /// <summary>A small tuple leaving the window keeps its inline child, its count and its imports/calls.</summary>
    private void EvictSmall(int id)
    {
        var slot = id & (_window.Length - 1);
        ref var n = ref _window[slot];
        if (n.Interesting)
        {
            for (var i = InlineChildren; i < n.Kept; i++)
            {
                var v = _small![(slot * SmallChildren) + i - InlineChildren];
                if (IsInteresting(v))
                {
                    AddExtra(id, v);
                }
            }
        }

        n.Meta = (n.Meta & ~Node.KeptMask) | Node.FlagTruncated | InlineChildren;
    }

    /// <summary>How many children a container was given (saturating at <see cref="Node.MaxCount"/>; that too when forgotten).</summary>
    public int ChildCount(int id)
    {
        var meta = At(id).Meta;
        return (int)((meta & Node.FlagBlock) != 0 ? _ringCount![meta >> Node.HighShift] : meta >> Node.HighShift);
    }

    /// <summary>Children kept for rendering (the first ones, in order).</summary>
    public int Kept(int id) => At(id).Kept;

    /// <summary><see cref="IsInteresting"/> with the test that rules out every scalar first.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool IsInterestingChild(ulong v) => V.Kind(v) >= ValKind.Tuple && IsInteresting(v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsInteresting(ulong v)
    {
        var kind = V.Kind(v);
        return V.IsObject(kind) || (V.IsContainer(kind) && At(V.Node(v)).Interesting);
    }

    /// <summary>
    /// Appends children: kept for rendering while there is room (the first inline, the next ones in a ring block),
    /// then only counted, except imports and calls (and containers holding them), which are always remembered.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void AddChildren(int id, ReadOnlySpan<ulong> children)
    {
        if (!InWindow(id))
        {
            AddToEvicted(id, children);
            return;
        }

        ref var n = ref _window[id & (_window.Length - 1)];
        Debug.Assert(n.Kept <= InlineChildren || (n.Meta & Node.FlagBlock) != 0, "a small tuple is never added to");
        AddCount(ref n, children.Length);
        var meta = n.Meta;
        var i = 0;
        if ((meta & Node.FlagTruncated) == 0)
        {
            var kept = (int)(meta & Node.KeptMask);
            var take = Math.Min(children.Length, MaxKept - kept);
            if (take > 0 && kept == 0)
            {
                var first = children[0];
                if (IsInterestingChild(first))
                {
                    meta |= Node.FlagInteresting;
                }

                SetC0(ref n, id, first);
                kept = InlineChildren;
                i = 1;
            }

            if (i < take)
            {
                if (kept == InlineChildren)
                {
                    // The second child: take the oldest block of the ring (its owner keeps its first child,
                    // its count and its imports and calls). The count moves to the block while it is ours.
                    var block = AllocateBlock();
                    _ringCount![block] = meta >> Node.HighShift;
                    _ringOwner![block] = id + 1;
                    _ringInteresting![block] = false;
                    meta = (meta & Node.LowMask) | Node.FlagBlock | ((uint)block << Node.HighShift);
                }

                // The rest of what is kept goes to the block in one copy; then only the flags need a look at each.
                var b = (int)(meta >> Node.HighShift);
                var batch = children[i..take];
                batch.CopyTo(_ring!.AsSpan((b * BlockChildren) + kept - InlineChildren, batch.Length));
                foreach (var v in batch)
                {
                    if (IsInterestingChild(v))
                    {
                        meta |= Node.FlagInteresting;
                        _ringInteresting![b] = true;
                    }
                }

                kept += batch.Length;
                i = take;
            }

            meta = (meta & ~Node.KeptMask) | (uint)kept;
        }

        if (i == children.Length)
        {
            n.Meta = meta;
            return;
        }

        // Nothing more is kept: remember only imports and calls.
        n.Meta = meta | Node.FlagTruncated;
        for (; i < children.Length; i++)
        {
            var v = children[i];
            if (IsInterestingChild(v))
            {
                _window[id & (_window.Length - 1)].Meta |= Node.FlagInteresting;
                AddExtra(id, v);
            }
        }
    }

    /// <summary>Children added to a container that left the window: counted, and its imports and calls remembered.</summary>
    private void AddToEvicted(int id, ReadOnlySpan<ulong> children)
    {
        // A forgotten container (not kept as a survivor) takes only imports and calls: plain children (the
        // usual case, a long list that left the window) are skipped without looking the container up.
        var forgotten = id == 0 || _survivors is null || !_survivors.ContainsKey(id);
        foreach (var v in children)
        {
            var interesting = IsInterestingChild(v);
            if (forgotten && !interesting)
            {
                continue;
            }

            ref var n = ref At(id);
            if (Unsafe.AreSame(ref n, ref _scratch))
            {
                if (!interesting || id == 0)
                {
                    continue;
                }

                (_survivors ??= [])[id] = new Node { Meta = ForgottenMeta };
                n = ref At(id);
                forgotten = false;
            }

            n.Meta |= Node.FlagTruncated;
            AddCount(ref n, 1);
            if (interesting)
            {
                n.Meta |= Node.FlagInteresting;
                AddExtra(id, v);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void AddCount(ref Node n, long added)
    {
        var meta = n.Meta;
        if ((meta & Node.FlagBlock) != 0)
        {
            ref var count = ref _ringCount![meta >> Node.HighShift];
            count = (uint)Math.Min(count + added, Node.MaxCount);
        }
        else
        {
            var count = (uint)Math.Min((meta >> Node.HighShift) + added, Node.MaxCount);
            n.Meta = (meta & Node.LowMask) | (count << Node.HighShift);
        }
    }

    /// <summary>The first child (only meaningful when <see cref="Kept"/> is at least 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong GetC0(int id)
    {
        var p = At(id).C0;
        return p != Packed.Wide ? Packed.Unpack(p) : _wideC0![id];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetC0(ref Node n, int id, ulong v)
    {
        var p = Packed.Pack(v);
        n.C0 = p;
        if (p == Packed.Wide)
        {
            (_wideC0 ??= [])[id] = v;
        }
    }

    /// <summary>Copies the kept children (in order) into <paramref name="dest"/> (at least <see cref="MaxKept"/> long).</summary>
    public int CopyKept(int id, Span<ulong> dest)
    {
        var meta = At(id).Meta;
        var kept = (int)(meta & Node.KeptMask);
        if (kept > 0)
        {
            dest[0] = GetC0(id);
        }

        if (kept > InlineChildren && (meta & Node.FlagBlock) == 0)
        {
            // A small tuple (in the window: one that left it keeps only its inline child).
            var slot = id & (_window.Length - 1);
            for (var i = InlineChildren; i < kept; i++)
            {
                dest[i] = _small![(slot * SmallChildren) + i - InlineChildren];
            }

            return kept;
        }

        var block = (int)(meta >> Node.HighShift);
        for (var i = InlineChildren; i < kept; i++)
        {
            dest[i] = _ring![(block * BlockChildren) + i - InlineChildren];
        }

        return kept;
    }

    /// <summary>True when every child is kept (nothing elided, recycled or forgotten).</summary>
    public bool IsComplete(int id) => !IsTruncated(id);

    /// <summary>True when children were elided, their block was recycled, or the container was forgotten.</summary>
    public bool IsTruncated(int id) => At(id).Truncated;

    public List<ulong>? Extras(int id) =>
        (At(id).Meta & Node.FlagExtras) != 0 && _extras is not null && _extras.TryGetValue(id, out var list) ? list : null;

    private void AddExtra(int id, ulong v)
    {
        _extras ??= [];
        if (!_extras.TryGetValue(id, out var list))
        {
            list = [];
            _extras[id] = list;
            At(id).Meta |= Node.FlagExtras;
        }

        if (list.Count < MaxExtras && !list.Contains(v))
        {
            list.Add(v);
        }
    }

    /// <summary>The next block of the ring, taken back from its previous owner when the ring is full.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int AllocateBlock()
    {
        _ring ??= new ulong[16 * BlockChildren];
        _ringOwner ??= new int[16];
        _ringCount ??= new uint[16];
        _ringInteresting ??= new bool[16];
        var block = _ringNext;
        if (block == _ringOwner.Length)
        {
            if (block < RingBlocks)
            {
                Array.Resize(ref _ring, block * 2 * BlockChildren);
                Array.Resize(ref _ringOwner, block * 2);
                Array.Resize(ref _ringCount, block * 2);
                Array.Resize(ref _ringInteresting, block * 2);
            }
            else
            {
                block = 0;
            }
        }

        _ringNext = block + 1;
        var previous = _ringOwner[block] - 1;
        if (previous >= 0)
        {
            Evict(previous, block);
        }

        return block;
    }

    /// <summary>Takes a block from its owner (in the window); the owner keeps its inline child, its count and its imports/calls.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Evict(int id, int block)
    {
        var kept = _window[id & (_window.Length - 1)].Kept;
        if (_ringInteresting![block])
        {
            for (var i = InlineChildren; i < kept; i++)
            {
                var v = _ring![(block * BlockChildren) + i - InlineChildren];
                if (IsInteresting(v))
                {
                    AddExtra(id, v);
                }
            }
        }

        ref var n = ref _window[id & (_window.Length - 1)];
        n.Meta = (n.Meta & (Node.FlagInteresting | Node.FlagExtras)) | Node.FlagTruncated | InlineChildren | (_ringCount![block] << Node.HighShift);
    }
}

/// <summary>The memo: dense pages for the usual 0..n indices, a dictionary for sparse hostile ones.</summary>
internal sealed class Memo
{
    // 128 KiB pages: on the large object heap, never copied by the GC.
    private const int Shift = 15;
    private const int PageSize = 1 << Shift;
    private const int Mask = PageSize - 1;

    private readonly int _maxEntries;
    private uint[]?[] _pages = new uint[]?[16];

    // _pages[0] once allocated, held apart so BINGET (whose index always falls in it) reads it in one step.
    private uint[] _firstPage = [];
    private Dictionary<long, ulong>? _wide;
    private Dictionary<long, ulong>? _sparse;

    public Memo(int maxEntries) => _maxEntries = maxEntries;

    /// <summary>Distinct indices set: what MEMOIZE uses as its next index.</summary>
    public int Count { get; private set; }

    public void Clear()
    {
        foreach (var page in _pages)
        {
            if (page is not null)
            {
                Array.Clear(page);
            }
        }

        _sparse?.Clear();
        _wide?.Clear();
        Count = 0;
    }

    /// <summary>The value at <paramref name="index"/>, or 0 (<see cref="ValKind.Empty"/>) when missing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Get(long index)
    {
        var page = index >> Shift;
        if ((ulong)page < (ulong)_pages.Length && _pages[page] is { } p)
        {
            var i = (int)(index & Mask);
            if (i < p.Length)
            {
                var packed = p[i];
                return packed == Packed.Wide ? _wide![index] : Packed.Unpack(packed);
            }

            return 0;
        }

        return GetSparse(index);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Put(long index, ulong value, int offset)
    {
        var page = index >> Shift;
        if ((ulong)page < (ulong)_pages.Length && _pages[page] is { } p && (index & Mask) < p.Length)
        {
            ref var slot = ref p[index & Mask];
            if (slot == 0)
            {
                Added(offset);
            }

            slot = Packed.Pack(value);
            if (slot == Packed.Wide)
            {
                (_wide ??= [])[index] = value;
            }

            return;
        }

        PutSlow(index, value, offset);
    }

    /// <summary><see cref="Get"/> for an index below <see cref="PageSize"/> (BINGET's one-byte index), with one load fewer.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong GetFirstPage(int index)
    {
        var p = _firstPage;
        if ((uint)index < (uint)p.Length && p[index] is var packed && packed != Packed.Wide)
        {
            return Packed.Unpack(packed);
        }

        return Get(index);
    }

    private ulong GetSparse(long index) => _sparse is not null && _sparse.TryGetValue(index, out var v) ? v : 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Added(int offset)
    {
        if (Count >= _maxEntries)
        {
            MalformedInputException.ThrowLimit("number of memo entries", _maxEntries, offset);
        }

        Count++;
    }

    private void PutSlow(long index, ulong value, int offset)
    {
        var page = index >> Shift;

        // A page is only allocated while the memo is dense enough to need it: a hostile index cannot make
        // us allocate memory the pickle did not pay for in opcodes.
        if (page == 0)
        {
            // Page 0 starts small and grows: small pickles stay cheap.
            var size = Math.Max(64, _pages[0]?.Length ?? 0);
            while (size <= index)
            {
                size *= 2;
            }

            var grown = _pages[0];
            Array.Resize(ref grown, Math.Min(size, PageSize));
            _pages[0] = grown;
            _firstPage = grown;
            Put(index, value, offset);
            return;
        }

        if (page <= ((2L * Count) >> Shift) + 1)
        {
            if (page >= _pages.Length)
            {
                Array.Resize(ref _pages, (int)Math.Max(page + 1, _pages.Length * 2L));
            }

            var p = new uint[PageSize];
            _pages[page] = p;
            if (_sparse is { Count: > 0 })
            {
                var low = page << Shift;
                foreach (var (k, v) in _sparse.Where(e => e.Key >= low && e.Key < low + PageSize).ToList())
                {
                    p[k & Mask] = Packed.Pack(v);
                    if (p[k & Mask] == Packed.Wide)
                    {
                        (_wide ??= [])[k] = v;
                    }

                    _sparse.Remove(k);
                }
            }

            Put(index, value, offset);
            return;
        }

        _sparse ??= [];
        if (!_sparse.ContainsKey(index))
        {
            Added(offset);
        }

        _sparse[index] = value;
    }
}

/// <summary>What static analysis knows about a call's result.</summary>
internal enum Semantic : byte
{
    Unknown,

    /// <summary>A module object (<c>importlib.import_module('os')</c>); <see cref="CallInfo.SemText"/> is its name.</summary>
    Module,

    /// <summary>An attribute resolved statically (<c>getattr(module, 'system')</c>); SemText is the dotted path.</summary>
    Attribute,

    /// <summary><c>operator.attrgetter(name)</c>; SemText is the attribute name.</summary>
    AttrGetter,

    /// <summary>Bytes computed from a string (<c>_codecs.encode(s, 'latin1')</c>); SemValue is the string.</summary>
    EncodedBytes,

    /// <summary>A bytes-like or file-like wrapper (<c>io.BytesIO(b)</c>, <c>bytes(b)</c>); SemValue is the bytes.</summary>
    BytesWrapper,

    /// <summary>An unpickler on bytes (<c>pickle.Unpickler(io.BytesIO(b))</c>); SemValue is the bytes.</summary>
    Unpickler,

    /// <summary>The bound <c>load</c> of such an unpickler; SemValue is the bytes.</summary>
    UnpicklerLoad,
}

/// <summary>The record of a call (a call value carries its index).</summary>
internal sealed class CallInfo
{
    public ulong Callable;
    public ulong Args;
    public ulong Kwargs;
    public byte Opcode;
    public int Offset;

    /// <summary>What the callable statically is (<c>os.system</c>), when known.</summary>
    public string? Resolved;

    /// <summary>The class of the object built, when the call constructs one of a known class.</summary>
    public string? ClassPath;

    public Semantic Sem;
    public string? SemText;
    public ulong SemValue;

    /// <summary>The shared registry or import the call changes (copyreg.add_extension), if any.</summary>
    public string? Mutates;

    /// <summary>The state given by a later BUILD, if any.</summary>
    public ulong State;

    public PickleGlobal[] Globals = [];

    /// <summary>Rendering of the call expression, computed once.</summary>
    public string? Rendered;
}
