using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using TrainGuard.Parsing;

namespace TrainGuard.Events;

/// <summary>
/// One TrainGuard event (docs/events.md): a JSON object with nested members per the Elastic Common
/// Schema, built and read with dotted paths (<c>Set("user.audit.id", "1000")</c> writes
/// <c>{"user":{"audit":{"id":"1000"}}}</c>). Serialised as one JSON line for spools and exports and
/// as RFC 8785 canonical JSON for the ledger.
/// </summary>
public sealed class EventRecord
{
    /// <summary>Upper bound for one JSON line read back from a spool or export.</summary>
    public const int MaxLineLength = 4 * 1024 * 1024;

    private static readonly JsonSerializerOptions LineOptions = new()
    {
        WriteIndented = false,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private readonly JsonObject _root;

    /// <summary>An event with a fresh time-ordered id, <c>@timestamp</c>, <c>event.kind</c> and <c>event.action</c>.</summary>
    public EventRecord(DateTimeOffset timestamp, string action, string kind = EventKinds.Event, string? id = null)
    {
        _root = new JsonObject();
        Set(EventFields.Id, id ?? UuidV7.NewId(timestamp));
        Timestamp = timestamp;
        Set(EventFields.Kind, kind);
        Set(EventFields.Action, action);
    }

    private EventRecord(JsonObject root) => _root = root;

    /// <summary>The event id (a UUID v7 for events TrainGuard creates).</summary>
    public string Id
    {
        get => GetString(EventFields.Id) ?? string.Empty;
        set => Set(EventFields.Id, value);
    }

    /// <summary><c>@timestamp</c>: when it happened, written as RFC 3339 UTC with milliseconds.</summary>
    public DateTimeOffset Timestamp
    {
        get => GetString(EventFields.Timestamp) is { } text && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var value)
            ? value
            : default;
        set => Set(EventFields.Timestamp, FormatTimestamp(value));
    }

    /// <summary><c>event.action</c>.</summary>
    public string? Action => GetString(EventFields.Action);

    /// <summary>The JSON object itself (a live view, not a copy).</summary>
    public JsonObject Root => _root;

    /// <summary>RFC 3339 UTC with exactly three fractional digits, e.g. <c>2026-11-22T08:12:04.235Z</c>.</summary>
    public static string FormatTimestamp(DateTimeOffset value) =>
        value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>Reads one JSON line written by <see cref="ToJsonLine"/> (or any JSON object).</summary>
    /// <exception cref="MalformedInputException">Not JSON, not an object, or over <see cref="MaxLineLength"/>.</exception>
    public static EventRecord Parse(string json)
    {
        if (json.Length > MaxLineLength)
        {
            MalformedInputException.ThrowLimit("event line length", MaxLineLength, 0);
        }

        JsonNode? node;
        try
        {
            // A repeated member name is refused: readers disagree on which value wins (and JsonObject throws on it later).
            node = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { MaxDepth = CanonicalJson.MaxDepth, AllowDuplicateProperties = false });
        }
        catch (JsonException ex)
        {
            throw MalformedInputException.Create(InputErrorKind.Syntax, $"event is not valid JSON: {ex.Message}", ex.BytePositionInLine ?? 0);
        }

