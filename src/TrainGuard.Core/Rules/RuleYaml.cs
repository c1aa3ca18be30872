using System.Reflection;
using TrainGuard.Findings;
using TrainGuard.Parsing;
using YamlDotNet.RepresentationModel;

namespace TrainGuard.Rules;

/// <summary>The fields a family adds to the common rule file shape.</summary>
public sealed record RuleYamlSchema
{
    public static RuleYamlSchema Common { get; } = new();

    /// <summary>Top-level fields besides <c>rules</c> (e.g. the scanner's <c>attribute_path_modules</c>).</summary>
    public IReadOnlyList<string> FileFields { get; init; } = [];

    /// <summary>Per-rule fields besides the common ones (e.g. the scanner's <c>kind</c>, <c>patterns</c>, <c>priority</c>).</summary>
    public IReadOnlyList<string> RuleFields { get; init; } = [];

    /// <summary>Whether every rule must fix its verdict (otherwise the verdict follows each finding's severity).</summary>
    public bool VerdictRequired { get; init; }
}

/// <summary>One rule file: its name, its family-specific top-level fields and its rules.</summary>
public sealed record RuleYamlDocument(string Name, IReadOnlyDictionary<string, YamlNode> Fields, IReadOnlyList<RuleYamlEntry> Rules);

/// <summary>One rule as read: the common definition, its family-specific fields, the file, and <c>rule ID</c> to start errors about it.</summary>
public sealed record RuleYamlEntry(RuleDefinition Definition, IReadOnlyDictionary<string, YamlNode> Fields, string File, string Where);

/// <summary>
/// Reads rule files: a mapping with a <c>rules</c> list whose entries have <c>id</c>, <c>name</c>, <c>title</c>
/// (default: the name in words), <c>severity</c>, <c>verdict</c> (optional), <c>why</c>, <c>guidance</c>,
/// <c>must_match</c> and <c>must_not_match</c> (samples: a text each, or a mapping/list passed on as JSON), plus the
/// fields a family declares in its <see cref="RuleYamlSchema"/>. Errors are <see cref="MalformedInputException"/>s of kind
/// <see cref="InputErrorKind.Config"/> naming the file, line or rule.
/// </summary>
public static class RuleYaml
{
    private static readonly string[] CommonRuleFields = ["id", "name", "title", "severity", "verdict", "why", "guidance", "must_match", "must_not_match"];

    /// <summary>Reads one rule file.</summary>
    public static RuleYamlDocument Read(string name, string yaml, string family, RuleYamlSchema? schema = null)
    {
        schema ??= RuleYamlSchema.Common;
        var root = YamlFields.Parse(name, yaml);
        var fields = YamlFields.Read(root, name, ["rules", .. schema.FileFields]);
        var ruleFields = CommonRuleFields.Concat(schema.RuleFields).ToArray();
        var rules = new List<RuleYamlEntry>();
        if (fields.TryGetValue("rules", out var list))
        {
            var nodes = YamlFields.Items(list, name, "rules").ToList();
            var read = nodes.Select(node => YamlFields.Read(node, name, ruleFields)).ToList();
            foreach (var ruleFieldValues in read)
            {
                rules.Add(ReadRule(name, ruleFieldValues, family, schema));
            }
        }

        fields.Remove("rules");
        return new RuleYamlDocument(name, fields, rules);
    }

    /// <summary>Reads several rule files (name, text) of one family; a rule id defined twice is an error.</summary>
    public static IReadOnlyList<RuleYamlDocument> ReadAll(IEnumerable<(string Name, string Yaml)> files, string family, RuleYamlSchema? schema = null)
    {
        var documents = files.Select(f => Read(f.Name, f.Yaml, family, schema)).ToList();
        var duplicate = documents.SelectMany(d => d.Rules).GroupBy(r => r.Definition.Id, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw MalformedInputException.Create(InputErrorKind.Config, $"rule id {duplicate.Key} is defined more than once ({string.Join(", ", duplicate.Select(r => r.File).Distinct())})");
        }

        return documents;
    }

    /// <summary>Reads YAML resources embedded in <paramref name="assembly"/> (by their full resource names).</summary>
    public static IReadOnlyList<RuleYamlDocument> ReadEmbedded(Assembly assembly, string family, IEnumerable<string> resourceNames, RuleYamlSchema? schema = null) =>
        ReadAll(resourceNames.Select(n => (n, ReadResource(assembly, n))).ToArray(), family, schema);

    /// <summary>The rules of the YAML resources embedded in <paramref name="assembly"/>, without family-specific fields.</summary>
    public static IEnumerable<RuleDefinition> EmbeddedDefinitions(Assembly assembly, string family, params string[] resourceNames) =>
        ReadEmbedded(assembly, family, resourceNames).SelectMany(d => d.Rules).Select(r => r.Definition);

