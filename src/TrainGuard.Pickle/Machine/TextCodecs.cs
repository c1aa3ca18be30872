using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Unicode;

namespace TrainGuard.Pickle.Machine;

/// <summary>Decoders for the encodings pickles use: UTF-8 with surrogatepass, Python escape forms, protocol 0 numbers.</summary>
internal static class TextCodecs
{
    private static readonly Encoding Latin1 = Encoding.Latin1;

    /// <summary>UTF-8 as CPython's pickle writes it (<c>surrogatepass</c>: encoded lone surrogates allowed).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static bool IsValidUtf8SurrogatePass(ReadOnlySpan<byte> s)
    {
        if (Utf8.IsValid(s))
        {
            return true;
        }

        var i = 0;
        while (i < s.Length)
        {
            var b = s[i];
            if (b < 0x80)
            {
                i++;
                continue;
            }

            int need;
            int cp;
            if (b is >= 0xc2 and <= 0xdf)
            {
                need = 1;
                cp = b & 0x1f;
            }
            else if (b is >= 0xe0 and <= 0xef)
            {
                need = 2;
                cp = b & 0x0f;
            }
            else if (b is >= 0xf0 and <= 0xf4)
            {
                need = 3;
                cp = b & 0x07;
            }
            else
            {
                return false;
            }

            for (var k = 1; k <= need; k++)
            {
                if (i + k >= s.Length || (s[i + k] & 0xc0) != 0x80)
                {
                    return false;
                }

                cp = (cp << 6) | (s[i + k] & 0x3f);
            }

            var min = need == 1 ? 0x80 : need == 2 ? 0x800 : 0x10000;
            if (cp < min || cp > 0x10ffff)
            {
                return false;
            }

            i += need + 1;
        }

        return true;
    }

    /// <summary>Decodes UTF-8 keeping encoded surrogates as UTF-16 surrogates (Python's surrogatepass).</summary>
    public static string DecodeUtf8SurrogatePass(ReadOnlySpan<byte> s)
    {
        if (Utf8.IsValid(s))
        {
            return Encoding.UTF8.GetString(s);
        }

        var sb = new StringBuilder(s.Length);
        var i = 0;
        while (i < s.Length)
        {
            var b = s[i];
            if (b < 0x80)
            {
                sb.Append((char)b);
                i++;
                continue;
            }

            var need = b >= 0xf0 ? 3 : b >= 0xe0 ? 2 : 1;
            var cp = b & (need == 3 ? 0x07 : need == 2 ? 0x0f : 0x1f);
            for (var k = 1; k <= need && i + k < s.Length; k++)
            {
                cp = (cp << 6) | (s[i + k] & 0x3f);
            }

            if (cp > 0xffff)
            {
                sb.Append(char.ConvertFromUtf32(Math.Min(cp, 0x10ffff)));
            }
            else
            {
                sb.Append((char)cp);
            }

            i += need + 1;
        }

        return sb.ToString();
    }

    public static string DecodeLatin1(ReadOnlySpan<byte> s) => Latin1.GetString(s);

    /// <summary>Python's <c>codecs.escape_decode</c> (the STRING opcode). Returns null and a reason on error.</summary>
    public static byte[]? EscapeDecode(ReadOnlySpan<byte> s, out string? error)
    {
        error = null;
        var output = new List<byte>(s.Length);
        for (var i = 0; i < s.Length; i++)
        {
            var b = s[i];
            if (b != (byte)'\\')
            {
                output.Add(b);
                continue;
            }

            if (++i >= s.Length)
            {
                error = "trailing \\ in string";
                return null;
            }

            var c = s[i];
            switch (c)
            {
                case (byte)'\n': break;
                case (byte)'\\': output.Add((byte)'\\'); break;
                case (byte)'\'': output.Add((byte)'\''); break;
                case (byte)'"': output.Add((byte)'"'); break;
                case (byte)'b': output.Add(8); break;
                case (byte)'f': output.Add(12); break;
                case (byte)'t': output.Add(9); break;
                case (byte)'n': output.Add(10); break;
                case (byte)'r': output.Add(13); break;
                case (byte)'v': output.Add(11); break;
                case (byte)'a': output.Add(7); break;
                case >= (byte)'0' and <= (byte)'7':
                    {
                        var value = c - '0';
                        for (var k = 0; k < 2 && i + 1 < s.Length && s[i + 1] is >= (byte)'0' and <= (byte)'7'; k++)
                        {
                            value = (value * 8) + (s[++i] - '0');
                        }

                        output.Add((byte)value);
                        break;
                    }

                case (byte)'x':
                    if (i + 2 < s.Length && IsHex(s[i + 1]) && IsHex(s[i + 2]))
                    {
                        output.Add((byte)((HexValue(s[i + 1]) << 4) | HexValue(s[i + 2])));
                        i += 2;
                        break;
                    }

                    error = $"invalid \\x escape at position {i - 1}";
                    return null;
                default:
                    output.Add((byte)'\\');
                    output.Add(c);
                    break;
            }
        }

        return [.. output];
    }

