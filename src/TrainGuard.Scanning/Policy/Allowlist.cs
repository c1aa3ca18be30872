namespace TrainGuard.Scanning.Policy;

/// <summary>
/// The globals one profile lets a pickle import, as data (<c>Rules/allowlists/&lt;profile&gt;.yaml</c>).
/// Entries are exact <c>module.name</c> strings or <c>module.*</c> (names defined directly in that module).
/// </summary>
public sealed class Allowlist
{
    internal Allowlist(PolicyProfile profile, string description, string source, IReadOnlyList<GlobalPattern> patterns, IReadOnlyList<string> getattrTargets)
    {
        Profile = profile;
        Description = description;
        Source = source;
        Patterns = patterns;
        GetattrTargets = getattrTargets.ToHashSet(StringComparer.Ordinal);
        _exact = patterns.Where(p => p.Kind == GlobalPatternKind.Exact).Select(p => GlobalName.Normalize(p.Text)).ToHashSet(StringComparer.Ordinal);
        _wildcards = patterns.Where(p => p.Kind != GlobalPatternKind.Exact).ToArray();
    }

    private readonly HashSet<string> _exact;
    private readonly GlobalPattern[] _wildcards;

    public PolicyProfile Profile { get; }

    public string Description { get; }

    /// <summary>Where the list comes from (e.g. the PyTorch function it mirrors).</summary>
    public string Source { get; }

    public IReadOnlyList<GlobalPattern> Patterns { get; }

    /// <summary>
    /// Classes (enums) whose public members a pickle may fetch with <c>builtins.getattr(Class, 'NAME')</c>:
    /// Python 3.11+ pickles enum members that way, so <c>training_args.bin</c> contains it.
    /// </summary>
    public IReadOnlySet<string> GetattrTargets { get; }

    /// <summary>True when the normalised full name is on this list.</summary>
    public bool Allows(string normalizedFullName)
    {
        if (_exact.Contains(normalizedFullName))
        {
            return true;
        }

        foreach (var pattern in _wildcards)
        {
            if (pattern.AllowsName(normalizedFullName))
            {
                return true;
            }
        }

        return false;
    }

    internal static Allowlist Union(PolicyProfile profile, IReadOnlyList<Allowlist> parts) => new(
        profile,
        "union of: " + string.Join(", ", parts.Select(p => p.Profile.ToName())),
        string.Join("; ", parts.Select(p => p.Source)),
        parts.SelectMany(p => p.Patterns).ToArray(),
        parts.SelectMany(p => p.GetattrTargets).Distinct(StringComparer.Ordinal).ToArray());
}
