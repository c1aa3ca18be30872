using System.Globalization;
using System.Text.Json.Nodes;
using TrainGuard.Parsing;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace TrainGuard.Rules;

/// <summary>
/// Reads YAML data files field by field with YamlDotNet's representation model (the reflection-based deserializer
/// costs about 0.2 s of start-up on every CLI run; this costs a few milliseconds). Every error is a
/// <see cref="MalformedInputException"/> of kind <see cref="InputErrorKind.Config"/> naming the file and line; an
/// unknown field is an error.
/// </summary>
public static class YamlFields
{
    /// <summary>Loads one document holding a mapping.</summary>
    public static YamlMappingNode Parse(string name, string yaml)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException ex)
        {
            throw MalformedInputException.CreateAt(InputErrorKind.Config, ex.Message, name, (int)ex.Start.Line, inner: ex);
        }

        return stream.Documents.Count == 1 && stream.Documents[0].RootNode is YamlMappingNode root
            ? root
            : throw Invalid(name, null, "expected one YAML document holding a mapping");
    }

    /// <summary>The fields of a mapping by name; a field not in <paramref name="known"/> or given twice is an error.</summary>
    public static Dictionary<string, YamlNode> Read(YamlNode node, string where, IReadOnlyCollection<string> known)
    {
        if (node is not YamlMappingNode mapping)
        {
            throw Invalid(where, node.Start.Line, $"expected a mapping");
        }

        var fields = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
        foreach (var (key, value) in mapping.Children)
        {
            var name = (key as YamlScalarNode)?.Value ?? string.Empty;
            if (!known.Contains(name, StringComparer.Ordinal))
            {
                throw Invalid(where, key.Start.Line, $"unknown field '{name}' (expected one of {string.Join(", ", known)})");
            }

            if (!fields.TryAdd(name, value))
            {
                throw Invalid(where, key.Start.Line, $"field '{name}' is given twice");
            }
        }

        return fields;
    }

    /// <summary>The items of a list field (an empty value is an empty list).</summary>
    public static IEnumerable<YamlNode> Items(YamlNode node, string where, string field) =>
        node switch
        {
            YamlSequenceNode sequence => sequence.Children,
            YamlScalarNode { Value: null or "" or "~" or "null" } => [],
            _ => throw Invalid(where, node.Start.Line, $"'{field}' must be a list"),
        };

    /// <summary>A single-valued field, or null when it is absent or null.</summary>
    public static string? String(IReadOnlyDictionary<string, YamlNode> fields, string field, string where) =>
        !fields.TryGetValue(field, out var node) ? null
        : node is YamlScalarNode scalar ? (scalar.Style == ScalarStyle.Plain && scalar.Value is "~" or "null" ? null : scalar.Value)
        : throw Invalid(where, node.Start.Line, $"'{field}' must be a single value");

    /// <summary>A list of single values, or null when the field is absent.</summary>
    public static List<string>? Strings(IReadOnlyDictionary<string, YamlNode> fields, string field, string where) =>
        !fields.TryGetValue(field, out var node) ? null
        : Items(node, where, field).Select(item => item is YamlScalarNode { Value: { } value }
            ? value
            : throw Invalid(where, item.Start.Line, $"every entry of '{field}' must be a single value")).ToList();

    /// <summary>An integer field, or null when it is absent.</summary>
    public static int? Int32(IReadOnlyDictionary<string, YamlNode> fields, string field, string where)
    {
        var text = String(fields, field, where);
        return text is null ? null
            : int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) ? value
            : throw Invalid(where, fields[field].Start.Line, $"{field} must be an integer");
    }

    /// <summary>
    /// A node as JSON: mappings become objects, sequences arrays; plain scalars that read as booleans, nulls or
    /// numbers become those, every other scalar a string.
    /// </summary>
    public static JsonNode? ToJson(YamlNode node, string where) => node switch
    {
        YamlMappingNode mapping => new JsonObject(mapping.Children.Select(pair => KeyValuePair.Create(
            (pair.Key as YamlScalarNode)?.Value ?? throw Invalid(where, pair.Key.Start.Line, "a key must be a single value"),
            ToJson(pair.Value, where)))),
        YamlSequenceNode sequence => new JsonArray(sequence.Children.Select(child => ToJson(child, where)).ToArray()),
        YamlScalarNode scalar => Scalar(scalar),
        _ => throw Invalid(where, node.Start.Line, $"unsupported YAML node"),
    };

    /// <summary>An error in the rule or configuration file <paramref name="file"/>, at <paramref name="line"/> when known.</summary>
    public static MalformedInputException Invalid(string file, long? line, string problem) =>
        MalformedInputException.CreateAt(InputErrorKind.Config, problem, file, line is { } l ? (int)l : null);

    private static JsonNode? Scalar(YamlScalarNode scalar)
    {
        var text = scalar.Value ?? string.Empty;
        if (scalar.Style != ScalarStyle.Plain)
        {
            return JsonValue.Create(text);
        }

        return text switch
        {
            "~" or "null" or "" => null,
            "true" or "True" => JsonValue.Create(true),
            "false" or "False" => JsonValue.Create(false),
            _ when long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer) => JsonValue.Create(integer),
            _ when double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number) => JsonValue.Create(number),
            _ => JsonValue.Create(text),
        };
    }
}
