using System.Globalization;
using TrainGuard.Parsing;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace TrainGuard.Detections.Sigma;

/// <summary>One entry of a YAML mapping: its key as text, the key node (for error positions) and the value.</summary>
internal readonly record struct YamlEntry(string Key, YamlNode KeyNode, YamlNode Value);

/// <summary>
/// Reads rule files with YamlDotNet's representation model and checks their shape before anything is interpreted:
/// size, node count, no aliases (an alias repeats a subtree, which is how a small file becomes a huge one), mappings
/// with text keys given once. Every error is a <see cref="MalformedInputException"/> naming the file and line.
/// </summary>
internal static class SigmaYaml
{
    /// <summary>The documents of a file (empty documents skipped), each a mapping.</summary>
    public static IReadOnlyList<YamlMappingNode> Documents(string source, string text, DetectionOptions options)
    {
        if (text.Length > options.MaxRuleFileBytes)
        {
            throw DetectionErrors.Rule(source, 0, 0, $"the rule file is longer than {options.MaxRuleFileBytes:N0} characters");
        }

        var stream = new YamlStream();
        try
        {
            CheckDepth(source, text);
            stream.Load(new StringReader(text));
        }
        catch (YamlException ex)
        {
            throw DetectionErrors.Rule(source, ex.Start, $"not valid YAML: {Flatten(ex.Message)}");
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or FormatException or OverflowException)
        {
            // YamlDotNet reports some problems (a key given twice, odd anchors) with BCL exceptions.
            throw DetectionErrors.Rule(source, 0, 0, $"not valid YAML: {Flatten(ex.Message)}");
        }

        var documents = new List<YamlMappingNode>();
        var seen = new HashSet<YamlNode>(ReferenceEqualityComparer.Instance);
        foreach (var document in stream.Documents)
        {
            var root = document.RootNode;
            if (root is YamlScalarNode scalar && IsNull(scalar))
            {
                continue;
            }

            if (root is not YamlMappingNode mapping)
            {
                throw DetectionErrors.Rule(source, root, "a Sigma document must be a mapping (title, logsource, detection...)");
            }

            CheckTree(source, root, seen, options.MaxYamlNodes);
            documents.Add(mapping);
        }

        return documents;
    }

