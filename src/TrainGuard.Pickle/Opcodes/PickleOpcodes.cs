namespace TrainGuard.Pickle.Opcodes;

/// <summary>The shape of an opcode's argument in the byte stream (<c>pickletools</c> argument descriptors).</summary>
public enum PickleArgument : byte
{
    /// <summary>No argument.</summary>
    None,

    /// <summary>One unsigned byte (<c>uint1</c>).</summary>
    UInt1,

    /// <summary>Two bytes, unsigned little-endian (<c>uint2</c>).</summary>
    UInt2,

    /// <summary>Four bytes, signed little-endian (<c>int4</c>).</summary>
    Int4,

    /// <summary>Four bytes, unsigned little-endian (<c>uint4</c>).</summary>
    UInt4,

    /// <summary>Eight bytes, unsigned little-endian (<c>uint8</c>).</summary>
    UInt8,

    /// <summary>An IEEE double, big-endian (<c>float8</c>).</summary>
    Float8,

    /// <summary>A one-byte count, then that many bytes (<c>string1</c>, <c>bytes1</c>, <c>unicodestring1</c>, <c>long1</c>).</summary>
    Counted1,

    /// <summary>A four-byte unsigned count, then that many bytes (<c>bytes4</c>, <c>unicodestring4</c>).</summary>
    Counted4,

    /// <summary>A four-byte signed count (negative is an error), then that many bytes (<c>string4</c>, <c>long4</c>).</summary>
    SignedCounted4,

    /// <summary>An eight-byte unsigned count, then that many bytes (<c>bytes8</c>, <c>unicodestring8</c>, <c>bytearray8</c>).</summary>
    Counted8,

    /// <summary>A decimal integer line, possibly signed; <c>00</c>/<c>01</c> are the protocol 0 bools (<c>decimalnl_short</c>).</summary>
    IntLine,

    /// <summary>A decimal integer line with an optional trailing <c>L</c> (<c>decimalnl_long</c>).</summary>
    LongLine,

    /// <summary>A non-negative decimal memo index line (<c>GET</c>, <c>PUT</c>).</summary>
    MemoIndexLine,

    /// <summary>A float as Python's <c>repr</c> writes it (<c>floatnl</c>).</summary>
    FloatLine,

    /// <summary>A quoted, backslash-escaped byte string line (<c>stringnl</c>).</summary>
    QuotedLine,

    /// <summary>A raw-unicode-escape line (<c>unicodestringnl</c>).</summary>
    UnicodeLine,

    /// <summary>An unescaped ASCII line (<c>stringnl_noescape</c>, persistent ids).</summary>
    AsciiLine,

    /// <summary>Two unescaped lines, module then name (<c>stringnl_noescape_pair</c>).</summary>
    NamePair,
}

/// <summary>What an opcode does to the stack, coarsely (enough to tell a pickle from other bytes).</summary>
public enum PickleStackEffect : byte
{
    /// <summary>Pops <see cref="PickleOpcodeInfo.Pops"/> values above the top mark, then pushes <see cref="PickleOpcodeInfo.Pushes"/>.</summary>
    Plain,

    /// <summary>Pushes a mark.</summary>
    PushMark,

    /// <summary>Pops everything down to the top mark and the mark, then pushes <see cref="PickleOpcodeInfo.Pushes"/>.</summary>
    PopToMark,

    /// <summary>Pops down to the top mark and adds what it popped to the collection just below the mark.</summary>
    PopToMarkIntoCollection,

    /// <summary>Needs one value above the top mark and leaves the stack as it is (memo stores).</summary>
    NeedsOne,

    /// <summary>Ends the pickle, returning the top of the stack.</summary>
    Stop,
}

/// <summary>One pickle opcode: its byte, <c>pickletools</c> name, argument, stack effect and the protocol that introduced it.</summary>
public sealed record PickleOpcodeInfo(byte Code, string Name, PickleArgument Argument, PickleStackEffect Stack, int Pops, int Pushes, int Protocol)
{
    /// <summary>Bytes of the fixed-width argument, or of the count in front of a counted one; 0 for none and for line arguments.</summary>
    public int Width => Argument switch
    {
        PickleArgument.UInt1 or PickleArgument.Counted1 => 1,
        PickleArgument.UInt2 => 2,
        PickleArgument.Int4 or PickleArgument.UInt4 or PickleArgument.Counted4 or PickleArgument.SignedCounted4 => 4,
        PickleArgument.UInt8 or PickleArgument.Float8 or PickleArgument.Counted8 => 8,
        _ => 0,
    };

    /// <summary>True when the argument is a count followed by that many bytes.</summary>
    public bool IsCounted => Argument is PickleArgument.Counted1 or PickleArgument.Counted4 or PickleArgument.SignedCounted4 or PickleArgument.Counted8;

    /// <summary>True when the argument is text up to a newline (two lines for <see cref="PickleArgument.NamePair"/>).</summary>
    public bool IsLine => Argument >= PickleArgument.IntLine;
}

