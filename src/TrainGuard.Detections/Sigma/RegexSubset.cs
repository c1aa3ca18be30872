namespace TrainGuard.Detections.Sigma;

/// <summary>
/// The regular-expression flavour Sigma 2.1 defines for <c>re</c>: <c>. ^ $ * + ? {n,m} [..] [^..] | ()</c> and
/// backslash-escaped punctuation. Shorthand classes (<c>\d</c>, <c>\w</c>), back-references and <c>(?...)</c> groups are
/// refused with a hint, so a rule means the same in every Sigma engine (and stays within linear-time matching).
/// </summary>
internal static class RegexSubset
{
    /// <summary>Null when <paramref name="pattern"/> stays within the subset, else what is outside it.</summary>
    public static string? Check(string pattern)
    {
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (c == '\\')
            {
                if (i + 1 >= pattern.Length)
                {
                    return "it ends with a lone backslash";
                }

                var next = pattern[i + 1];
                if (char.IsAsciiLetterOrDigit(next))
                {
                    return next switch
                    {
                        'd' => "'\\d' is outside Sigma's regex flavour: write [0-9]",
                        'w' => "'\\w' is outside Sigma's regex flavour: write [A-Za-z0-9_]",
                        's' => "'\\s' is outside Sigma's regex flavour: write [ \\t] (or the characters you mean)",
                        _ => $"'\\{next}' is outside Sigma's regex flavour (only punctuation may be escaped)",
                    };
                }

                i++;
                continue;
            }

            if (c == '(' && i + 1 < pattern.Length && pattern[i + 1] == '?')
            {
                return "'(?' groups (look-arounds, inline options, named groups) are outside Sigma's regex flavour: use the i, m and s modifiers";
            }
        }

        return null;
    }
}
