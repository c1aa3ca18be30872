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

    public bool MatchesCall(string? qualified) => qualified is not null && Calls.Any(c => c.IsMatch(qualified));

    public bool MatchesName(string? name) => name is not null && NamePatterns.Any(p => p.IsMatch(name));

    public bool MatchesPath(string path) => Paths.Any(p => p.IsMatch(path));
}
