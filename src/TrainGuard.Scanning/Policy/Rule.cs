using System.Diagnostics.CodeAnalysis;
using TrainGuard.Parsing;
using TrainGuard.Rules;

namespace TrainGuard.Scanning.Policy;

/// <summary>What a rule's patterns and samples are about.</summary>
public enum RuleKind
{
    /// <summary>A dangerous pickle global: patterns and samples are <c>module.name</c> strings.</summary>
    Global,

    /// <summary>A structural pickle finding (unknown global, data after STOP, nested pickle...): samples are analysis scripts, see <c>docs/rules/README.md</c>.</summary>
    Pickle,

    /// <summary>
    /// A container/format finding. The scanner reports most by id; a parser error becomes the rule whose
    /// <c>errors</c> list holds its <see cref="InputErrorKind"/>. Samples are error kind names.
    /// </summary>
    Format,
}

/// <summary>
/// One scanning rule, as data: the common <see cref="RuleDefinition"/> (id, name, severity and verdict, why, guidance,
/// samples) plus what it matches: dangerous-global patterns, or the parser error kinds a format rule stands for.
/// Loaded from the YAML files in <c>src/TrainGuard.Scanning/Rules</c> by <see cref="RuleCatalog"/>.
/// </summary>
public sealed class Rule : RuleDefinition
{
    [SetsRequiredMembers]
    internal Rule(RuleDefinition common, RuleKind kind, IReadOnlyList<string> patterns, IReadOnlyList<InputErrorKind> errorKinds)
        : base(common)
    {
        Kind = kind;
        Patterns = patterns;
        ErrorKinds = errorKinds;
        GlobalPatterns = kind == RuleKind.Global ? patterns.Select(GlobalPattern.Parse).ToArray() : [];
    }

    public RuleKind Kind { get; }

    /// <summary>The patterns as written in the rule file.</summary>
    public IReadOnlyList<string> Patterns { get; }

    /// <summary>For format rules: the parser error kinds <see cref="RuleCatalog.ClassifyError(MalformedInputException)"/> maps to this rule.</summary>
    public IReadOnlyList<InputErrorKind> ErrorKinds { get; }

    internal IReadOnlyList<GlobalPattern> GlobalPatterns { get; }

    /// <summary>The most specific of this rule's global patterns matching <paramref name="normalizedFullName"/>, or null.</summary>
    internal GlobalPattern? BestGlobalMatch(string normalizedFullName)
    {
        GlobalPattern? best = null;
        foreach (var pattern in GlobalPatterns)
        {
            if (pattern.Matches(normalizedFullName) && (best is null || pattern.Specificity > best.Specificity))
            {
                best = pattern;
            }
        }

        return best;
    }
}
