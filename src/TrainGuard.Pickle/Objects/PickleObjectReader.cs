using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Unicode;
using TrainGuard.Parsing;
using TrainGuard.Pickle.Machine;

namespace TrainGuard.Pickle.Objects;

/// <summary>
/// Reads one pickle (protocols 0-5) into a tree of <see cref="PyValue"/>s without executing anything:
/// imports become <see cref="PyGlobal"/>s, calls <see cref="PyObject"/>s, persistent ids
/// <see cref="PyPersistentRef"/>s. Stack, mark and memo follow CPython's <c>_pickle.c</c>; shared
/// references stay shared. Every length is checked against the input and the limits before anything is
/// allocated; bad input gives a <see cref="MalformedInputException"/> naming the opcode offset.
/// </summary>
public sealed class PickleObjectReader
{
    private const int InitialStreamChunk = 64 * 1024;

    private readonly PickleObjectLimits _limits;
    private readonly List<PyValue> _stack = [];
    private readonly List<int> _marks = [];
    private readonly Dictionary<long, PyValue> _memo = [];
    private readonly List<PyPersistentRef> _persistent = [];
    private readonly List<PyGlobal> _globals = [];
    private readonly List<KeyValuePair<PyValue, PyValue>> _detachedBuilds = [];
    private int _fence;
    private int _proto;
    private int _maxProto;
    private int _nodes;
    private long _items;
    private long _valueBytes;
    private int _buffers;
    private int _op;

    private PickleObjectReader(PickleObjectLimits limits)
    {
        _limits = limits;
    }

    /// <summary>True when the last failure was running out of input (more bytes might complete the pickle).</summary>
    private bool RanOutOfInput { get; set; }

    /// <summary>Reads the pickle that starts at <paramref name="start"/> (default: the first byte) up to its STOP.</summary>
    public static PickleObjectResult Read(ReadOnlySpan<byte> data, PickleObjectLimits? limits = null) => Read(data, 0, limits);

    /// <summary>Reads the pickle that starts at <paramref name="start"/> up to its STOP; offsets are relative to <paramref name="data"/>.</summary>
    public static PickleObjectResult Read(ReadOnlySpan<byte> data, int start, PickleObjectLimits? limits = null)
    {
        if ((uint)start > (uint)data.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(start));
        }

