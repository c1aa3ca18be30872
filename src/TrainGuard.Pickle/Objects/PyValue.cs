using System.Numerics;
using System.Text;

namespace TrainGuard.Pickle.Objects;

/// <summary>What a <see cref="PyValue"/> is.</summary>
public enum PyKind
{
    None,
    Bool,
    Int,
    Float,
    Str,
    Bytes,
    ByteArray,
    Tuple,
    List,
    Dict,
    Set,
    FrozenSet,

    /// <summary>A name a load would import (<c>GLOBAL</c>, <c>STACK_GLOBAL</c>, <c>INST</c>); never imported here.</summary>
    Global,

    /// <summary>The result of a call a load would make (<c>REDUCE</c>, <c>NEWOBJ</c>, <c>NEWOBJ_EX</c>, <c>INST</c>, <c>OBJ</c>); never called here.</summary>
    Object,

    /// <summary>What the loader's <c>persistent_load</c> would return for an id (torch storages).</summary>
    PersistentRef,

    /// <summary>An out-of-band buffer (<c>NEXT_BUFFER</c>, protocol 5).</summary>
    Buffer,

    /// <summary>A name from the <c>copyreg</c> extension registry (<c>EXT1/2/4</c>).</summary>
    Extension,
}

/// <summary>
/// One value of a pickle, as the non-executing <see cref="PickleObjectReader"/> built it. Plain data is
/// concrete; imports and calls are symbolic (<see cref="PyGlobal"/>, <see cref="PyObject"/>). Values are
/// shared when the pickle shares them (memo) and containers may contain themselves: walk with a depth
/// limit (<see cref="PyRender"/> and the accessors here never recurse without one).
/// </summary>
public abstract class PyValue
{
    private protected PyValue(long offset)
    {
        Offset = offset;
    }

    public abstract PyKind Kind { get; }

    /// <summary>Offset (in the data given to the reader) of the opcode that created the value.</summary>
    public long Offset { get; }

    /// <summary>True for <c>None</c>.</summary>
    public bool IsNone => Kind == PyKind.None;

    /// <summary>The value of a bool; null for anything else (ints included).</summary>
    public bool? AsBool() => this is PyBool b ? b.Value : null;

    /// <summary>The value of an int that fits in a long; null for anything else (bools, floats, big ints).</summary>
    public long? AsInt64() => this is PyInt i && i.TryGetInt64(out var v) ? v : null;

    /// <summary>The value of an int of any size; null for anything else (bools included).</summary>
    public BigInteger? AsBigInteger() => this is PyInt i ? i.Value : null;

    /// <summary>A float, or an int converted to one (Python's numeric tower: <c>lr=1</c> is a learning rate); null otherwise.</summary>
    public double? AsDouble() => this switch
    {
        PyFloat f => f.Value,
        PyInt i => (double)i.Value,
        _ => null,
    };

    /// <summary>The text of a str; null for anything else.</summary>
    public string? AsString() => this is PyStr s ? s.Value : null;

    /// <summary>
    /// The bytes of a bytes or bytearray value, of a protocol 0-2 byte string, or of
    /// <c>_codecs.encode(str, 'latin1')</c> (how protocol 2 pickles Python 3 bytes; decoded here as data,
    /// not called). Null for anything else.
    /// </summary>
    public byte[]? AsBytes()
    {
        switch (this)
        {
            case PyBytes b:
                return b.Value;
            case PyStr { RawBytes: { } raw }:
                return raw;
            case PyObject o when o.IsCallTo("_codecs", "encode"):
                {
                    var args = o.Arguments;
                    if (args.Count is 1 or 2 && args[0] is PyStr text)
                    {
                        var encoding = args.Count == 2 ? args[1].AsString() : "utf-8";
                        if (encoding is "latin1" or "latin-1" or "iso-8859-1")
                        {
                            return TryLatin1(text.Value);
                        }

                        if (encoding is "utf-8" or "utf8")
                        {
                            return Encoding.UTF8.GetBytes(text.Value);
                        }
                    }

                    return null;
                }

            default:
                return null;
        }
    }

    /// <summary>The items of a tuple, list, set or frozenset, or what was appended to an object; null otherwise.</summary>
    public IReadOnlyList<PyValue>? AsSequence() => this switch
    {
        PyTuple t => t.Items,
        PyList l => l.Items,
        PySet s => s.Items,
        PyObject { Appended.Count: > 0 } o => o.Appended,
        _ => null,
    };

