using System.Buffers.Binary;
using TrainGuard.Parsing;

namespace TrainGuard.Runs.Readers;

/// <summary>
/// TFRecord framing: <c>u64 length</c> (little-endian), <c>u32 masked CRC-32C of the length bytes</c>, the data,
/// <c>u32 masked CRC-32C of the data</c>. Both CRCs are checked; a bad one is an error with the record's offset.
/// </summary>
public static class TfRecordReader
{
    public const int LengthSize = sizeof(ulong);
    public const int CrcSize = sizeof(uint);
    public const int HeaderSize = LengthSize + CrcSize;

    /// <summary>Largest record read (a scalar event is tens of bytes; graphs can be megabytes).</summary>
    public const int MaxRecordBytes = 256 * 1024 * 1024;

    /// <summary>The records of <paramref name="file"/> with the offset of each record's header.</summary>
    /// <exception cref="MalformedInputException">A truncated record, a bad CRC or a record over the limit.</exception>
    public static IEnumerable<(long Offset, ReadOnlyMemory<byte> Data)> Read(ReadOnlyMemory<byte> file, string source)
    {
        long offset = 0;
        while (offset < file.Length)
        {
            var remaining = file.Span[(int)offset..];
            if (remaining.Length < HeaderSize)
            {
                throw Error(source, offset, InputErrorKind.Truncated, $"truncated record header at offset {offset} ({remaining.Length} bytes left, {HeaderSize} needed)");
            }

            var length = BinaryPrimitives.ReadUInt64LittleEndian(remaining);
            var lengthCrc = BinaryPrimitives.ReadUInt32LittleEndian(remaining[LengthSize..]);
            var expected = Crc32C.Masked(remaining[..LengthSize]);
            if (lengthCrc != expected)
            {
                throw Error(source, offset, InputErrorKind.Corrupt, $"record at offset {offset}: the length's CRC is 0x{lengthCrc:x8}, the length bytes give 0x{expected:x8} (corrupt or not a TFRecord file)");
            }

            if (length > MaxRecordBytes)
            {
                throw Error(source, offset, InputErrorKind.OverLimit, $"record at offset {offset} declares {length:N0} bytes; at most {MaxRecordBytes:N0} are read");
            }

            var size = checked(HeaderSize + (int)length + CrcSize);
            if (remaining.Length < size)
            {
                throw Error(source, offset, InputErrorKind.Truncated, $"record at offset {offset} declares {length:N0} bytes but the file ends {remaining.Length - HeaderSize:N0} bytes later");
            }

            var data = file.Slice((int)offset + HeaderSize, (int)length);
            var dataCrc = BinaryPrimitives.ReadUInt32LittleEndian(remaining[(HeaderSize + (int)length)..]);
            var computed = Crc32C.Masked(data.Span);
            if (dataCrc != computed)
            {
                throw Error(source, offset, InputErrorKind.Corrupt, $"record at offset {offset}: the data's CRC is 0x{dataCrc:x8}, the {length:N0} data bytes give 0x{computed:x8}");
            }

            yield return (offset, data);
            offset += size;
        }
    }

    /// <summary>One framed record (what a TFRecord writer writes).</summary>
    public static byte[] Frame(ReadOnlySpan<byte> data)
    {
        var record = new byte[HeaderSize + data.Length + CrcSize];
        BinaryPrimitives.WriteUInt64LittleEndian(record, (ulong)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(LengthSize), Crc32C.Masked(record.AsSpan(0, LengthSize)));
        data.CopyTo(record.AsSpan(HeaderSize));
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(HeaderSize + data.Length), Crc32C.Masked(data));
        return record;
    }

    private static MalformedInputException Error(string source, long offset, InputErrorKind kind, string problem) =>
        MalformedInputException.CreateAt(kind, problem, source, line: null, offset: offset);
}
