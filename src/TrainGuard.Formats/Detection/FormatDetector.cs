using System.Buffers.Binary;
using TrainGuard.Formats.Safetensors;
using TrainGuard.Formats.Tar;
using TrainGuard.Formats.Zip;

namespace TrainGuard.Formats.Detection;

/// <summary>Identifies a file's format from its first bytes, never from its name.</summary>
public static class FormatDetector
{
    /// <summary>How many leading bytes <see cref="Detect(ReadOnlySpan{byte}, long)"/> looks at.</summary>
    public const int HeadSize = 4096;

    private const int TorchMagicProtocolOffset = 1;

    private static ReadOnlySpan<byte> SevenZipMagic => [(byte)'7', (byte)'z', 0xBC, 0xAF, 0x27, 0x1C];

    private static ReadOnlySpan<byte> NpyMagic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    private static ReadOnlySpan<byte> XzMagic => [0xFD, (byte)'7', (byte)'z', (byte)'X', (byte)'Z', 0x00];

    private static ReadOnlySpan<byte> ZstdMagic => [0x28, 0xB5, 0x2F, 0xFD];

    /// <summary>
    /// Detects the format of an input of <paramref name="totalLength"/> bytes from its first
    /// <see cref="HeadSize"/> bytes (fewer when the input is shorter). Zips with prefix data are not seen
    /// here (their signature is at the end): use <see cref="Detect(Stream)"/> or
    /// <see cref="ZipReader.TryFindEndOfCentralDirectory(Stream, out long)"/>.
    /// </summary>
    public static DetectedFormat Detect(ReadOnlySpan<byte> head, long totalLength)
    {
        if (totalLength == 0)
        {
            return DetectedFormat.Empty;
        }

        if (head.IsEmpty)
        {
            return DetectedFormat.Unknown;
        }

        if (head.StartsWith("PK\x03\x04"u8) || head.StartsWith("PK\x05\x06"u8))
        {
            return DetectedFormat.Zip;
        }

        if (head.StartsWith(SevenZipMagic))
        {
            return DetectedFormat.SevenZip;
        }

        if (head.StartsWith(NpyMagic))
        {
            return DetectedFormat.Npy;
        }

        if (head.Length >= 3 && head[0] == 0x1f && head[1] == 0x8b && head[2] == 0x08)
        {
            return DetectedFormat.Gzip;
        }

        if (head.Length >= 4 && head.StartsWith("BZh"u8) && head[3] is >= (byte)'1' and <= (byte)'9')
        {
            return DetectedFormat.Bzip2;
        }

        if (head.StartsWith(XzMagic))
        {
            return DetectedFormat.Xz;
        }

        if (head.StartsWith(ZstdMagic))
        {
            return DetectedFormat.Zstd;
        }

        if (head[0] == 0x80 && head.Length >= 2 && head[1] is >= 2 and <= 5)
        {
            return IsTorchLegacyMagic(head) ? DetectedFormat.TorchLegacy : DetectedFormat.Pickle;
        }

        if (LooksLikeTar(head))
        {
            return DetectedFormat.Tar;
        }

        if (LooksLikeSafetensors(head, totalLength))
        {
            return DetectedFormat.Safetensors;
        }

        return PickleSniffer.LooksLikePickle(head, totalLength) ? DetectedFormat.Pickle : DetectedFormat.Unknown;
    }

    /// <summary>
    /// Reads the head of a stream (from its start when seekable) and detects its format; when that says
    /// <see cref="DetectedFormat.Unknown"/> and the stream is seekable, also looks for a zip end-of-central-directory
    /// record at the end (a zip with prefix data). The stream position is restored when seekable.
    /// </summary>
    public static DetectedFormat Detect(Stream stream)
    {
        var seekable = stream.CanSeek;
        var saved = seekable ? stream.Position : 0;
        try
        {
            if (seekable)
            {
                stream.Position = 0;
            }

            var buffer = new byte[HeadSize];
            var read = stream.ReadAtLeast(buffer, HeadSize, throwOnEndOfStream: false);
            var total = seekable ? stream.Length : read;
            var format = Detect(buffer.AsSpan(0, read), total);
            if (format == DetectedFormat.Unknown && seekable && ZipReader.TryFindEndOfCentralDirectory(stream, out _))
            {
                return DetectedFormat.Zip;
            }

            return format;
        }
        finally
        {
            if (seekable)
            {
                stream.Position = saved;
            }
        }
    }

    /// <summary>True for the legacy torch magic number <c>0x1950a86a20f9469cfc6c</c> pickled as LONG1 (optionally after a protocol-4 FRAME).</summary>
    public static bool IsTorchLegacyMagic(ReadOnlySpan<byte> head)
    {
        ReadOnlySpan<byte> magic = [0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
        if (head.Length < 2 || head[0] != 0x80)
        {
            return false;
        }

        var rest = head[(TorchMagicProtocolOffset + 1)..];
        if (!rest.IsEmpty && rest[0] == 0x95)
        {
            rest = rest.Length >= 9 ? rest[9..] : [];
        }

        return rest.StartsWith(magic);
    }

    private static bool LooksLikeTar(ReadOnlySpan<byte> head)
    {
        if (head.Length < TarHeaderFields.BlockSize || !TarHeaderFields.ChecksumValid(head))
        {
            return false;
        }

        if (TarHeaderFields.HasUstarMagic(head))
        {
            return true;
        }

        // v7: no magic, so require a plausible name, a v7 type flag and an octal size besides the checksum.
        var type = head[TarHeaderFields.TypeFlagOffset];
        return head[TarHeaderFields.NameOffset] != 0
            && type is 0 or (>= (byte)'0' and <= (byte)'7')
            && TarHeaderFields.TryParseOctal(head.Slice(TarHeaderFields.SizeOffset, TarHeaderFields.SizeLength), out _);
    }

    private static bool LooksLikeSafetensors(ReadOnlySpan<byte> head, long totalLength)
    {
        if (head.Length < SafetensorsReader.LengthPrefixSize + 1 || head[SafetensorsReader.LengthPrefixSize] != (byte)'{')
        {
            return false;
        }

        var n = BinaryPrimitives.ReadUInt64LittleEndian(head);
        var max = Math.Min(totalLength - SafetensorsReader.LengthPrefixSize, SafetensorsLimits.SpecMaxHeaderBytes);
        return n >= 2 && max >= 2 && n <= (ulong)max;
    }

    /// <summary>Fuzz target: detection must never throw on any input.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        _ = Detect(data.Length > HeadSize ? data[..HeadSize] : data, data.Length);
        _ = PickleSniffer.LooksLikePickle(data);
        using var stream = new MemoryStream(data.ToArray(), writable: false);
        _ = Detect(stream);
    }
}
