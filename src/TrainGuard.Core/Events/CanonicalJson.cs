using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TrainGuard.Parsing;

namespace TrainGuard.Events;

/// <summary>
/// The JSON Canonicalization Scheme (RFC 8785): object members sorted by their names compared as
/// UTF-16 code units, no insignificant whitespace, strings with the minimal escaping of ECMAScript
/// <c>JSON.stringify</c>, numbers in the ECMAScript shortest round-trip form, UTF-8 output. This is
/// the byte string the ledger hashes, so two producers that agree on the data agree on the leaf.
/// </summary>
public static class CanonicalJson
{
    /// <summary>Deepest nesting accepted; events are a few levels deep, this only stops runaway input.</summary>
    public const int MaxDepth = 64;

    /// <summary>Canonical UTF-8 bytes of <paramref name="node"/> (<c>null</c> is the JSON literal null).</summary>
    /// <exception cref="MalformedInputException">NaN or infinite numbers, lone surrogates, or nesting over <see cref="MaxDepth"/>.</exception>
    public static byte[] Serialize(JsonNode? node)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        Write(node, buffer, 0);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The canonical form as a string (for display and tests; hash <see cref="Serialize"/>).</summary>
    public static string SerializeToString(JsonNode? node) => Encoding.UTF8.GetString(Serialize(node));

