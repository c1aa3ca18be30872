namespace TrainGuard.Agent.Audit;

/// <summary>Value decoding rules of the Linux audit format.</summary>
public static class AuditValues
{
    /// <summary>
    /// Fields the kernel and libaudit log with <c>audit_log_untrustedstring</c>: quoted when the text
    /// is plain, hex-encoded when it contains a space, quote, control byte or non-ASCII byte.
    /// </summary>
    private static readonly HashSet<string> EncodedFields = new(StringComparer.Ordinal)
    {
        "comm", "exe", "name", "ocomm", "key", "proctitle", "cwd", "path", "acct", "cmd", "grp",
        "new_group", "old_group", "new-group", "old-group", "data", "watch", "dir", "file", "root_dir",
        "old-chardev", "new-chardev", "new-disk", "old-disk", "vm",
    };

    /// <summary>True when an unquoted value of this field is hex (EXECVE <c>aN</c> arguments too).</summary>
    public static bool IsEncodedField(string recordType, string name)
    {
        if (EncodedFields.Contains(name))
        {
            return true;
        }

        return recordType == "EXECVE" && name.Length > 1 && name[0] == 'a' && char.IsAsciiDigit(name[1]) && !name.Contains("_len", StringComparison.Ordinal);
    }

    /// <summary>Decodes an even-length run of hex digits; false (and nothing decoded) otherwise.</summary>
    public static bool TryDecodeHex(ReadOnlySpan<byte> hex, out byte[] bytes)
    {
        bytes = [];
        if (hex.Length == 0 || (hex.Length & 1) != 0)
        {
            return false;
        }

        var result = new byte[hex.Length / 2];
        for (var i = 0; i < result.Length; i++)
        {
            var hi = HexDigit(hex[2 * i]);
            var lo = HexDigit(hex[(2 * i) + 1]);
            if ((hi | lo) < 0)
            {
                return false;
            }

            result[i] = (byte)((hi << 4) | lo);
        }

        bytes = result;
        return true;
    }

    /// <summary>Parses an optionally negative decimal number, refusing overflow and stray bytes.</summary>
    public static bool TryParseDecimal(ReadOnlySpan<byte> text, out long value)
    {
        value = 0;
        var negative = text.Length > 0 && text[0] == (byte)'-';
        var digits = negative ? text[1..] : text;
        if (digits.Length is 0 or > 19)
        {
            return false;
        }

        long result = 0;
        foreach (var b in digits)
        {
            var d = b - '0';
            if ((uint)d > 9)
            {
                return false;
            }

            if (result > (long.MaxValue - d) / 10)
            {
                return false;
            }

            result = checked((result * 10) + d);
        }

        value = negative ? -result : result;
        return true;
    }

    /// <summary>Parses up to 16 hex digits (an optional <c>0x</c> prefix is accepted).</summary>
    public static bool TryParseHex(ReadOnlySpan<byte> text, out ulong value)
    {
        value = 0;
        if (text.Length > 2 && text[0] == (byte)'0' && (text[1] | 0x20) == (byte)'x')
        {
            text = text[2..];
        }

        if (text.Length is 0 or > 16)
        {
            return false;
        }

        ulong result = 0;
        foreach (var b in text)
        {
            var d = HexDigit(b);
            if (d < 0)
            {
                return false;
            }

            result = (result << 4) | (uint)d;
        }

        value = result;
        return true;
    }

    /// <summary>Login and user ids: <c>-1</c> and <c>4294967295</c> both mean unset.</summary>
    public static long NormalizeId(long id) => id == -1 ? AuditRecord.UnsetId : id;

    internal static int HexDigit(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };
}