    /// <summary>Python's <c>raw_unicode_escape</c> decoder (the UNICODE opcode). Returns null and a reason on error.</summary>
    public static string? RawUnicodeEscapeDecode(ReadOnlySpan<byte> s, out string? error)
    {
        error = null;
        var sb = new StringBuilder(s.Length);
        var i = 0;
        while (i < s.Length)
        {
            if (s[i] != (byte)'\\')
            {
                sb.Append((char)s[i++]);
                continue;
            }

            var start = i;
            while (i < s.Length && s[i] == (byte)'\\')
            {
                sb.Append('\\');
                i++;
            }

            if (((i - start) & 1) == 0 || i >= s.Length || (s[i] != (byte)'u' && s[i] != (byte)'U'))
            {
                continue;
            }

            sb.Length--;
            var count = s[i] == (byte)'u' ? 4 : 8;
            i++;
            long cp = 0;
            for (var k = 0; k < count; k++, i++)
            {
                if (i >= s.Length || !IsHex(s[i]))
                {
                    error = count == 4 ? "truncated \\uXXXX escape" : "truncated \\UXXXXXXXX escape";
                    return null;
                }

                cp = (cp << 4) | (long)HexValue(s[i]);
            }

            if (cp > 0x10ffff)
            {
                error = "\\Uxxxxxxxx out of range";
                return null;
            }

            if (cp > 0xffff)
            {
                sb.Append(char.ConvertFromUtf32((int)cp));
            }
            else
            {
                sb.Append((char)cp);
            }
        }

        return sb.ToString();
    }

    /// <summary>Protocol 0 INT/LONG text as CPython accepts it: optional sign, decimal/0x/0o/0b digits, underscores, surrounding blanks.</summary>
    public static bool IsPythonIntLiteral(ReadOnlySpan<byte> s)
    {
        s = Trim(s);
        if (s.Length > 0 && (s[0] == (byte)'-' || s[0] == (byte)'+'))
        {
            s = s[1..];
        }

        var radix = 10;
        if (s.Length > 2 && s[0] == (byte)'0' && (s[1] | 0x20) is (byte)'x' or (byte)'o' or (byte)'b')
        {
            radix = (s[1] | 0x20) switch { (byte)'x' => 16, (byte)'o' => 8, _ => 2 };
            s = s[2..];
            if (s.Length > 0 && s[0] == (byte)'_')
            {
                s = s[1..];
            }
        }

        if (s.IsEmpty || s[0] == (byte)'_' || s[^1] == (byte)'_')
        {
            return false;
        }

        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (c == (byte)'_')
            {
                if (s[i - 1] == (byte)'_')
                {
                    return false;
                }

                continue;
            }

            var d = IsHex(c) ? HexValue(c) : 99;
            if (d >= radix)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Parses a plain decimal int that fits in a long; false for anything else (the caller keeps it lazily).</summary>
    public static bool TryParseDecimal(ReadOnlySpan<byte> s, out long value) =>
        long.TryParse(Trim(s), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);

    /// <summary>Protocol 0 FLOAT text as Python's <c>float()</c> accepts it.</summary>
    public static bool TryParseFloat(ReadOnlySpan<byte> s, out double value)
    {
        s = Trim(s);
        Span<char> chars = stackalloc char[Math.Min(s.Length, 64)];
        if (s.Length > chars.Length)
        {
            value = 0;
            return s.Length < 4096 && double.TryParse(Encoding.ASCII.GetString(s).Replace("_", string.Empty, StringComparison.Ordinal), NumberStyles.Float, CultureInfo.InvariantCulture, out value);
        }

        var n = 0;
        foreach (var b in s)
        {
            if (b >= 0x80)
            {
                value = 0;
                return false;
            }

            if (b != (byte)'_')
            {
                chars[n++] = (char)b;
            }
        }

        var text = chars[..n];
        var body = text.Length > 0 && (text[0] == '-' || text[0] == '+') ? text[1..] : text;
        if (body.Equals("inf", StringComparison.OrdinalIgnoreCase) || body.Equals("infinity", StringComparison.OrdinalIgnoreCase))
        {
            value = text[0] == '-' ? double.NegativeInfinity : double.PositiveInfinity;
            return true;
        }

        if (body.Equals("nan", StringComparison.OrdinalIgnoreCase))
        {
            value = double.NaN;
            return true;
        }

        if (body.IsEmpty || !(char.IsAsciiDigit(body[0]) || body[0] == '.'))
        {
            value = 0;
            return false;
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>Python's <c>repr(float)</c>, close enough for rendering.</summary>
    public static string FormatFloat(double d)
    {
        if (double.IsNaN(d))
        {
            return "nan";
        }

        if (double.IsInfinity(d))
        {
            return d > 0 ? "inf" : "-inf";
        }

        var s = d.ToString("R", CultureInfo.InvariantCulture);
        if (s.Contains('E', StringComparison.Ordinal))
        {
            s = s.Replace("E", "e", StringComparison.Ordinal);
            return s;
        }

        return s.Contains('.', StringComparison.Ordinal) ? s : s + ".0";
    }

    public static double ReadBinFloat(ReadOnlySpan<byte> eight) => BinaryPrimitives.ReadDoubleBigEndian(eight);

    private static ReadOnlySpan<byte> Trim(ReadOnlySpan<byte> s)
    {
        var a = 0;
        var b = s.Length;
        while (a < b && IsBlank(s[a]))
        {
            a++;
        }

        while (b > a && IsBlank(s[b - 1]))
        {
            b--;
        }

        return s[a..b];
    }

    private static bool IsBlank(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n' or 0x0b or 0x0c;

    private static bool IsHex(byte b) => b is (>= (byte)'0' and <= (byte)'9') or (>= (byte)'a' and <= (byte)'f') or (>= (byte)'A' and <= (byte)'F');

    private static int HexValue(byte b) => b <= (byte)'9' ? b - '0' : (b | 0x20) - 'a' + 10;
}