    /// <summary>The entries of a mapping in file order; a key that is not text, or given twice, is an error.</summary>
    public static IReadOnlyList<YamlEntry> Entries(string source, YamlMappingNode mapping)
    {
        var entries = new List<YamlEntry>(mapping.Children.Count);
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, value) in mapping.Children)
        {
            if (key is not YamlScalarNode { Value: { } name })
            {
                throw DetectionErrors.Rule(source, key, "a key must be a plain text");
            }

            if (!keys.Add(name))
            {
                throw DetectionErrors.Rule(source, key, $"'{name}' is given twice");
            }

            entries.Add(new YamlEntry(name, key, value));
        }

        return entries;
    }

    /// <summary>The entries of a mapping by key (for headers, whose order does not matter).</summary>
    public static Dictionary<string, YamlEntry> Fields(string source, YamlMappingNode mapping) =>
        Entries(source, mapping).ToDictionary(e => e.Key, StringComparer.Ordinal);

    /// <summary>Refuses a key not in <paramref name="known"/>.</summary>
    public static void CheckKnown(string source, IReadOnlyDictionary<string, YamlEntry> fields, string where, params string[] known)
    {
        foreach (var entry in fields.Values)
        {
            if (!known.Contains(entry.Key, StringComparer.Ordinal))
            {
                throw DetectionErrors.Rule(source, entry.KeyNode, $"unknown field '{entry.Key}' in {where} (expected one of {string.Join(", ", known)})");
            }
        }
    }

    /// <summary>A text field, or null when absent; a mapping or list is an error.</summary>
    public static string? OptionalText(string source, IReadOnlyDictionary<string, YamlEntry> fields, string key)
    {
        if (!fields.TryGetValue(key, out var entry))
        {
            return null;
        }

        return entry.Value is YamlScalarNode scalar && !IsNull(scalar)
            ? scalar.Value ?? string.Empty
            : throw DetectionErrors.Rule(source, entry.Value, $"'{key}' must be a text");
    }

    /// <summary>A text field that must be present and not blank.</summary>
    public static string RequiredText(string source, YamlMappingNode owner, IReadOnlyDictionary<string, YamlEntry> fields, string key, string where)
    {
        var text = OptionalText(source, fields, key);
        return string.IsNullOrWhiteSpace(text)
            ? throw DetectionErrors.Rule(source, fields.TryGetValue(key, out var entry) ? entry.Value : owner, $"{where} needs '{key}'")
            : text;
    }

    /// <summary>A list of texts (a single text counts as a list of one), or null when absent.</summary>
    public static IReadOnlyList<(string Text, YamlNode Node)>? OptionalTexts(string source, IReadOnlyDictionary<string, YamlEntry> fields, string key)
    {
        if (!fields.TryGetValue(key, out var entry))
        {
            return null;
        }

        return entry.Value switch
        {
            YamlScalarNode scalar when !IsNull(scalar) => [(scalar.Value ?? string.Empty, scalar)],
            YamlSequenceNode sequence => sequence.Children.Select(item => item is YamlScalarNode { Value: { } text } s && !IsNull(s)
                ? (text, item)
                : throw DetectionErrors.Rule(source, item, $"every entry of '{key}' must be a text")).ToList(),
            _ => throw DetectionErrors.Rule(source, entry.Value, $"'{key}' must be a text or a list of texts"),
        };
    }

    /// <summary>A plain <c>null</c>, <c>~</c> or empty scalar.</summary>
    public static bool IsNull(YamlScalarNode scalar) =>
        scalar.Style == ScalarStyle.Plain && scalar.Value is null or "" or "~" or "null" or "Null" or "NULL";

    /// <summary>A plain <c>true</c> or <c>false</c>.</summary>
    public static bool TryBoolean(YamlScalarNode scalar, out bool value)
    {
        value = false;
        if (scalar.Style != ScalarStyle.Plain)
        {
            return false;
        }

        switch (scalar.Value)
        {
            case "true" or "True" or "TRUE":
                value = true;
                return true;
            case "false" or "False" or "FALSE":
                return true;
            default:
                return false;
        }
    }

    /// <summary>A plain decimal number.</summary>
    public static bool TryNumber(YamlScalarNode scalar, out double value)
    {
        value = 0;
        return scalar.Style == ScalarStyle.Plain
            && scalar.Value is { Length: > 0 } text
            && (char.IsAsciiDigit(text[0]) || (text.Length > 1 && text[0] is '-' or '+' or '.'))
            && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value)
            && double.IsFinite(value);
    }

    /// <summary>A plain non-negative integer.</summary>
    public static bool TryCount(YamlScalarNode scalar, out long value)
    {
        value = 0;
        return scalar.Style == ScalarStyle.Plain && scalar.Value is { } text
            && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>Deepest nesting of mappings and lists (the representation model builds nodes recursively).</summary>
    public const int MaxDepth = 64;

    /// <summary>Walks the parser's events (iteratively) so deeply nested input is refused before nodes are built.</summary>
    private static void CheckDepth(string source, string text)
    {
        var parser = new Parser(new StringReader(text));
        var depth = 0;
        while (parser.MoveNext())
        {
            switch (parser.Current)
            {
                case YamlDotNet.Core.Events.MappingStart or YamlDotNet.Core.Events.SequenceStart:
                    if (++depth > MaxDepth)
                    {
                        throw DetectionErrors.Rule(source, parser.Current.Start, $"YAML nested deeper than {MaxDepth} levels");
                    }

                    break;
                case YamlDotNet.Core.Events.MappingEnd or YamlDotNet.Core.Events.SequenceEnd:
                    depth--;
                    break;
            }
        }
    }

    private static void CheckTree(string source, YamlNode root, HashSet<YamlNode> seen, int maxNodes)
    {
        var stack = new Stack<YamlNode>();
        stack.Push(root);
        while (stack.Count > 0)
        {
            var node = stack.Pop();
            if (!seen.Add(node))
            {
                throw DetectionErrors.Rule(source, node, "YAML aliases (*name) are not supported in rule files: write the value out");
            }

            if (seen.Count > maxNodes)
            {
                throw DetectionErrors.Rule(source, node, $"the rule file has more than {maxNodes:N0} YAML nodes");
            }

            switch (node)
            {
                case YamlMappingNode mapping:
                    foreach (var (key, value) in mapping.Children)
                    {
                        stack.Push(key);
                        stack.Push(value);
                    }

                    break;
                case YamlSequenceNode sequence:
                    foreach (var child in sequence.Children)
                    {
                        stack.Push(child);
                    }

                    break;
            }
        }
    }

    private static string Flatten(string message) => message.ReplaceLineEndings(" ");
}
