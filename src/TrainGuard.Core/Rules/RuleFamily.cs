using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using TrainGuard.Findings;

namespace TrainGuard.Rules;

/// <summary>What a family's matcher made of one sample: whether the rule fired, and what the matcher produced.</summary>
/// <param name="Matched">True when the matcher flagged the sample with the rule.</param>
/// <param name="Detail">What the matcher produced (rule ids, severities, messages), for a failing test's message.</param>
public sealed record RuleSampleResult(bool Matched, string Detail);

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
                throw new InvalidDataException($"rule id {rule.Id} is defined more than once in family {name}");
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

    /// <summary>Runs one sample of <paramref name="rule"/> through the family's matcher, the code that reports the rule.</summary>
    /// <exception cref="NotSupportedException">The rule has no matcher (<see cref="HasMatcher"/> is false).</exception>
    /// <exception cref="InvalidDataException">The sample is not valid input for the family's sample language.</exception>
    public virtual ValueTask<RuleSampleResult> RunSampleAsync(RuleDefinition rule, string sample, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException($"family {Name} has no matcher for {rule?.Id}");

    /// <summary>A family without matchers whose rules are the YAML resources of <paramref name="assembly"/> named <paramref name="resourceNames"/>.</summary>
    public static RuleFamily FromEmbeddedYaml(string name, string title, Assembly assembly, params string[] resourceNames) =>
        new(name, title, RuleYaml.ReadEmbedded(assembly, name, resourceNames).SelectMany(d => d.Rules).Select(r => r.Definition));

    /// <summary>A family without matchers loaded from rule files at run time (errors name the file and line).</summary>
    public static RuleFamily FromYamlFiles(string name, string title, IEnumerable<string> paths) =>
        new(name, title, RuleYaml.ReadFiles(paths, name).SelectMany(d => d.Rules).Select(r => r.Definition));
}