    /// <summary>
    /// A dict, or the items an object was filled with by <c>SETITEM(S)</c> (<c>collections.OrderedDict</c>,
    /// <c>defaultdict</c>, a state_dict): what a consumer reads as a mapping. Null otherwise. An object
    /// created without items (an empty <c>OrderedDict()</c>) gives an empty dict when its callable is a known mapping type.
    /// </summary>
    public PyDict? AsDict() => this switch
    {
        PyDict d => d,
        PyObject { Items: { } items } => items,
        PyObject o when o.IsMappingType => PyDict.Empty,
        _ => null,
    };

    /// <summary>Looks up a str key in <see cref="AsDict"/>; null when this is not a mapping or the key is absent.</summary>
    public PyValue? Get(string key) => AsDict()?.Find(key);

    /// <summary>Looks up an int key in <see cref="AsDict"/>; null when this is not a mapping or the key is absent.</summary>
    public PyValue? Get(long key) => AsDict()?.Find(new BigInteger(key));

    /// <summary>Short Python-ish text for reports (depth- and length-limited, control characters escaped).</summary>
    public override string ToString() => PyRender.ToText(this);

    private static byte[]? TryLatin1(string s)
    {
        var bytes = new byte[s.Length];
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] > 0xff)
            {
                return null;
            }

            bytes[i] = (byte)s[i];
        }

        return bytes;
    }
}

public sealed class PyNone : PyValue
{
    public PyNone(long offset)
        : base(offset)
    {
    }

    public override PyKind Kind => PyKind.None;
}

public sealed class PyBool : PyValue
{
    public PyBool(bool value, long offset)
        : base(offset)
    {
        Value = value;
    }

    public override PyKind Kind => PyKind.Bool;

    public bool Value { get; }
}

public sealed class PyInt : PyValue
{
    public PyInt(BigInteger value, long offset)
        : base(offset)
    {
        Value = value;
    }

    public override PyKind Kind => PyKind.Int;

    public BigInteger Value { get; }

    public bool TryGetInt64(out long value)
    {
        if (Value >= long.MinValue && Value <= long.MaxValue)
        {
            value = (long)Value;
            return true;
        }

        value = 0;
        return false;
    }
}

public sealed class PyFloat : PyValue
{
    public PyFloat(double value, long offset)
        : base(offset)
    {
        Value = value;
    }

    public override PyKind Kind => PyKind.Float;

    public double Value { get; }
}

/// <summary>A str. Protocol 0-2 byte strings (<c>STRING</c>, <c>BINSTRING</c>, <c>SHORT_BINSTRING</c>) become str too, keeping their bytes in <see cref="RawBytes"/>.</summary>
public sealed class PyStr : PyValue
{
    public PyStr(string value, long offset, byte[]? rawBytes = null)
        : base(offset)
    {
        Value = value;
        RawBytes = rawBytes;
    }

    public override PyKind Kind => PyKind.Str;

    public string Value { get; }

    /// <summary>The undecoded bytes of a protocol 0-2 byte string (decoded as UTF-8 when valid, else Latin-1); null for real str opcodes.</summary>
    public byte[]? RawBytes { get; }
}

public sealed class PyBytes : PyValue
{
    public PyBytes(byte[] value, bool isByteArray, long offset)
        : base(offset)
    {
        Value = value;
        IsByteArray = isByteArray;
    }

    public override PyKind Kind => IsByteArray ? PyKind.ByteArray : PyKind.Bytes;

    public byte[] Value { get; }

    public bool IsByteArray { get; }
}

/// <summary>Base of the values that hold other values.</summary>
public abstract class PyContainer : PyValue
{
    private protected PyContainer(long offset)
        : base(offset)
    {
    }

    /// <summary>Nesting depth seen when items were added (a hint: later mutations of a child do not update it).</summary>
    public int Depth { get; internal set; } = 1;
}

public sealed class PyTuple : PyContainer
{
    public PyTuple(PyValue[] items, long offset)
        : base(offset)
    {
        Items = items;
    }

    public override PyKind Kind => PyKind.Tuple;

    public IReadOnlyList<PyValue> Items { get; }

    public int Count => Items.Count;

    public PyValue this[int index] => Items[index];
}

public sealed class PyList : PyContainer
{
    internal PyList(long offset)
        : base(offset)
    {
    }

    public override PyKind Kind => PyKind.List;

