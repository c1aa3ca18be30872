namespace TrainGuard.Formats.Tar;

/// <summary>Offsets and widths of the fields of a 512-byte tar header (POSIX ustar; GNU and v7 share the first 257 bytes).</summary>
internal static class TarHeaderFields
{
    public const int BlockSize = 512;
    public const int NameOffset = 0;
    public const int NameLength = 100;
    public const int ModeOffset = 100;
    public const int SizeOffset = 124;
    public const int SizeLength = 12;
    public const int ChecksumOffset = 148;
    public const int ChecksumLength = 8;
    public const int TypeFlagOffset = 156;
    public const int LinkNameOffset = 157;
    public const int LinkNameLength = 100;
    public const int MagicOffset = 257;
    public const int PrefixOffset = 345;
    public const int PrefixLength = 155;

    /// <summary>True when bytes 257.. hold <c>ustar\0</c> (POSIX) or <c>ustar </c> (GNU).</summary>
    public static bool HasUstarMagic(ReadOnlySpan<byte> block) =>
        block.Length >= MagicOffset + 6 && block.Slice(MagicOffset, 5).SequenceEqual("ustar"u8) && block[MagicOffset + 5] is 0 or (byte)' ';

    public static bool IsGnu(ReadOnlySpan<byte> block) => block.Length >= MagicOffset + 8 && block.Slice(MagicOffset, 8).SequenceEqual("ustar  \0"u8);

    /// <summary>
    /// True when the stored checksum matches the sum of the header bytes with the checksum field read as
    /// spaces (unsigned, or signed as some historic tars computed it).
    /// </summary>
    public static bool ChecksumValid(ReadOnlySpan<byte> block)
    {
        if (block.Length < BlockSize || !TryParseOctal(block.Slice(ChecksumOffset, ChecksumLength), out var stored))
        {
            return false;
        }

        long unsignedSum = 0;
        long signedSum = 0;
        for (var i = 0; i < BlockSize; i++)
        {
            var b = i is >= ChecksumOffset and < ChecksumOffset + ChecksumLength ? (byte)' ' : block[i];
            unsignedSum += b;
            signedSum += (sbyte)b;
        }

        return stored == unsignedSum || stored == signedSum;
    }

    /// <summary>Parses an octal field: optional leading spaces, octal digits, then NUL/space padding. Empty (all NUL) is invalid.</summary>
    public static bool TryParseOctal(ReadOnlySpan<byte> field, out long value)
    {
        value = 0;
        var i = 0;
        while (i < field.Length && field[i] == (byte)' ')
        {
            i++;
        }

        var digits = 0;
        while (i < field.Length && field[i] is >= (byte)'0' and <= (byte)'7')
        {
            if (value > (long.MaxValue >> 3))
            {
                return false;
            }

            value = (value << 3) | (long)(field[i] - '0');
            digits++;
            i++;
        }

        while (i < field.Length && field[i] is 0 or (byte)' ')
        {
            i++;
        }

        return digits > 0 && i == field.Length;
    }

    public static bool IsAllZero(ReadOnlySpan<byte> block) => block.IndexOfAnyExcept((byte)0) < 0;
}
