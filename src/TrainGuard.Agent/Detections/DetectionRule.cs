using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using TrainGuard.Events;
using TrainGuard.Findings;
using TrainGuard.Rules;
using YamlDotNet.RepresentationModel;

namespace TrainGuard.Agent.Detections;

/// <summary>How a <see cref="FieldCondition"/> compares a field with its values.</summary>
public enum FieldMatch
{
    Equals,
    StartsWith,
    EndsWith,
    Contains,

    /// <summary><c>path|exists: true</c> holds when the field is present, <c>false</c> when it is absent.</summary>
    Exists,

    /// <summary>The field is a number greater than the value.</summary>
    GreaterThan,

    /// <summary>The field is a number less than the value.</summary>
    LessThan,
}

/// <summary>
/// One condition on an event field, written <c>path: value</c> or <c>path: [a, b]</c> (any of the values), with an
/// optional modifier as in Sigma: <c>path|startswith</c>, <c>path|endswith</c>, <c>path|contains</c>, <c>path|exists</c>,
/// <c>path|gt</c>, <c>path|lt</c> (numbers). A list field
/// (<c>event.type</c>) holds when any of its items does; numbers and booleans compare by their JSON text
/// (<c>true</c>, <c>0</c>). An absent field never holds. Comparisons are ordinal.
/// </summary>
public sealed record FieldCondition(string Path, FieldMatch Match, IReadOnlyList<string> Values)
{
    public bool Holds(EventRecord e)
    {
        ArgumentNullException.ThrowIfNull(e);
        if (Match == FieldMatch.Exists)
        {
            return Values.Contains(e.Has(Path) ? "true" : "false", StringComparer.Ordinal);
        }

        return e.Get(Path) switch
        {
            null => false,
            JsonArray items => items.Any(item => item is not null && Any(Text(item))),
            var node => Any(Text(node)),
        };
    }

    /// <summary>A field's value as text: strings as they are, numbers and booleans as JSON, objects as null.</summary>
    public static string? Text(JsonNode node) => node is JsonValue value
        ? value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : value.ToJsonString()
        : null;

    private bool Any(string? actual) => actual is not null && Values.Any(v => Match switch
    {
        FieldMatch.StartsWith => actual.StartsWith(v, StringComparison.Ordinal),
        FieldMatch.EndsWith => actual.EndsWith(v, StringComparison.Ordinal),
        FieldMatch.Contains => actual.Contains(v, StringComparison.Ordinal),
        FieldMatch.GreaterThan => Number(actual) is { } a && Number(v) is { } b && a > b,
        FieldMatch.LessThan => Number(actual) is { } a && Number(v) is { } b && a < b,
        _ => string.Equals(actual, v, StringComparison.Ordinal),
    });

    private static double? Number(string text) =>
        double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value) ? value : null;

    public override string ToString() => $"{Path}{(Match == FieldMatch.Equals ? string.Empty : "|" + Match.ToString().ToLowerInvariant())}: [{string.Join(", ", Values)}]";
}

/// <summary>
/// A detection on the agent's events (<c>Rules/detections.yaml</c>): the common rule fields plus when it fires and what
/// its finding says. It fires on an event when every <c>match</c> condition holds, at least one group of
/// <c>match_any</c> holds entirely (when there are groups), and no <c>not</c> condition holds. Its finding's message is
/// <c>message</c> with each <c>{field.path}</c> replaced by the event's value, escaped (<c>?</c> when absent).
/// </summary>
public sealed partial class DetectionRule : RuleDefinition
{
    private const int MaxValueLength = 200;

    [SetsRequiredMembers]
    public DetectionRule(RuleDefinition common, IReadOnlyList<FieldCondition> match, IReadOnlyList<IReadOnlyList<FieldCondition>> matchAny, IReadOnlyList<FieldCondition> not, string message)
        : base(common)
    {
        Conditions = match;
        AnyOf = matchAny;
        Unless = not;
        Message = message;
    }

    /// <summary>Conditions that must all hold (<c>match</c>).</summary>
    public IReadOnlyList<FieldCondition> Conditions { get; }

    /// <summary>Groups of which one must hold entirely (<c>match_any</c>); none: no such requirement.</summary>
    public IReadOnlyList<IReadOnlyList<FieldCondition>> AnyOf { get; }

    /// <summary>Conditions of which none may hold (<c>not</c>).</summary>
    public IReadOnlyList<FieldCondition> Unless { get; }

    /// <summary>The finding's message, with <c>{field.path}</c> placeholders.</summary>
    public string Message { get; }

    public bool Matches(EventRecord e) =>
        Conditions.All(c => c.Holds(e))
        && (AnyOf.Count == 0 || AnyOf.Any(group => group.All(c => c.Holds(e))))
        && !Unless.Any(c => c.Holds(e));

