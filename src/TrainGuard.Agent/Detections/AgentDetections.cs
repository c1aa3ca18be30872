using TrainGuard.Events;
using TrainGuard.Rules;

namespace TrainGuard.Agent.Detections;

/// <summary>
/// The agent's detections (TG-AGT-100..199, <c>Rules/detections.yaml</c>): which of the events its collectors derive
/// (audit records, snapshot differences) deserve attention, how much, and why. <see cref="Annotate"/> embeds the finding
/// of the most severe rule that fires (<c>trainguard.finding</c>, <c>event.severity</c>, <c>trainguard.severity</c>);
/// an event no rule fires on is left as it is. Samples are audit log text, sshd lines, snapshot pairs or pairs of
/// signed tree heads the shipper checks (<see cref="DetectionSamples"/>).
/// </summary>
public sealed class AgentDetections : RuleFamily
{
    public const string FamilyName = "agent-detection";

    private const string FamilyTitle = "The agent's detections on node events (`trainguard agent`)";

    private static readonly RuleYamlSchema Schema = new() { RuleFields = ["match", "match_any", "not", "message"] };

    private static readonly Lazy<AgentDetections> LazyDefault = new(
        () => FromYaml([("TrainGuard.Agent.Rules.detections.yaml", RuleYaml.ReadResource(typeof(AgentDetections).Assembly, "TrainGuard.Agent.Rules.detections.yaml"))]),
        LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly DetectionRule[] _bySeverity;

    public AgentDetections(IEnumerable<DetectionRule> rules)
        : base(FamilyName, FamilyTitle, rules) =>
        _bySeverity = Rules.Cast<DetectionRule>().OrderByDescending(r => r.Severity).ThenBy(r => r.Id, StringComparer.Ordinal).ToArray();

    /// <summary>The detections embedded in the agent.</summary>
    public static AgentDetections Default => LazyDefault.Value;

    /// <summary>Detections from rule files (name, text), e.g. read at run time; errors name the file and line.</summary>
    public static AgentDetections FromYaml(IEnumerable<(string Name, string Yaml)> files) =>
        new(RuleYaml.ReadAll(files, FamilyName, Schema).SelectMany(d => d.Rules).Select(DetectionRule.From));

    /// <summary>Detections from rule files on disk (a site's own rules); errors name the file and line.</summary>
    public static AgentDetections FromYamlFiles(IEnumerable<string> paths) =>
        new(RuleYaml.ReadFiles(paths, FamilyName, Schema).SelectMany(d => d.Rules).Select(DetectionRule.From));

    /// <summary>The most severe rule that fires on <paramref name="e"/> (ties: the lowest id), or null.</summary>
    public DetectionRule? Match(EventRecord e) => _bySeverity.FirstOrDefault(r => r.Matches(e));

    /// <summary>Embeds the finding of <see cref="Match"/> in <paramref name="e"/>, when a rule fires; returns <paramref name="e"/>.</summary>
    public EventRecord Annotate(EventRecord e)
    {
        if (Match(e) is { } rule)
        {
            e.WithFinding(rule.Finding(rule.Render(e), DetectionRule.LocationOf(e)), setFilePath: false);
        }

        return e;
    }

    public override bool HasMatcher(RuleDefinition rule) => rule is DetectionRule;

    public override async ValueTask<string?> CheckSampleAsync(RuleDefinition rule, string sample, bool expectMatch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rule);
        var events = await DetectionSamples.EventsAsync(sample, cancellationToken);
        var fired = events.Select(e => (e.Action, Rule: Match(e)?.Id)).ToList();
        var produced = fired.Count == 0 ? "no events" : string.Join("; ", fired.Select(f => $"{f.Action} -> {f.Rule ?? "no rule"}"));
        return Expect(expectMatch, fired.Any(f => f.Rule == rule.Id), produced);
    }
}
