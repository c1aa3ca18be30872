using System.Buffers.Binary;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using TrainGuard.Parsing;

namespace TrainGuard.Pickle.Machine;

/// <summary>
/// The symbolic pickle machine: runs the opcodes of protocols 0-5 over symbolic values, with the exact stack,
/// mark and memo discipline of CPython's <c>_pickle.c</c>, and records every import and call. Nothing is
/// imported, constructed or called.
/// </summary>
internal sealed partial class Interpreter
{
    /// <summary>Opcodes between two checks of the deadline and cancellation (and calls of the consumed callback).</summary>
    internal const int BudgetInterval = 1 << 16;

    private readonly PickleAnalysis _a;
    private readonly PickleLimits _limits;
    private readonly CancellationToken _ct;
    private readonly Action<long>? _consumed;
    private readonly long _deadline;
    private readonly int _depth;
    private readonly ObjectStore _store;
    private readonly Memo _memo;
    private readonly List<CallInfo> _calls = [];
    private ulong[] _stack = new ulong[64];
    private int _sp;
    private int[] _marks = new int[16];
    private int _markCount;
    private int _fence;
    private int _proto;
    private int _buffers;
    private long _nextCheck = BudgetInterval;
    private int _records;

    public Interpreter(PickleAnalysis analysis, PickleLimits limits, int depth, long deadline, CancellationToken ct, Action<long>? consumed = null)
    {
        _consumed = consumed;
        _a = analysis;
        _limits = limits;
        _depth = depth;
        _deadline = deadline;
        _ct = ct;
        _store = new ObjectStore(limits.MaxObjects);
        _memo = new Memo(limits.MaxMemoEntries);
    }

    /// <summary>Offset of the opcode being executed (for errors raised outside the opcode loop's knowledge).</summary>
    public int CurrentOpcode { get; private set; }

    public long OpcodeCount { get; private set; }

    /// <summary>Stack index of the last MARK (0 without one): nothing below it can be popped.</summary>
    private int Fence => _fence;

