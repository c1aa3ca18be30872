using System.Text.Json;

namespace TrainGuard.Server.Dashboard;

/// <summary>Reads ECS fields (<c>file.path</c>, <c>trainguard.finding.rule</c>) out of an event's JSON, as text for a page.</summary>
public sealed class EventFields
{
    private readonly JsonElement _root;

    private EventFields(long index, JsonElement root)
    {
        Index = index;
        _root = root;
    }

    public long Index { get; }

    /// <summary>Parses one stored entry; null when it is not a JSON object.</summary>
    public static EventFields? Parse(long index, byte[] entry)
    {
        try
        {
            using var document = JsonDocument.Parse(entry);
            return document.RootElement.ValueKind == JsonValueKind.Object ? new EventFields(index, document.RootElement.Clone()) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The value at a dotted path as text (arrays joined with ", "); null when absent.</summary>
    public string? this[string path] => Find(path) is { } e ? Text(e) : null;

    /// <summary>The element at a dotted path, or null.</summary>
    public JsonElement? Find(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var current = _root;
        foreach (var part in path.Split('.'))
        {
            if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(part, out current))
            {
                return null;
            }
        }

        return current;
    }

    /// <summary>Every leaf under <paramref name="path"/> as (dotted name, text), in document order.</summary>
    public IReadOnlyList<(string Name, string Value)> Flatten(string path)
    {
        var result = new List<(string, string)>();
        if (Find(path) is { } start)
        {
            Walk(path, start, result);
        }

        return result;
    }

    /// <summary>The event's JSON, indented (for a page: the caller's markup encodes it).</summary>
    public string Indented() => JsonSerializer.Serialize(_root, IndentedOptions);

    private static readonly JsonSerializerOptions IndentedOptions = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static void Walk(string name, JsonElement e, List<(string, string)> result)
    {
        if (e.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in e.EnumerateObject())
            {
                Walk(name + "." + p.Name, p.Value, result);
            }
        }
        else
        {
            result.Add((name, Text(e)));
        }
    }

    private static string Text(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString() ?? string.Empty,
        JsonValueKind.Array => string.Join(", ", e.EnumerateArray().Select(Text)),
        JsonValueKind.Null => "null",
        _ => e.GetRawText(),
    };
}