        return node is JsonObject obj
            ? new EventRecord(obj)
            : throw MalformedInputException.Create(InputErrorKind.Syntax, "event JSON must be an object", 0);
    }

    /// <summary>
    /// Fuzz target: reads one event line as a spool or export reader does and uses it as the shipper and the
    /// ledger do (id, time, action, the JSON line, canonical JSON); throws nothing but <see cref="MalformedInputException"/>.
    /// </summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        var record = Parse(System.Text.Encoding.UTF8.GetString(data));
        _ = record.Id;
        _ = record.Timestamp;
        _ = record.Action;
        _ = record.GetStrings(EventFields.Category);
        _ = record.GetInt64(EventFields.Severity);
        _ = Parse(record.ToJsonLine());
        _ = record.ToCanonicalJson();
    }

    /// <summary>Wraps an existing object (the record shares it; no copy).</summary>
    public static EventRecord FromObject(JsonObject obj) => new(obj);

    public EventRecord Set(string path, string? value) => SetNode(path, value is null ? null : JsonValue.Create(value));

    public EventRecord Set(string path, long value) => SetNode(path, JsonValue.Create(value));

    public EventRecord Set(string path, int value) => SetNode(path, JsonValue.Create((long)value));

    public EventRecord Set(string path, bool value) => SetNode(path, JsonValue.Create(value));

    /// <summary>Sets a number; NaN and infinities are refused because canonical JSON cannot carry them.</summary>
    public EventRecord Set(string path, double value)
    {
        if (!double.IsFinite(value))
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, "events carry finite numbers only");
        }

        return SetNode(path, JsonValue.Create(value));
    }

    /// <summary>Sets a list of strings (ECS list fields such as <c>event.category</c>).</summary>
    public EventRecord Set(string path, IEnumerable<string> values)
    {
        var array = new JsonArray();
        foreach (var value in values)
        {
            array.Add(JsonValue.Create(value));
        }

        return SetNode(path, array);
    }

    /// <summary>Sets any JSON node; <c>null</c> removes the member.</summary>
    public EventRecord SetNode(string path, JsonNode? value)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var parent = _root;
        var start = 0;
        while (true)
        {
            var dot = path.IndexOf('.', start);
            if (dot < 0)
            {
                break;
            }

            var segment = path[start..dot];
            ValidateSegment(path, segment);
            var child = parent[segment];
            if (child is null)
            {
                if (value is null)
                {
                    return this;
                }

                var created = new JsonObject();
                parent[segment] = created;
                parent = created;
            }
            else if (child is JsonObject obj)
            {
                parent = obj;
            }
            else
            {
                throw new ArgumentException($"'{path}': '{segment}' already holds a value, not an object", nameof(path));
            }

            start = dot + 1;
        }

        var leaf = path[start..];
        ValidateSegment(path, leaf);
        if (value is null)
        {
            parent.Remove(leaf);
        }
        else
        {
            parent[leaf] = value;
        }

        return this;
    }

    /// <summary>Removes the member at <paramref name="path"/> (no-op when absent).</summary>
    public EventRecord Remove(string path) => SetNode(path, null);

    /// <summary>The node at a dotted path, or null when any segment is missing.</summary>
    public JsonNode? Get(string path)
    {
        JsonNode? node = _root;
        var start = 0;
        while (node is JsonObject obj)
        {
            var dot = path.IndexOf('.', start);
            var segment = dot < 0 ? path[start..] : path[start..dot];
            node = obj[segment];
            if (dot < 0)
            {
                return node;
            }

            start = dot + 1;
        }

        return null;
    }

    public bool Has(string path) => Get(path) is not null;

    public string? GetString(string path) =>
        Get(path) is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;

    public long? GetInt64(string path)
    {
        if (Get(path) is not JsonValue value || value.GetValueKind() != JsonValueKind.Number)
        {
            return null;
        }

        if (value.TryGetValue<long>(out var l))
        {
            return l;
        }

        if (value.TryGetValue<int>(out var i))
        {
            return i;
        }

        return long.TryParse(value.ToJsonString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed) ? parsed : null;
    }

    public bool? GetBoolean(string path) => Get(path) is JsonValue value ? value.GetValueKind() switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    } : null;

    /// <summary>The strings of a list field (non-string items are skipped); empty when absent.</summary>
    public IReadOnlyList<string> GetStrings(string path)
    {
        if (Get(path) is not JsonArray array)
        {
            return GetString(path) is { } single ? [single] : [];
        }

        var list = new List<string>(array.Count);
        foreach (var item in array)
        {
            if (item is JsonValue v && v.GetValueKind() == JsonValueKind.String)
            {
                list.Add(v.GetValue<string>());
            }
        }

        return list;
    }

    /// <summary>One compact JSON line (no trailing newline); members in the order they were set.</summary>
    public string ToJsonLine() => _root.ToJsonString(LineOptions);

    /// <summary>RFC 8785 canonical UTF-8 bytes: what the ledger commits.</summary>
    public byte[] ToCanonicalJson() => CanonicalJson.Serialize(_root);

    /// <summary>A deep copy.</summary>
    public EventRecord Clone() => new((JsonObject)_root.DeepClone());

    public override string ToString() => ToJsonLine();

    private static void ValidateSegment(string path, string segment)
    {
        if (segment.Length == 0)
        {
            throw new ArgumentException($"'{path}' has an empty segment", nameof(path));
        }
    }
}
