namespace TrainGuard.Scanning.Policy;

/// <summary>
/// Normalises <c>module.name</c> strings before they are matched, so Python 2 spellings cannot dodge a
/// rule: <c>__builtin__.eval</c> is judged as <c>builtins.eval</c>, <c>cPickle.loads</c> as
/// <c>pickle.loads</c>. Mapping is safe in both directions: a name the unpickler would not map fails to
/// import, so treating it like its Python 3 twin can only make a verdict stricter or equal.
/// </summary>
public static class GlobalName
{
    private static readonly (string From, string To)[] ModuleAliases =
    [
        ("__builtin__", "builtins"),
        ("exceptions", "builtins"),
        ("copy_reg", "copyreg"),
        ("cPickle", "pickle"),
        ("cStringIO", "io"),
        ("StringIO", "io"),
        ("urllib2", "urllib.request"),
        ("httplib", "http.client"),
        ("thread", "_thread"),
        ("Queue", "queue"),
    ];

    /// <summary>The full name with its first module segment(s) mapped from Python 2 to Python 3.</summary>
    public static string Normalize(string fullName)
    {
        var trimmed = fullName.Trim();
        foreach (var (from, to) in ModuleAliases)
        {
            if (string.Equals(trimmed, from, StringComparison.Ordinal))
            {
                return to;
            }

            if (trimmed.Length > from.Length && trimmed.StartsWith(from, StringComparison.Ordinal) && trimmed[from.Length] == '.')
            {
                return to + trimmed[from.Length..];
            }
        }

        return trimmed;
    }

    /// <summary>Joins a module and a name the way <see cref="Pickle.PickleGlobal.FullName"/> does, then normalises.</summary>
    public static string Normalize(string module, string name) => Normalize($"{module}.{name}");

    /// <summary>True for a dotted Python identifier path such as <c>torch._utils._rebuild_tensor_v2</c>.</summary>
    public static bool IsDottedIdentifier(string text)
    {
        if (text.Length == 0 || text.Length > 500)
        {
            return false;
        }

        foreach (var segment in text.Split('.'))
        {
            if (!IsIdentifier(segment))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>True for one ASCII Python identifier (non-ASCII names never appear in the globals TrainGuard allows).</summary>
    public static bool IsIdentifier(string text)
    {
        if (text.Length == 0 || char.IsAsciiDigit(text[0]))
        {
            return false;
        }

        foreach (var ch in text)
        {
            if (!(char.IsAsciiLetterOrDigit(ch) || ch == '_'))
            {
                return false;
            }
        }

        return true;
    }
}
