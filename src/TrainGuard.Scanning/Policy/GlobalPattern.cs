using TrainGuard.Parsing;

namespace TrainGuard.Scanning.Policy;

/// <summary>
/// One pattern over normalised <c>module.name</c> strings, as rule and allowlist data spell them:
/// <list type="bullet">
/// <item><c>os.system</c>: exactly that global;</item>
/// <item><c>os.*</c>: every global in module <c>os</c> and its submodules (for rules); for allowlists only the
/// names defined directly in that module (one identifier, no dunder), so <c>mypkg.*</c> can never reach
/// <c>mypkg.Thing.__init__.__globals__</c>;</item>
/// <item><c>os.exec*</c>: every full name starting with <c>os.exec</c> (rules only);</item>
/// <item><c>*.__globals__</c>: any global with that segment anywhere in its dotted path (rules only).</item>
/// </list>
/// </summary>
public sealed class GlobalPattern
{
    private GlobalPattern(string text, GlobalPatternKind kind, string value)
    {
        Text = text;
        Kind = kind;
        Value = value;
    }

    /// <summary>The pattern as written.</summary>
    public string Text { get; }

    public GlobalPatternKind Kind { get; }

    /// <summary>The exact name, the prefix (with its trailing dot for module wildcards), or the segment.</summary>
    private string Value { get; }

    /// <summary>How specific a match is: the most specific matching pattern decides which rule applies.</summary>
    public int Specificity => Kind switch
    {
        GlobalPatternKind.Exact => int.MaxValue,
        GlobalPatternKind.AnySegment => 100_000,
        _ => Value.Length,
    };

    /// <summary>Parses a rule pattern; returns null with a reason when it is not one of the accepted forms.</summary>
    public static GlobalPattern? TryParse(string text, out string? problem)
    {
        problem = null;
        var trimmed = text.Trim();
        if (trimmed.StartsWith("*.", StringComparison.Ordinal))
        {
            var segment = trimmed[2..];
            if (GlobalName.IsIdentifier(segment))
            {
                return new GlobalPattern(trimmed, GlobalPatternKind.AnySegment, segment);
            }

            problem = $"'{trimmed}': after '*.' expected one identifier";
            return null;
        }

        if (trimmed.EndsWith(".*", StringComparison.Ordinal))
        {
            var module = trimmed[..^2];
            if (GlobalName.IsDottedIdentifier(module))
            {
                return new GlobalPattern(trimmed, GlobalPatternKind.Module, GlobalName.Normalize(module) + ".");
            }

            problem = $"'{trimmed}': expected a dotted module name before '.*'";
            return null;
        }

        if (trimmed.EndsWith('*'))
        {
            var prefix = trimmed[..^1];
            if (prefix.Contains('.', StringComparison.Ordinal) && GlobalName.IsDottedIdentifier(prefix))
            {
                return new GlobalPattern(trimmed, GlobalPatternKind.Prefix, GlobalName.Normalize(prefix));
            }

            problem = $"'{trimmed}': a name prefix needs a module, e.g. 'os.exec*'";
            return null;
        }

        if (trimmed.Contains('.', StringComparison.Ordinal) && GlobalName.IsDottedIdentifier(trimmed))
        {
            return new GlobalPattern(trimmed, GlobalPatternKind.Exact, GlobalName.Normalize(trimmed));
        }

        problem = trimmed.Contains('*', StringComparison.Ordinal)
            ? $"'{trimmed}': '*' is only accepted as 'module.*', 'module.prefix*' or '*.name'"
            : $"'{trimmed}': expected module.name (for example 'mypkg.layers.Block')";
        return null;
    }

    /// <summary>Parses a pattern known to be valid; a bad one is a <see cref="InputErrorKind.Config"/> error.</summary>
    public static GlobalPattern Parse(string text) =>
        TryParse(text, out var problem) ?? MalformedInputException.Throw<GlobalPattern>(InputErrorKind.Config, $"bad pattern {problem}");

    /// <summary>Matches a normalised full name the way rules match: prefixes include submodules.</summary>
    public bool Matches(string normalizedFullName) => Kind switch
    {
        GlobalPatternKind.Exact => string.Equals(normalizedFullName, Value, StringComparison.Ordinal),
        GlobalPatternKind.Module or GlobalPatternKind.Prefix => normalizedFullName.StartsWith(Value, StringComparison.Ordinal),
        GlobalPatternKind.AnySegment => HasSegment(normalizedFullName, Value),
        _ => false,
    };

    /// <summary>
    /// Matches the way allowlists match: exact names, or <c>module.*</c> covering one public identifier defined
    /// directly in that module (no submodules, no dotted attribute paths, no dunder names).
    /// </summary>
    public bool AllowsName(string normalizedFullName)
    {
        switch (Kind)
        {
            case GlobalPatternKind.Exact:
                return string.Equals(normalizedFullName, Value, StringComparison.Ordinal);
            case GlobalPatternKind.Module:
                if (!normalizedFullName.StartsWith(Value, StringComparison.Ordinal))
                {
                    return false;
                }

                var rest = normalizedFullName[Value.Length..];
                return GlobalName.IsIdentifier(rest) && !rest.StartsWith("__", StringComparison.Ordinal);
            default:
                return false;
        }
    }

    public override string ToString() => Text;

    private static bool HasSegment(string fullName, string segment)
    {
        foreach (var part in fullName.Split('.'))
        {
            if (string.Equals(part, segment, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }
}

public enum GlobalPatternKind
{
    /// <summary><c>module.name</c></summary>
    Exact,

    /// <summary><c>module.*</c></summary>
    Module,

    /// <summary><c>module.prefix*</c></summary>
    Prefix,

    /// <summary><c>*.segment</c></summary>
    AnySegment,
}