    /// <summary>Reads rule files from disk (a missing or unreadable file is an error naming it).</summary>
    public static IReadOnlyList<RuleYamlDocument> ReadFiles(IEnumerable<string> paths, string family, RuleYamlSchema? schema = null)
    {
        var files = new List<(string, string)>();
        foreach (var path in paths)
        {
            try
            {
                files.Add((path, File.ReadAllText(path)));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw MalformedInputException.CreateAt(InputErrorKind.Config, $"cannot read the rule file: {ex.Message}", path, null, inner: ex);
            }
        }

        return ReadAll(files, family, schema);
    }

    /// <summary>The text of an embedded resource; a missing one is a build error, reported by name.</summary>
    public static string ReadResource(Assembly assembly, string name)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        using var stream = assembly.GetManifestResourceStream(name) ?? throw YamlFields.Invalid(name, null, "embedded resource is missing");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>
    /// Whether <paramref name="id"/> has the shape <c>TG-XXX-000</c> (three capital letters, three digits). Checked by hand
    /// rather than with a regular expression: every CLI run that loads rules would otherwise build the regex engine.
    /// </summary>
    public static bool IsRuleId(string id) =>
        id is ['T', 'G', '-', >= 'A' and <= 'Z', >= 'A' and <= 'Z', >= 'A' and <= 'Z', '-', >= '0' and <= '9', >= '0' and <= '9', >= '0' and <= '9'];

    /// <summary>Turns a kebab-case name into a title: <c>process-execution</c> is <c>Process execution</c>.</summary>
    public static string TitleFromName(string name) =>
        name.Length == 0 ? name : char.ToUpperInvariant(name[0]) + name[1..].Replace('-', ' ');

    private static RuleYamlEntry ReadRule(string file, Dictionary<string, YamlNode> fields, string family, RuleYamlSchema schema)
    {
        var id = YamlFields.String(fields, "id", file);
        var where = $"rule {id ?? "(no id)"}";
        if (id is null || !IsRuleId(id))
        {
            throw YamlFields.Invalid(file, null, $"{where}: id must look like TG-PKL-001");
        }

        var severityText = YamlFields.String(fields, "severity", file);
        if (severityText is null || !SeverityExtensions.TryParse(severityText, out var severity))
        {
            throw YamlFields.Invalid(file, null, $"{where}: severity must be info, low, medium, high or critical");
        }

        var verdictText = YamlFields.String(fields, "verdict", file);
        Verdict? verdict = verdictText switch
        {
            "malicious" => Verdict.Malicious,
            "suspicious" => Verdict.Suspicious,
            "error" => Verdict.Error,
            "clean" => Verdict.Clean,
            null when !schema.VerdictRequired => null,
            _ => throw YamlFields.Invalid(file, null, $"{where}: verdict must be malicious, suspicious, error or clean"),
        };

        var name = Required(YamlFields.String(fields, "name", file), file, where, "name");
        var title = YamlFields.String(fields, "title", file);
        if (title is not null && string.IsNullOrWhiteSpace(title))
        {
            throw YamlFields.Invalid(file, null, $"{where}: 'title' must not be empty");
        }

        var definition = new RuleDefinition
        {
            Id = id,
            Family = family,
            Name = name,
            Title = title?.Trim() ?? TitleFromName(name),
            Severity = severity,
            Verdict = verdict,
            Why = Required(YamlFields.String(fields, "why", file), file, where, "why").Trim(),
            Guidance = Required(YamlFields.String(fields, "guidance", file), file, where, "guidance").Trim(),
            MustMatch = Samples(fields, "must_match", file),
            MustNotMatch = Samples(fields, "must_not_match", file),
        };
        var extra = fields.Where(f => !CommonRuleFields.Contains(f.Key, StringComparer.Ordinal)).ToDictionary(f => f.Key, f => f.Value, StringComparer.Ordinal);
        return new RuleYamlEntry(definition, extra, file, where);
    }

    /// <summary>Samples: a text each, or a mapping/list that is handed to the family's matcher as JSON.</summary>
    private static string[] Samples(Dictionary<string, YamlNode> fields, string field, string where) =>
        !fields.TryGetValue(field, out var node) ? []
        : YamlFields.Items(node, where, field).Select(item => item switch
        {
            YamlScalarNode { Value: { } value } => value,
            YamlMappingNode or YamlSequenceNode => YamlFields.ToJson(item, where)!.ToJsonString(),
            _ => throw YamlFields.Invalid(where, item.Start.Line, $"every entry of '{field}' must be a text, a mapping or a list"),
        }).ToArray();

    private static string Required(string? value, string file, string where, string field) =>
        string.IsNullOrWhiteSpace(value) ? throw YamlFields.Invalid(file, null, $"{where}: '{field}' is required") : value;
}
