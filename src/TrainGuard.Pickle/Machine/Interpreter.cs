using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Runtime.CompilerServices;
using TrainGuard.Parsing;
using TrainGuard.Pickle.Opcodes;
using Op = TrainGuard.Pickle.Opcodes.PickleOp;

namespace TrainGuard.Pickle.Machine;

/// <summary>
/// The symbolic pickle machine: runs the opcodes of protocols 0-5 over symbolic values, with the exact stack,
/// mark and memo discipline of CPython's <c>_pickle.c</c>, and records every import and call. Nothing is
/// imported, constructed or called. Opcodes and their arguments come from <see cref="PickleOpcodeReader"/>;
/// values keep only the offset of the opcode that pushed them and are decoded again through it when rendered.
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

        // The loop dispatches on the opcode byte, then reads it with the decoder's read for that opcode's argument
        // (each a small inlined specialisation of PickleOpcodeReader.Read); opcodes outside the hot data path go
        // to Rare, which decodes them with the general Read.
        // The offset of the next opcode is a local carried from one opcode to the next, and each opcode gets a
        // reader of its own, so the JIT keeps both in registers instead of a reader's field in the stack frame.
        var pos = start;
        while (true)
        {
            var op = pos;
            if ((uint)op >= (uint)data.Length)
            {
                EndOfInput(data, start, op);
            }

            var reader = new PickleOpcodeReader(data, op);
            var code = data[op];
            CurrentOpcode = op;
            if (++OpcodeCount >= _nextCheck)
            {
                CheckBudget(op);
            }

            switch (code)
            {
                // ---- the common path: data pickles of protocols 2-5 ----
                case Op.BinInt1:
                    Push(V.Int(reader.ReadUInt1()));
                    break;
                case Op.BinInt2:
                    Push(V.Int(reader.ReadUInt2()));
                    break;
                case Op.BinInt:
                    Push(V.Int(reader.ReadInt4()));
                    break;
                case Op.BinFloat:
                    reader.ReadFloat8();
                    Push(V.Make(ValKind.Float, op));
                    break;
                case Op.ShortBinUnicode:
                    PushStr(reader.ReadCounted1(), code, op);
                    break;
                case Op.BinUnicode:
                    PushStr(reader.ReadCounted4(), code, op);
                    break;
                case Op.BinUnicode8:
                    PushStr(reader.ReadCounted8(), code, op);
                    break;
                case Op.Memoize:
                    reader.ReadNoArgument();
                    MemoPut(_memo.Count, code, op);
                    break;
                case Op.BinPut:
                    MemoPut(reader.ReadUInt1(), code, op);
                    break;
                case Op.LongBinPut:
                    MemoPut(reader.ReadUInt4(), code, op);
                    break;
                case Op.BinGet:
                    {
                        var index = (int)reader.ReadUInt1();
                        PushMemo(_memo.GetFirstPage(index), index, code, op);
                        break;
                    }

                case Op.LongBinGet:
                    {
                        var index = reader.ReadUInt4();
                        PushMemo(_memo.Get(index), index, code, op);
                        break;
                    }

                case Op.Mark:
                    reader.ReadNoArgument();
                    PushMark(op);
                    break;
                case Op.EmptyDict:
                    reader.ReadNoArgument();
                    Push(V.Make(ValKind.Dict, _store.NewNode(op)));
                    break;
                case Op.EmptyList:
                    reader.ReadNoArgument();
                    Push(V.Make(ValKind.List, _store.NewNode(op)));
                    break;
                case Op.EmptyTuple:
                    reader.ReadNoArgument();
                    Push(V.EmptyTuple);
                    break;
                case Op.EmptySet:
                    reader.ReadNoArgument();
                    Push(V.Make(ValKind.Set, _store.NewNode(op)));
                    break;
                case Op.SetItems:
                    {
                        reader.ReadNoArgument();
                        var mark = PopMark(code, op);
                        if (mark - 1 < Fence)
                        {
                            Underflow(code, op, 1);
                        }

                        if (((_sp - mark) & 1) != 0)
                        {
                            Fail("odd number of items for SETITEMS", op);
                        }

                        AddRange(data, _stack[mark - 1], mark, _sp, ValKind.Dict, code, op);
                        _sp = mark;
                        break;
                    }

                case Op.Appends:
                    {
                        reader.ReadNoArgument();
                        var mark = PopMark(code, op);
                        if (mark - 1 < Fence)
                        {
                            Underflow(code, op, 1);
                        }

                        AddRange(data, _stack[mark - 1], mark, _sp, ValKind.List, code, op);
                        _sp = mark;
                        break;
                    }

                case Op.Tuple1:
                    reader.ReadNoArgument();
                    NeedStack(1, code, op);
                    _stack[_sp - 1] = NewContainer(ValKind.Tuple, _sp - 1, _sp, op);
                    break;
                case Op.Tuple2:
                    reader.ReadNoArgument();
                    NeedStack(2, code, op);
                    _stack[_sp - 2] = NewContainer(ValKind.Tuple, _sp - 2, _sp, op);
                    _sp -= 1;
                    break;
                case Op.Tuple3:
                    reader.ReadNoArgument();
                    NeedStack(3, code, op);
                    _stack[_sp - 3] = NewContainer(ValKind.Tuple, _sp - 3, _sp, op);
                    _sp -= 2;
                    break;
                case Op.None:
                    reader.ReadNoArgument();
                    Push(V.None);
                    break;
                case Op.NewTrue:
                    reader.ReadNoArgument();
                    Push(V.True);
                    break;
                case Op.NewFalse:
                    reader.ReadNoArgument();
                    Push(V.False);
                    break;
                case Op.Frame:
                    // The decoder checks that the frame lies inside the input; its opcodes are read as they come.
                    reader.ReadUInt8();
                    break;
                case Op.Stop:
                    reader.ReadNoArgument();
                    if (_sp <= Fence)
                    {
                        Underflow(code, op, 1);
                    }

                    if (_markCount > 0)
                    {
                        MarksOpenAtStop(_markCount, op);
                    }

                    return reader.Position;
                case Op.Build:
                    // joblib's arrays follow their BUILD as raw bytes: Build returns where the opcodes go on.
                    reader.ReadNoArgument();
                    reader.Position = Build(data, op, reader.Position);
                    break;
                // Every other opcode is listed, so the switch covers 0x28..0x98 densely and compiles to one jump
                // table instead of a tree of comparisons (bytes that are no opcode still go to Rare, which rejects them).
                case Op.Pop:
                case Op.PopMark:
                case Op.Dup:
                case Op.Float:
                case Op.Int:
                case Op.Long:
                case Op.PersId:
                case Op.BinPersId:
                case Op.Reduce:
                case Op.String:
                case Op.BinString:
                case Op.ShortBinString:
                case Op.Unicode:
                case Op.Append:
                case Op.Global:
                case Op.Dict:
                case Op.Get:
                case Op.Inst:
                case Op.List:
                case Op.Obj:
                case Op.Put:
                case Op.SetItem:
                case Op.Tuple:
                case Op.Proto:
                case Op.NewObj:
                case Op.Ext1:
                case Op.Ext2:
                case Op.Ext4:
                case Op.Long1:
                case Op.Long4:
                case Op.BinBytes:
                case Op.ShortBinBytes:
                case Op.BinBytes8:
                case Op.AddItems:
                case Op.FrozenSet:
                case Op.NewObjEx:
                case Op.StackGlobal:
                case Op.ByteArray8:
                case Op.NextBuffer:
                case Op.ReadOnlyBuffer:
                default:
                    reader.Position = Rare(data, op);
                    break;
            }

            pos = reader.Position;
        }
    }

    [DoesNotReturn]
    private static void MarksOpenAtStop(int marks, int op) =>
        Fail($"STOP while {marks} MARK(s) are still open (a MARK without the opcode that consumes it)", op);

    /// <summary>Throws the decoder's own error for a pickle that ends before STOP (it names where the pickle started).</summary>
    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void EndOfInput(ReadOnlySpan<byte> data, int start, int pos)
    {
        var reader = new PickleOpcodeReader(data, start) { Position = pos };
        reader.Peek();
        throw new UnreachableException("the decoder reads past the end of the input");
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void PushStr(ReadOnlySpan<byte> utf8, byte code, int op)
    {
        CheckUtf8(utf8, code, op);
        Push(V.Make(ValKind.Str, op));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void MemoPut(long index, byte code, int op)
    {
        NeedStack(1, code, op);
        _memo.Put(index, _stack[_sp - 1], op);
    }

    /// <summary>
    /// Everything outside the hot data path: protocol 0 text forms, imports, calls, persistent ids. The opcode at
    /// <paramref name="op"/> is decoded here, with the general <see cref="PickleOpcodeReader.Read"/>; returns where
    /// the next opcode starts.
    /// </summary>
    private int Rare(ReadOnlySpan<byte> data, int op)
    {
        var ins = new PickleOpcodeReader(data, op).Read();
        var code = ins.Opcode;
        var arg = ins.Argument;
        switch (code)
        {
            case Op.Proto:
                // The decoder rejects protocols above the highest.
                _proto = (int)ins.Value;
                _a.Protocol = Math.Max(_a.Protocol, _proto);
                break;
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

                break;
            case Op.PopMark:
                _sp = PopMark(code, op);
                break;
            case Op.Dup:
                NeedStack(1, code, op);
                Push(_stack[_sp - 1]);
                break;
            case Op.Int:
                if (arg.SequenceEqual("00"u8))
                {
                    Push(V.False);
                }
                else if (arg.SequenceEqual("01"u8))
                {
                    Push(V.True);
                }
                else
                {
                    PushIntText(arg, code, op);
                }

                break;
            case Op.Long:
                PushIntText(arg.Length > 0 && arg[^1] == (byte)'L' ? arg[..^1] : arg, code, op);
                break;
            case Op.Long1:
            case Op.Long4:
                Push(LongValue(arg, op));
                break;
            case Op.Float:
                if (!TextCodecs.TryParseFloat(arg, out _))
                {
                    Fail("FLOAT argument is not a number", op);
                }

                Push(V.Make(ValKind.Float, op));
                break;
            case Op.String:
                if (arg.Length < 2 || arg[0] != arg[^1] || (arg[0] != (byte)'\'' && arg[0] != (byte)'"'))
                {
                    Fail("the STRING opcode argument must be quoted", op);
                }

                if (TextCodecs.EscapeDecode(arg[1..^1], out var error) is null)
                {
                    Fail($"STRING argument has a bad escape: {error}", op);
                }

                Push(V.Make(ValKind.Str, op));
                break;
            case Op.BinString:
            case Op.ShortBinString:
                Push(V.Make(ValKind.Str, op));
                break;
            case Op.Unicode:
                if (TextCodecs.RawUnicodeEscapeDecode(arg, out var unicodeError) is null)
                {
                    Fail($"UNICODE argument cannot be decoded as raw-unicode-escape: {unicodeError}", op);
                }

                Push(V.Make(ValKind.Str, op));
                break;
            case Op.ShortBinBytes:
            case Op.BinBytes:
            case Op.BinBytes8:
                Push(V.Make(ValKind.Bytes, op));
                break;
            case Op.ByteArray8:
                Push(V.Make(ValKind.ByteArray, op));
                break;
            case Op.Tuple:
                {
                    var mark = PopMark(code, op);
                    var t = NewContainer(ValKind.Tuple, mark, _sp, op);
                    _sp = mark;
                    Push(t);
                    break;
                }

            case Op.List:
                {
                    var mark = PopMark(code, op);
                    var l = NewContainer(ValKind.List, mark, _sp, op);
                    _sp = mark;
                    Push(l);
                    break;
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
                    break;
                }

            case Op.FrozenSet:
                {
                    var mark = PopMark(code, op);
                    var f = NewContainer(ValKind.FrozenSet, mark, _sp, op);
                    _sp = mark;
                    Push(f);
                    break;
                }

            case Op.Append:
                NeedStack(2, code, op);
                AddRange(data, _stack[_sp - 2], _sp - 1, _sp, ValKind.List, code, op);
                _sp -= 1;
                break;
            case Op.SetItem:
                NeedStack(3, code, op);
                AddRange(data, _stack[_sp - 3], _sp - 2, _sp, ValKind.Dict, code, op);
                _sp -= 2;
                break;
            case Op.AddItems:
                {
                    var mark = PopMark(code, op);
                    if (mark - 1 < Fence)
                    {
                        Underflow(code, op, 1);
                    }

                    AddRange(data, _stack[mark - 1], mark, _sp, ValKind.Set, code, op);
                    _sp = mark;
                    break;
                }


            case Op.Global:
                Push(NewGlobal(DecodeNameLine(ins.FirstLine, code, op), DecodeNameLine(ins.SecondLine, code, op), code, op, mapped: true));
                break;
            case Op.StackGlobal:
                {
                    NeedStack(2, code, op);
                    var nameVal = _stack[--_sp];
                    var moduleVal = _stack[--_sp];
                    var module = StackGlobalPart(data, moduleVal, "module", op);
                    var name = StackGlobalPart(data, nameVal, "name", op);
                    Push(NewGlobal(module, name, code, op, mapped: true));
                    break;
                }

            case Op.Inst:
                {
                    var module = DecodeNameLine(ins.FirstLine, code, op);
                    var name = DecodeNameLine(ins.SecondLine, code, op);
                    var mark = PopMark(code, op);
                    var args = NewContainer(ValKind.Tuple, mark, _sp, op);
                    _sp = mark;
                    var cls = NewGlobal(module, name, code, op, mapped: true);
                    Push(MakeCall(data, cls, args, 0, code, op));
                    break;
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
                    break;
                }

            case Op.NewObj:
                {
                    NeedStack(2, code, op);
                    var args = _stack[--_sp];
                    var cls = _stack[_sp - 1];
                    _stack[_sp - 1] = MakeCall(data, cls, args, 0, code, op);
                    break;
                }

            case Op.NewObjEx:
                {
                    NeedStack(3, code, op);
                    var kwargs = _stack[--_sp];
                    var args = _stack[--_sp];
                    var cls = _stack[_sp - 1];
                    _stack[_sp - 1] = MakeCall(data, cls, args, kwargs, code, op);
                    break;
                }

            case Op.Reduce:
                {
                    NeedStack(2, code, op);
                    var args = _stack[--_sp];
                    var func = _stack[_sp - 1];
                    _stack[_sp - 1] = MakeCall(data, func, args, 0, code, op);
                    break;
                }

            case Op.PersId:
                if (!System.Text.Ascii.IsValid(arg))
                {
                    Fail("persistent IDs in protocol 0 must be ASCII strings", op);
                }

                Push(NewPersistentLoad(data, V.Make(ValKind.Str, op), op));
                break;
            case Op.BinPersId:
                {
                    NeedStack(1, code, op);
                    var pid = _stack[_sp - 1];
                    _stack[_sp - 1] = NewPersistentLoad(data, pid, op);
                    break;
                }

            case Op.Ext1:
            case Op.Ext2:
            case Op.Ext4:
                // The decoder rejects codes <= 0. The unpickler looks the code up in copyreg's _extension_cache, then
                // _inverted_registry (both empty in CPython unless something registers codes): what the pickle
                // itself put there decides what the code is.
                if (_extensionCache is not null && _extensionCache.TryGetValue(ins.Value, out var cached))
                {
                    Push(cached);
                }
                else if (_extensions is not null && _extensions.TryGetValue(ins.Value, out var registered))
                {
                    Push(NewGlobal(registered.Module, registered.Name, code, op, mapped: false));
                }
                else
                {
                    Push(NewGlobal("copyreg.extension", ins.Value.ToString(CultureInfo.InvariantCulture), code, op, mapped: false));
                }

                break;
            case Op.NextBuffer:
                Push(V.Make(ValKind.Buffer, _buffers++));
                break;
            case Op.ReadOnlyBuffer:
                NeedStack(1, code, op);
                break;
            case Op.Put:
                MemoPut(ins.Value, code, op);
                break;
            case Op.Get:
                PushMemo(_memo.Get(ins.Value), ins.Value, code, op);
                break;
            default:
                throw new UnreachableException($"opcode {Op.Name(code)} decoded but not handled");
        }

        return ins.End;
    }

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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void PushMark(int op)
    {
        if (_markCount == _marks.Length)
        {
            GrowMarks(op);
        }

        _marks[_markCount++] = _sp;
        _fence = _sp;
    }

    private void GrowMarks(int op)
    {
        if (_markCount >= _limits.MaxMarkDepth)
        {
            MalformedInputException.ThrowLimit("number of open MARKs", _limits.MaxMarkDepth, op);
        }

        Array.Resize(ref _marks, Math.Min(_marks.Length * 2, Math.Max(_limits.MaxMarkDepth, 1)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int PopMark(byte code, int op)
    {
        if (_markCount == 0)
        {
            NoMark(code, op);
        }

        var mark = _marks[--_markCount];
        _fence = _markCount > 0 ? _marks[_markCount - 1] : 0;
        return mark;
    }

    [DoesNotReturn]
    private static void NoMark(byte code, int op) => Fail($"{Op.Name(code)} without a preceding MARK (could not find MARK)", op);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void PushMemo(ulong v, long index, byte code, int op)
    {
        if (v == 0)
        {
            MemoMissing(index, code, op);
        }

        Push(v);
    }

    [DoesNotReturn]
    private static void MemoMissing(long index, byte code, int op) => Fail($"{Op.Name(code)}: memo value not found at index {index}", op);

    // ---------------------------------------------------------------- values

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private ulong NewContainer(ValKind kind, int from, int to, int op)
    {
        if (kind == ValKind.Tuple)
        {
            if (from == to)
            {
                return V.EmptyTuple;
            }

            if ((uint)(to - from - ObjectStore.InlineChildren - 1) < ObjectStore.SmallChildren)
            {
                return V.Make(kind, _store.NewSmallTuple(_stack.AsSpan(from, to - from), op));
            }
        }

        var id = _store.NewNode(op);
        _store.AddChildren(id, _stack.AsSpan(from, to - from));
        return V.Make(kind, id);
    }

    /// <summary>APPEND(S), SETITEM(S), ADDITEMS into the container at <paramref name="target"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void AddRange(ReadOnlySpan<byte> data, ulong target, int from, int to, ValKind expected, byte code, int op)
    {
        var kind = V.Kind(target);
        if (kind == expected)
        {
            _store.AddChildren(V.Node(target), _stack.AsSpan(from, to - from));
            return;
        }

        // An object built by a call (an OrderedDict, a custom list subclass) gets its items through its own
        // methods; its class is already recorded as a call, so there is nothing more to record here. An import
        // (a registry, sys.modules, a module's __dict__) is shared with the loading program: that is recorded.
        if (V.IsObject(kind) || kind == ValKind.Opaque)
        {
            if (kind is ValKind.Global or ValKind.Call)
            {
                MutateShared(data, target, from, to, expected, code, op);
            }

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