    /// <summary>Runs one pickle from <paramref name="start"/> to its STOP; returns the offset just past STOP.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int RunPickle(ReadOnlySpan<byte> data, int start)
    {
        _sp = 0;
        _markCount = 0;
        _fence = 0;
        _proto = 0;
        _buffers = 0;
        _memo.Clear();

        var pos = start;
        while (true)
        {
            if ((uint)pos >= (uint)data.Length)
            {
                MalformedInputException.ThrowTruncated(pos == start ? "an empty pickle (no opcodes)" : "the pickle (no STOP opcode before the end)", pos);
            }

            var op = pos;
            CurrentOpcode = op;
            var code = data[pos++];
            if (++OpcodeCount >= _nextCheck)
            {
                CheckBudget(op);
            }

            switch (code)
            {
                // ---- the common path: data pickles of protocols 2-5 ----
                case Op.BinInt1:
                    Need(data, pos, 1, code, op);
                    Push(V.Int(data[pos]));
                    pos += 1;
                    break;
                case Op.BinInt2:
                    Need(data, pos, 2, code, op);
                    Push(V.Int(BinaryPrimitives.ReadUInt16LittleEndian(data.Slice(pos, 2))));
                    pos += 2;
                    break;
                case Op.BinInt:
                    Need(data, pos, 4, code, op);
                    Push(V.Int(BinaryPrimitives.ReadInt32LittleEndian(data.Slice(pos, 4))));
                    pos += 4;
                    break;
                case Op.BinFloat:
                    Need(data, pos, 8, code, op);
                    Push(V.Make(ValKind.Float, op));
                    pos += 8;
                    break;
                case Op.ShortBinUnicode:
                    {
                        Need(data, pos, 1, code, op);
                        int n = data[pos];
                        pos += 1;
                        Need(data, pos, n, code, op);
                        CheckUtf8(data.Slice(pos, n), code, op);
                        pos += n;
                        Push(V.Make(ValKind.Str, op));
                        break;
                    }

                case Op.BinUnicode:
                    {
                        Need(data, pos, 4, code, op);
                        var n = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(pos, 4));
                        pos += 4;
                        var len = NeedLong(data, pos, n, code, op);
                        CheckUtf8(data.Slice(pos, len), code, op);
                        pos += len;
                        Push(V.Make(ValKind.Str, op));
                        break;
                    }

                case Op.BinUnicode8:
                    {
                        Need(data, pos, 8, code, op);
                        var n = BinaryPrimitives.ReadUInt64LittleEndian(data.Slice(pos, 8));
                        pos += 8;
                        var len = NeedLong(data, pos, n, code, op);
                        CheckUtf8(data.Slice(pos, len), code, op);
                        pos += len;
                        Push(V.Make(ValKind.Str, op));
                        break;
                    }

                case Op.Memoize:
                    NeedStack(1, code, op);
                    _memo.Put(_memo.Count, _stack[_sp - 1], op);
                    break;
                case Op.BinPut:
                    Need(data, pos, 1, code, op);
                    NeedStack(1, code, op);
                    _memo.Put(data[pos], _stack[_sp - 1], op);
                    pos += 1;
                    break;
                case Op.LongBinPut:
                    Need(data, pos, 4, code, op);
                    NeedStack(1, code, op);
                    _memo.Put(BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(pos, 4)), _stack[_sp - 1], op);
                    pos += 4;
                    break;
                case Op.BinGet:
                    Need(data, pos, 1, code, op);
                    PushMemo(data[pos], code, op);
                    pos += 1;
                    break;
                case Op.LongBinGet:
                    Need(data, pos, 4, code, op);
                    PushMemo(BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(pos, 4)), code, op);
                    pos += 4;
                    break;
                case Op.Mark:
                    PushMark(op);
                    break;
                case Op.EmptyDict:
                    Push(V.Make(ValKind.Dict, _store.NewNode(op)));
                    break;
                case Op.EmptyList:
                    Push(V.Make(ValKind.List, _store.NewNode(op)));
                    break;
                case Op.EmptyTuple:
                    Push(V.EmptyTuple);
                    break;
                case Op.EmptySet:
                    Push(V.Make(ValKind.Set, _store.NewNode(op)));
                    break;
                case Op.SetItems:
                    {
                        var mark = PopMark(code, op);
                        if (mark - 1 < Fence)
                        {
                            Underflow(code, op, 1);
                        }

                        if (((_sp - mark) & 1) != 0)
                        {
                            Fail("odd number of items for SETITEMS", op);
                        }

                        AddRange(_stack[mark - 1], mark, _sp, ValKind.Dict, code, op);
                        _sp = mark;
                        break;
                    }

                case Op.Appends:
                    {
                        var mark = PopMark(code, op);
                        if (mark - 1 < Fence)
                        {
                            Underflow(code, op, 1);
                        }

                        AddRange(_stack[mark - 1], mark, _sp, ValKind.List, code, op);
                        _sp = mark;
                        break;
                    }

                case Op.Tuple1:
                    NeedStack(1, code, op);
                    _stack[_sp - 1] = NewContainer(ValKind.Tuple, _sp - 1, _sp, op);
                    break;
                case Op.Tuple2:
                    NeedStack(2, code, op);
                    _stack[_sp - 2] = NewContainer(ValKind.Tuple, _sp - 2, _sp, op);
                    _sp -= 1;
                    break;
                case Op.Tuple3:
                    NeedStack(3, code, op);
                    _stack[_sp - 3] = NewContainer(ValKind.Tuple, _sp - 3, _sp, op);
                    _sp -= 2;
                    break;
                case Op.None:
                    Push(V.None);
                    break;
                case Op.NewTrue:
                    Push(V.True);
                    break;
                case Op.NewFalse:
                    Push(V.False);
                    break;
                case Op.Frame:
                    {
                        Need(data, pos, 8, code, op);
                        var n = BinaryPrimitives.ReadUInt64LittleEndian(data.Slice(pos, 8));
                        pos += 8;
                        if (n > (ulong)(data.Length - pos))
                        {
                            Fail($"truncated: FRAME declares {n:N0} bytes but only {data.Length - pos:N0} remain", op, InputErrorKind.Truncated);
                        }

                        break;
                    }

