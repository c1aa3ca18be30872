using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using TrainGuard.Findings;
using TrainGuard.Parsing;

namespace TrainGuard.Rules;

/// <summary>
/// A family of rules (the pickle scanner's, <c>env</c>'s, <c>ckpt</c>'s, the ledger's, the agent's...): its rules and,
/// when its rules have a matcher, how to run a sample through it. Every family is data in the same
/// <see cref="RuleDefinition"/> model; one test iterates every family. A family is usually built from YAML embedded in
/// its assembly (<see cref="FromEmbeddedYaml"/>), and can be loaded from rule files at run time (<see cref="FromYamlFiles"/>).
/// </summary>
public class RuleFamily
{
    private readonly Dictionary<string, RuleDefinition> _byId;

    public RuleFamily(string name, string title, IEnumerable<RuleDefinition> rules)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(title);
        ArgumentNullException.ThrowIfNull(rules);
        Name = name;
        Title = title;
        Rules = rules.OrderBy(r => r.Id, StringComparer.Ordinal).ToArray();
        _byId = new Dictionary<string, RuleDefinition>(StringComparer.Ordinal);
        foreach (var rule in Rules)
        {
            if (!_byId.TryAdd(rule.Id, rule))
            {
                throw MalformedInputException.Create(InputErrorKind.Config, $"rule id {rule.Id} is defined more than once in family {name}");
            }
        }

        Descriptors = Rules.Select(r => r.Descriptor).ToArray();
    }

    /// <summary>Short name, e.g. <c>env</c>; <see cref="RuleDefinition.Family"/> of its rules.</summary>
    public string Name { get; }

    /// <summary>What the family covers, for people (the heading of its section in <c>docs/rules/README.md</c>).</summary>
    public string Title { get; }

    /// <summary>Every rule, in id order.</summary>
    public IReadOnlyList<RuleDefinition> Rules { get; }

    /// <summary>Every rule as reports (SARIF <c>tool.driver.rules</c>) describe it.</summary>
    public IReadOnlyList<RuleDescriptor> Descriptors { get; }

    /// <summary>The rule with this id; an unknown id is a programming error.</summary>
    public RuleDefinition Get(string id) =>
        _byId.TryGetValue(id, out var rule) ? rule : throw new KeyNotFoundException($"no rule with id '{id}' in family {Name}");

    public bool TryGet(string id, [MaybeNullWhen(false)] out RuleDefinition rule) => _byId.TryGetValue(id, out rule);

    /// <summary>True when the family can run samples of <paramref name="rule"/> through its matcher (then the rule needs samples).</summary>
    public virtual bool HasMatcher(RuleDefinition rule) => false;

    /// <summary>
    /// True when the matcher can report <paramref name="rule"/> from a sample (then it needs must_match samples). A rule
    /// reported by code paths samples do not reach (the scanner's structural format checks) still runs its
    /// must_not_match samples.
    /// </summary>
    public virtual bool MatcherCanReport(RuleDefinition rule) => HasMatcher(rule);

    /// <summary>
    /// Runs one sample of <paramref name="rule"/> through the family's matcher (the code that reports the rule) and
    /// says whether it behaved: flagged with the rule when <paramref name="expectMatch"/> (a <c>must_match</c> sample),
    /// not flagged otherwise. Returns null when it behaved, else what the matcher produced instead.
    /// </summary>
    /// <exception cref="NotSupportedException">The rule has no matcher (<see cref="HasMatcher"/> is false).</exception>
    /// <exception cref="MalformedInputException">The sample is not valid input for the family's sample language (kind <see cref="InputErrorKind.Config"/>).</exception>
    public virtual ValueTask<string?> CheckSampleAsync(RuleDefinition rule, string sample, bool expectMatch, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException($"family {Name} has no matcher for {rule?.Id}");

    /// <summary>The answer of <see cref="CheckSampleAsync"/> for a matcher that flags a sample or not.</summary>
    /// <param name="expectMatch">Whether the sample should have been flagged.</param>
    /// <param name="matched">Whether the matcher flagged it with the rule.</param>
    /// <param name="produced">What the matcher produced, for the failure message.</param>
    protected static string? Expect(bool expectMatch, bool matched, string produced) =>
        matched == expectMatch ? null : $"{(expectMatch ? "not flagged" : "flagged")}; the matcher gave [{produced}]";

    /// <summary>A family without matchers whose rules are the YAML resources of <paramref name="assembly"/> named <paramref name="resourceNames"/>.</summary>
    public static RuleFamily FromEmbeddedYaml(string name, string title, Assembly assembly, params string[] resourceNames) =>
        new(name, title, RuleYaml.EmbeddedDefinitions(assembly, name, resourceNames));

    /// <summary>A family without matchers loaded from rule files at run time (errors name the file and line).</summary>
    public static RuleFamily FromYamlFiles(string name, string title, IEnumerable<string> paths) =>
        new(name, title, RuleYaml.ReadFiles(paths, name).SelectMany(d => d.Rules).Select(r => r.Definition));
}
