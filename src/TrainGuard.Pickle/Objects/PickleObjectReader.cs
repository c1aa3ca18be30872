using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Numerics;
using System.Text;
using System.Text.Unicode;
using TrainGuard.Parsing;
using TrainGuard.Pickle.Machine;
using TrainGuard.Pickle.Opcodes;
using Op = TrainGuard.Pickle.Opcodes.PickleOp;

namespace TrainGuard.Pickle.Objects;

/// <summary>
/// Reads one pickle (protocols 0-5) into a tree of <see cref="PyValue"/>s without executing anything:
/// imports become <see cref="PyGlobal"/>s, calls <see cref="PyObject"/>s, persistent ids
/// <see cref="PyPersistentRef"/>s. Stack, mark and memo follow CPython's <c>_pickle.c</c>; shared
/// references stay shared. Opcodes come from <see cref="PickleOpcodeReader"/>, which checks every length against
/// the input and <see cref="PickleObjectLimits.MaxValueBytes"/> before anything is allocated; bad input gives a
/// <see cref="MalformedInputException"/> naming the opcode offset.
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
            catch (MalformedInputException e) when (!ended && e.Kind == InputErrorKind.Truncated)
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
        var reader = new PickleOpcodeReader(data, start, _limits.MaxValueBytes);
        while (true)
        {
            var ins = reader.Read();
            var op = ins.Offset;
            _op = op;
            var code = ins.Opcode;
            var arg = ins.Argument;
            switch (code)
            {
                case Op.Proto:
                    // The decoder rejects protocols above the highest.
                    _proto = (int)ins.Value;
                    _maxProto = Math.Max(_maxProto, _proto);
                    break;
                case Op.Frame:
                    // The decoder checks that the frame lies inside the input; its opcodes are read as they come.
                    break;
                case Op.Stop:
                    NeedStack(1, code, op);
                    return new PickleObjectResult
                    {
                        Root = _stack[^1],
                        EndOffset = reader.Position,
                        Protocol = _maxProto,
                        NodeCount = _nodes,
                        PersistentRefs = _persistent,
                        Globals = _globals,
                        DetachedBuilds = _detachedBuilds,
                    };

                // ---- constants and numbers
                case Op.None:
                    Push(Count(new PyNone(op), op));
                    break;
                case Op.NewTrue:
                case Op.NewFalse:
                    Push(Count(new PyBool(code == Op.NewTrue, op), op));
                    break;
                case Op.BinInt1:
                case Op.BinInt2:
                case Op.BinInt:
                    Push(Int(ins.Value, op));
                    break;
                case Op.Int:
                    {
                        var value = ParseIntText(arg, code, op);
                        Push(arg.Length == 2 && (value.IsZero || value.IsOne) ? Count(new PyBool(value.IsOne, op), op) : Count(new PyInt(value, op), op));
                        break;
                    }

                case Op.Long:
                    Push(Count(new PyInt(ParseIntText(arg.Length > 0 && arg[^1] == (byte)'L' ? arg[..^1] : arg, code, op), op), op));
                    break;
                case Op.Long1:
                case Op.Long4:
                    if (code == Op.Long4)
                    {
                        CountValueBytes(arg.Length, op);
                    }

                    Push(Count(new PyInt(new BigInteger(arg, isUnsigned: false, isBigEndian: false), op), op));
                    break;
                case Op.BinFloat:
                    Push(Count(new PyFloat(TextCodecs.ReadBinFloat(arg), op), op));
                    break;
                case Op.Float:
                    {
                        if (!TextCodecs.TryParseFloat(arg, out var d))
                        {
                            Fail("FLOAT argument is not a number", op);
                        }

                        Push(Count(new PyFloat(d, op), op));
                        break;
                    }

                // ---- strings and bytes
                case Op.ShortBinUnicode:
                case Op.BinUnicode:
                case Op.BinUnicode8:
                    CountValueBytes(arg.Length, op);
                    Push(Str(arg, code, op));
                    break;
                case Op.Unicode:
                    {
                        CountValueBytes(arg.Length, op);
                        var s = TextCodecs.RawUnicodeEscapeDecode(arg, out var error);
                        if (s is null)
                        {
                            Fail($"UNICODE argument cannot be decoded as raw-unicode-escape: {error}", op);
                        }

                        Push(Count(new PyStr(s, op), op));
                        break;
                    }

                case Op.String:
                    {
                        if (arg.Length < 2 || arg[0] != arg[^1] || (arg[0] != (byte)'\'' && arg[0] != (byte)'"'))
                        {
                            Fail("the STRING opcode argument must be quoted", op);
                        }

                        CountValueBytes(arg.Length, op);
                        var raw = TextCodecs.EscapeDecode(arg[1..^1], out var error);
                        if (raw is null)
                        {
                            Fail($"STRING argument has a bad escape: {error}", op);
                        }

                        Push(ByteString(raw, op));
                        break;
                    }

                case Op.BinString:
                case Op.ShortBinString:
                    CountValueBytes(arg.Length, op);
                    Push(ByteString(arg.ToArray(), op));
                    break;
                case Op.ShortBinBytes:
                case Op.BinBytes:
                case Op.BinBytes8:
                case Op.ByteArray8:
                    CountValueBytes(arg.Length, op);
                    Push(Count(new PyBytes(arg.ToArray(), code == Op.ByteArray8, op), op));
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
                case Op.LongBinPut:
                case Op.Put:
                    NeedStack(1, code, op);
                    MemoPut(ins.Value, op);
                    break;

                case Op.BinGet:
                case Op.LongBinGet:
                case Op.Get:
                    Push(MemoGet(ins.Value, code, op));
                    break;

                // ---- imports and calls
                case Op.Global:
                    Push(Global(NameText(ins.FirstLine, code, op), NameText(ins.SecondLine, code, op), op));
                    break;

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
                        var module = NameText(ins.FirstLine, code, op);
                        var name = NameText(ins.SecondLine, code, op);
                        var mark = PopMark(code, op);
                        var args = Tuple(PopTo(mark), op);
                        Push(Call(Global(module, name, op), args, null, PyCallKind.Inst, op));
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
                        if (!Ascii.IsValid(arg))
                        {
                            Fail("persistent IDs in protocol 0 must be ASCII strings", op);
                        }

                        CountValueBytes(arg.Length, op);
                        var id = Count(new PyStr(Encoding.ASCII.GetString(arg), op), op);
                        Push(Persistent(id, op));
                        break;
                    }

                case Op.BinPersId:
                    NeedStack(1, code, op);
                    Push(Persistent(Pop(), op));
                    break;
                case Op.Ext1:
                case Op.Ext2:
                case Op.Ext4:
                    // The decoder rejects codes <= 0.
                    Push(Count(new PyExtension((int)ins.Value, op), op));
                    break;
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
                    throw new UnreachableException($"opcode {Op.Name(code)} decoded but not handled");
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

    /// <summary>Adds a str or bytes value to the total (each value's own size is checked by the decoder).</summary>
    private void CountValueBytes(long n, int op)
    {
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

    // ---------------------------------------------------------------- input helpers

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
}
