using System.Globalization;
using System.Text;

namespace TrainGuard.Core.Tests.Events;

/// <summary>
/// Random JSON text for differential tests of canonicalisers: random whitespace, every escape form (short, <c>\u</c>
/// in either case, escaped solidus, surrogate pairs), names that sort differently in UTF-8 and UTF-16, numbers in
/// every notation (exponents, trailing zeros, <c>-0</c>, integers past 2^53, subnormals, overflow) and, rarely,
/// lone surrogate escapes. Member names are unique per object (after unescaping).
/// </summary>
internal sealed class JsonTextGenerator(Random random)
{
    private static readonly string[] NamePieces =
        ["a", "b", "id", "event", "action", "x1", "\u00e9", "\u20ac", "\ue000", "\uffff", "\ud83d\ude00", "\ud800\udc00", "\u0080", "1", "", "A", "\u007f", "\ufb33", "\r", " "];

    private static readonly string[] Numbers =
        ["0", "-0", "1", "-1", "0.0", "-0.0", "1.0", "4.50", "2e-3", "1E30", "1e21", "1e20", "1e+21", "5e-324", "-5e-324", "2.4703282292062327e-324", "1.7976931348623157e308",
         "1e400", "-1e400", "1e-400", "9007199254740993", "9007199254740992", "123456789012345", "1234567890123456", "12345678901234567890123", "0.1", "0.000001", "0.0000001",
         "333333333.33333329", "1E-7", "-0.0000033333333333333333", "1424953923781206.25", "100", "1e2", "10E-1", "0.5e1"];

    /// <summary>Most members per object.</summary>
    public int MaxMembers { get; init; } = 6;

    /// <summary>Deepest nesting generated.</summary>
    public int MaxDepth { get; init; } = 5;

    /// <summary>A random value (an object or array near the top, scalars deeper down).</summary>
    public string Value(int depth)
    {
        var kind = depth >= MaxDepth ? random.Next(2, 6) : random.Next(depth == 0 ? 2 : 7);
        return kind switch
        {
            0 => Object(depth),
            1 => Array(depth),
            2 or 3 => StringLiteral(RandomText()),
            4 => Number(),
            5 => random.Next(3) switch { 0 => "true", 1 => "false", _ => "null" },
            _ => random.Next(2) == 0 ? Object(depth) : Array(depth),
        };
    }

    /// <summary>An object with unique member names.</summary>
    public string Object(int depth)
    {
        var count = random.Next(MaxMembers + 1);
        var names = new HashSet<string>(StringComparer.Ordinal);
        var text = new StringBuilder().Append('{').Append(Space());
        for (var i = 0; i < count; i++)
        {
            var name = Name();
            if (!names.Add(name))
            {
                continue;
            }

            if (names.Count > 1)
            {
                text.Append(',').Append(Space());
            }

            text.Append(StringLiteral(name)).Append(Space()).Append(':').Append(Space()).Append(Value(depth + 1)).Append(Space());
        }

        return text.Append('}').ToString();
    }

    /// <summary>Any number text from the notable list, or a random one in any notation.</summary>
    public string Number()
    {
        if (random.Next(2) == 0)
        {
            return Numbers[random.Next(Numbers.Length)];
        }

        var text = new StringBuilder();
        if (random.Next(3) == 0)
        {
            text.Append('-');
        }

        var digits = random.Next(1, 22);
        text.Append(random.Next(6) == 0 ? '0' : (char)('1' + random.Next(9)));
        if (text[^1] != '0')
        {
            for (var i = 1; i < digits; i++)
            {
                text.Append((char)('0' + random.Next(10)));
            }
        }

        if (random.Next(3) == 0)
        {
            text.Append('.');
            for (var i = random.Next(1, 20); i > 0; i--)
            {
                text.Append((char)('0' + random.Next(10)));
            }
        }

        if (random.Next(3) == 0)
        {
            text.Append(random.Next(2) == 0 ? 'e' : 'E');
            var sign = random.Next(3);
            if (sign > 0)
            {
                text.Append(sign == 1 ? '+' : '-');
            }

            text.Append(random.Next(random.Next(2) == 0 ? 30 : 330).ToString(CultureInfo.InvariantCulture));
        }

        return text.ToString();
    }

    /// <summary>A JSON string literal for <paramref name="value"/>, each character written raw or escaped at random.</summary>
    public string StringLiteral(string value)
    {
        var text = new StringBuilder(value.Length + 2).Append('"');
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            var escape = random.Next(4) == 0;
            switch (c)
            {
                case '"': text.Append(escape ? "\\u0022" : "\\\""); continue;
                case '\\': text.Append(escape ? "\\u005C" : "\\\\"); continue;
                case '/': text.Append(escape ? "\\/" : "/"); continue;
                case '\n': text.Append(escape ? "\\u000a" : "\\n"); continue;
                case '\t': text.Append(escape ? "\\u0009" : "\\t"); continue;
                case '\r': text.Append("\\r"); continue;
                case '\b': text.Append("\\b"); continue;
                case '\f': text.Append("\\f"); continue;
            }

            if (c < 0x20 || char.IsSurrogate(c) && !(char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1])) || escape)
            {
                // Lone surrogates can only be written escaped.
                text.Append(random.Next(2) == 0 ? $"\\u{(int)c:x4}" : $"\\u{(int)c:X4}");
            }
            else if (char.IsHighSurrogate(c))
            {
                text.Append(c).Append(value[++i]);
            }
            else
            {
                text.Append(c);
            }
        }

        return text.Append('"').ToString();
    }

    private string Array(int depth)
    {
        var count = random.Next(5);
        var text = new StringBuilder().Append('[').Append(Space());
        for (var i = 0; i < count; i++)
        {
            if (i > 0)
            {
                text.Append(',').Append(Space());
            }

            text.Append(Value(depth + 1)).Append(Space());
        }

        return text.Append(']').ToString();
    }

    private string Name()
    {
        var text = new StringBuilder();
        for (var i = random.Next(1, 4); i > 0; i--)
        {
            text.Append(NamePieces[random.Next(NamePieces.Length)]);
        }

        return text.ToString();
    }

    private string RandomText()
    {
        var text = new StringBuilder();
        for (var i = random.Next(12); i > 0; i--)
        {
            text.Append(random.Next(12) switch
            {
                0 => "\"\\/",
                1 => ((char)random.Next(0x20)).ToString(),
                2 => "\u00e9\u20ac",
                3 => "\ud83d\ude00",
                4 => "\u007f\u0080\ufffd",
                5 => random.Next(40) == 0 ? "\ud800" : "\udbff\udfff",
                6 => random.Next(40) == 0 ? "\udc00" : "\ue000",
                7 => "</script>",
                _ => ((char)random.Next('a', 'z' + 1)).ToString(),
            });
        }

        return text.ToString();
    }

    private string Space() => random.Next(4) switch
    {
        0 => " ",
        1 => "\n\t ",
        2 => "\r\n",
        _ => string.Empty,
    };
}
