using System.Text.RegularExpressions;
using TrainGuard.Detections.Vocabulary;
using TrainGuard.Findings;
using TrainGuard.Rules;
using YamlDotNet.RepresentationModel;

namespace TrainGuard.Detections.Sigma;

internal enum DocumentKind
{
    Rule,
    Correlation,
    Filter,
}

/// <summary>A Sigma log source; a filter applies to rules whose log source it contains.</summary>
internal sealed record LogSource(string? Category, string? Product, string? Service)
{
    /// <summary>True when every attribute this one sets is the same in <paramref name="other"/>.</summary>
    public bool Contains(LogSource other) =>
        (Category is null || Category == other.Category)
        && (Product is null || Product == other.Product)
        && (Service is null || Service == other.Service);

    public override string ToString() =>
        string.Join(", ", new[] { Category is null ? null : $"category {Category}", Product is null ? null : $"product {Product}", Service is null ? null : $"service {Service}" }.Where(s => s is not null));
}

/// <summary>
/// One Sigma document of a rule file with its header read and checked (title, id, name, taxonomy, logsource, level,
/// description, tags and TrainGuard's <c>x-trainguard</c> section); its detection, correlation or filter section is
/// compiled later, once every document is known.
/// </summary>
internal sealed partial class SigmaDocument
{
    /// <summary>TrainGuard's own section of a Sigma document (Sigma allows custom attributes).</summary>
    public const string ExtensionKey = "x-trainguard";

    private static readonly string[] ExtensionFields = ["guidance", "must_match", "must_not_match", "account"];

    private static readonly string[] LogSourceFields = ["category", "product", "service", "definition"];

    public required string Source { get; init; }

    public required YamlMappingNode Root { get; init; }

    public required IReadOnlyDictionary<string, YamlEntry> Fields { get; init; }

    public required DocumentKind Kind { get; init; }

    /// <summary>The <c>detection</c>, <c>correlation</c> or <c>filter</c> section.</summary>
    public required YamlMappingNode Section { get; init; }

    public required string Title { get; init; }

    public string? Id { get; init; }

    public string? Name { get; init; }

    public string? Description { get; init; }

    public Severity? Level { get; init; }

    public LogSource? LogSource { get; init; }

    public IReadOnlyList<string> Tags { get; init; } = [];

    public string? Guidance { get; init; }

    /// <summary><c>x-trainguard.account: first-event</c>: a correlation's alert names the account of its first event.</summary>
    public bool AccountOfFirstEvent { get; init; }

    public IReadOnlyList<string> MustMatch { get; init; } = [];

    public IReadOnlyList<string> MustNotMatch { get; init; } = [];

    /// <summary>The top-level <c>generate</c> of a correlation (the schema's place; pySigma reads it inside the section).</summary>
    public bool? Generate { get; init; }

    public int Line => (int)Root.Start.Line;

    /// <summary>How messages name the document: its id, else its name, else its title.</summary>
    public string Label => Id ?? Name ?? $"'{Title}'";

    public static SigmaDocument Read(string source, YamlMappingNode root, FieldVocabulary vocabulary)
    {
        var fields = SigmaYaml.Fields(source, root);
        if (fields.TryGetValue("action", out var action))
        {
            throw DetectionErrors.Rule(source, action.KeyNode, "'action' documents (Sigma 1 rule collections) are not supported: write each rule out");
        }

        var sections = new[] { "detection", "correlation", "filter" }.Where(fields.ContainsKey).ToList();
        if (sections.Count != 1)
        {
            throw DetectionErrors.Rule(source, root, sections.Count == 0
                ? "a Sigma document needs a 'detection', 'correlation' or 'filter' section"
                : $"a Sigma document has one of 'detection', 'correlation' or 'filter', not {string.Join(" and ", sections)}");
        }

        var kind = sections[0] switch { "detection" => DocumentKind.Rule, "correlation" => DocumentKind.Correlation, _ => DocumentKind.Filter };
        var sectionEntry = fields[sections[0]];
        var section = sectionEntry.Value as YamlMappingNode
            ?? throw DetectionErrors.Rule(source, sectionEntry.Value, $"'{sections[0]}' must be a mapping");

        var title = SigmaYaml.RequiredText(source, root, fields, "title", "a Sigma document");
        if (title.Length > 256)
        {
            throw DetectionErrors.Rule(source, fields["title"].Value, "'title' is longer than 256 characters");
        }

        var id = SigmaYaml.OptionalText(source, fields, "id");
        if (id is not null && !IdPattern().IsMatch(id))
        {
            throw DetectionErrors.Rule(source, fields["id"].Value, $"id '{id}' must look like TG-DET-001 or be a UUID");
        }

        var name = SigmaYaml.OptionalText(source, fields, "name");
        if (name is not null && !NamePattern().IsMatch(name))
        {
            throw DetectionErrors.Rule(source, fields["name"].Value, $"name '{name}' must be letters, digits, _, - and . (at most 128)");
        }

        var taxonomy = SigmaYaml.OptionalText(source, fields, "taxonomy");
        if (taxonomy is null && kind != DocumentKind.Correlation)
        {
            throw DetectionErrors.Rule(source, root, "TrainGuard rules use ECS field names: add 'taxonomy: ecs'");
        }

        if (taxonomy is not null && taxonomy != "ecs")
        {
            throw DetectionErrors.Rule(source, fields["taxonomy"].Value, $"taxonomy '{taxonomy}' is not supported: TrainGuard events use ECS field names (taxonomy: ecs)");
        }

        var level = ReadLevel(source, fields);
        var extension = ReadExtension(source, fields, vocabulary, kind);
        return new SigmaDocument
        {
            Source = source,
            Root = root,
            Fields = fields,
            Kind = kind,
            Section = section,
            Title = title.Trim(),
            Id = id,
            Name = name,
            Description = SigmaYaml.OptionalText(source, fields, "description"),
            Level = level,
            LogSource = kind == DocumentKind.Correlation ? null : ReadLogSource(source, root, fields),
            Tags = SigmaYaml.OptionalTexts(source, fields, "tags")?.Select(t => t.Text).ToArray() ?? [],
            Generate = ReadGenerate(source, fields, kind),
            Guidance = extension.Guidance,
            AccountOfFirstEvent = extension.AccountOfFirstEvent,
            MustMatch = extension.MustMatch,
            MustNotMatch = extension.MustNotMatch,
        };
    }

