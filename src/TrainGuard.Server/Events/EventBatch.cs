using System.Text.Json;
using System.Text.Json.Nodes;
using TrainGuard.Events;
using TrainGuard.Ledger.Storage;
using TrainGuard.Parsing;

namespace TrainGuard.Server.Events;

/// <summary>Limits on one <c>POST /api/v1/events</c> batch.</summary>
public sealed record BatchLimits
{
    /// <summary>Most events in one batch.</summary>
    public int MaxEvents { get; init; } = 10_000;

    /// <summary>Largest request body, in bytes.</summary>
    public long MaxBytes { get; init; } = 16L * 1024 * 1024;
}

/// <summary>One problem with one event of a batch: its position, the field (null for the event as a whole) and what is wrong.</summary>
public sealed record EventProblem(int Index, string? Field, string Message);

/// <summary>A validated batch: the ledger entries (canonical JSON with <c>event.ingested</c>) keyed by event id.</summary>
public sealed record EventBatch(IReadOnlyList<string> Ids, IReadOnlyList<LedgerAppend> Entries);

/// <summary>
/// Parses and validates a batch of events: a JSON array of event objects, or <c>{"events": [...]}</c>. Every event
/// must be an object with a UUID <c>id</c>, an RFC 3339 <c>@timestamp</c> and a non-empty <c>event.action</c>; the
/// server sets <c>event.ingested</c>. The whole batch is refused when any event is bad.
/// </summary>
public static class EventBatchParser
{
    /// <summary>Problems listed for one batch at most (the count of bad events is still exact).</summary>
    public const int MaxListedProblems = 100;

    /// <summary>Parses <paramref name="body"/>; on failure returns null and the problems.</summary>
    /// <exception cref="MalformedInputException">The body is not JSON, or not an array / events object.</exception>
    public static EventBatch? Parse(ReadOnlySpan<byte> body, BatchLimits limits, DateTimeOffset ingested, out IReadOnlyList<EventProblem> problems, out int badCount)
    {
        JsonNode? root;
        try
        {
            // Duplicate member names are refused: canonical JSON (RFC 8785, I-JSON) has no meaning for them.
            root = JsonNode.Parse(body, documentOptions: new JsonDocumentOptions { MaxDepth = CanonicalJson.MaxDepth, AllowDuplicateProperties = false });
        }
        catch (JsonException ex)
        {
            throw new MalformedInputException($"the body is not valid JSON (line {(ex.LineNumber ?? 0) + 1}, byte {ex.BytePositionInLine ?? 0}): {ex.Message}", ex.BytePositionInLine ?? 0);
        }

        var array = root switch
        {
            JsonArray a => a,
            JsonObject o when o["events"] is JsonArray a => a,
            _ => throw new MalformedInputException("the body must be a JSON array of events or an object {\"events\": [...]}", 0),
        };

        if (array.Count > limits.MaxEvents)
        {
            throw new MalformedInputException($"the batch holds {array.Count:N0} events; at most {limits.MaxEvents:N0} are accepted per batch", 0, limitExceeded: true);
        }

        var list = new List<EventProblem>();
        badCount = 0;
        var ingestedText = EventRecord.FormatTimestamp(ingested);
        var ids = new string[array.Count];
        var entries = new LedgerAppend[array.Count];
        for (var i = 0; i < array.Count; i++)
        {
            EventProblem? problem;
            string? id;
            byte[]? entry;
            try
            {
                problem = Validate(i, array[i], ingestedText, out id, out entry);
            }
            catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or FormatException)
            {
                // e.g. a string escape that is not valid UTF-16 (a lone surrogate).
                (problem, id, entry) = (new EventProblem(i, null, $"the event holds a value that cannot be read: {ex.Message}"), null, null);
            }

            if (problem is not null)
            {
                badCount++;
                if (list.Count < MaxListedProblems)
                {
                    list.Add(problem);
                }

                continue;
            }

            ids[i] = id!;
            entries[i] = new LedgerAppend(entry!, id);
        }