    public IReadOnlyList<PyValue> Items => MutableItems;

    public int Count => MutableItems.Count;

    internal List<PyValue> MutableItems { get; } = [];
}

public sealed class PySet : PyContainer
{
    internal PySet(bool frozen, long offset)
        : base(offset)
    {
        IsFrozen = frozen;
    }

    public override PyKind Kind => IsFrozen ? PyKind.FrozenSet : PyKind.Set;

    public bool IsFrozen { get; }

    /// <summary>Items in pickle order. Equal items are not merged (symbolic values have no equality).</summary>
    public IReadOnlyList<PyValue> Items => MutableItems;

    internal List<PyValue> MutableItems { get; } = [];
}

/// <summary>
/// A dict, in insertion order. Setting a key that is already present replaces its value in place, as
/// Python does, for keys with value equality here: str, int, bool (equal to 0/1), float, None, bytes.
/// Other keys (tuples, symbolic objects) are kept as separate entries.
/// </summary>
public sealed class PyDict : PyContainer
{
    private readonly List<KeyValuePair<PyValue, PyValue>> _items = [];
    private Dictionary<object, int>? _index;

    internal PyDict(long offset)
        : base(offset)
    {
    }

    /// <summary>An empty, shared dict (for <see cref="PyValue.AsDict"/> of an empty mapping object). Never filled.</summary>
    public static PyDict Empty { get; } = new(-1);

    public override PyKind Kind => PyKind.Dict;

    public IReadOnlyList<KeyValuePair<PyValue, PyValue>> Items => _items;

    public int Count => _items.Count;

    /// <summary>Keys that are str, in order (handy for state_dicts).</summary>
    public IEnumerable<string> StringKeys => _items.Select(kv => kv.Key.AsString()).OfType<string>();

    public bool TryGet(string key, out PyValue value)
    {
        value = Find(key)!;
        return value is not null;
    }

    internal void Set(PyValue key, PyValue value)
    {
        var k = IndexKey(key);
        if (k is not null)
        {
            _index ??= [];
            if (_index.TryGetValue(k, out var at))
            {
                _items[at] = new(_items[at].Key, value);
                return;
            }

            _index[k] = _items.Count;
        }

        _items.Add(new(key, value));
    }

    /// <summary>
    /// Adds an entry without replacing an equal key, so a repeated key stays visible (literals: a reader refuses
    /// the ambiguity rather than guess which value a loader keeps). Lookups find the first.
    /// </summary>
    internal void Add(PyValue key, PyValue value)
    {
        if (IndexKey(key) is { } k)
        {
            _index ??= [];
            _index.TryAdd(k, _items.Count);
        }

        _items.Add(new(key, value));
    }

    internal PyValue? Find(object key) =>
        _index is not null && _index.TryGetValue(key, out var at) ? _items[at].Value : null;

    private static object? IndexKey(PyValue key) => key switch
    {
        PyStr s => s.Value,
        PyInt i => i.Value,
        PyBool b => new BigInteger(b.Value ? 1 : 0),
        PyFloat f when double.IsFinite(f.Value) && Math.Floor(f.Value) == f.Value => new BigInteger(f.Value),
        PyFloat f => f.Value,
        PyNone => typeof(PyNone),
        PyBytes { IsByteArray: false } b => new BytesKey(b.Value),
        _ => null,
    };

    private sealed class BytesKey(byte[] bytes) : IEquatable<BytesKey>
    {
        private readonly byte[] _bytes = bytes;

        public bool Equals(BytesKey? other) => other is not null && _bytes.AsSpan().SequenceEqual(other._bytes);

        public override bool Equals(object? obj) => Equals(obj as BytesKey);

        public override int GetHashCode()
        {
            var h = new HashCode();
            h.AddBytes(_bytes);
            return h.ToHashCode();
        }
    }
}

/// <summary>A name a load would import. Protocol 0-2 names are mapped to Python 3 names as CPython does.</summary>
public sealed class PyGlobal : PyValue
{
    public PyGlobal(string module, string name, long offset)
        : base(offset)
    {
        Module = module;
        Name = name;
    }

    public override PyKind Kind => PyKind.Global;

    public string Module { get; }

    public string Name { get; }

    public string FullName => Module + "." + Name;

    public bool Is(string module, string name) => Module == module && Name == name;
}

