using System.Text;
using System.Text.Json;
using TrainGuard.Parsing;
using TrainGuard.Rules;

namespace TrainGuard.Detections;

/// <summary>
/// The <c>detections</c> rule family: the Sigma rules and correlations of a <see cref="DetectionRuleSet"/> that raise
/// hits. A sample (<c>x-trainguard: {must_match, must_not_match}</c>) is one event or a list of events; it is run
/// through a fresh engine over the whole set (so a correlation sees the rules it refers to, and filters apply), and
/// must (or must not) make the rule raise a hit.
/// </summary>
public sealed class DetectionRuleFamily : RuleFamily
{
    public const string FamilyName = "detections";

    public const string FamilyTitle = "Detections on the event stream (Sigma rules)";

    private readonly DetectionRuleSet _set;

    internal DetectionRuleFamily(DetectionRuleSet set)
        : base(FamilyName, FamilyTitle, set.Rules) => _set = set;

    public override bool HasMatcher(RuleDefinition rule) => rule is DetectionRule && _set.Rules.Contains(rule);

    public override ValueTask<string?> CheckSampleAsync(RuleDefinition rule, string sample, bool expectMatch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rule);
        var hits = Run(sample);
        var produced = hits.Count == 0 ? "no hits" : string.Join("; ", hits.Select(h => h.ToString()));
        return ValueTask.FromResult(Expect(expectMatch, hits.Any(h => h.Rule.Id == rule.Id), produced));
    }

    /// <summary>Runs a sample (one event as a JSON object, or a JSON array of events) through a fresh engine; event references are 0, 1, 2...</summary>
    /// <exception cref="MalformedInputException">The sample is not an event or a list of events (kind <see cref="InputErrorKind.Config"/>).</exception>
    public IReadOnlyList<DetectionHit> Run(string sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(sample);
        }
        catch (JsonException ex)
        {
            throw MalformedInputException.Create(InputErrorKind.Config, $"a detection sample must be an event or a list of events: {ex.Message}", inner: ex);
        }

        using (document)
        {
            var events = document.RootElement.ValueKind switch
            {
                JsonValueKind.Object => [document.RootElement],
                JsonValueKind.Array => document.RootElement.EnumerateArray().ToList(),
                _ => throw MalformedInputException.Create(InputErrorKind.Config, "a detection sample must be an event (an object) or a list of events"),
            };

            var engine = _set.CreateEngine();
            var hits = new List<DetectionHit>();
            for (var i = 0; i < events.Count; i++)
            {
                try
                {
                    engine.Process(Encoding.UTF8.GetBytes(events[i].GetRawText()), i, hits);
                }
                catch (MalformedInputException ex)
                {
                    throw MalformedInputException.Create(InputErrorKind.Config, $"sample event {i}: {ex.Message}", inner: ex);
                }
            }

            return hits;
        }
    }
}