                case Op.Stop:
                    if (_sp <= Fence)
                    {
                        Underflow(code, op, 1);
                    }

                    if (_markCount > 0)
                    {
                        Fail($"STOP while {_markCount} MARK(s) are still open (a MARK without the opcode that consumes it)", op);
                    }

                    return pos;

                default:
                    pos = Rare(data, code, op, pos);
                    break;
            }
        }
    }

    /// <summary>Everything outside the hot data path: protocol 0 text forms, imports, calls, persistent ids.</summary>
    private int Rare(ReadOnlySpan<byte> data, byte code, int op, int pos)
    {
        switch (code)
        {
            case Op.Proto:
                {
                    Need(data, pos, 1, code, op);
                    int proto = data[pos];
                    if (proto > Op.HighestProtocol)
                    {
                        Fail($"unsupported pickle protocol: {proto}", op, InputErrorKind.Unsupported);
                    }

                    _proto = proto;
                    _a.Protocol = Math.Max(_a.Protocol, proto);
                    return pos + 1;
                }

            case Op.Pop:
                if (_sp > Fence)
                {
                    _sp--;
                }
                else if (_markCount > 0)
                {
                    _markCount--;
                    _fence = _markCount > 0 ? _marks[_markCount - 1] : 0;
                }
                else
                {
                    Underflow(code, op, 1);
                }

                return pos;
            case Op.PopMark:
                _sp = PopMark(code, op);
                return pos;
            case Op.Dup:
                NeedStack(1, code, op);
                Push(_stack[_sp - 1]);
                return pos;
            case Op.Int:
                {
                    var end = Line(data, pos, code, op);
                    var text = data[pos..end];
                    if (text.SequenceEqual("00"u8))
                    {
                        Push(V.False);
                    }
                    else if (text.SequenceEqual("01"u8))
                    {
                        Push(V.True);
                    }
                    else
                    {
                        PushIntText(text, code, op);
                    }

                    return end + 1;
                }

            case Op.Long:
                {
                    var end = Line(data, pos, code, op);
                    var text = data[pos..end];
                    if (text.Length > 0 && text[^1] == (byte)'L')
                    {
                        text = text[..^1];
                    }

                    PushIntText(text, code, op);
                    return end + 1;
                }

            case Op.Long1:
                {
                    Need(data, pos, 1, code, op);
                    int n = data[pos];
                    Need(data, pos + 1, n, code, op);
                    Push(LongValue(data.Slice(pos + 1, n), op));
                    return pos + 1 + n;
                }

            case Op.Long4:
                {
                    Need(data, pos, 4, code, op);
                    var n = BinaryPrimitives.ReadInt32LittleEndian(data.Slice(pos, 4));
                    if (n < 0)
                    {
                        Fail("LONG pickle has negative byte count", op);
                    }

                    Need(data, pos + 4, n, code, op);
                    Push(LongValue(data.Slice(pos + 4, n), op));
                    return pos + 4 + n;
                }

            case Op.Float:
                {
                    var end = Line(data, pos, code, op);
                    if (!TextCodecs.TryParseFloat(data[pos..end], out _))
                    {
                        Fail("FLOAT argument is not a number", op);
                    }

                    Push(V.Make(ValKind.Float, op));
                    return end + 1;
                }

            case Op.String:
                {
                    var end = Line(data, pos, code, op);
                    var text = data[pos..end];
                    if (text.Length < 2 || text[0] != text[^1] || (text[0] != (byte)'\'' && text[0] != (byte)'"'))
                    {
                        Fail("the STRING opcode argument must be quoted", op);
                    }

                    if (TextCodecs.EscapeDecode(text[1..^1], out var error) is null)
                    {
                        Fail($"STRING argument has a bad escape: {error}", op);
                    }

                    Push(V.Make(ValKind.Str, op));
                    return end + 1;
                }

            case Op.BinString:
                {
                    Need(data, pos, 4, code, op);
                    var n = BinaryPrimitives.ReadInt32LittleEndian(data.Slice(pos, 4));
                    if (n < 0)
                    {
                        Fail("BINSTRING pickle has negative byte count", op);
                    }

                    Need(data, pos + 4, n, code, op);
                    Push(V.Make(ValKind.Str, op));
                    return pos + 4 + n;
                }

            case Op.ShortBinString:
                {
                    Need(data, pos, 1, code, op);
                    int n = data[pos];
                    Need(data, pos + 1, n, code, op);
                    Push(V.Make(ValKind.Str, op));
                    return pos + 1 + n;
                }

            case Op.Unicode:
                {
                    var end = Line(data, pos, code, op);
                    if (TextCodecs.RawUnicodeEscapeDecode(data[pos..end], out var error) is null)
                    {
                        Fail($"UNICODE argument cannot be decoded as raw-unicode-escape: {error}", op);
                    }

                    Push(V.Make(ValKind.Str, op));
                    return end + 1;
                }

            case Op.ShortBinBytes:
                {
                    Need(data, pos, 1, code, op);
                    int n = data[pos];
                    Need(data, pos + 1, n, code, op);
                    Push(V.Make(ValKind.Bytes, op));
                    return pos + 1 + n;
                }

            case Op.BinBytes:
                {
                    Need(data, pos, 4, code, op);
                    var n = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(pos, 4));
                    var len = NeedLong(data, pos + 4, n, code, op);
                    Push(V.Make(ValKind.Bytes, op));
                    return pos + 4 + len;
                }

            case Op.BinBytes8:
            case Op.ByteArray8:
                {
                    Need(data, pos, 8, code, op);
                    var n = BinaryPrimitives.ReadUInt64LittleEndian(data.Slice(pos, 8));
                    var len = NeedLong(data, pos + 8, n, code, op);
                    Push(V.Make(code == Op.ByteArray8 ? ValKind.ByteArray : ValKind.Bytes, op));
                    return pos + 8 + len;
                }

            case Op.Tuple:
                {
                    var mark = PopMark(code, op);
                    var t = NewContainer(ValKind.Tuple, mark, _sp, op);
                    _sp = mark;
                    Push(t);
                    return pos;
                }

            case Op.List:
                {
                    var mark = PopMark(code, op);
                    var l = NewContainer(ValKind.List, mark, _sp, op);
                    _sp = mark;
                    Push(l);
                    return pos;
                }

            case Op.Dict:
                {
                    var mark = PopMark(code, op);
                    if (((_sp - mark) & 1) != 0)
                    {
                        Fail("odd number of items for DICT", op);
                    }

                    var d = NewContainer(ValKind.Dict, mark, _sp, op);
                    _sp = mark;
                    Push(d);
                    return pos;
                }

            case Op.FrozenSet:
                {
                    var mark = PopMark(code, op);
                    var f = NewContainer(ValKind.FrozenSet, mark, _sp, op);
                    _sp = mark;
                    Push(f);
                    return pos;
                }

            case Op.Append:
                NeedStack(2, code, op);
                AddRange(_stack[_sp - 2], _sp - 1, _sp, ValKind.List, code, op);
                _sp -= 1;
                return pos;
            case Op.SetItem:
                NeedStack(3, code, op);
                AddRange(_stack[_sp - 3], _sp - 2, _sp, ValKind.Dict, code, op);
                _sp -= 2;
                return pos;
            case Op.AddItems:
                {
                    var mark = PopMark(code, op);
                    if (mark - 1 < Fence)
                    {
                        Underflow(code, op, 1);
                    }

                    AddRange(_stack[mark - 1], mark, _sp, ValKind.Set, code, op);
                    _sp = mark;
                    return pos;
                }

            case Op.Get:
                {
                    var end = Line(data, pos, code, op);
                    PushMemo(ParseMemoIndex(data[pos..end], code, op), code, op);
                    return end + 1;
                }

            case Op.Put:
                {
                    var end = Line(data, pos, code, op);
                    var index = ParseMemoIndex(data[pos..end], code, op);
                    NeedStack(1, code, op);
                    _memo.Put(index, _stack[_sp - 1], op);
                    return end + 1;
                }

            case Op.Global:
                {
                    var (module, name, next) = ReadNameLines(data, pos, code, op);
                    Push(NewGlobal(module, name, code, op, mapped: true));
                    return next;
                }

            case Op.StackGlobal:
                {
                    NeedStack(2, code, op);
                    var nameVal = _stack[--_sp];
                    var moduleVal = _stack[--_sp];
                    var module = StackGlobalPart(data, moduleVal, "module", op);
                    var name = StackGlobalPart(data, nameVal, "name", op);
                    Push(NewGlobal(module, name, code, op, mapped: true));
                    return pos;
                }

            case Op.Inst:
                {
                    var (module, name, next) = ReadNameLines(data, pos, code, op);
                    var mark = PopMark(code, op);
                    var args = NewContainer(ValKind.Tuple, mark, _sp, op);
                    _sp = mark;
                    var cls = NewGlobal(module, name, code, op, mapped: true);
                    Push(MakeCall(data, cls, args, 0, code, op));
                    return next;
                }

            case Op.Obj:
                {
                    var mark = PopMark(code, op);
                    if (_sp - mark < 1)
                    {
                        Fail("OBJ needs a class after its MARK", op);
                    }

                    var cls = _stack[mark];
                    var args = NewContainer(ValKind.Tuple, mark + 1, _sp, op);
                    _sp = mark;
                    Push(MakeCall(data, cls, args, 0, code, op));
                    return pos;
                }

            case Op.NewObj:
                {
                    NeedStack(2, code, op);
                    var args = _stack[--_sp];
                    var cls = _stack[_sp - 1];
                    _stack[_sp - 1] = MakeCall(data, cls, args, 0, code, op);
                    return pos;
                }

            case Op.NewObjEx:
                {
                    NeedStack(3, code, op);
                    var kwargs = _stack[--_sp];
                    var args = _stack[--_sp];
                    var cls = _stack[_sp - 1];
                    _stack[_sp - 1] = MakeCall(data, cls, args, kwargs, code, op);
                    return pos;
                }

            case Op.Reduce:
                {
                    NeedStack(2, code, op);
                    var args = _stack[--_sp];
                    var func = _stack[_sp - 1];
                    _stack[_sp - 1] = MakeCall(data, func, args, 0, code, op);
                    return pos;
                }

            case Op.Build:
                return Build(data, op, pos);
            case Op.PersId:
                {
                    var end = Line(data, pos, code, op);
                    foreach (var b in data[pos..end])
                    {
                        if (b >= 0x80)
                        {
                            Fail("persistent IDs in protocol 0 must be ASCII strings", op);
                        }
                    }

                    Push(NewPersistentLoad(data, V.Make(ValKind.Str, op), op));
                    return end + 1;
                }

            case Op.BinPersId:
                {
                    NeedStack(1, code, op);
                    var pid = _stack[_sp - 1];
                    _stack[_sp - 1] = NewPersistentLoad(data, pid, op);
                    return pos;
                }

            case Op.Ext1:
                Need(data, pos, 1, code, op);
                PushExtension(data[pos], code, op);
                return pos + 1;
            case Op.Ext2:
                Need(data, pos, 2, code, op);
                PushExtension(BinaryPrimitives.ReadUInt16LittleEndian(data.Slice(pos, 2)), code, op);
                return pos + 2;
            case Op.Ext4:
                Need(data, pos, 4, code, op);
                PushExtension(BinaryPrimitives.ReadInt32LittleEndian(data.Slice(pos, 4)), code, op);
                return pos + 4;
            case Op.NextBuffer:
                Push(V.Make(ValKind.Buffer, _buffers++));
                return pos;
            case Op.ReadOnlyBuffer:
                NeedStack(1, code, op);
                return pos;
            default:
                Fail(UnknownOpcodeMessage(code), op);
                return pos;
        }
    }

    private static string UnknownOpcodeMessage(byte code) =>
        code is >= 0x20 and < 0x7f
            ? $"unknown opcode 0x{code:x2} ('{(char)code}'): not a pickle opcode of protocols 0-5"
            : $"unknown opcode 0x{code:x2}: not a pickle opcode of protocols 0-5";

    // ---------------------------------------------------------------- stack, marks, memo

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Push(ulong v)
    {
        if (_sp == _stack.Length)
        {
            GrowStack();
        }

        _stack[_sp++] = v;
    }

    private void GrowStack()
    {
        if (_stack.Length >= _limits.MaxStackDepth)
        {
            MalformedInputException.ThrowLimit("stack depth", _limits.MaxStackDepth, CurrentOpcode);
        }

        Array.Resize(ref _stack, (int)Math.Min(_stack.Length * 2L, Math.Max(_limits.MaxStackDepth, 1)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void NeedStack(int n, byte code, int op)
    {
        if (_sp - Fence < n)
        {
            Underflow(code, op, n);
        }
    }

    [DoesNotReturn]
    private void Underflow(byte code, int op, int needed)
    {
        var available = _sp - Fence;
        var where = _markCount > 0 ? "above the last MARK" : "on the stack";
        Fail($"stack underflow: {Op.Name(code)} needs {needed} value(s) {where} but finds {Math.Max(available, 0)}", op);
    }

    private void PushMark(int op)
    {
        if (_markCount == _marks.Length)
        {
            if (_markCount >= _limits.MaxMarkDepth)
            {
                MalformedInputException.ThrowLimit("number of open MARKs", _limits.MaxMarkDepth, op);
            }

            Array.Resize(ref _marks, Math.Min(_marks.Length * 2, Math.Max(_limits.MaxMarkDepth, 1)));
        }

        _marks[_markCount++] = _sp;
        _fence = _sp;
    }

    private int PopMark(byte code, int op)
    {
        if (_markCount == 0)
        {
            Fail($"{Op.Name(code)} without a preceding MARK (could not find MARK)", op);
        }

        var mark = _marks[--_markCount];
        _fence = _markCount > 0 ? _marks[_markCount - 1] : 0;
        return mark;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void PushMemo(long index, byte code, int op)
    {
        var v = _memo.Get(index);
        if (v == 0)
        {
            Fail($"{Op.Name(code)}: memo value not found at index {index}", op);
        }

        Push(v);
    }

    private static long ParseMemoIndex(ReadOnlySpan<byte> text, byte code, int op)
    {
        if (!TextCodecs.TryParseDecimal(text, out var index))
        {
            Fail($"{Op.Name(code)} argument is not a memo index", op);
        }

        if (index < 0)
        {
            Fail($"negative {Op.Name(code)} argument", op);
        }

        return index;
    }

    // ---------------------------------------------------------------- values

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private ulong NewContainer(ValKind kind, int from, int to, int op)
    {
        if (kind == ValKind.Tuple && from == to)
        {
            return V.EmptyTuple;
        }

        var id = _store.NewNode(op);
        _store.AddChildren(id, _stack.AsSpan(from, to - from));
        return V.Make(kind, id);
    }

    /// <summary>APPEND(S), SETITEM(S), ADDITEMS into the container at <paramref name="target"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void AddRange(ulong target, int from, int to, ValKind expected, byte code, int op)
    {
        var kind = V.Kind(target);
        if (kind == expected)
        {
            _store.AddChildren(V.Node(target), _stack.AsSpan(from, to - from));
            return;
        }

        // An object built by a call (an OrderedDict, a custom list subclass) gets its items through its own
        // methods; its class is already recorded as a call, so there is nothing more to record here.
        if (V.IsObject(kind) || kind == ValKind.Opaque)
        {
            return;
        }

        Fail($"{Op.Name(code)} applied to a {Describe(kind)}, which has no such method", op);
    }

    private static string Describe(ValKind kind) => kind switch
    {
        ValKind.Str => "str",
        ValKind.Int or ValKind.BigInt => "int",
        ValKind.Bool => "bool",
        ValKind.None => "None",
        ValKind.Float => "float",
        ValKind.Bytes => "bytes",
        ValKind.ByteArray => "bytearray",
        _ => kind.ToString().ToLowerInvariant(),
    };

    private void PushIntText(ReadOnlySpan<byte> text, byte code, int op)
    {
        if (TextCodecs.TryParseDecimal(text, out var value) && value is >= V.MinSmallInt and <= V.MaxSmallInt)
        {
            Push(V.Int(value));
            return;
        }

        if (!TextCodecs.IsPythonIntLiteral(text))
        {
            Fail($"{Op.Name(code)} argument is not an integer", op);
        }

        Push(V.Make(ValKind.BigInt, op));
    }

    private static ulong LongValue(ReadOnlySpan<byte> bytes, int op)
    {
        if (bytes.Length > 7)
        {
            return V.Make(ValKind.BigInt, op);
        }

        long value = 0;
        for (var i = bytes.Length - 1; i >= 0; i--)
        {
            value = (value << 8) | bytes[i];
        }

        if (bytes.Length > 0 && (bytes[^1] & 0x80) != 0)
        {
            value -= 1L << (8 * bytes.Length);
        }

        return V.Int(value);
    }

    // ---------------------------------------------------------------- input helpers

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Need(ReadOnlySpan<byte> data, int pos, int n, byte code, int op)
    {
        if ((uint)n > (uint)(data.Length - pos))
        {
            Truncated(data, pos, n, code, op);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int NeedLong(ReadOnlySpan<byte> data, int pos, ulong n, byte code, int op)
    {
        if (n > (ulong)(data.Length - pos))
        {
            Fail($"truncated: {Op.Name(code)} declares {n:N0} bytes but only {data.Length - pos:N0} remain", op, InputErrorKind.Truncated);
        }

        return (int)n;
    }

    [DoesNotReturn]
    private static void Truncated(ReadOnlySpan<byte> data, int pos, int n, byte code, int op) =>
        Fail($"truncated: {Op.Name(code)} needs {n:N0} bytes but only {Math.Max(data.Length - pos, 0):N0} remain", op, InputErrorKind.Truncated);

    /// <summary>Index of the newline ending the line that starts at <paramref name="pos"/>.</summary>
    private static int Line(ReadOnlySpan<byte> data, int pos, byte code, int op)
    {
        var i = pos <= data.Length ? data[pos..].IndexOf((byte)'\n') : -1;
        if (i < 0)
        {
            Fail($"truncated: the text argument of {Op.Name(code)} has no terminating newline", op, InputErrorKind.Truncated);
        }

        return pos + i;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CheckUtf8(ReadOnlySpan<byte> s, byte code, int op)
    {
        if (!System.Text.Ascii.IsValid(s))
        {
            CheckUtf8Slow(s, code, op);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void CheckUtf8Slow(ReadOnlySpan<byte> s, byte code, int op)
    {
        if (!TextCodecs.IsValidUtf8SurrogatePass(s))
        {
            Fail($"{Op.Name(code)} string is not valid UTF-8", op);
        }
    }

    [DoesNotReturn]
    private static void Fail(string message, int op, InputErrorKind kind = InputErrorKind.Syntax) => MalformedInputException.Throw(kind, message, op);

    private void CheckBudget(int op)
    {
        _nextCheck = OpcodeCount + BudgetInterval;
        _ct.ThrowIfCancellationRequested();
        _consumed?.Invoke(op);
        if (Stopwatch.GetTimestamp() > _deadline)
        {
            MalformedInputException.ThrowLimit("analysis time (seconds)", (long)_limits.Timeout.TotalSeconds, op);
        }
    }

    private void CountRecord(int op)
    {
        if (++_records > _limits.MaxRecords)
        {
            MalformedInputException.ThrowLimit("number of recorded imports, calls and persistent ids", _limits.MaxRecords, op);
        }
    }
}
