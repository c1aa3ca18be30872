using System.Buffers.Binary;
using System.Security.Cryptography;

namespace TrainGuard.Events;

/// <summary>
/// UUID version 7 (RFC 9562 section 5.7): a 48-bit big-endian Unix timestamp in milliseconds, the
/// version nibble 0111, 12 bits of <c>rand_a</c>, the variant bits 10 and 62 bits of <c>rand_b</c>.
/// Ids sort by time as strings, which makes them good idempotency keys for shipping events.
/// </summary>
public static class UuidV7
{
    private const int ByteLength = 16;
    private const long MaxTimestampMs = (1L << 48) - 1;

    /// <summary>A new random v7 id stamped with <paramref name="time"/> (the current time when omitted).</summary>
    public static string NewId(DateTimeOffset? time = null)
    {
        Span<byte> bytes = stackalloc byte[ByteLength];
        RandomNumberGenerator.Fill(bytes[6..]);
        return Finish(bytes, time ?? DateTimeOffset.UtcNow);
    }

    /// <summary>
    /// A deterministic v7 id: the timestamp of the event and the first 74 bits of SHA-256 over
    /// <paramref name="naturalKey"/>. Re-reading the same source record yields the same id, so a
    /// collector restarted over an already-shipped log produces duplicates the server can drop.
    /// </summary>
    public static string FromKey(DateTimeOffset time, ReadOnlySpan<byte> naturalKey)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(naturalKey, hash);
        Span<byte> bytes = stackalloc byte[ByteLength];
        hash[..10].CopyTo(bytes[6..]);
        return Finish(bytes, time);
    }

    /// <summary>Reads the timestamp back from a v7 id; false for anything that is not a v7 UUID string.</summary>
    public static bool TryGetTimestamp(string? id, out DateTimeOffset timestamp)
    {
        timestamp = default;
        if (id is null || !Guid.TryParseExact(id, "D", out _) || id.Length != 36 || id[14] != '7')
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[ByteLength];
        if (!TryParseHex(id, bytes))
        {
            return false;
        }

        var ms = (long)(BinaryPrimitives.ReadUInt64BigEndian(bytes) >> 16);
        timestamp = DateTimeOffset.FromUnixTimeMilliseconds(ms);
        return true;
    }

    private static string Finish(Span<byte> bytes, DateTimeOffset time)
    {
        var ms = Math.Clamp(time.ToUnixTimeMilliseconds(), 0, MaxTimestampMs);
        Span<byte> stamp = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(stamp, (ulong)ms);
        stamp[2..].CopyTo(bytes);
        bytes[6] = (byte)(0x70 | (bytes[6] & 0x0F));
        bytes[8] = (byte)(0x80 | (bytes[8] & 0x3F));
        return Format(bytes);
    }

    private static string Format(ReadOnlySpan<byte> bytes)
    {
        Span<char> text = stackalloc char[36];
        var pos = 0;
        for (var i = 0; i < ByteLength; i++)
        {
            if (i is 4 or 6 or 8 or 10)
            {
                text[pos++] = '-';
            }

            text[pos++] = "0123456789abcdef"[bytes[i] >> 4];
            text[pos++] = "0123456789abcdef"[bytes[i] & 0xF];
        }

        return new string(text);
    }

    private static bool TryParseHex(string id, Span<byte> bytes)
    {
        var b = 0;
        for (var i = 0; i < id.Length; i++)
        {
            if (id[i] == '-')
            {
                continue;
            }

            var hi = HexValue(id[i]);
            var lo = i + 1 < id.Length ? HexValue(id[i + 1]) : -1;
            if (hi < 0 || lo < 0 || b >= ByteLength)
            {
                return false;
            }

            bytes[b++] = (byte)((hi << 4) | lo);
            i++;
        }

        return b == ByteLength;
    }

    private static int HexValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };
}
