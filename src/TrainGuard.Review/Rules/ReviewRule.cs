using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using TrainGuard.Rules;

namespace TrainGuard.Review.Rules;

/// <summary>A rule of the <c>review</c> family: the common definition plus the data its detector reads.</summary>
public sealed class ReviewRule : RuleDefinition
{
    [SetsRequiredMembers]
    public ReviewRule(RuleDefinition definition, string detector, IReadOnlyList<NamePattern> calls, IReadOnlyList<string> names, IReadOnlyList<PathPattern> paths)
        : base(definition)
    {
        Detector = detector;
        Calls = calls;
        Names = names;
        NamePatterns = names.Select(n => new NamePattern(n)).ToArray();
        Paths = paths;
    }

    /// <summary>The check that reports the rule (<c>patch</c>, <c>kill</c>, <c>trigger</c>, <c>requirements</c>...).</summary>
    public string Detector { get; }

    /// <summary>Callables the detector looks for, resolved through the file's imports.</summary>
    public IReadOnlyList<NamePattern> Calls { get; }

    /// <summary>Other names the detector needs (safe targets, programs, function names, environment keys, path fragments).</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary><see cref="Names"/> as patterns.</summary>
    public IReadOnlyList<NamePattern> NamePatterns { get; }

    /// <summary>The files the rule is about (sensitive-file rules).</summary>
    public IReadOnlyList<PathPattern> Paths { get; }

    public bool MatchesCall(string? qualified) => qualified is not null && Cached(_calls, qualified, q => Calls.Any(c => c.IsMatch(q)));

    public bool MatchesName(string? name) => name is not null && Cached(_names, name, n => NamePatterns.Any(p => p.IsMatch(n)));

    /// <summary>Answers per name are kept (names repeat in every file); the caches stop growing at <see cref="MaxCached"/> names.</summary>
    private const int MaxCached = 100_000;

    private readonly ConcurrentDictionary<string, bool> _calls = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _names = new(StringComparer.Ordinal);

    private static bool Cached(ConcurrentDictionary<string, bool> cache, string key, Func<string, bool> match)
    {
        if (cache.TryGetValue(key, out var known))
        {
            return known;
        }

        var result = match(key);
        if (cache.Count < MaxCached)
        {
            cache.TryAdd(key, result);
        }

        return result;
    }

    public bool MatchesPath(string path) => Paths.Any(p => p.IsMatch(path));
}