/// <summary>
/// The pickle opcode table, protocols 0-5, as <c>pickletools.opcodes</c> lists it: the one description of every
/// opcode's argument and stack effect that <see cref="PickleOpcodeReader"/>, the machines reading pickles and the
/// format sniffer all use.
/// </summary>
public static class PickleOpcodes
{
    private static readonly PickleOpcodeInfo?[] Table = Build();

    /// <summary>Every opcode, in byte order.</summary>
    public static IReadOnlyList<PickleOpcodeInfo> All { get; } = Table.OfType<PickleOpcodeInfo>().ToArray();

    /// <summary>The opcode <paramref name="code"/> is, or null when the byte is no pickle opcode.</summary>
    public static PickleOpcodeInfo? Lookup(byte code) => Table[code];

    private static PickleOpcodeInfo?[] Build()
    {
        const PickleStackEffect Plain = PickleStackEffect.Plain;
        var table = new PickleOpcodeInfo?[256];
        void Add(byte code, string name, PickleArgument argument, PickleStackEffect stack, int pops, int pushes, int protocol) =>
            table[code] = new PickleOpcodeInfo(code, name, argument, stack, pops, pushes, protocol);

        // Protocol 0 and 1.
        Add(PickleOp.Mark, "MARK", PickleArgument.None, PickleStackEffect.PushMark, 0, 0, 0);
        Add(PickleOp.Stop, "STOP", PickleArgument.None, PickleStackEffect.Stop, 1, 0, 0);
        Add(PickleOp.Pop, "POP", PickleArgument.None, Plain, 1, 0, 0);
        Add(PickleOp.PopMark, "POP_MARK", PickleArgument.None, PickleStackEffect.PopToMark, 0, 0, 1);
        Add(PickleOp.Dup, "DUP", PickleArgument.None, Plain, 1, 2, 0);
        Add(PickleOp.Float, "FLOAT", PickleArgument.FloatLine, Plain, 0, 1, 0);
        Add(PickleOp.Int, "INT", PickleArgument.IntLine, Plain, 0, 1, 0);
        Add(PickleOp.BinInt, "BININT", PickleArgument.Int4, Plain, 0, 1, 1);
        Add(PickleOp.BinInt1, "BININT1", PickleArgument.UInt1, Plain, 0, 1, 1);
        Add(PickleOp.Long, "LONG", PickleArgument.LongLine, Plain, 0, 1, 0);
        Add(PickleOp.BinInt2, "BININT2", PickleArgument.UInt2, Plain, 0, 1, 1);
        Add(PickleOp.None, "NONE", PickleArgument.None, Plain, 0, 1, 0);
        Add(PickleOp.PersId, "PERSID", PickleArgument.AsciiLine, Plain, 0, 1, 0);
        Add(PickleOp.BinPersId, "BINPERSID", PickleArgument.None, Plain, 1, 1, 1);
        Add(PickleOp.Reduce, "REDUCE", PickleArgument.None, Plain, 2, 1, 0);
        Add(PickleOp.String, "STRING", PickleArgument.QuotedLine, Plain, 0, 1, 0);
        Add(PickleOp.BinString, "BINSTRING", PickleArgument.SignedCounted4, Plain, 0, 1, 1);
        Add(PickleOp.ShortBinString, "SHORT_BINSTRING", PickleArgument.Counted1, Plain, 0, 1, 1);
        Add(PickleOp.Unicode, "UNICODE", PickleArgument.UnicodeLine, Plain, 0, 1, 0);
        Add(PickleOp.BinUnicode, "BINUNICODE", PickleArgument.Counted4, Plain, 0, 1, 1);
        Add(PickleOp.Append, "APPEND", PickleArgument.None, Plain, 2, 1, 0);
        Add(PickleOp.Build, "BUILD", PickleArgument.None, Plain, 2, 1, 0);
        Add(PickleOp.Global, "GLOBAL", PickleArgument.NamePair, Plain, 0, 1, 0);
        Add(PickleOp.Dict, "DICT", PickleArgument.None, PickleStackEffect.PopToMark, 0, 1, 0);
        Add(PickleOp.EmptyDict, "EMPTY_DICT", PickleArgument.None, Plain, 0, 1, 1);
        Add(PickleOp.Appends, "APPENDS", PickleArgument.None, PickleStackEffect.PopToMarkIntoCollection, 0, 0, 1);
        Add(PickleOp.Get, "GET", PickleArgument.MemoIndexLine, Plain, 0, 1, 0);
        Add(PickleOp.BinGet, "BINGET", PickleArgument.UInt1, Plain, 0, 1, 1);
        Add(PickleOp.Inst, "INST", PickleArgument.NamePair, PickleStackEffect.PopToMark, 0, 1, 0);
        Add(PickleOp.LongBinGet, "LONG_BINGET", PickleArgument.UInt4, Plain, 0, 1, 1);
        Add(PickleOp.List, "LIST", PickleArgument.None, PickleStackEffect.PopToMark, 0, 1, 0);
        Add(PickleOp.EmptyList, "EMPTY_LIST", PickleArgument.None, Plain, 0, 1, 1);
        Add(PickleOp.Obj, "OBJ", PickleArgument.None, PickleStackEffect.PopToMark, 0, 1, 1);
        Add(PickleOp.Put, "PUT", PickleArgument.MemoIndexLine, PickleStackEffect.NeedsOne, 0, 0, 0);
        Add(PickleOp.BinPut, "BINPUT", PickleArgument.UInt1, PickleStackEffect.NeedsOne, 0, 0, 1);
        Add(PickleOp.LongBinPut, "LONG_BINPUT", PickleArgument.UInt4, PickleStackEffect.NeedsOne, 0, 0, 1);
        Add(PickleOp.SetItem, "SETITEM", PickleArgument.None, Plain, 3, 1, 0);
        Add(PickleOp.Tuple, "TUPLE", PickleArgument.None, PickleStackEffect.PopToMark, 0, 1, 0);
        Add(PickleOp.EmptyTuple, "EMPTY_TUPLE", PickleArgument.None, Plain, 0, 1, 1);
        Add(PickleOp.SetItems, "SETITEMS", PickleArgument.None, PickleStackEffect.PopToMarkIntoCollection, 0, 0, 1);
        Add(PickleOp.BinFloat, "BINFLOAT", PickleArgument.Float8, Plain, 0, 1, 1);

        // Protocol 2.
        Add(PickleOp.Proto, "PROTO", PickleArgument.UInt1, Plain, 0, 0, 2);
        Add(PickleOp.NewObj, "NEWOBJ", PickleArgument.None, Plain, 2, 1, 2);
        Add(PickleOp.Ext1, "EXT1", PickleArgument.UInt1, Plain, 0, 1, 2);
        Add(PickleOp.Ext2, "EXT2", PickleArgument.UInt2, Plain, 0, 1, 2);
        Add(PickleOp.Ext4, "EXT4", PickleArgument.Int4, Plain, 0, 1, 2);
        Add(PickleOp.Tuple1, "TUPLE1", PickleArgument.None, Plain, 1, 1, 2);
        Add(PickleOp.Tuple2, "TUPLE2", PickleArgument.None, Plain, 2, 1, 2);
        Add(PickleOp.Tuple3, "TUPLE3", PickleArgument.None, Plain, 3, 1, 2);
        Add(PickleOp.NewTrue, "NEWTRUE", PickleArgument.None, Plain, 0, 1, 2);
        Add(PickleOp.NewFalse, "NEWFALSE", PickleArgument.None, Plain, 0, 1, 2);
        Add(PickleOp.Long1, "LONG1", PickleArgument.Counted1, Plain, 0, 1, 2);
        Add(PickleOp.Long4, "LONG4", PickleArgument.SignedCounted4, Plain, 0, 1, 2);

        // Protocol 3.
        Add(PickleOp.BinBytes, "BINBYTES", PickleArgument.Counted4, Plain, 0, 1, 3);
        Add(PickleOp.ShortBinBytes, "SHORT_BINBYTES", PickleArgument.Counted1, Plain, 0, 1, 3);

        // Protocol 4.
        Add(PickleOp.ShortBinUnicode, "SHORT_BINUNICODE", PickleArgument.Counted1, Plain, 0, 1, 4);
        Add(PickleOp.BinUnicode8, "BINUNICODE8", PickleArgument.Counted8, Plain, 0, 1, 4);
        Add(PickleOp.BinBytes8, "BINBYTES8", PickleArgument.Counted8, Plain, 0, 1, 4);
        Add(PickleOp.EmptySet, "EMPTY_SET", PickleArgument.None, Plain, 0, 1, 4);
        Add(PickleOp.AddItems, "ADDITEMS", PickleArgument.None, PickleStackEffect.PopToMarkIntoCollection, 0, 0, 4);
        Add(PickleOp.FrozenSet, "FROZENSET", PickleArgument.None, PickleStackEffect.PopToMark, 0, 1, 4);
        Add(PickleOp.NewObjEx, "NEWOBJ_EX", PickleArgument.None, Plain, 3, 1, 4);
        Add(PickleOp.StackGlobal, "STACK_GLOBAL", PickleArgument.None, Plain, 2, 1, 4);
        Add(PickleOp.Memoize, "MEMOIZE", PickleArgument.None, PickleStackEffect.NeedsOne, 0, 0, 4);
        Add(PickleOp.Frame, "FRAME", PickleArgument.UInt8, Plain, 0, 0, 4);

        // Protocol 5.
        Add(PickleOp.ByteArray8, "BYTEARRAY8", PickleArgument.Counted8, Plain, 0, 1, 5);
        Add(PickleOp.NextBuffer, "NEXT_BUFFER", PickleArgument.None, Plain, 0, 1, 5);
        Add(PickleOp.ReadOnlyBuffer, "READONLY_BUFFER", PickleArgument.None, Plain, 1, 1, 5);
        return table;
    }
}