    /// <summary>A kebab-case name for the rule model: the Sigma name, else the title in lowercase words.</summary>
    public string ModelName()
    {
        var source = Name ?? Title;
        var name = NonAlphanumeric().Replace(source.ToLowerInvariant(), "-").Trim('-');
        return name.Length == 0 ? "detection" : name;
    }

    private static Severity? ReadLevel(string source, IReadOnlyDictionary<string, YamlEntry> fields)
    {
        var level = SigmaYaml.OptionalText(source, fields, "level");
        return level switch
        {
            null => null,
            "informational" => Severity.Info,
            "low" => Severity.Low,
            "medium" => Severity.Medium,
            "high" => Severity.High,
            "critical" => Severity.Critical,
            _ => throw DetectionErrors.Rule(source, fields["level"].Value, $"level '{level}' must be informational, low, medium, high or critical"),
        };
    }

    private static LogSource ReadLogSource(string source, YamlMappingNode root, IReadOnlyDictionary<string, YamlEntry> fields)
    {
        if (!fields.TryGetValue("logsource", out var entry))
        {
            throw DetectionErrors.Rule(source, root, "a Sigma rule needs a 'logsource' (e.g. product: linux, service: auditd)");
        }

        if (entry.Value is not YamlMappingNode mapping)
        {
            throw DetectionErrors.Rule(source, entry.Value, "'logsource' must be a mapping of category, product, service");
        }

        var logFields = SigmaYaml.Fields(source, mapping);
        SigmaYaml.CheckKnown(source, logFields, "logsource", LogSourceFields);
        string? Text(string key)
        {
            var text = SigmaYaml.OptionalText(source, logFields, key);
            if (text is not null && key != "definition" && (text.Length == 0 || text != text.ToLowerInvariant()))
            {
                throw DetectionErrors.Rule(source, logFields[key].Value, $"logsource {key} '{text}' must be lowercase and not empty");
            }

            return text;
        }

        _ = Text("definition");
        var logSource = new LogSource(Text("category"), Text("product"), Text("service"));
        if (logSource is { Category: null, Product: null, Service: null })
        {
            throw DetectionErrors.Rule(source, mapping, "'logsource' needs a category, product or service");
        }

        return logSource;
    }

    private static bool? ReadGenerate(string source, IReadOnlyDictionary<string, YamlEntry> fields, DocumentKind kind)
    {
        if (!fields.TryGetValue("generate", out var entry))
        {
            return null;
        }

        if (kind != DocumentKind.Correlation)
        {
            throw DetectionErrors.Rule(source, entry.KeyNode, "'generate' belongs to correlation documents");
        }

        return entry.Value is YamlScalarNode scalar && SigmaYaml.TryBoolean(scalar, out var generate)
            ? generate
            : throw DetectionErrors.Rule(source, entry.Value, "'generate' must be true or false");
    }

    /// <summary>What a document's <c>x-trainguard</c> section says.</summary>
    private sealed record Extension(string? Guidance, string[] MustMatch, string[] MustNotMatch, bool AccountOfFirstEvent);

