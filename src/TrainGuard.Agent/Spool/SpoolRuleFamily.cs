using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TrainGuard.Findings;
using TrainGuard.Parsing;
using TrainGuard.Rules;

namespace TrainGuard.Agent.Spool;

/// <summary>
/// The spool rules (<c>Rules/spool.yaml</c>) as a <see cref="RuleFamily"/> whose matcher is the check the agent runs when it
/// opens its spool (<c>agent spool verify</c>), on a spool written from the sample in a temporary folder. A sample is a mapping:
/// <c>records: N</c> (one segment of N valid chained records), then what was done to it: <c>edit: K</c> (record K's event
/// changed in place), <c>delete: K</c> (line K removed), <c>torn: BYTES</c> (the last line cut short by BYTES, as a crash
/// mid-append leaves it), <c>cursor: {acked: N, anchor_seq: N}</c> or <c>cursor: TEXT</c> (cursor.json written as given).
/// A must_match sample yields a finding of the rule; a must_not_match sample yields none.
/// </summary>
public sealed class SpoolRuleFamily : RuleFamily
{
    private static readonly string[] Fields = ["records", "edit", "delete", "torn", "cursor"];

    public SpoolRuleFamily(IEnumerable<RuleDefinition> rules)
        : base(AgentRules.FamilyName, "The agent's spool (`trainguard agent`, `agent spool verify`)", rules)
    {
    }

    public override bool HasMatcher(RuleDefinition rule) => rule?.Family == AgentRules.FamilyName;

    public override ValueTask<string?> CheckSampleAsync(RuleDefinition rule, string sample, bool expectMatch, CancellationToken cancellationToken = default)
    {
        var findings = Run(RuleSamples.ParseMapping(sample, AgentRules.FamilyName, Fields));
        return ValueTask.FromResult(Expect(expectMatch, RuleSamples.Flags(findings, rule), RuleSamples.Describe(findings)));
    }

    private static IReadOnlyList<Finding> Run(JsonObject spec)
    {
        using var sampleFolder = new SampleFolder("spool-sample");
        var directory = sampleFolder.Path;
        var count = Integer(spec["records"], "records") ?? throw MalformedInputException.Create(InputErrorKind.Config, "a spool sample needs 'records'");
        var lines = new List<string>();
        var prev = SpoolFormat.GenesisHash;
        for (var seq = 1L; seq <= count; seq++)
        {
            var line = SpoolFormat.FormatRecord(seq, prev, Event(seq, "original"));
            lines.Add(line);
            prev = SpoolFormat.HashLine(Encoding.UTF8.GetBytes(line));
        }

        if (Integer(spec["edit"], "edit") is { } edit)
        {
            var index = Index(edit, lines.Count, "edit");
            lines[index] = lines[index].Replace("original", "rewritten", StringComparison.Ordinal);
        }

        if (Integer(spec["delete"], "delete") is { } delete)
        {
            lines.RemoveAt(Index(delete, lines.Count, "delete"));
        }

        var text = string.Concat(lines.Select(l => l + "\n"));
        if (Integer(spec["torn"], "torn") is { } torn)
        {
            text = text[..^(int)Math.Clamp(torn + 1, 1, text.Length)];
        }

        File.WriteAllText(Path.Combine(directory, SpoolFormat.SegmentName(1)), text);
        switch (spec["cursor"])
        {
            case null:
                break;
            case JsonObject cursor:
                var acked = Integer(cursor["acked"], "cursor.acked") ?? 0;
                var anchor = Integer(cursor["anchor_seq"], "cursor.anchor_seq") ?? 0;
                File.WriteAllText(Path.Combine(directory, SpoolFormat.CursorFile), SpoolFormat.FormatCursor(new SpoolFormat.Cursor(acked, anchor, SpoolFormat.GenesisHash)));
                break;
            case JsonValue raw when raw.GetValueKind() == JsonValueKind.String:
                File.WriteAllText(Path.Combine(directory, SpoolFormat.CursorFile), raw.GetValue<string>());
                break;
            default:
                throw MalformedInputException.Create(InputErrorKind.Config, "'cursor' must be {acked, anchor_seq} or text");
        }

        return SpoolScanner.Scan(directory, repair: false).Report.Findings;
    }

    private static string Event(long seq, string text) =>
        $"{{\"id\":\"sample-{seq.ToString(CultureInfo.InvariantCulture)}\",\"event\":{{\"action\":\"agent-heartbeat\"}},\"note\":\"{text}\"}}";

    private static int Index(long oneBased, int count, string field) =>
        oneBased >= 1 && oneBased <= count ? (int)oneBased - 1 : throw MalformedInputException.Create(InputErrorKind.Config, $"'{field}' must name a record between 1 and {count}");

    private static long? Integer(JsonNode? node, string field) =>
        node is null ? null : node is JsonValue v && v.TryGetValue<long>(out var value) ? value : throw MalformedInputException.Create(InputErrorKind.Config, $"'{field}' must be an integer");
}