        return new PickleObjectReader(limits ?? PickleObjectLimits.Default).Run(data, start);
    }

    /// <summary>
    /// Reads one pickle from the stream's current position (a pickle in a sequence, or at the head of a
    /// larger file), reading only as many bytes as the pickle needs (growing a buffer, at most
    /// <see cref="PickleObjectLimits.MaxPickleBytes"/>). Leaves the stream just past STOP. Offsets in the
    /// result and in errors are relative to the starting position.
    /// </summary>
    public static PickleObjectResult Read(Stream stream, PickleObjectLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        limits ??= PickleObjectLimits.Default;
        var start = stream.CanSeek ? stream.Position : 0;
        var buffer = new byte[InitialStreamChunk];
        var filled = 0;
        var ended = false;
        while (true)
        {
            if (!ended && filled < buffer.Length)
            {
                var n = stream.ReadAtLeast(buffer.AsSpan(filled), buffer.Length - filled, throwOnEndOfStream: false);
                filled += n;
                ended = filled < buffer.Length;
            }

            var reader = new PickleObjectReader(limits);
            try
            {
                var result = reader.Run(buffer.AsSpan(0, filled), 0);
                if (stream.CanSeek)
                {
                    stream.Position = start + result.EndOffset;
                }

                return result;
            }
            catch (MalformedInputException) when (reader.RanOutOfInput && !ended)
            {
                if (buffer.Length >= limits.MaxPickleBytes)
                {
                    MalformedInputException.ThrowLimit("pickle size", limits.MaxPickleBytes, filled);
                }

                Array.Resize(ref buffer, (int)Math.Min(buffer.Length * 2L, limits.MaxPickleBytes));
            }
        }
    }

    /// <summary>Fuzz target: any input either reads or throws <see cref="MalformedInputException"/>.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        var limits = new PickleObjectLimits { MaxNodes = 100_000, MaxItems = 200_000, MaxValueBytes = 1 << 20, MaxTotalValueBytes = 4 << 20, MaxMemo = 100_000, MaxStack = 100_000, MaxDepth = 64 };
        try
        {
            var result = Read(data, limits);
            _ = PyRender.ToText(result.Root);
        }
        catch (MalformedInputException)
        {
        }
    }

    private PickleObjectResult Run(ReadOnlySpan<byte> data, int start)
    {
        var pos = start;
        while (true)
        {
            if (pos >= data.Length)
            {
                Truncated(pos == start ? "an empty pickle (no opcodes)" : "the pickle (no STOP opcode before the end)", pos);
            }

            var op = pos;
            _op = op;
            var code = data[pos++];
            switch (code)
            {
                case Op.Proto:
                    {
                        Need(data, pos, 1, code, op);
                        int proto = data[pos++];
                        if (proto > Op.HighestProtocol)
                        {
                            Fail($"unsupported pickle protocol: {proto}", op, InputErrorKind.Unsupported);
                        }

                        _proto = proto;
                        _maxProto = Math.Max(_maxProto, proto);
                        break;
                    }

                case Op.Frame:
                    {
                        Need(data, pos, 8, code, op);
                        var n = BinaryPrimitives.ReadUInt64LittleEndian(data.Slice(pos, 8));
                        pos += 8;
                        if (n > (ulong)(data.Length - pos))
                        {
                            Truncated($"FRAME of {n:N0} bytes ({data.Length - pos:N0} remain)", op);
                        }

                        break;
                    }

                case Op.Stop:
                    {
                        NeedStack(1, code, op);
                        return new PickleObjectResult
                        {
                            Root = _stack[^1],
                            EndOffset = pos,
                            Protocol = _maxProto,
                            NodeCount = _nodes,
                            PersistentRefs = _persistent,
                            Globals = _globals,
                            DetachedBuilds = _detachedBuilds,
                        };
                    }

                // ---- constants and numbers
                case Op.None:
                    Push(Count(new PyNone(op), op));
                    break;
                case Op.NewTrue:
                case Op.NewFalse:
                    Push(Count(new PyBool(code == Op.NewTrue, op), op));
                    break;
                case Op.BinInt1:
                    Need(data, pos, 1, code, op);
                    Push(Int(data[pos], op));
                    pos += 1;
                    break;
                case Op.BinInt2:
                    Need(data, pos, 2, code, op);
                    Push(Int(BinaryPrimitives.ReadUInt16LittleEndian(data.Slice(pos, 2)), op));
                    pos += 2;
                    break;
                case Op.BinInt:
                    Need(data, pos, 4, code, op);
                    Push(Int(BinaryPrimitives.ReadInt32LittleEndian(data.Slice(pos, 4)), op));
                    pos += 4;
                    break;
                case Op.Int:
                    {
                        var end = Line(data, pos, code, op);
                        var text = data[pos..end];
                        var value = ParseIntText(text, code, op);
                        Push(text.Length == 2 && (value.IsZero || value.IsOne) ? Count(new PyBool(value.IsOne, op), op) : Count(new PyInt(value, op), op));
                        pos = end + 1;
                        break;
                    }

                case Op.Long:
                    {
                        var end = Line(data, pos, code, op);
                        var text = data[pos..end];
                        if (text.Length > 0 && text[^1] == (byte)'L')
                        {
                            text = text[..^1];
                        }

                        Push(Count(new PyInt(ParseIntText(text, code, op), op), op));
                        pos = end + 1;
                        break;
                    }

                case Op.Long1:
                    {
                        Need(data, pos, 1, code, op);
                        int n = data[pos];
                        Need(data, pos + 1, n, code, op);
                        Push(Count(new PyInt(new BigInteger(data.Slice(pos + 1, n), isUnsigned: false, isBigEndian: false), op), op));
                        pos += 1 + n;
                        break;
                    }

                case Op.Long4:
                    {
                        Need(data, pos, 4, code, op);
                        var n = BinaryPrimitives.ReadInt32LittleEndian(data.Slice(pos, 4));
                        if (n < 0)
                        {
                            Fail("LONG4 has a negative byte count", op);
                        }

                        CheckValueSize(n, code, op);
                        Need(data, pos + 4, n, code, op);
                        Push(Count(new PyInt(new BigInteger(data.Slice(pos + 4, n), isUnsigned: false, isBigEndian: false), op), op));
                        pos += 4 + n;
                        break;
                    }

                case Op.BinFloat:
                    Need(data, pos, 8, code, op);
                    Push(Count(new PyFloat(TextCodecs.ReadBinFloat(data.Slice(pos, 8)), op), op));
                    pos += 8;
                    break;
                case Op.Float:
                    {
                        var end = Line(data, pos, code, op);
                        if (!TextCodecs.TryParseFloat(data[pos..end], out var d))
                        {
                            Fail("FLOAT argument is not a number", op);
                        }

                        Push(Count(new PyFloat(d, op), op));
                        pos = end + 1;
                        break;
                    }

                // ---- strings and bytes
                case Op.ShortBinUnicode:
                    Push(Str(Counted(data, ref pos, 1, code, op), code, op));
                    break;

                case Op.BinUnicode:
                    Push(Str(Counted(data, ref pos, 4, code, op), code, op));
                    break;

                case Op.BinUnicode8:
                    Push(Str(Counted(data, ref pos, 8, code, op), code, op));
                    break;

                case Op.Unicode:
                    {
                        var end = Line(data, pos, code, op);
                        CheckValueSize(end - pos, code, op);
                        var s = TextCodecs.RawUnicodeEscapeDecode(data[pos..end], out var error);
                        if (s is null)
                        {
                            Fail($"UNICODE argument cannot be decoded as raw-unicode-escape: {error}", op);
                        }

                        Push(Count(new PyStr(s, op), op));
                        pos = end + 1;
                        break;
                    }

                case Op.String:
                    {
                        var end = Line(data, pos, code, op);
                        var text = data[pos..end];
                        if (text.Length < 2 || text[0] != text[^1] || (text[0] != (byte)'\'' && text[0] != (byte)'"'))
                        {
                            Fail("the STRING opcode argument must be quoted", op);
                        }

                        CheckValueSize(text.Length, code, op);
                        var raw = TextCodecs.EscapeDecode(text[1..^1], out var error);
                        if (raw is null)
                        {
                            Fail($"STRING argument has a bad escape: {error}", op);
                        }

                        Push(ByteString(raw, op));
                        pos = end + 1;
                        break;
                    }

                case Op.BinString:
                    {
                        Need(data, pos, 4, code, op);
                        var n = BinaryPrimitives.ReadInt32LittleEndian(data.Slice(pos, 4));
                        if (n < 0)
                        {
                            Fail("BINSTRING has a negative byte count", op);
                        }

                        pos += 4;
                        Push(ByteString(Slice(data, pos, n, code, op).ToArray(), op));
                        pos += n;
                        break;
                    }

                case Op.ShortBinString:
                    Push(ByteString(Counted(data, ref pos, 1, code, op).ToArray(), op));
                    break;

                case Op.ShortBinBytes:
                    Push(Count(new PyBytes(Counted(data, ref pos, 1, code, op).ToArray(), false, op), op));
                    break;

                case Op.BinBytes:
                    Push(Count(new PyBytes(Counted(data, ref pos, 4, code, op).ToArray(), false, op), op));
                    break;

                case Op.BinBytes8:
                case Op.ByteArray8:
                    Push(Count(new PyBytes(Counted(data, ref pos, 8, code, op).ToArray(), code == Op.ByteArray8, op), op));
                    break;

                // ---- containers
                case Op.EmptyTuple:
                    Push(Tuple([], op));
                    break;
                case Op.Tuple1:
                case Op.Tuple2:
                case Op.Tuple3:
                    {
                        var n = code - Op.Tuple1 + 1;
                        NeedStack(n, code, op);
                        Push(Tuple(PopN(n), op));
                        break;
                    }

                case Op.Tuple:
                    {
                        var mark = PopMark(code, op);
                        Push(Tuple(PopTo(mark), op));
                        break;
                    }

                case Op.EmptyList:
                    Push(Count(new PyList(op), op));
                    break;
                case Op.List:
                    {
                        var mark = PopMark(code, op);
                        var list = Count(new PyList(op), op);
                        AddAll(list, list.MutableItems, PopTo(mark), op);
                        Push(list);
                        break;
                    }

                case Op.EmptyDict:
                    Push(Count(new PyDict(op), op));
                    break;
                case Op.Dict:
                    {
                        var mark = PopMark(code, op);
                        var items = PopTo(mark);
                        if ((items.Length & 1) != 0)
                        {
                            Fail("odd number of items for DICT", op);
                        }

                        var dict = Count(new PyDict(op), op);
                        SetAll(dict, items, op);
                        Push(dict);
                        break;
                    }

                case Op.EmptySet:
                    Push(Count(new PySet(false, op), op));
                    break;
                case Op.FrozenSet:
                    {
                        var mark = PopMark(code, op);
                        var set = Count(new PySet(true, op), op);
                        AddAll(set, set.MutableItems, PopTo(mark), op);
                        Push(set);
                        break;
                    }

                case Op.Append:
                    {
                        NeedStack(2, code, op);
                        var value = Pop();
                        Append(_stack[^1], [value], code, op);
                        break;
                    }

                case Op.Appends:
                case Op.AddItems:
                    {
                        var mark = PopMark(code, op);
                        if (mark - 1 < _fence || mark < 1)
                        {
                            Underflow(code, op, 1);
                        }

                        var items = PopTo(mark);
                        Append(_stack[^1], items, code, op);
                        break;
                    }

                case Op.SetItem:
                    {
                        NeedStack(3, code, op);
                        var value = Pop();
                        var key = Pop();
                        SetItems(_stack[^1], [key, value], code, op);
                        break;
                    }

                case Op.SetItems:
                    {
                        var mark = PopMark(code, op);
                        if (mark - 1 < _fence || mark < 1)
                        {
                            Underflow(code, op, 1);
                        }

                        var items = PopTo(mark);
                        if ((items.Length & 1) != 0)
                        {
                            Fail("odd number of items for SETITEMS", op);
                        }

                        SetItems(_stack[^1], items, code, op);
                        break;
                    }

                // ---- stack and memo
                case Op.Mark:
                    if (_marks.Count >= _limits.MaxMarks)
                    {
                        MalformedInputException.ThrowLimit("number of open MARKs", _limits.MaxMarks, op);
                    }

                    _marks.Add(_stack.Count);
                    _fence = _stack.Count;
                    break;
                case Op.Pop:
                    if (_stack.Count > _fence)
                    {
                        _stack.RemoveAt(_stack.Count - 1);
                    }
                    else if (_marks.Count > 0)
                    {
                        PopMark(code, op);
                    }
                    else
                    {
                        Underflow(code, op, 1);
                    }

                    break;
                case Op.PopMark:
                    {
                        var mark = PopMark(code, op);
                        _stack.RemoveRange(mark, _stack.Count - mark);
                        break;
                    }

                case Op.Dup:
                    NeedStack(1, code, op);
                    Push(_stack[^1]);
                    break;
                case Op.Memoize:
                    NeedStack(1, code, op);
                    MemoPut(_memo.Count, op);
                    break;
                case Op.BinPut:
                    Need(data, pos, 1, code, op);
                    NeedStack(1, code, op);
                    MemoPut(data[pos], op);
                    pos += 1;
                    break;
                case Op.LongBinPut:
                    Need(data, pos, 4, code, op);
                    NeedStack(1, code, op);
                    MemoPut(BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(pos, 4)), op);
                    pos += 4;
                    break;
                case Op.Put:
                    {
                        var end = Line(data, pos, code, op);
                        var index = MemoIndexText(data[pos..end], code, op);
                        NeedStack(1, code, op);
                        MemoPut(index, op);
                        pos = end + 1;
                        break;
                    }

                case Op.BinGet:
                    Need(data, pos, 1, code, op);
                    Push(MemoGet(data[pos], code, op));
                    pos += 1;
                    break;
                case Op.LongBinGet:
                    Need(data, pos, 4, code, op);
                    Push(MemoGet(BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(pos, 4)), code, op));
                    pos += 4;
                    break;
                case Op.Get:
                    {
                        var end = Line(data, pos, code, op);
                        Push(MemoGet(MemoIndexText(data[pos..end], code, op), code, op));
                        pos = end + 1;
                        break;
                    }

                // ---- imports and calls
                case Op.Global:
                    {
                        var (module, name, next) = NameLines(data, pos, code, op);
                        Push(Global(module, name, op));
                        pos = next;
                        break;
                    }

                case Op.StackGlobal:
                    {
                        NeedStack(2, code, op);
                        var name = Pop();
                        var module = Pop();
                        if (module is not PyStr m || name is not PyStr n)
                        {
                            Fail("STACK_GLOBAL requires str module and name", op);
                            return null!;
                        }

                        Push(Global(m.Value, n.Value, op));
                        break;
                    }

                case Op.Inst:
                    {
                        var (module, name, next) = NameLines(data, pos, code, op);
                        var mark = PopMark(code, op);
                        var args = Tuple(PopTo(mark), op);
                        Push(Call(Global(module, name, op), args, null, PyCallKind.Inst, op));
                        pos = next;
                        break;
                    }

                case Op.Obj:
                    {
                        var mark = PopMark(code, op);
                        var items = PopTo(mark);
                        if (items.Length < 1)
                        {
                            Fail("OBJ needs a class after its MARK", op);
                        }

                        var args = Tuple(items[1..], op);
                        Push(Call(items[0], args, null, PyCallKind.Obj, op));
                        break;
                    }

                case Op.Reduce:
                    {
                        NeedStack(2, code, op);
                        var args = Pop();
                        var callable = Pop();
                        Push(Call(callable, args, null, PyCallKind.Reduce, op));
                        break;
                    }

                case Op.NewObj:
                    {
                        NeedStack(2, code, op);
                        var args = Pop();
                        var cls = Pop();
                        if (args is not PyTuple)
                        {
                            Fail($"NEWOBJ expects an argument tuple, got {Describe(args)}", op);
                        }

                        Push(Call(cls, args, null, PyCallKind.NewObj, op));
                        break;
                    }

                case Op.NewObjEx:
                    {
                        NeedStack(3, code, op);
                        var kwargs = Pop();
                        var args = Pop();
                        var cls = Pop();
                        if (args is not PyTuple)
                        {
                            Fail($"NEWOBJ_EX expects an argument tuple, got {Describe(args)}", op);
                        }

                        if (kwargs is not PyDict)
                        {
                            Fail($"NEWOBJ_EX expects a keyword-argument dict, got {Describe(kwargs)}", op);
                        }

                        Push(Call(cls, args, kwargs, PyCallKind.NewObjEx, op));
                        break;
                    }

                case Op.Build:
                    {
                        NeedStack(2, code, op);
                        var state = Pop();
                        Build(_stack[^1], state, op);
                        break;
                    }

                case Op.PersId:
                    {
                        var end = Line(data, pos, code, op);
                        var text = data[pos..end];
                        foreach (var b in text)
                        {
                            if (b >= 0x80)
                            {
                                Fail("persistent IDs in protocol 0 must be ASCII strings", op);
                            }
                        }

                        CheckValueSize(text.Length, code, op);
                        var id = Count(new PyStr(Encoding.ASCII.GetString(text), op), op);
                        Push(Persistent(id, op));
                        pos = end + 1;
                        break;
                    }

                case Op.BinPersId:
                    NeedStack(1, code, op);
                    Push(Persistent(Pop(), op));
                    break;
                case Op.Ext1:
                    Need(data, pos, 1, code, op);
                    Push(Count(new PyExtension(data[pos], op), op));
                    pos += 1;
                    break;
                case Op.Ext2:
                    Need(data, pos, 2, code, op);
                    Push(Count(new PyExtension(BinaryPrimitives.ReadUInt16LittleEndian(data.Slice(pos, 2)), op), op));
                    pos += 2;
                    break;
                case Op.Ext4:
                    {
                        Need(data, pos, 4, code, op);
                        var ext = BinaryPrimitives.ReadInt32LittleEndian(data.Slice(pos, 4));
                        if (ext <= 0)
                        {
                            Fail("EXT4 code must be positive", op);
                        }

                        Push(Count(new PyExtension(ext, op), op));
                        pos += 4;
                        break;
                    }

                case Op.NextBuffer:
                    Push(Count(new PyBuffer(_buffers++, op), op));
                    break;
                case Op.ReadOnlyBuffer:
                    NeedStack(1, code, op);
                    if (_stack[^1] is PyBuffer buffer)
                    {
                        buffer.IsReadOnly = true;
                    }

                    break;
                default:
                    Fail(code is >= 0x20 and < 0x7f
                        ? $"unknown opcode 0x{code:x2} ('{(char)code}'): not a pickle opcode of protocols 0-5"
                        : $"unknown opcode 0x{code:x2}: not a pickle opcode of protocols 0-5", op);
                    break;
            }
        }
    }

    // ---------------------------------------------------------------- values

    private T Count<T>(T value, int op)
        where T : PyValue
    {
        if (++_nodes > _limits.MaxNodes)
        {
            MalformedInputException.ThrowLimit("number of values", _limits.MaxNodes, op);
        }

        return value;
    }

    private PyInt Int(long value, int op) => Count(new PyInt(value, op), op);

    private PyTuple Tuple(PyValue[] items, int op)
    {
        var tuple = Count(new PyTuple(items, op), op);
        CountItems(items.Length, op);
        foreach (var item in items)
        {
            Deepen(tuple, item, op);
        }

        return tuple;
    }

    private PyStr Str(ReadOnlySpan<byte> utf8, byte code, int op)
    {
        if (!Utf8.IsValid(utf8) && !TextCodecs.IsValidUtf8SurrogatePass(utf8))
        {
            Fail($"{Op.Name(code)} string is not valid UTF-8", op);
        }

        return Count(new PyStr(TextCodecs.DecodeUtf8SurrogatePass(utf8), op), op);
    }

    private PyStr ByteString(byte[] raw, int op)
    {
        var text = Utf8.IsValid(raw) ? Encoding.UTF8.GetString(raw) : TextCodecs.DecodeLatin1(raw);
        return Count(new PyStr(text, op, raw), op);
    }

    private PyGlobal Global(string module, string name, int op)
    {
        if (_proto < 3)
        {
            (module, name) = PythonNames.Map(module, name);
        }

        var g = Count(new PyGlobal(module, name, op), op);
        _globals.Add(g);
        return g;
    }

    private PyObject Call(PyValue callable, PyValue args, PyValue? kwargs, PyCallKind how, int op)
    {
        var obj = Count(new PyObject(callable, args, kwargs, how, op), op);
        Deepen(obj, args, op);
        if (kwargs is not null)
        {
            Deepen(obj, kwargs, op);
        }

        return obj;
    }

    private PyPersistentRef Persistent(PyValue id, int op)
    {
        var r = Count(new PyPersistentRef(id, op), op);
        _persistent.Add(r);
        return r;
    }

    private void Append(PyValue target, PyValue[] items, byte code, int op)
    {
        switch (target)
        {
            case PyList list:
                AddAll(list, list.MutableItems, items, op);
                break;
            case PySet { IsFrozen: false } set when code == Op.AddItems:
                AddAll(set, set.MutableItems, items, op);
                break;
            case PyObject obj:
                AddAll(obj, obj.MutableAppended, items, op);
                break;
            default:
                Fail($"{Op.Name(code)} applied to {Describe(target)}, which has no {(code == Op.AddItems ? "add" : "append")} method", op);
                break;
        }
    }

    private void SetItems(PyValue target, PyValue[] items, byte code, int op)
    {
        switch (target)
        {
            case PyDict dict:
                SetAll(dict, items, op);
                break;
            case PyObject obj:
                obj.Items ??= Count(new PyDict(op), op);
                SetAll(obj.Items, items, op);
                Deepen(obj, obj.Items, op);
                break;
            default:
                Fail($"{Op.Name(code)} applied to {Describe(target)}, which does not support item assignment", op);
                break;
        }
    }

    private void Build(PyValue target, PyValue state, int op)
    {
        switch (target)
        {
            case PyObject obj:
                obj.State = state;
                obj.BuildCount++;
                Deepen(obj, state, op);
                break;
            case PyGlobal or PyPersistentRef or PyExtension or PyBuffer:
                _detachedBuilds.Add(new(target, state));
                break;
            default:
                Fail($"BUILD applied to {Describe(target)}, which has no __setstate__ or __dict__", op);
                break;
        }
    }

    private void AddAll(PyContainer owner, List<PyValue> into, PyValue[] items, int op)
    {
        CountItems(items.Length, op);
        foreach (var item in items)
        {
            Deepen(owner, item, op);
        }

        into.AddRange(items);
    }

    private void SetAll(PyDict dict, PyValue[] items, int op)
    {
        CountItems(items.Length / 2, op);
        for (var i = 0; i + 1 < items.Length; i += 2)
        {
            Deepen(dict, items[i], op);
            Deepen(dict, items[i + 1], op);
            dict.Set(items[i], items[i + 1]);
        }
    }

    private void Deepen(PyContainer owner, PyValue child, int op)
    {
        if (child is PyContainer c && c.Depth >= owner.Depth)
        {
            if (c.Depth >= _limits.MaxDepth)
            {
                MalformedInputException.ThrowLimit("nesting depth", _limits.MaxDepth, op);
            }

            owner.Depth = c.Depth + 1;
        }
    }

    private void CountItems(long n, int op)
    {
        _items += n;
        if (_items > _limits.MaxItems)
        {
            MalformedInputException.ThrowLimit("number of container items", _limits.MaxItems, op);
        }
    }

    private void CheckValueSize(long n, byte code, int op)
    {
        if (n > _limits.MaxValueBytes)
        {
            MalformedInputException.ThrowLimit($"{Op.Name(code)} value size ({n:N0} bytes)", _limits.MaxValueBytes, op);
        }

        _valueBytes += n;
        if (_valueBytes > _limits.MaxTotalValueBytes)
        {
            MalformedInputException.ThrowLimit("total size of str and bytes values", _limits.MaxTotalValueBytes, op);
        }
    }

    private static string Describe(PyValue v) => v switch
    {
        PyObject o => $"an object ({o.CallableName ?? "unknown callable"})",
        PyGlobal g => $"the global {g.FullName}",
        _ => "a " + v.Kind.ToString().ToLowerInvariant(),
    };

    // ---------------------------------------------------------------- stack, marks, memo

    private void Push(PyValue v)
    {
        if (_stack.Count >= _limits.MaxStack)
        {
            MalformedInputException.ThrowLimit("stack depth", _limits.MaxStack, _op);
        }

        _stack.Add(v);
    }

    private PyValue Pop()
    {
        var v = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return v;
    }

    private PyValue[] PopN(int n)
    {
        var items = _stack.GetRange(_stack.Count - n, n).ToArray();
        _stack.RemoveRange(_stack.Count - n, n);
        return items;
    }

    private PyValue[] PopTo(int mark) => PopN(_stack.Count - mark);

    private int PopMark(byte code, int op)
    {
        if (_marks.Count == 0)
        {
            Fail($"{Op.Name(code)} without a preceding MARK (could not find MARK)", op);
        }

        var mark = _marks[^1];
        _marks.RemoveAt(_marks.Count - 1);
        _fence = _marks.Count > 0 ? _marks[^1] : 0;
        return mark;
    }

    private void NeedStack(int n, byte code, int op)
    {
        if (_stack.Count - _fence < n)
        {
            Underflow(code, op, n);
        }
    }

    [DoesNotReturn]
    private void Underflow(byte code, int op, int needed)
    {
        var where = _marks.Count > 0 ? "above the last MARK" : "on the stack";
        Fail($"stack underflow: {Op.Name(code)} needs {needed} value(s) {where} but finds {Math.Max(_stack.Count - _fence, 0)}", op);
    }

    private void MemoPut(long index, int op)
    {
        if (!_memo.ContainsKey(index) && _memo.Count >= _limits.MaxMemo)
        {
            MalformedInputException.ThrowLimit("memo entries", _limits.MaxMemo, op);
        }

        _memo[index] = _stack[^1];
    }

    private PyValue MemoGet(long index, byte code, int op)
    {
        if (!_memo.TryGetValue(index, out var v))
        {
            Fail($"{Op.Name(code)}: memo value not found at index {index}", op);
        }

        return v;
    }

    private static long MemoIndexText(ReadOnlySpan<byte> text, byte code, int op)
    {
        if (!long.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowLeadingWhite | NumberStyles.AllowTrailingWhite, CultureInfo.InvariantCulture, out var index))
        {
            Fail($"{Op.Name(code)} argument is not a memo index", op);
        }

        if (index < 0)
        {
            Fail($"negative {Op.Name(code)} argument", op);
        }

        return index;
    }

    // ---------------------------------------------------------------- input helpers

    private void Need(ReadOnlySpan<byte> data, int pos, int n, byte code, int op)
    {
        if (n > data.Length - pos)
        {
            Truncated($"{Op.Name(code)} needs {n:N0} bytes but only {Math.Max(data.Length - pos, 0):N0} remain", op);
        }
    }

    private ReadOnlySpan<byte> Slice(ReadOnlySpan<byte> data, int pos, int n, byte code, int op)
    {
        CheckValueSize(n, code, op);
        Need(data, pos, n, code, op);
        return data.Slice(pos, n);
    }

    /// <summary>
    /// The payload of an opcode whose argument is a little-endian byte count (<paramref name="width"/> 1, 4 or 8 bytes)
    /// followed by that many bytes; <paramref name="pos"/> moves past both.
    /// </summary>
    private ReadOnlySpan<byte> Counted(ReadOnlySpan<byte> data, ref int pos, int width, byte code, int op)
    {
        Need(data, pos, width, code, op);
        var declared = width switch
        {
            1 => data[pos],
            4 => BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(pos, 4)),
            _ => BinaryPrimitives.ReadUInt64LittleEndian(data.Slice(pos, 8)),
        };
        var n = Length(declared, data, pos + width, code, op);
        pos += width;
        var payload = Slice(data, pos, n, code, op);
        pos += n;
        return payload;
    }

    /// <summary>A declared length as an int, checked against the limit before the data (so a huge claim is a limit error, not an allocation).</summary>
    private int Length(ulong declared, ReadOnlySpan<byte> data, int pos, byte code, int op)
    {
        if (declared > (ulong)_limits.MaxValueBytes)
        {
            if (declared > (ulong)(data.Length - pos))
            {
                Truncated($"{Op.Name(code)} declares {declared:N0} bytes but only {data.Length - pos:N0} remain", op);
            }

            MalformedInputException.ThrowLimit($"{Op.Name(code)} value size ({declared:N0} bytes)", _limits.MaxValueBytes, op);
        }

        return (int)declared;
    }

    private int Line(ReadOnlySpan<byte> data, int pos, byte code, int op)
    {
        var rel = pos <= data.Length ? data[pos..].IndexOf((byte)'\n') : -1;
        if (rel < 0)
        {
            Truncated($"the text argument of {Op.Name(code)} has no terminating newline", op);
        }

        return pos + rel;
    }

    private (string Module, string Name, int Next) NameLines(ReadOnlySpan<byte> data, int pos, byte code, int op)
    {
        var end1 = Line(data, pos, code, op);
        var end2 = Line(data, end1 + 1, code, op);
        return (NameText(data[pos..end1], code, op), NameText(data[(end1 + 1)..end2], code, op), end2 + 1);
    }

    private static string NameText(ReadOnlySpan<byte> line, byte code, int op)
    {
        const int MaxNameBytes = 4096;
        if (line.Length > MaxNameBytes)
        {
            MalformedInputException.ThrowLimit($"{Op.Name(code)} name length", MaxNameBytes, op);
        }

        if (!Utf8.IsValid(line))
        {
            Fail($"{Op.Name(code)} names must be valid UTF-8", op);
        }

        return Encoding.UTF8.GetString(line);
    }

    private BigInteger ParseIntText(ReadOnlySpan<byte> text, byte code, int op)
    {
        if (TextCodecs.TryParseDecimal(text, out var small))
        {
            return small;
        }

        if (text.Length > _limits.MaxIntDigits)
        {
            MalformedInputException.ThrowLimit($"{Op.Name(code)} digit count", _limits.MaxIntDigits, op);
        }

        if (!TextCodecs.IsPythonIntLiteral(text))
        {
            Fail($"{Op.Name(code)} argument is not an integer", op);
        }

        var s = Encoding.ASCII.GetString(text).Trim().Replace("_", string.Empty, StringComparison.Ordinal);
        var negative = s.StartsWith('-');
        if (s.Length > 0 && s[0] is '-' or '+')
        {
            s = s[1..];
        }

        var radix = 10;
        if (s.Length > 2 && s[0] == '0' && char.ToLowerInvariant(s[1]) is 'x' or 'o' or 'b')
        {
            radix = char.ToLowerInvariant(s[1]) switch { 'x' => 16, 'o' => 8, _ => 2 };
            s = s[2..];
        }

        var value = BigInteger.Zero;
        foreach (var c in s)
        {
            var d = c <= '9' ? c - '0' : char.ToLowerInvariant(c) - 'a' + 10;
            value = (value * radix) + d;
        }

        return negative ? -value : value;
    }

    [DoesNotReturn]
    private static void Fail(string message, int op, InputErrorKind kind = InputErrorKind.Syntax) => MalformedInputException.Throw(kind, message, op);

    /// <summary>Running out of input: flagged so <see cref="Read(Stream, PickleObjectLimits?)"/> can read more.</summary>
    [DoesNotReturn]
    private void Truncated(string what, int op)
    {
        RanOutOfInput = true;
        MalformedInputException.Throw(InputErrorKind.Truncated, $"truncated: {what}", op);
    }
}
