using System.Text;
using System.Text.RegularExpressions;

namespace TrainGuard.Detections.Sigma;

/// <summary>
/// The longest run of literal characters every match of a case-sensitive Sigma regular expression contains, found
/// by reading the pattern's top level: a text without it cannot match, so a test skips the regular expression (most
/// event values do not contain the literal). Conservative by construction: an alternation at the top level, a case-
/// insensitive expression, or anything it does not recognise gives no literal (the expression then always runs).
/// </summary>
internal static class RegexLiteral
{
    /// <summary>Shortest literal worth a search before the expression.</summary>
    private const int MinLength = 2;

    /// <summary>The required literal, or null.</summary>
    public static string? Required(string pattern, RegexOptions options)
    {
        if ((options & (RegexOptions.IgnoreCase | RegexOptions.IgnorePatternWhitespace)) != 0 || HasTopLevelAlternation(pattern))
        {
            return null;
        }

        string? best = null;
        var run = new StringBuilder();
        var lastWasLiteral = false;

        void Finish()
        {
            if (run.Length >= MinLength && (best is null || run.Length > best.Length))
            {
                best = run.ToString();
            }

            run.Clear();
            lastWasLiteral = false;
        }

        var i = 0;
        while (i < pattern.Length)
        {
            var c = pattern[i];
            switch (c)
            {
                case '(':
                    Finish();
                    i = SkipGroup(pattern, i);
                    if (i < 0)
                    {
                        return null;
                    }

                    break;
                case '[':
                    Finish();
                    i = SkipClass(pattern, i);
                    if (i < 0)
                    {
                        return null;
                    }

                    break;
                case '*' or '?' or '{':
                    // The atom before is optional (or repeated a number of times read no further): drop it.
                    if (lastWasLiteral && run.Length > 0)
                    {
                        run.Length--;
                    }

                    Finish();
                    i = c == '{' ? SkipBraces(pattern, i) : i + 1;
                    if (i < 0)
                    {
                        return null;
                    }

                    break;
                case '+':
                    // The atom before is there at least once; what follows need not be next to it.
                    Finish();
                    i++;
                    break;
                case '.' or '^' or '$' or '|' or ')' or ']' or '}':
                    Finish();
                    i++;
                    break;
                case '\\':
                    if (i + 1 >= pattern.Length || char.IsAsciiLetterOrDigit(pattern[i + 1]))
                    {
                        // Outside Sigma's flavour (refused at load): no claim.
                        return null;
                    }

                    run.Append(pattern[i + 1]);
                    lastWasLiteral = true;
                    i += 2;
                    break;
                default:
                    if (char.IsWhiteSpace(c) || char.IsSurrogate(c))
                    {
                        // Kept out of literals (a surrogate pair is one atom to a quantifier).
                        Finish();
                        i++;
                        break;
                    }

                    run.Append(c);
                    lastWasLiteral = true;
                    i++;
                    break;
            }
        }

        Finish();
        return best;
    }

    /// <summary>True when <c>|</c> appears outside every group and class (the expression is then an alternation).</summary>
    private static bool HasTopLevelAlternation(string pattern)
    {
        var depth = 0;
        for (var i = 0; i < pattern.Length; i++)
        {
            switch (pattern[i])
            {
                case '\\':
                    i++;
                    break;
                case '[':
                    var end = SkipClass(pattern, i);
                    if (end < 0)
                    {
                        return true;
                    }

                    i = end - 1;
                    break;
                case '(':
                    depth++;
                    break;
                case ')':
                    depth--;
                    break;
                case '|' when depth <= 0:
                    return true;
            }
        }

        return false;
    }

    /// <summary>The position after the group that opens at <paramref name="start"/>, or -1.</summary>
    private static int SkipGroup(string pattern, int start)
    {
        var depth = 0;
        for (var i = start; i < pattern.Length; i++)
        {
            switch (pattern[i])
            {
                case '\\':
                    i++;
                    break;
                case '[':
                    var end = SkipClass(pattern, i);
                    if (end < 0)
                    {
                        return -1;
                    }

                    i = end - 1;
                    break;
                case '(':
                    depth++;
                    break;
                case ')':
                    if (--depth == 0)
                    {
                        return i + 1;
                    }

                    break;
            }
        }

        return -1;
    }

    /// <summary>The position after the class that opens at <paramref name="start"/> (a <c>]</c> first in it is a member), or -1.</summary>
    private static int SkipClass(string pattern, int start)
    {
        var i = start + 1;
        if (i < pattern.Length && pattern[i] == '^')
        {
            i++;
        }

        if (i < pattern.Length && pattern[i] == ']')
        {
            i++;
        }

        for (; i < pattern.Length; i++)
        {
            switch (pattern[i])
            {
                case '\\':
                    i++;
                    break;
                case '[':
                    // .NET's character class subtraction ([a-z-[aeiou]]) and the like: no claim.
                    return -1;
                case ']':
                    return i + 1;
            }
        }

        return -1;
    }

    /// <summary>The position after a <c>{...}</c>, or -1.</summary>
    private static int SkipBraces(string pattern, int start)
    {
        var close = pattern.IndexOf('}', start);
        return close < 0 ? -1 : close + 1;
    }
}
