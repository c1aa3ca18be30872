using System.Buffers.Binary;
using TrainGuard.Parsing;

namespace TrainGuard.Runs.Readers;

/// <summary>Protocol buffers wire format, read by hand: just what TensorBoard's Event, Summary and TensorProto need.</summary>
internal ref struct ProtoReader
{
    public const int Varint = 0;
    public const int Fixed64 = 1;
    public const int LengthDelimited = 2;
    public const int Fixed32 = 5;

    private readonly ReadOnlySpan<byte> _data;
    private readonly long _base;
    private readonly string _source;
    private int _position;

    public ProtoReader(ReadOnlySpan<byte> data, long baseOffset, string source)
    {
        _data = data;
        _base = baseOffset;
        _source = source;
    }

    public readonly bool AtEnd => _position >= _data.Length;

    public readonly long Offset => _base + _position;

    /// <summary>The next field's number and wire type.</summary>
    public (int Field, int WireType) ReadTag()
    {
        var at = Offset;
        var tag = ReadVarint();
        var field = tag >> 3;
        if (field == 0 || field > int.MaxValue)
        {
            Fail(at, $"field number {field} is not valid");
        }

        return ((int)field, (int)(tag & 7));
    }

    public ulong ReadVarint()
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (_position >= _data.Length)
            {
                MalformedInputException.ThrowAt(InputErrorKind.Truncated, $"truncated varint at offset {Offset}", _source, line: null, offset: Offset);
            }

            var b = _data[_position++];
            value |= (ulong)(b & 0x7f) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }

        Fail(Offset, "varint longer than 10 bytes");
        return 0;
    }

    public uint ReadFixed32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(sizeof(uint)));

    public ulong ReadFixed64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(sizeof(ulong)));

    /// <summary>A length-delimited field's bytes and the offset they start at.</summary>
    public ReadOnlySpan<byte> ReadBytes(out long offset)
    {
        var length = ReadVarint();
        if (length > (ulong)(_data.Length - _position))
        {
            MalformedInputException.ThrowAt(InputErrorKind.Truncated, $"a field at offset {Offset} declares {length:N0} bytes; {_data.Length - _position:N0} remain in the record", _source, line: null, offset: Offset);
        }

        offset = Offset;
        return Take((int)length);
    }

    public void Skip(int wireType)
    {
        switch (wireType)
        {
            case Varint: ReadVarint(); break;
            case Fixed64: Take(sizeof(ulong)); break;
            case LengthDelimited: ReadBytes(out _); break;
            case Fixed32: Take(sizeof(uint)); break;
            default: Fail(Offset, $"wire type {wireType} is not valid (groups are not used by TensorBoard)"); break;
        }
    }

    /// <summary>Requires <paramref name="wireType"/> to be <paramref name="expected"/> for field <paramref name="field"/> of <paramref name="message"/>.</summary>
    public readonly void Expect(int wireType, int expected, string message, int field)
    {
        if (wireType != expected)
        {
            Fail(Offset, $"{message} field {field} has wire type {wireType}, expected {expected}");
        }
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count > _data.Length - _position)
        {
            MalformedInputException.ThrowAt(InputErrorKind.Truncated, $"truncated field at offset {Offset}: {count} bytes needed, {_data.Length - _position} remain", _source, line: null, offset: Offset);
        }

        var slice = _data.Slice(_position, count);
        _position += count;
        return slice;
    }

    private readonly void Fail(long at, string problem) =>
        MalformedInputException.ThrowAt(InputErrorKind.Syntax, $"bad protobuf at offset {at}: {problem}", _source, line: null, offset: at);
}
