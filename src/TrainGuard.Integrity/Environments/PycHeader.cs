using System.Buffers.Binary;
using System.Numerics;
using TrainGuard.Parsing;

namespace TrainGuard.Integrity.Environments;

/// <summary>How a .pyc says it relates to its source (PEP 552).</summary>
public enum PycInvalidation
{
    /// <summary>Flags 0: source mtime and size recorded; Python recompiles when they differ.</summary>
    Timestamp,

    /// <summary>Flags 0b11: SipHash of the source recorded and checked at import.</summary>
    CheckedHash,

    /// <summary>Flags 0b01: SipHash recorded but never checked: the .pyc runs whatever the source says.</summary>
    UncheckedHash,
}

/// <summary>The 16-byte header of a CPython 3.7+ .pyc: magic, flags, then mtime+size or a source hash.</summary>
public sealed record PycHeader(ushort Magic, PycInvalidation Invalidation, uint SourceMtime, uint SourceSize, ulong SourceHash)
{
    public const int Size = 16;
    private const int FlagsOffset = 4;
    private const int MtimeOffset = 8;
    private const int SourceSizeOffset = 12;
    private const int HashOffset = 8;

    /// <summary>The 4 magic bytes as a little-endian integer: the SipHash key CPython uses for source hashes.</summary>
    public uint RawMagic => Magic | (0x0a0dU << 16);

    public static PycHeader Parse(ReadOnlySpan<byte> data)
    {
        if (data.Length < Size)
        {
            MalformedInputException.ThrowTruncated($".pyc header ({Size} bytes)", data.Length);
        }

        if (data[2] != (byte)'\r' || data[3] != (byte)'\n')
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "not a .pyc: magic does not end in \\r\\n", 2);
        }

        var magic = BinaryPrimitives.ReadUInt16LittleEndian(data);
        var flags = BinaryPrimitives.ReadUInt32LittleEndian(data[FlagsOffset..]);
        return flags switch
        {
            0 => new PycHeader(magic, PycInvalidation.Timestamp, BinaryPrimitives.ReadUInt32LittleEndian(data[MtimeOffset..]), BinaryPrimitives.ReadUInt32LittleEndian(data[SourceSizeOffset..]), 0),
            0b11 => new PycHeader(magic, PycInvalidation.CheckedHash, 0, 0, BinaryPrimitives.ReadUInt64LittleEndian(data[HashOffset..])),
            0b01 => new PycHeader(magic, PycInvalidation.UncheckedHash, 0, 0, BinaryPrimitives.ReadUInt64LittleEndian(data[HashOffset..])),
            _ => MalformedInputException.Throw<PycHeader>(InputErrorKind.Syntax, $".pyc flags 0x{flags:x} are not defined by PEP 552", FlagsOffset),
        };
    }

    /// <summary>Fuzz target: must never throw anything but <see cref="MalformedInputException"/>.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data) => Parse(data);

    /// <summary>
    /// The Python minor version (3.x) whose magic range contains <paramref name="magic"/>, from CPython's
    /// <c>importlib/_bootstrap_external.py</c> table; null when unknown.
    /// </summary>
    public static int? MinorVersionForMagic(ushort magic) => magic switch
    {
        >= 3379 and < 3390 => 6,
        >= 3390 and < 3400 => 7,
        >= 3400 and < 3420 => 8,
        >= 3420 and < 3430 => 9,
        >= 3430 and < 3450 => 10,
        >= 3450 and < 3500 => 11,
        >= 3500 and < 3550 => 12,
        >= 3550 and < 3600 => 13,
        >= 3600 and < 3650 => 14,
        >= 3650 and < 3700 => 15,
        _ => null,
    };

    /// <summary>
    /// CPython's <c>_imp.source_hash(key, source)</c> with k0 = key, k1 = 0: SipHash-1-3 from Python 3.11
    /// (when CPython switched its keyed hash), SipHash-2-4 before.
    /// </summary>
    public static ulong ComputeSourceHash(uint key, ReadOnlySpan<byte> source)
    {
        var minor = MinorVersionForMagic((ushort)(key & 0xFFFF));
        return minor is null or >= 11 ? SipHash(key, 0, source, 1, 3) : SipHash(key, 0, source, 2, 4);
    }

    internal static ulong SipHash24(ulong k0, ulong k1, ReadOnlySpan<byte> data) => SipHash(k0, k1, data, 2, 4);

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    internal static ulong SipHash(ulong k0, ulong k1, ReadOnlySpan<byte> data, int compressionRounds, int finalizationRounds)
    {
        var v0 = 0x736f6d6570736575UL ^ k0;
        var v1 = 0x646f72616e646f6dUL ^ k1;
        var v2 = 0x6c7967656e657261UL ^ k0;
        var v3 = 0x7465646279746573UL ^ k1;
        var blocks = data.Length / 8;
        for (var i = 0; i < blocks; i++)
        {
            var m = BinaryPrimitives.ReadUInt64LittleEndian(data.Slice(i * 8, 8));
            v3 ^= m;
            for (var r = 0; r < compressionRounds; r++)
            {
                Round(ref v0, ref v1, ref v2, ref v3);
            }

            v0 ^= m;
        }

        var last = (ulong)(uint)data.Length << 56;
        var tail = data[(blocks * 8)..];
        for (var i = 0; i < tail.Length; i++)
        {
            last |= (ulong)tail[i] << (8 * i);
        }

        v3 ^= last;
        for (var r = 0; r < compressionRounds; r++)
        {
            Round(ref v0, ref v1, ref v2, ref v3);
        }

        v0 ^= last;
        v2 ^= 0xff;
        for (var i = 0; i < finalizationRounds; i++)
        {
            Round(ref v0, ref v1, ref v2, ref v3);
        }

        return v0 ^ v1 ^ v2 ^ v3;

        static void Round(ref ulong v0, ref ulong v1, ref ulong v2, ref ulong v3)
        {
            v0 += v1; v1 = BitOperations.RotateLeft(v1, 13); v1 ^= v0; v0 = BitOperations.RotateLeft(v0, 32);
            v2 += v3; v3 = BitOperations.RotateLeft(v3, 16); v3 ^= v2;
            v0 += v3; v3 = BitOperations.RotateLeft(v3, 21); v3 ^= v0;
            v2 += v1; v1 = BitOperations.RotateLeft(v1, 17); v1 ^= v2; v2 = BitOperations.RotateLeft(v2, 32);
        }
    }
}
