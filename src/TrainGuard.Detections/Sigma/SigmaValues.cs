using System.Text;
using TrainGuard.Detections.Matching;

namespace TrainGuard.Detections.Sigma;

/// <summary>
/// Sigma string values: wildcards and their escapes, <c>%placeholder%</c> expansion and the base64 encodings.
/// Escapes follow the specification: <c>\*</c> and <c>\?</c> are the plain characters, <c>\\</c> is one backslash,
/// and a backslash before anything else is itself.
/// </summary>
internal static class SigmaValues
{
    /// <summary>The pieces of a value: literal text, <c>*</c> and <c>?</c>.</summary>
    public static List<PatternPiece> Pieces(string value)
    {
        var pieces = new List<PatternPiece>();
        var literal = new StringBuilder();
        void Flush()
        {
            if (literal.Length > 0)
            {
                pieces.Add(new PatternPiece(PatternPieceKind.Literal, literal.ToString()));
                literal.Clear();
            }
        }

        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '\\' && i + 1 < value.Length && value[i + 1] is '*' or '?' or '\\')
            {
                literal.Append(value[++i]);
            }
            else if (c is '*' or '?')
            {
                Flush();
                pieces.Add(c == '*' ? PatternPiece.Star : PatternPiece.One);
            }
            else
            {
                literal.Append(c);
            }
        }

        Flush();
        return pieces;
    }

    /// <summary>The plain text of a value that must not hold wildcards (base64 values); null when it does.</summary>
    public static string? PlainText(string value)
    {
        var pieces = Pieces(value);
        return pieces.All(p => p.Kind == PatternPieceKind.Literal) ? string.Concat(pieces.Select(p => p.Text)) : null;
    }

    /// <summary>
    /// Expands the <c>%name%</c> placeholders of an <c>expand</c> value into every value they stand for (several
    /// placeholders in one value give every combination); <c>\%</c> is a plain percent sign. The results are Sigma
    /// values (wildcards still apply).
    /// </summary>
    public static List<string> Expand(string value, IReadOnlyDictionary<string, IReadOnlyList<string>> placeholders, int maxValues, out string? problem)
    {
        problem = null;
        var results = new List<string> { string.Empty };
        var literal = new StringBuilder();
        var found = false;
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '\\' && i + 1 < value.Length && value[i + 1] == '%')
            {
                literal.Append('%');
                i++;
                continue;
            }

            if (c != '%')
            {
                literal.Append(c);
                continue;
            }

            var close = value.IndexOf('%', i + 1);
            var name = close < 0 ? value[(i + 1)..] : value[(i + 1)..close];
            if (close < 0 || name.Length == 0 || !name.All(ch => char.IsAsciiLetterOrDigit(ch) || ch == '_'))
            {
                problem = $"'{value}': a placeholder is %Name% (letters, digits, _); write \\% for a plain percent sign";
                return [];
            }

            if (!placeholders.TryGetValue(name, out var replacements))
            {
                problem = $"unknown placeholder '%{name}%' (known: {string.Join(", ", placeholders.Keys.Order(StringComparer.Ordinal).Select(k => $"%{k}%"))}); define it in the server configuration";
                return [];
            }

            if (replacements.Count == 0)
            {
                problem = $"placeholder '%{name}%' has no values in the configuration";
                return [];
            }

            found = true;
            var prefix = literal.ToString();
            literal.Clear();
            var next = new List<string>(results.Count * replacements.Count);
            foreach (var start in results)
            {
                foreach (var replacement in replacements)
                {
                    next.Add(start + prefix + replacement);
                }
            }

            if (next.Count > maxValues)
            {
                problem = $"'{value}' expands to more than {maxValues:N0} values";
                return [];
            }

            results = next;
            i = close;
        }

        if (!found)
        {
            problem = $"'{value}' uses 'expand' but holds no %placeholder%";
            return [];
        }

        var tail = literal.ToString();
        return results.Select(r => r + tail).ToList();
    }

    /// <summary>The base64 text of a value's UTF-8 bytes.</summary>
    public static string Base64(string plain) => Convert.ToBase64String(Encoding.UTF8.GetBytes(plain));

    /// <summary>
    /// The three base64 forms a value takes inside a longer base64 text, depending on its byte offset modulo 3: the
    /// value is encoded after 0, 1 and 2 leading bytes and the characters that also depend on neighbouring bytes are
    /// cut from both ends. Null when the value is too short to leave a certain form.
    /// </summary>
    public static string[]? Base64Offsets(string plain)
    {
        ReadOnlySpan<int> startCut = [0, 2, 3];
        ReadOnlySpan<int> endCut = [0, 3, 2];
        var bytes = Encoding.UTF8.GetBytes(plain);
        var forms = new string[3];
        for (var shift = 0; shift < 3; shift++)
        {
            var shifted = new byte[shift + bytes.Length];
            bytes.CopyTo(shifted, shift);
            var encoded = Convert.ToBase64String(shifted);
            var length = encoded.Length - startCut[shift] - endCut[(bytes.Length + shift) % 3];
            if (length <= 0)
            {
                return null;
            }

            forms[shift] = encoded.Substring(startCut[shift], length);
        }

        return forms;
    }
}