    /// <summary>Parses JSON text and returns its canonical form.</summary>
    public static byte[] Canonicalize(string json)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { MaxDepth = MaxDepth });
        }
        catch (JsonException ex)
        {
            throw MalformedInputException.Create(InputErrorKind.Syntax, $"not valid JSON: {ex.Message}", ex.BytePositionInLine);
        }

        return Serialize(node);
    }

    /// <summary>Formats a double the way ECMAScript <c>Number.prototype.toString</c> does (RFC 8785 section 3.2.2.3).</summary>
    public static string FormatNumber(double value)
    {
        if (!double.IsFinite(value))
        {
            throw MalformedInputException.Create(InputErrorKind.Unsupported, $"canonical JSON cannot represent the number {value.ToString(CultureInfo.InvariantCulture)}", offset: null);
        }

        if (value == 0)
        {
            return "0";
        }

        // .NET's round-trip format yields the shortest digit string that reads back to the same
        // double, which is the digit string ECMAScript selects; only the layout differs.
        var roundTrip = value.ToString("R", CultureInfo.InvariantCulture);
        var negative = roundTrip[0] == '-';
        var body = negative ? roundTrip.AsSpan(1) : roundTrip.AsSpan();
        var exponent = 0;
        var e = body.IndexOfAny('E', 'e');
        if (e >= 0)
        {
            exponent = int.Parse(body[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            body = body[..e];
        }

        Span<char> digits = stackalloc char[body.Length];
        var count = 0;
        var point = body.IndexOf('.');
        var n = (point < 0 ? body.Length : point) + exponent;
        foreach (var c in body)
        {
            if (c == '.')
            {
                continue;
            }

            if (count == 0 && c == '0')
            {
                n--;
                continue;
            }

            digits[count++] = c;
        }

        while (count > 1 && digits[count - 1] == '0')
        {
            count--;
        }

        var k = count;
        var d = digits[..k];
        var sb = new StringBuilder(32);
        if (negative)
        {
            sb.Append('-');
        }

        if (k <= n && n <= 21)
        {
            sb.Append(d).Append('0', n - k);
        }
        else if (n > 0 && n <= 21)
        {
            sb.Append(d[..n]).Append('.').Append(d[n..]);
        }
        else if (n > -6 && n <= 0)
        {
            sb.Append("0.").Append('0', -n).Append(d);
        }
        else
        {
            var exp = n - 1;
            sb.Append(d[0]);
            if (k > 1)
            {
                sb.Append('.').Append(d[1..]);
            }

            sb.Append('e').Append(exp >= 0 ? '+' : '-').Append(Math.Abs(exp).ToString(CultureInfo.InvariantCulture));
        }

        return sb.ToString();
    }

    private static void Write(JsonNode? node, ArrayBufferWriter<byte> output, int depth)
    {
        if (depth > MaxDepth)
        {
            throw MalformedInputException.Create(InputErrorKind.OverLimit, $"JSON nesting exceeds the limit of {MaxDepth}", offset: null);
        }

        switch (node)
        {
            case null:
                WriteAscii(output, "null");
                break;
            case JsonObject obj:
                WriteObject(obj, output, depth);
                break;
            case JsonArray array:
                WriteByte(output, (byte)'[');
                for (var i = 0; i < array.Count; i++)
                {
                    if (i > 0)
                    {
                        WriteByte(output, (byte)',');
                    }

                    Write(array[i], output, depth + 1);
                }

                WriteByte(output, (byte)']');
                break;
            case JsonValue value:
                WriteValue(value, output);
                break;
            default:
                throw MalformedInputException.Create(InputErrorKind.Unsupported, $"unsupported JSON node {node.GetType().Name}", offset: null);
        }
    }

    private static void WriteObject(JsonObject obj, ArrayBufferWriter<byte> output, int depth)
    {
        var members = new KeyValuePair<string, JsonNode?>[obj.Count];
        var i = 0;
        foreach (var member in obj)
        {
            members[i++] = member;
        }

        // string.CompareOrdinal compares UTF-16 code units, exactly the order RFC 8785 section 3.2.3 asks for.
        Array.Sort(members, static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        WriteByte(output, (byte)'{');
        for (i = 0; i < members.Length; i++)
        {
            if (i > 0)
            {
                WriteByte(output, (byte)',');
            }

            WriteString(members[i].Key, output);
            WriteByte(output, (byte)':');
            Write(members[i].Value, output, depth + 1);
        }

        WriteByte(output, (byte)'}');
    }

    private static void WriteValue(JsonValue value, ArrayBufferWriter<byte> output)
    {
        switch (value.GetValueKind())
        {
            case JsonValueKind.String:
                WriteString(value.GetValue<string>(), output);
                break;
            case JsonValueKind.Number:
                if (value.TryGetValue<double>(out var direct))
                {
                    WriteAscii(output, FormatNumber(direct));
                    break;
                }

                if (value.TryGetValue<float>(out var single))
                {
                    WriteAscii(output, FormatNumber(single));
                    break;
                }

                var text = value.ToJsonString();
                if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
                {
                    throw MalformedInputException.Create(InputErrorKind.Syntax, $"unreadable JSON number {text}", offset: null);
                }

                WriteAscii(output, FormatNumber(number));
                break;
            case JsonValueKind.True:
                WriteAscii(output, "true");
                break;
            case JsonValueKind.False:
                WriteAscii(output, "false");
                break;
            case JsonValueKind.Null:
                WriteAscii(output, "null");
                break;
            default:
                throw MalformedInputException.Create(InputErrorKind.Unsupported, "canonical JSON cannot represent this value (NaN, infinity or an unsupported CLR type)", offset: null);
        }
    }

    private static void WriteString(string text, ArrayBufferWriter<byte> output)
    {
        WriteByte(output, (byte)'"');
        Span<byte> utf8 = stackalloc byte[4];
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            switch (c)
            {
                case '"': WriteAscii(output, "\\\""); continue;
                case '\\': WriteAscii(output, "\\\\"); continue;
                case '\b': WriteAscii(output, "\\b"); continue;
                case '\f': WriteAscii(output, "\\f"); continue;
                case '\n': WriteAscii(output, "\\n"); continue;
                case '\r': WriteAscii(output, "\\r"); continue;
                case '\t': WriteAscii(output, "\\t"); continue;
            }

            if (c < 0x20)
            {
                WriteAscii(output, "\\u00");
                WriteByte(output, (byte)"0123456789abcdef"[c >> 4]);
                WriteByte(output, (byte)"0123456789abcdef"[c & 0xF]);
                continue;
            }

            if (c < 0x80)
            {
                WriteByte(output, (byte)c);
                continue;
            }

            Rune rune;
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                rune = new Rune(c, text[i + 1]);
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                throw MalformedInputException.Create(InputErrorKind.Syntax, $"lone surrogate U+{(int)c:X4} at character {i} cannot be encoded as UTF-8", offset: i);
            }
            else
            {
                rune = new Rune(c);
            }

            var written = rune.EncodeToUtf8(utf8);
            output.Write(utf8[..written]);
        }

        WriteByte(output, (byte)'"');
    }

    private static void WriteByte(ArrayBufferWriter<byte> output, byte b)
    {
        output.GetSpan(1)[0] = b;
        output.Advance(1);
    }

    private static void WriteAscii(ArrayBufferWriter<byte> output, string ascii)
    {
        var span = output.GetSpan(ascii.Length);
        for (var i = 0; i < ascii.Length; i++)
        {
            span[i] = (byte)ascii[i];
        }

        output.Advance(ascii.Length);
    }
}
