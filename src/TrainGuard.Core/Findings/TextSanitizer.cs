using System.Text;

namespace TrainGuard.Findings;

/// <summary>Escapes control bytes and truncates, so hostile input cannot forge lines or colours in a message.</summary>
public static class TextSanitizer
{
    public const int DefaultMaxLength = 200;

    /// <summary>Renders a string with control characters escaped Python-style (<c>\n</c>, <c>\x1b</c>), truncated.</summary>
    public static string Escape(string? text, int maxLength = DefaultMaxLength)
    {
        if (string.IsNullOrEmpty(text))
        {
            return string.Empty;
        }

        var builder = new StringBuilder(Math.Min(text.Length, maxLength) + 8);
        foreach (var ch in text)
        {
            if (builder.Length >= maxLength)
            {
                builder.Append('…');
                break;
            }

            AppendEscaped(builder, ch);
        }

        return builder.ToString();
    }

    /// <summary>Renders bytes as a Python bytes literal body (printable ASCII kept, the rest <c>\xNN</c>).</summary>
    public static string EscapeBytes(ReadOnlySpan<byte> bytes, int maxLength = DefaultMaxLength)
    {
        var builder = new StringBuilder(Math.Min(bytes.Length, maxLength) + 8);
        foreach (var b in bytes)
        {
            if (builder.Length >= maxLength)
            {
                builder.Append('…');
                break;
            }

            if (b is >= 0x20 and < 0x7f && b != (byte)'\\' && b != (byte)'\'')
            {
                builder.Append((char)b);
            }
            else
            {
                builder.Append(b switch
                {
                    (byte)'\n' => "\\n",
                    (byte)'\r' => "\\r",
                    (byte)'\t' => "\\t",
                    (byte)'\\' => "\\\\",
                    (byte)'\'' => "\\'",
                    _ => $"\\x{b:x2}",
                });
            }
        }

        return builder.ToString();
    }

    private static void AppendEscaped(StringBuilder builder, char ch)
    {
        switch (ch)
        {
            case '\n': builder.Append("\\n"); break;
            case '\r': builder.Append("\\r"); break;
            case '\t': builder.Append("\\t"); break;
            default:
                if (char.IsControl(ch) || ch is '\u2028' or '\u2029' or '\u202e' or '\u202d')
                {
                    builder.Append(ch <= 0xff ? $"\\x{(int)ch:x2}" : $"\\u{(int)ch:x4}");
                }
                else
                {
                    builder.Append(ch);
                }

                break;
        }
    }
}
