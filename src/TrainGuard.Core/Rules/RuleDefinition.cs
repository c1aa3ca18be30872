using System.Diagnostics.CodeAnalysis;
using TrainGuard.Findings;

namespace TrainGuard.Rules;

/// <summary>
/// One rule of any family (pickle globals, env, ckpt, ledger, agent...), as data: a stable id, a severity, a title,
/// a one-line why, guidance, its docs page and, where the family has a matcher, the samples it must and must not
/// match. Loaded from YAML by <see cref="RuleYaml"/>; families whose rules carry matching data of their own derive
/// from it. Every finding of a rule is made by <see cref="Finding"/>.
/// </summary>
public class RuleDefinition
{
    public RuleDefinition()
    {
    }

    /// <summary>Copies the common fields of <paramref name="other"/> (for families that derive from this class).</summary>
    [SetsRequiredMembers]
    protected RuleDefinition(RuleDefinition other)
    {
        ArgumentNullException.ThrowIfNull(other);
        Id = other.Id;
        Family = other.Family;
        Name = other.Name;
        Title = other.Title;
        Severity = other.Severity;
        Verdict = other.Verdict;
        Why = other.Why;
        Guidance = other.Guidance;
        MustMatch = other.MustMatch;
        MustNotMatch = other.MustNotMatch;
    }

    /// <summary>Stable id, <c>TG-XXX-000</c>; its guidance page is <see cref="HelpPath"/>.</summary>
    public required string Id { get; init; }

    /// <summary>The family that defines it (<see cref="RuleFamily.Name"/>), e.g. <c>env</c>.</summary>
    public required string Family { get; init; }

    /// <summary>Short kebab-case name, e.g. <c>installed-file-changed</c>.</summary>
    public required string Name { get; init; }

    /// <summary>A few words for people, e.g. <c>Installed file changed</c>.</summary>
    public required string Title { get; init; }

    /// <summary>The severity of its findings unless a finding states its own (some rules grade by what was hit).</summary>
    public required Severity Severity { get; init; }

    /// <summary>The verdict a finding gives its item; null: from the finding's severity (<see cref="SeverityExtensions.ToVerdict"/>).</summary>
    public Findings.Verdict? Verdict { get; init; }

    /// <summary>Why it matters, in one line.</summary>
    public required string Why { get; init; }

    /// <summary>What to do about it.</summary>
    public required string Guidance { get; init; }

    /// <summary>Inputs the family's matcher must flag with this rule (run by one test over every family).</summary>
    public IReadOnlyList<string> MustMatch { get; init; } = [];

    /// <summary>Inputs the family's matcher must not flag with this rule.</summary>
    public IReadOnlyList<string> MustNotMatch { get; init; } = [];

    /// <summary>Relative path of the guidance page, whose heading starts with the id.</summary>
    public string HelpPath => $"docs/rules/{Id}.md";

    /// <summary>The rule as reports need it (SARIF <c>tool.driver.rules</c>).</summary>
    public RuleDescriptor Descriptor => new(Id, Name, Severity, Why, Guidance);

    /// <summary>The verdict of a finding of this rule with <paramref name="severity"/>.</summary>
    public Findings.Verdict VerdictFor(Severity severity) => Verdict ?? severity.ToVerdict();

    /// <summary>
    /// A finding of this rule: its id, why and guidance, its severity (or <paramref name="severity"/>) and the
    /// verdict that goes with it (or <paramref name="verdict"/>). The message, global and call are escaped
    /// (control characters, length) before they are stored: they may quote hostile input.
    /// </summary>
    public Finding Finding(
        string message,
        Location location,
        IReadOnlyDictionary<string, string>? evidence = null,
        Severity? severity = null,
        Findings.Verdict? verdict = null,
        string? global = null,
        string? call = null)
    {
        var actual = severity ?? Severity;
        return new Finding
        {
            RuleId = Id,
            Severity = actual,
            Verdict = verdict ?? VerdictFor(actual),
            Message = TextSanitizer.Escape(message, MaxMessageLength),
            Location = location,
            Why = Why,
            Guidance = Guidance,
            Global = global is null ? null : TextSanitizer.Escape(global, 300),
            Call = call is null ? null : TextSanitizer.Escape(call, 400),
            Evidence = evidence,
        };
    }

    /// <summary>Longest message a finding keeps (longer ones end in an ellipsis).</summary>
    public const int MaxMessageLength = 600;

    public override string ToString() => $"{Id} {Name}";
}
