using TrainGuard.Findings;
using TrainGuard.Parsing;

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
/// One detection rule, as data: an id, a name, a severity and verdict, a one-line why, what to do, and the
/// patterns and samples that define and test what it matches. Loaded from the YAML files in
/// <c>src/TrainGuard.Scanning/Rules</c> by <see cref="RuleCatalog"/>.
/// </summary>
public sealed class Rule
{
    internal Rule(
        string id,
        string name,
        RuleKind kind,
        Severity severity,
        Verdict verdict,
        string why,
        string guidance,
        IReadOnlyList<string> patterns,
        IReadOnlyList<string> mustMatch,
        IReadOnlyList<string> mustNotMatch,
        IReadOnlyList<InputErrorKind> errorKinds)
    {
        Id = id;
        Name = name;
        Kind = kind;
        Severity = severity;
        Verdict = verdict;
        Why = why;
        Guidance = guidance;
        Patterns = patterns;
        MustMatch = mustMatch;
        MustNotMatch = mustNotMatch;
        ErrorKinds = errorKinds;
        GlobalPatterns = kind == RuleKind.Global ? patterns.Select(GlobalPattern.Parse).ToArray() : [];
    }

    /// <summary>Stable id, e.g. <c>TG-PKL-001</c>; see <see cref="RuleIds"/>.</summary>
    public string Id { get; }

    /// <summary>Short kebab-case name, e.g. <c>process-execution</c>.</summary>
    public string Name { get; }

    public RuleKind Kind { get; }

    public Severity Severity { get; }

    /// <summary>The verdict a finding of this rule gives its item (<see cref="Verdict.Clean"/> for informational notes).</summary>
    public Verdict Verdict { get; }

    /// <summary>Why it matters, in one line.</summary>
    public string Why { get; }

    /// <summary>What to do about it.</summary>
    public string Guidance { get; }

    /// <summary>The patterns as written in the rule file.</summary>
    public IReadOnlyList<string> Patterns { get; }

    /// <summary>Samples the rule must match (checked by one test over all rules).</summary>
    public IReadOnlyList<string> MustMatch { get; }

    /// <summary>Samples the rule must not match.</summary>
    public IReadOnlyList<string> MustNotMatch { get; }

    /// <summary>For format rules: the parser error kinds <see cref="RuleCatalog.ClassifyError"/> maps to this rule.</summary>
    public IReadOnlyList<InputErrorKind> ErrorKinds { get; }

    /// <summary>Relative path of the guidance page.</summary>
    public string HelpPath => $"docs/rules/{Id}.md";

    internal IReadOnlyList<GlobalPattern> GlobalPatterns { get; }

    public RuleDescriptor ToDescriptor() => new(Id, Name, Severity, Why, Guidance);

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

    /// <summary>
    /// A finding of this rule with its severity, verdict, why and guidance filled in. The message and
    /// evidence values are escaped (control characters, length) before they are stored.
    /// </summary>
    public Finding CreateFinding(
        string message,
        Location location,
        IReadOnlyDictionary<string, string>? evidence = null,
        string? global = null,
        string? call = null) => new()
        {
            RuleId = Id,
            Severity = Severity,
            Verdict = Verdict,
            Message = TextSanitizer.Escape(message, 600),
            Location = location,
            Why = Why,
            Guidance = Guidance,
            Global = global is null ? null : TextSanitizer.Escape(global, 300),
            Call = call is null ? null : TextSanitizer.Escape(call, 400),
            Evidence = evidence,
        };

    public override string ToString() => $"{Id} {Name}";
}
