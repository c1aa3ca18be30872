using System.Buffers.Binary;
using System.Text;

namespace TrainGuard.Pickle.Tests.Support;

/// <summary>Assembles pickle opcode sequences by hand, for tests (opcode bytes as in CPython's <c>pickle.py</c>).</summary>
public sealed class PickleBuilder
{
    private readonly List<byte> _bytes = [];

    public int Length => _bytes.Count;

    public static PickleBuilder Create(int protocol = -1)
    {
        var b = new PickleBuilder();
        return protocol >= 0 ? b.Proto(protocol) : b;
    }

    public byte[] ToArray() => [.. _bytes];

    public PickleBuilder Raw(params byte[] bytes)
    {
        _bytes.AddRange(bytes);
        return this;
    }

    public PickleBuilder Ascii(string text) => Raw(Encoding.Latin1.GetBytes(text));

    public PickleBuilder Op(char code) => Raw((byte)code);

    public PickleBuilder Proto(int protocol) => Raw(0x80, (byte)protocol);

    public PickleBuilder Frame(long length) => Raw(0x95).U64((ulong)length);

    public PickleBuilder Mark() => Op('(');

    public PickleBuilder Stop() => Op('.');

    public PickleBuilder Pop() => Op('0');

    public PickleBuilder PopMark() => Op('1');

    public PickleBuilder Dup() => Op('2');

    public PickleBuilder None() => Op('N');

    public PickleBuilder True() => Raw(0x88);

    public PickleBuilder False() => Raw(0x89);

    public PickleBuilder Int(long value) => value switch
    {
        >= 0 and < 256 => Raw((byte)'K', (byte)value),
        >= 0 and < 65536 => Raw((byte)'M').U16((ushort)value),
        >= int.MinValue and <= int.MaxValue => Raw((byte)'J').I32((int)value),
        _ => Long1(value),
    };

    public PickleBuilder Long1(long value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
        return Raw(0x8a, 8).Raw(bytes);
    }

    public PickleBuilder BinFloat(double value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteDoubleBigEndian(bytes, value);
        return Raw((byte)'G').Raw(bytes);
    }

    /// <summary>SHORT_BINUNICODE or BINUNICODE, by length.</summary>
    public PickleBuilder Str(string value)
    {
        var utf8 = Encoding.UTF8.GetBytes(value);
        return utf8.Length < 256 ? Raw(0x8c, (byte)utf8.Length).Raw(utf8) : Raw((byte)'X').U32((uint)utf8.Length).Raw(utf8);
    }

    public PickleBuilder BinUnicode(string value)
    {
        var utf8 = Encoding.UTF8.GetBytes(value);
        return Raw((byte)'X').U32((uint)utf8.Length).Raw(utf8);
    }

    public PickleBuilder BinUnicode8(string value)
    {
        var utf8 = Encoding.UTF8.GetBytes(value);
        return Raw(0x8d).U64((ulong)utf8.Length).Raw(utf8);
    }

    public PickleBuilder ShortBinString(string latin1) => Raw((byte)'U', (byte)latin1.Length).Ascii(latin1);

    public PickleBuilder BinString(string latin1) => Raw((byte)'T').I32(latin1.Length).Ascii(latin1);

    /// <summary>Protocol 0 STRING: <paramref name="quotedBody"/> is written as is, between the quotes.</summary>
    public PickleBuilder String(string quotedBody) => Op('S').Ascii("'" + quotedBody + "'\n");

    /// <summary>Protocol 0 UNICODE (raw-unicode-escape): <paramref name="escaped"/> is written as is.</summary>
    public PickleBuilder Unicode(string escaped) => Op('V').Ascii(escaped + "\n");

    public PickleBuilder Bytes(byte[] value) =>
        value.Length < 256 ? Raw((byte)'C', (byte)value.Length).Raw(value) : Raw((byte)'B').U32((uint)value.Length).Raw(value);

    public PickleBuilder BinBytes8(byte[] value) => Raw(0x8e).U64((ulong)value.Length).Raw(value);

    public PickleBuilder ByteArray8(byte[] value) => Raw(0x96).U64((ulong)value.Length).Raw(value);

    public PickleBuilder Global(string module, string name) => Op('c').Ascii(module + "\n" + name + "\n");

    public PickleBuilder Inst(string module, string name) => Op('i').Ascii(module + "\n" + name + "\n");

    public PickleBuilder StackGlobal() => Raw(0x93);

    public PickleBuilder Reduce() => Op('R');

    public PickleBuilder Build() => Op('b');

    public PickleBuilder NewObj() => Raw(0x81);

    public PickleBuilder NewObjEx() => Raw(0x92);

    public PickleBuilder Obj() => Op('o');

    public PickleBuilder EmptyTuple() => Op(')');

    public PickleBuilder Tuple() => Op('t');

    public PickleBuilder Tuple1() => Raw(0x85);

    public PickleBuilder Tuple2() => Raw(0x86);

    public PickleBuilder Tuple3() => Raw(0x87);

    public PickleBuilder EmptyList() => Op(']');

    public PickleBuilder List() => Op('l');

    public PickleBuilder Append() => Op('a');

    public PickleBuilder Appends() => Op('e');

    public PickleBuilder EmptyDict() => Op('}');

    public PickleBuilder Dict() => Op('d');

    public PickleBuilder SetItem() => Op('s');

    public PickleBuilder SetItems() => Op('u');

    public PickleBuilder EmptySet() => Raw(0x8f);

    public PickleBuilder AddItems() => Raw(0x90);

    public PickleBuilder FrozenSet() => Raw(0x91);

    public PickleBuilder Memoize() => Raw(0x94);

    public PickleBuilder Put(long index) => Op('p').Ascii(index + "\n");

    public PickleBuilder Get(long index) => Op('g').Ascii(index + "\n");

    public PickleBuilder BinPut(byte index) => Raw((byte)'q', index);

    public PickleBuilder BinGet(byte index) => Raw((byte)'h', index);

    public PickleBuilder LongBinPut(uint index) => Raw((byte)'r').U32(index);

    public PickleBuilder LongBinGet(uint index) => Raw((byte)'j').U32(index);

    public PickleBuilder PersId(string id) => Op('P').Ascii(id + "\n");

    public PickleBuilder BinPersId() => Op('Q');

    public PickleBuilder Ext1(byte code) => Raw(0x82, code);

    public PickleBuilder Ext2(ushort code) => Raw(0x83).U16(code);

    public PickleBuilder Ext4(int code) => Raw(0x84).I32(code);

    public PickleBuilder NextBuffer() => Raw(0x97);

    public PickleBuilder ReadOnlyBuffer() => Raw(0x98);

    /// <summary><c>module.name(arg)</c> with GLOBAL + one string argument + TUPLE1 + REDUCE (protocol 2 style).</summary>
    public PickleBuilder CallGlobal(string module, string name, string arg) => Global(module, name).Str(arg).Tuple1().Reduce();

    public PickleBuilder U16(ushort v)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, v);
        return Raw(b.ToArray());
    }

    public PickleBuilder I32(int v)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(b, v);
        return Raw(b.ToArray());
    }

    public PickleBuilder U32(uint v)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        return Raw(b.ToArray());
    }

    public PickleBuilder U64(ulong v)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, v);
        return Raw(b.ToArray());
    }
}
