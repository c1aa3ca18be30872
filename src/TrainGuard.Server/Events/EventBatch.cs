using System.Text;
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
/// A validated event to append: its canonical JSON, its id (the idempotency key) and its query-index columns as
/// <see cref="EventIndexRow.FromEntry"/> would derive them from the entry (<see cref="EventIndexRow.Index"/> is set
/// when the ledger index is known), so the append transaction does not parse the entry again.
/// </summary>
public sealed record EventAppend(byte[] Entry, string Id, EventIndexRow Row) : LedgerAppend(Entry, Id);

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
    /// <exception cref="MalformedInputException">The body is not JSON, repeats a member name, or is not an array / events object.</exception>
    /// <remarks>
    /// One pass over the body with <see cref="Utf8JsonReader"/>: each event is loaded into a reused
    /// <see cref="CanonicalJsonDocument"/>, checked, given <c>event.ingested</c> and written as RFC 8785 canonical JSON,
    /// without building a <c>JsonNode</c> tree. Every value of the body is read in full (also after a bad event or
    /// past <see cref="BatchLimits.MaxEvents"/>), so malformed JSON and duplicate member names anywhere refuse the batch.
    /// </remarks>
    public static EventBatch? Parse(ReadOnlySpan<byte> body, BatchLimits limits, DateTimeOffset ingested, out IReadOnlyList<EventProblem> problems, out int badCount)
    {
        ArgumentNullException.ThrowIfNull(limits);
        var batch = new BatchBuilder(limits, Encoding.UTF8.GetBytes(EventRecord.FormatTimestamp(ingested)));
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = CanonicalJson.MaxDepth });
        var found = false;
        try
        {
            reader.Read();
            if (reader.TokenType == JsonTokenType.StartArray)
            {
                batch.ReadEvents(ref reader);
                found = true;
            }
            else if (reader.TokenType == JsonTokenType.StartObject)
            {
                found = ReadEnvelope(ref reader, batch);
            }
            else
            {
                batch.Document.Load(ref reader);
            }

            if (reader.Read())
            {
                throw MalformedInputException.Create(InputErrorKind.Syntax, "the body holds more than one JSON value", reader.TokenStartIndex);
            }
        }
        catch (JsonException ex)
        {
            throw MalformedInputException.Create(InputErrorKind.Syntax, $"the body is not valid JSON (line {(ex.LineNumber ?? 0) + 1}, byte {ex.BytePositionInLine ?? 0}): {ex.Message}", ex.BytePositionInLine ?? 0);
        }

        if (!found)
        {
            throw MalformedInputException.Create(InputErrorKind.Syntax, "the body must be a JSON array of events or an object {\"events\": [...]}", 0);
        }

        if (batch.Count > limits.MaxEvents)
        {
            throw MalformedInputException.Create(InputErrorKind.OverLimit, $"the batch holds {batch.Count:N0} events; at most {limits.MaxEvents:N0} are accepted per batch", 0);
        }

        problems = batch.Problems;
        badCount = batch.BadCount;
        return badCount == 0 ? new EventBatch(batch.Ids, batch.Entries) : null;
    }

    /// <summary>Reads <c>{"events": [...], ...}</c>; true when it has an <c>events</c> array. Other members are read (and checked) but ignored.</summary>
    private static bool ReadEnvelope(ref Utf8JsonReader reader, BatchBuilder batch)
    {
        var found = false;
        var names = new HashSet<string>(StringComparer.Ordinal);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            string name;
            try
            {
                name = reader.GetString() ?? string.Empty;
            }
            catch (InvalidOperationException ex)
            {
                throw MalformedInputException.Create(InputErrorKind.Syntax, $"a member name of the body cannot be read: {ex.Message}", reader.TokenStartIndex);
            }

            if (!names.Add(name))
            {
                throw MalformedInputException.Create(InputErrorKind.Corrupt, $"the body repeats the member name \"{name}\"", reader.TokenStartIndex, field: name);
            }

            reader.Read();
            if (name == "events" && reader.TokenType == JsonTokenType.StartArray)
            {
                batch.ReadEvents(ref reader);
                found = true;
            }
            else
            {
                // Checked for syntax and duplicate names like the rest; an "events" that is not an array leaves found false.
                batch.Document.Load(ref reader);
            }
        }

        return found;
    }

    /// <summary>Accumulates the entries and problems of one batch.</summary>
    private sealed class BatchBuilder(BatchLimits limits, byte[] ingested)
    {
        public CanonicalJsonDocument Document { get; } = new();

        public List<string> Ids { get; } = [];

        public List<LedgerAppend> Entries { get; } = [];

        public List<EventProblem> Problems { get; } = [];

        public int BadCount { get; private set; }

        public int Count { get; private set; }

        /// <summary>Reads the events of the array the reader is on, leaving it on the array's end.</summary>
        public void ReadEvents(ref Utf8JsonReader reader)
        {
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                var index = Count++;
                Document.Load(ref reader);
                if (Count > limits.MaxEvents)
                {
                    // Still read to the end: malformed JSON anywhere is reported as such, not as too large.
                    continue;
                }

                if (Validate(index, out var id, out var entry, out var row) is { } problem)
                {
                    BadCount++;
                    if (Problems.Count < MaxListedProblems)
                    {
                        Problems.Add(problem);
                    }

                    continue;
                }

                if (BadCount == 0)
                {
                    Ids.Add(id!);
                    Entries.Add(new EventAppend(entry!, id!, row!));
                }
            }
        }

        private EventProblem? Validate(int index, out string? id, out byte[]? entry, out EventIndexRow? row)
        {
            id = null;
            entry = null;
            row = null;
            var document = Document;
            const int root = CanonicalJsonDocument.Root;
            if (document.Kind(root) != JsonTokenType.StartObject)
            {
                return new EventProblem(index, null, "an event must be a JSON object");
            }

            var idNode = document.FindMember(root, "id"u8);
            if (idNode == CanonicalJsonDocument.None || document.Kind(idNode) != JsonTokenType.String)
            {
                return new EventProblem(index, EventFields.Id, "missing: every event needs a string id (a UUID)");
            }

            if (!document.TryGetUtf8(idNode, out var idText))
            {
                return Unreadable(index);
            }

            if (!TryParseUuid(idText, out var guid))
            {
                return new EventProblem(index, EventFields.Id, "not a UUID in 8-4-4-4-12 hex form");
            }

            var tsNode = document.FindMember(root, "@timestamp"u8);
            if (tsNode == CanonicalJsonDocument.None || document.Kind(tsNode) != JsonTokenType.String)
            {
                return new EventProblem(index, EventFields.Timestamp, "missing: every event needs an RFC 3339 @timestamp string");
            }

            if (!document.TryGetUtf8(tsNode, out var tsText))
            {
                return Unreadable(index);
            }

            if (!TryParseTimestamp(tsText, out var timestamp))
            {
                return new EventProblem(index, EventFields.Timestamp, "not an RFC 3339 date-time (e.g. 2026-11-23T10:12:04.551Z)");
            }

            var eventNode = document.FindMember(root, "event"u8);
            var actionNode = document.FindMember(eventNode, "action"u8);
            if (actionNode == CanonicalJsonDocument.None || document.Kind(actionNode) != JsonTokenType.String)
            {
                return new EventProblem(index, EventFields.Action, "missing: every event needs a non-empty event.action string");
            }

            if (!document.TryGetUtf8(actionNode, out var action))
            {
                return Unreadable(index);
            }

            if (action.IsEmpty)
            {
                return new EventProblem(index, EventFields.Action, "missing: every event needs a non-empty event.action string");
            }

            Span<byte> lower = stackalloc byte[36];
            if (!guid.TryFormat(lower, out _, "D"))
            {
                return new EventProblem(index, EventFields.Id, "not a UUID in 8-4-4-4-12 hex form");
            }

            if (!idText.SequenceEqual(lower))
            {
                document.SetString(root, "id"u8, lower);
            }

            document.SetString(eventNode, "ingested"u8, ingested);
            ReadOnlySpan<byte> canonical;
            try
            {
                canonical = document.Write();
            }
            catch (MalformedInputException ex)
            {
                return new EventProblem(index, null, ex.Message);
            }

            if (canonical.Length > LedgerLimits.MaxEntryBytes)
            {
                return new EventProblem(index, null, $"the event is {canonical.Length:N0} bytes as canonical JSON; at most {LedgerLimits.MaxEntryBytes:N0} are accepted");
            }

            id = Encoding.ASCII.GetString(lower);
            entry = canonical.ToArray();
            row = new EventIndexRow(0, Rfc3339.ToUnixMicroseconds(timestamp), NameOf("host"u8), NameOf("user"u8), Encoding.UTF8.GetString(action));
            return null;

            // host.name / user.name when the member is an object holding a string name (EventIndexRow.FromEntry's rule).
            string? NameOf(ReadOnlySpan<byte> member)
            {
                var name = document.FindMember(document.FindMember(root, member), "name"u8);
                return name != CanonicalJsonDocument.None && document.Kind(name) == JsonTokenType.String && document.TryGetUtf8(name, out var utf8)
                    ? Encoding.UTF8.GetString(utf8)
                    : null;
            }
        }

        private static EventProblem Unreadable(int index) =>
            new(index, null, "the event holds a value that cannot be read: a string that is not valid UTF-8 or holds a lone surrogate escape");

        private static bool TryParseUuid(ReadOnlySpan<byte> utf8, out Guid guid)
        {
            guid = default;
            if (utf8.Length != 36 || !Ascii.IsValid(utf8))
            {
                return false;
            }

            Span<char> chars = stackalloc char[36];
            Ascii.ToUtf16(utf8, chars, out _);
            return Guid.TryParseExact(chars, "D", out guid);
        }

        private static bool TryParseTimestamp(ReadOnlySpan<byte> utf8, out DateTimeOffset value)
        {
            // RFC 3339 date-times are ASCII and at most 35 characters (Rfc3339.TryParse refuses anything longer).
            value = default;
            if (utf8.Length > 35 || !Ascii.IsValid(utf8))
            {
                return false;
            }

            Span<char> chars = stackalloc char[35];
            Ascii.ToUtf16(utf8, chars, out var written);
            return Rfc3339.TryParse(chars[..written], out value);
        }
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