/// <summary>How a <see cref="PyObject"/> was created.</summary>
public enum PyCallKind
{
    /// <summary><c>REDUCE</c>: <c>callable(*args)</c>.</summary>
    Reduce,

    /// <summary><c>NEWOBJ</c>: <c>cls.__new__(cls, *args)</c>.</summary>
    NewObj,

    /// <summary><c>NEWOBJ_EX</c>: <c>cls.__new__(cls, *args, **kwargs)</c>.</summary>
    NewObjEx,

    /// <summary><c>INST</c>: <c>module.name(*args)</c> (protocol 0).</summary>
    Inst,

    /// <summary><c>OBJ</c>: <c>cls(*args)</c> (protocol 1).</summary>
    Obj,
}

/// <summary>
/// The result of a call a load would make, with what the pickle then did to it: <c>BUILD</c> state,
/// items appended (<c>APPEND(S)</c>, <c>ADDITEMS</c>) and items set (<c>SETITEM(S)</c>).
/// </summary>
public sealed class PyObject : PyContainer
{
    private static readonly HashSet<string> MappingTypes = new(StringComparer.Ordinal)
    {
        "collections.OrderedDict",
        "collections.defaultdict",
        "builtins.dict",
        "collections.Counter",
    };

    private List<PyValue>? _appended;

    internal PyObject(PyValue callable, PyValue args, PyValue? kwargs, PyCallKind how, long offset)
        : base(offset)
    {
        Callable = callable;
        Args = args;
        Kwargs = kwargs;
        How = how;
    }

    public override PyKind Kind => PyKind.Object;

    /// <summary>What is called: usually a <see cref="PyGlobal"/>.</summary>
    public PyValue Callable { get; }

    /// <summary>The argument value as pickled (normally a tuple).</summary>
    public PyValue Args { get; }

    /// <summary>Keyword arguments (<c>NEWOBJ_EX</c> only).</summary>
    public PyValue? Kwargs { get; }

    public PyCallKind How { get; }

    /// <summary><c>module.name</c> of the callable when it is a global; null otherwise.</summary>
    public string? CallableName => (Callable as PyGlobal)?.FullName;

    /// <summary>The positional arguments when <see cref="Args"/> is a tuple; empty otherwise.</summary>
    public IReadOnlyList<PyValue> Arguments => Args is PyTuple t ? t.Items : [];

    /// <summary>The state of the last <c>BUILD</c> applied (null without one).</summary>
    public PyValue? State { get; internal set; }

    /// <summary>How many <c>BUILD</c>s were applied.</summary>
    public int BuildCount { get; internal set; }

    /// <summary>Items given to <c>append</c>/<c>extend</c>/<c>add</c>.</summary>
    public IReadOnlyList<PyValue> Appended => _appended ?? (IReadOnlyList<PyValue>)[];

    /// <summary>Items given to <c>__setitem__</c> (null when none were).</summary>
    public PyDict? Items { get; internal set; }

    /// <summary>True when the callable is a mapping type a consumer can read as a dict (OrderedDict, defaultdict, dict, Counter).</summary>
    public bool IsMappingType => CallableName is { } n && MappingTypes.Contains(n);

    public bool IsCallTo(string module, string name) => Callable is PyGlobal g && g.Is(module, name);

    internal List<PyValue> MutableAppended => _appended ??= [];
}

/// <summary>A persistent id (<c>PERSID</c>, <c>BINPERSID</c>): in torch files the storage descriptor tuple.</summary>
public sealed class PyPersistentRef : PyValue
{
    public PyPersistentRef(PyValue id, long offset)
        : base(offset)
    {
        Id = id;
    }

    public override PyKind Kind => PyKind.PersistentRef;

    public PyValue Id { get; }
}

/// <summary>An out-of-band buffer (protocol 5): the <see cref="Index"/>-th buffer handed to the loader.</summary>
public sealed class PyBuffer : PyValue
{
    public PyBuffer(int index, long offset)
        : base(offset)
    {
        Index = index;
    }

    public override PyKind Kind => PyKind.Buffer;

    public int Index { get; }

    public bool IsReadOnly { get; internal set; }
}

/// <summary>A <c>copyreg</c> extension code (<c>EXT1/2/4</c>): a name registered in the loading process, unknown here.</summary>
public sealed class PyExtension : PyValue
{
    public PyExtension(int code, long offset)
        : base(offset)
    {
        Code = code;
    }

    public override PyKind Kind => PyKind.Extension;

    public int Code { get; }
}