    /// <summary>The message for <paramref name="e"/>: every placeholder replaced by the field's escaped value.</summary>
    public string Render(EventRecord e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return Placeholder().Replace(Message, m =>
        {
            var node = e.Get(m.Groups[1].Value);
            var text = node switch
            {
                null => null,
                JsonArray items => string.Join(",", items.Where(i => i is not null).Select(i => FieldCondition.Text(i!))),
                _ => FieldCondition.Text(node),
            };
            return text is null ? "?" : TextSanitizer.Escape(text, MaxValueLength);
        });
    }

    /// <summary>Where the evidence is: the file the event is about, else the audit log line it was read from, else the node.</summary>
    public static Location LocationOf(EventRecord e)
    {
        ArgumentNullException.ThrowIfNull(e);
        if (e.GetString("file.path") is { } file)
        {
            return new Location(file, Line: (int?)e.GetInt64("trainguard.ssh.key_line"));
        }

        if (e.GetString("log.file.path") is { } log)
        {
            return new Location(log, Line: (int?)e.GetInt64("trainguard.audit.line"));
        }

        return new Location(e.GetString(EventFields.HostName) ?? "node");
    }

    /// <summary>Builds a rule from a rule file entry (fields <c>match</c>, <c>match_any</c>, <c>not</c>, <c>message</c>).</summary>
    public static DetectionRule From(RuleYamlEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var match = entry.Fields.TryGetValue("match", out var m) ? ReadConditions(m, entry, "match") : [];
        var not = entry.Fields.TryGetValue("not", out var n) ? ReadConditions(n, entry, "not") : [];
        var any = entry.Fields.TryGetValue("match_any", out var a)
            ? YamlFields.Items(a, entry.File, "match_any").Select(group => ReadConditions(group, entry, "match_any")).ToArray()
            : [];
        if (match.Count == 0 && any.Length == 0)
        {
            throw YamlFields.Invalid(entry.File, null, $"{entry.Where}: a detection needs 'match' or 'match_any' conditions");
        }

        var message = YamlFields.String(entry.Fields, "message", entry.File);
        if (string.IsNullOrWhiteSpace(message))
        {
            throw YamlFields.Invalid(entry.File, null, $"{entry.Where}: 'message' is required");
        }

        var stripped = Placeholder().Replace(message, string.Empty);
        if (stripped.Contains('{', StringComparison.Ordinal) || stripped.Contains('}', StringComparison.Ordinal))
        {
            throw YamlFields.Invalid(entry.File, null, $"{entry.Where}: message placeholders are {{field.path}} (letters, digits, '_', '.', '@')");
        }

        return new DetectionRule(entry.Definition, match, any, not, message.Trim());
    }

    private static IReadOnlyList<FieldCondition> ReadConditions(YamlNode node, RuleYamlEntry entry, string field)
    {
        if (node is not YamlMappingNode mapping || mapping.Children.Count == 0)
        {
            throw YamlFields.Invalid(entry.File, node.Start.Line, $"'{field}' must be a mapping of field conditions");
        }

        var conditions = new List<FieldCondition>();
        foreach (var (key, value) in mapping.Children)
        {
            var text = (key as YamlScalarNode)?.Value ?? string.Empty;
            var bar = text.IndexOf('|', StringComparison.Ordinal);
            var path = bar < 0 ? text : text[..bar];
            var modifier = bar < 0 ? FieldMatch.Equals : text[(bar + 1)..] switch
            {
                "startswith" => FieldMatch.StartsWith,
                "endswith" => FieldMatch.EndsWith,
                "contains" => FieldMatch.Contains,
                "exists" => FieldMatch.Exists,
                "gt" => FieldMatch.GreaterThan,
                "lt" => FieldMatch.LessThan,
                var other => throw YamlFields.Invalid(entry.File, key.Start.Line, $"unknown modifier '{other}' (expected startswith, endswith, contains, exists, gt or lt)"),
            };
            if (!FieldPath().IsMatch(path))
            {
                throw YamlFields.Invalid(entry.File, key.Start.Line, $"'{path}' is not an event field path");
            }

            var values = value switch
            {
                YamlScalarNode { Value: { } one } => [one],
                YamlSequenceNode list => list.Children.Select(item => item is YamlScalarNode { Value: { } v }
                    ? v
                    : throw YamlFields.Invalid(entry.File, item.Start.Line, $"condition values must be single values")).ToArray(),
                _ => throw YamlFields.Invalid(entry.File, value.Start.Line, $"a condition's value must be a value or a list of values"),
            };
            conditions.Add(new FieldCondition(path, modifier, values));
        }

        return conditions;
    }

    [GeneratedRegex(@"\{([A-Za-z0-9_@][A-Za-z0-9_.@]*)\}", RegexOptions.CultureInvariant, 1000)]
    private static partial Regex Placeholder();

    [GeneratedRegex(@"^[A-Za-z0-9_@]+(\.[A-Za-z0-9_@]+)*$", RegexOptions.CultureInvariant, 1000)]
    private static partial Regex FieldPath();
}
