using System.Text.RegularExpressions;
using TrainGuard.Detections.Matching;

namespace TrainGuard.Detections.Sigma;

/// <summary>How a field's values are compared (the type modifier; <see cref="Equals"/> when none is given).</summary>
internal enum MatchType
{
    Equals,
    Contains,
    StartsWith,
    EndsWith,
    Regex,
    Cidr,
    Lt,
    Lte,
    Gt,
    Gte,
    Exists,
    FieldRef,
}

/// <summary>How string values are encoded before they are compared.</summary>
internal enum ValueEncoding
{
    None,
    Base64,
    Base64Offset,
}

/// <summary>
/// A detection key read: <c>field|mod1|mod2</c> with its modifiers checked for the combinations Sigma defines.
/// Modifiers TrainGuard does not implement are refused by name, unknown ones as unknown: a rule never loads with a
/// modifier silently ignored.
/// </summary>
internal sealed record FieldSpec(
    string Field,
    MatchType Type,
    bool All,
    bool Cased,
    bool Neq,
    bool Expand,
    ValueEncoding Encoding,
    RegexOptions RegexOptions,
    FieldRefMode RefMode)
{
    /// <summary>Sigma modifiers that exist but are refused, with the reason.</summary>
    private static readonly Dictionary<string, string> Unsupported = new(StringComparer.Ordinal)
    {
        ["windash"] = "it expands Windows command-line dashes; TrainGuard events come from Linux",
        ["utf16le"] = "TrainGuard events carry text, not UTF-16 bytes",
        ["utf16be"] = "TrainGuard events carry text, not UTF-16 bytes",
        ["utf16"] = "TrainGuard events carry text, not UTF-16 bytes",
        ["wide"] = "TrainGuard events carry text, not UTF-16 bytes",
        ["minute"] = "time-part modifiers are not implemented",
        ["hour"] = "time-part modifiers are not implemented",
        ["day"] = "time-part modifiers are not implemented",
        ["week"] = "time-part modifiers are not implemented",
        ["month"] = "time-part modifiers are not implemented",
        ["year"] = "time-part modifiers are not implemented",
    };

    /// <summary>Reads a detection key. <paramref name="problem"/> says what is wrong when it returns null.</summary>
    public static FieldSpec? Parse(string key, out string? problem)
    {
        problem = null;
        var parts = key.Split('|');
        var field = parts[0];
        var type = MatchType.Equals;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        bool all = false, cased = false, neq = false, expand = false, sawRegex = false;
        var encoding = ValueEncoding.None;
        var regexOptions = RegexOptions.None;
        var positional = MatchType.Equals;
        for (var i = 1; i < parts.Length; i++)
        {
            var modifier = parts[i];
            if (!seen.Add(modifier))
            {
                problem = $"modifier '{modifier}' is given twice";
                return null;
            }

            switch (modifier)
            {
                case "all":
                    all = true;
                    break;
                case "cased":
                    cased = true;
                    break;
                case "neq":
                    neq = true;
                    break;
                case "expand":
                    expand = true;
                    break;
                case "base64" or "base64offset":
                    if (encoding != ValueEncoding.None)
                    {
                        problem = "base64 and base64offset cannot be combined";
                        return null;
                    }

                    if (positional != MatchType.Equals)
                    {
                        problem = $"'{modifier}' must come before '{Name(positional)}' (the value is encoded, then searched)";
                        return null;
                    }

                    encoding = modifier == "base64" ? ValueEncoding.Base64 : ValueEncoding.Base64Offset;
                    break;
                case "contains" or "startswith" or "endswith":
                    if (positional != MatchType.Equals)
                    {
                        problem = $"'{modifier}' cannot be combined with '{Name(positional)}'";
                        return null;
                    }

                    positional = modifier switch { "contains" => MatchType.Contains, "startswith" => MatchType.StartsWith, _ => MatchType.EndsWith };
                    break;
                case "i" or "m" or "s":
                    if (!sawRegex)
                    {
                        problem = $"modifier '{modifier}' only follows 're'";
                        return null;
                    }

                    regexOptions |= modifier switch { "i" => RegexOptions.IgnoreCase, "m" => RegexOptions.Multiline, _ => RegexOptions.Singleline };
                    break;
                case "re" or "cidr" or "lt" or "lte" or "gt" or "gte" or "exists" or "fieldref":
                    if (type != MatchType.Equals)
                    {
                        problem = $"'{modifier}' cannot be combined with '{Name(type)}'";
                        return null;
                    }

                    type = modifier switch
                    {
                        "re" => MatchType.Regex,
                        "cidr" => MatchType.Cidr,
                        "lt" => MatchType.Lt,
                        "lte" => MatchType.Lte,
                        "gt" => MatchType.Gt,
                        "gte" => MatchType.Gte,
                        "exists" => MatchType.Exists,
                        _ => MatchType.FieldRef,
                    };
                    sawRegex = type == MatchType.Regex;
                    break;
                default:
                    problem = Unsupported.TryGetValue(modifier, out var why)
                        ? $"modifier '{modifier}' is not supported: {why}"
                        : $"unknown modifier '{modifier}' (supported: contains, startswith, endswith, all, exists, cased, neq, re, i, m, s, cidr, lt, lte, gt, gte, fieldref, expand, base64, base64offset)";
                    return null;
            }
        }

        if (field.Length == 0)
        {
            problem = "a field name is missing before '|'";
            return null;
        }

        var refMode = FieldRefMode.Equals;
        if (type == MatchType.FieldRef)
        {
            refMode = positional switch
            {
                MatchType.Contains => FieldRefMode.Contains,
                MatchType.StartsWith => FieldRefMode.StartsWith,
                MatchType.EndsWith => FieldRefMode.EndsWith,
                _ => FieldRefMode.Equals,
            };
        }
        else if (positional != MatchType.Equals)
        {
            if (type != MatchType.Equals)
            {
                problem = $"'{Name(positional)}' cannot be combined with '{Name(type)}'";
                return null;
            }

            type = positional;
        }

        problem = Check(type, all, cased, neq, expand, encoding);
        return problem is null ? new FieldSpec(field, type, all, cased, neq, expand, encoding, regexOptions, refMode) : null;
    }

    private static string? Check(MatchType type, bool all, bool cased, bool neq, bool expand, ValueEncoding encoding)
    {
        var numeric = type is MatchType.Lt or MatchType.Lte or MatchType.Gt or MatchType.Gte;
        if (encoding != ValueEncoding.None && type is not (MatchType.Equals or MatchType.Contains or MatchType.StartsWith or MatchType.EndsWith))
        {
            return $"base64 encodings only apply to text values, not with '{Name(type)}'";
        }

        if (encoding == ValueEncoding.Base64Offset && type != MatchType.Contains)
        {
            return "'base64offset' needs 'contains' after it (the encoded value sits inside a longer text)";
        }

        if (expand && (numeric || type is MatchType.Exists or MatchType.FieldRef or MatchType.Regex))
        {
            return $"'expand' cannot be combined with '{Name(type)}'";
        }

        if (cased && (numeric || type is MatchType.Exists or MatchType.Cidr))
        {
            return $"'cased' has no meaning with '{Name(type)}'";
        }

        if (neq && (numeric || type == MatchType.Exists))
        {
            return $"'neq' cannot be combined with '{Name(type)}' (use the opposite comparison, or exists: false)";
        }

        if (neq && all)
        {
            return "'neq' cannot be combined with 'all' (a field differs from a list when it equals none of its values: drop 'all')";
        }

        if (all && type == MatchType.Exists)
        {
            return "'all' has no meaning with 'exists'";
        }

        return null;
    }

    private static string Name(MatchType type) => type switch
    {
        MatchType.Contains => "contains",
        MatchType.StartsWith => "startswith",
        MatchType.EndsWith => "endswith",
        MatchType.Regex => "re",
        MatchType.Cidr => "cidr",
        MatchType.Lt => "lt",
        MatchType.Lte => "lte",
        MatchType.Gt => "gt",
        MatchType.Gte => "gte",
        MatchType.Exists => "exists",
        MatchType.FieldRef => "fieldref",
        _ => "equals",
    };
}