        problems = list;
        return badCount == 0 ? new EventBatch(ids, entries) : null;
    }

    private static EventProblem? Validate(int index, JsonNode? node, string ingested, out string? id, out byte[]? entry)
    {
        id = null;
        entry = null;
        if (node is not JsonObject obj)
        {
            return new EventProblem(index, null, "an event must be a JSON object");
        }

        var record = EventRecord.FromObject(obj);
        if (record.Get(EventFields.Id) is not JsonValue idValue || idValue.GetValueKind() != JsonValueKind.String)
        {
            return new EventProblem(index, EventFields.Id, "missing: every event needs a string id (a UUID)");
        }

        var idText = idValue.GetValue<string>();
        if (idText.Length != 36 || !Guid.TryParseExact(idText, "D", out var guid))
        {
            return new EventProblem(index, EventFields.Id, "not a UUID in 8-4-4-4-12 hex form");
        }

        if (record.Get(EventFields.Timestamp) is not JsonValue tsValue || tsValue.GetValueKind() != JsonValueKind.String)
        {
            return new EventProblem(index, EventFields.Timestamp, "missing: every event needs an RFC 3339 @timestamp string");
        }

        if (!Rfc3339.TryParse(tsValue.GetValue<string>(), out _))
        {
            return new EventProblem(index, EventFields.Timestamp, "not an RFC 3339 date-time (e.g. 2026-11-23T10:12:04.551Z)");
        }

        var eventNode = obj["event"];
        if (eventNode is not JsonObject || record.GetString(EventFields.Action) is not { Length: > 0 })
        {
            return new EventProblem(index, EventFields.Action, "missing: every event needs a non-empty event.action string");
        }

        id = guid.ToString("D");
        if (!string.Equals(id, idText, StringComparison.Ordinal))
        {
            record.Set(EventFields.Id, id);
        }

        record.Set(EventFields.Ingested, ingested);
        try
        {
            entry = record.ToCanonicalJson();
        }
        catch (MalformedInputException ex)
        {
            return new EventProblem(index, null, ex.Message);
        }

        if (entry.Length > LedgerLimits.MaxEntryBytes)
        {
            return new EventProblem(index, null, $"the event is {entry.Length:N0} bytes as canonical JSON; at most {LedgerLimits.MaxEntryBytes:N0} are accepted");
        }

        return null;
    }

    /// <summary>Fuzz target: parsing a batch and deriving index rows never throws anything but <see cref="MalformedInputException"/>.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        var batch = Parse(data, new BatchLimits { MaxEvents = 1000 }, DateTimeOffset.UnixEpoch, out _, out _);
        _ = EventIndexRow.FromEntry(0, data);
        if (batch is not null)
        {
            foreach (var entry in batch.Entries)
            {
                _ = EventIndexRow.FromEntry(0, entry.Entry) ?? throw new InvalidOperationException("a validated event has no index row");
            }
        }
    }

    /// <summary>True when two stored events are the same apart from <c>event.ingested</c> (the idempotency check).</summary>
    public static bool SameContent(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        if (a.SequenceEqual(b))
        {
            return true;
        }

        try
        {
            return StripIngested(a).AsSpan().SequenceEqual(StripIngested(b));
        }
        catch (Exception ex) when (ex is JsonException or MalformedInputException or InvalidOperationException or ArgumentException)
        {
            return false;
        }

        static byte[] StripIngested(ReadOnlySpan<byte> json)
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = CanonicalJson.MaxDepth });
            var node = JsonNode.Parse(ref reader);
            if (node is JsonObject obj)
            {
                EventRecord.FromObject(obj).Remove(EventFields.Ingested);
            }

            return CanonicalJson.Serialize(node);
        }
    }
}

/// <summary>An event id was sent again with different content: the batch is refused.</summary>
public sealed class EventConflictException : Exception
{
    public EventConflictException()
    {
    }

    public EventConflictException(string message)
        : base(message)
    {
    }

    public EventConflictException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public EventConflictException(int batchIndex, string id, long existingIndex)
        : base($"event {batchIndex}: id {id} is already stored at leaf {existingIndex} with different content")
    {
        BatchIndex = batchIndex;
        Id = id;
        ExistingIndex = existingIndex;
    }

    public int BatchIndex { get; }

    public string Id { get; } = string.Empty;

    public long ExistingIndex { get; }
}