    private static Extension ReadExtension(string source, IReadOnlyDictionary<string, YamlEntry> fields, FieldVocabulary vocabulary, DocumentKind kind)
    {
        if (!fields.TryGetValue(ExtensionKey, out var entry))
        {
            return new Extension(null, [], [], false);
        }

        if (entry.Value is not YamlMappingNode mapping)
        {
            throw DetectionErrors.Rule(source, entry.Value, $"'{ExtensionKey}' must be a mapping of {string.Join(", ", ExtensionFields)}");
        }

        var extension = SigmaYaml.Fields(source, mapping);
        SigmaYaml.CheckKnown(source, extension, ExtensionKey, ExtensionFields);
        var mustMatch = Samples(source, extension, "must_match", vocabulary);
        var mustNotMatch = Samples(source, extension, "must_not_match", vocabulary);
        var guidance = SigmaYaml.OptionalText(source, extension, "guidance");
        return new Extension(string.IsNullOrWhiteSpace(guidance) ? null : guidance.Trim(), mustMatch, mustNotMatch, ReadAccount(source, extension, kind));
    }

    /// <summary>
    /// <c>x-trainguard.account</c>: absent (the alert names the account of the event that completed it, or the
    /// correlation's account group-by value), or <c>first-event</c> on a correlation: the account of the first event of
    /// the chain (the account that changed site-packages, not the owner of the run that then went wrong).
    /// </summary>
    private static bool ReadAccount(string source, IReadOnlyDictionary<string, YamlEntry> extension, DocumentKind kind)
    {
        if (!extension.TryGetValue("account", out var account))
        {
            return false;
        }

        var value = SigmaYaml.OptionalText(source, extension, "account");
        if (value != "first-event")
        {
            throw DetectionErrors.Rule(source, account.Value, $"'{ExtensionKey}.account' is '{value}'; the one value it takes is 'first-event'");
        }

        if (kind != DocumentKind.Correlation)
        {
            throw DetectionErrors.Rule(source, account.Value, $"'{ExtensionKey}.account: first-event' is for a correlation (a detection rule has one event)");
        }

        return true;
    }

    /// <summary>
    /// Samples: each one event (a mapping) or a list of events (for correlations), kept as JSON. Every field a sample
    /// names must be in the vocabulary, so a misspelt field cannot make a must_not_match sample pass for nothing.
    /// </summary>
    private static string[] Samples(string source, IReadOnlyDictionary<string, YamlEntry> fields, string key, FieldVocabulary vocabulary)
    {
        if (!fields.TryGetValue(key, out var entry))
        {
            return [];
        }

        if (entry.Value is not YamlSequenceNode list)
        {
            throw DetectionErrors.Rule(source, entry.Value, $"'{key}' must be a list of sample events (each a mapping, or a list of mappings)");
        }

        var samples = new List<string>();
        foreach (var item in list.Children)
        {
            var events = item switch
            {
                YamlMappingNode one => [one],
                YamlSequenceNode { Children.Count: > 0 } many when many.Children.All(c => c is YamlMappingNode) => many.Children.Cast<YamlMappingNode>().ToList(),
                _ => throw DetectionErrors.Rule(source, item, $"every entry of '{key}' must be an event (a mapping) or a non-empty list of events"),
            };

            foreach (var e in events)
            {
                CheckSampleFields(source, e, string.Empty, vocabulary);
            }

            samples.Add(YamlFields.ToJson(item, source)!.ToJsonString());
        }

        return [.. samples];
    }

    private static void CheckSampleFields(string source, YamlMappingNode mapping, string prefix, FieldVocabulary vocabulary)
    {
        foreach (var entry in SigmaYaml.Entries(source, mapping))
        {
            var path = prefix + entry.Key;
            switch (entry.Value)
            {
                case YamlMappingNode child when vocabulary.Classify(path) != FieldKind.Value:
                    CheckSampleFields(source, child, path + ".", vocabulary);
                    break;
                case YamlSequenceNode sequence when vocabulary.Classify(path) != FieldKind.Value:
                    foreach (var element in sequence.Children.OfType<YamlMappingNode>())
                    {
                        CheckSampleFields(source, element, path + ".", vocabulary);
                    }

                    if (sequence.Children.Any(c => c is not YamlMappingNode))
                    {
                        throw DetectionErrors.Rule(source, entry.KeyNode, $"sample field '{path}' is not a field of TrainGuard events (docs/events.md)");
                    }

                    break;
                default:
                    if (vocabulary.Classify(path) == FieldKind.Unknown)
                    {
                        throw DetectionErrors.Rule(source, entry.KeyNode, $"sample field '{path}' is not a field of TrainGuard events (docs/events.md)");
                    }

                    break;
            }
        }
    }

    [GeneratedRegex("^(TG-[A-Z]{3}-[0-9]{3}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$")]
    private static partial Regex IdPattern();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex("[^a-z0-9]+")]
    private static partial Regex NonAlphanumeric();
}
