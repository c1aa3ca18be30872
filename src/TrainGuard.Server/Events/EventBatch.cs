using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TrainGuard.Events;
using TrainGuard.Ledger.Storage;
using TrainGuard.Findings;
using TrainGuard.Parsing;
using TrainGuard.Server.Auth;

namespace TrainGuard.Server.Events;

/// <summary>Limits on one <c>POST /api/v1/events</c> batch and its events.</summary>
public sealed record BatchLimits
{
    /// <summary>Most events in one batch.</summary>
    public int MaxEvents { get; init; } = 10_000;

    /// <summary>Largest request body, in bytes.</summary>
    public long MaxBytes { get; init; } = 16L * 1024 * 1024;

    /// <summary>Largest event, in bytes of canonical JSON as stored (at most a ledger entry): a larger one is refused on its own (<c>too-large</c>).</summary>
    public int MaxEventBytes { get; init; } = LedgerLimits.MaxEntryBytes;

    /// <summary>How far ahead of the server's clock an event's <c>@timestamp</c> may be before it is marked.</summary>
    public TimeSpan MaxClockAhead { get; init; } = TimeSpan.FromDays(1);

    /// <summary>The earliest plausible <c>@timestamp</c>: an earlier one is marked (a node's clock before this product existed).</summary>
    public DateTimeOffset EarliestTimestamp { get; init; } = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>When set, how old an event's <c>@timestamp</c> may be at ingest before it is marked (off by default: agents ship old spools after outages).</summary>
    public TimeSpan? MaxEventAge { get; init; }
}

/// <summary>One problem with one event of a batch: its position, the field (null for the event as a whole) and what is wrong.</summary>
public sealed record EventProblem(int Index, string? Field, string Message);

/// <summary>What became of one event of a batch.</summary>
public enum EventOutcome
{
    /// <summary>Appended to the ledger.</summary>
    Accepted,

    /// <summary>Already stored under its id by the same submitter identity, with the same content: not appended again.</summary>
    Duplicate,

    /// <summary>Its id is already stored by the same submitter identity with other content: not stored; an alert is recorded.</summary>
    Conflict,

    /// <summary>Over the server's per-event size: not stored.</summary>
    TooLarge,

    /// <summary>Not allowed for this token or not storable as sent (reason given): not stored.</summary>
    Refused,
}

public static class EventOutcomes
{
    public static string ToWireName(this EventOutcome outcome) => outcome switch
    {
        EventOutcome.Accepted => "accepted",
        EventOutcome.Duplicate => "duplicate",
        EventOutcome.Conflict => "conflict",
        EventOutcome.TooLarge => "too-large",
        _ => "refused",
    };
}

/// <summary>An event of the batch answered without being appended: its position, its id (when it has one), why.</summary>
public sealed record EventRefusal(int Index, string? Id, EventOutcome Outcome, string Reason);

/// <summary>
/// A validated batch: the ledger entries (canonical JSON with <c>event.ingested</c>), their event ids (parallel to
/// <see cref="Entries"/>), and the events refused one by one (<see cref="Refusals"/>), which do not stop the rest.
/// </summary>
public sealed record EventBatch(IReadOnlyList<string> Ids, IReadOnlyList<LedgerAppend> Entries)
{
    /// <summary>Events answered without being appended (too large, refused), in batch order.</summary>
    public IReadOnlyList<EventRefusal> Refusals { get; init; } = [];

    /// <summary>Events in the batch: <see cref="Entries"/> plus <see cref="Refusals"/>.</summary>
    public int Count => Entries.Count + Refusals.Count;
}

/// <summary>
/// A validated event to append: its canonical JSON, its idempotency key (its id, scoped to the submitter's identity, see
/// <see cref="Submitter.KeyFor"/>) and its query-index columns as <see cref="EventIndexRow.FromEntry"/> would derive them
/// from the entry (<see cref="EventIndexRow.Index"/> is set when the ledger index is known), so the append transaction
/// does not parse the entry again. <see cref="BatchIndex"/> is its position in the request.
/// </summary>
public sealed record EventAppend(byte[] Entry, string Key, EventIndexRow Row) : LedgerAppend(Entry, Key)
{
    public int BatchIndex { get; init; }

    /// <summary>Set by the store's append hook when the key is already stored with other content: the leaf that holds it.</summary>
    public long? ConflictsWith { get; set; }

    /// <summary>With <see cref="ConflictsWith"/>: the entry stored there.</summary>
    public byte[]? ConflictingEntry { get; set; }
}

/// <summary>
/// Parses and validates a batch of events: a JSON array of event objects, or <c>{"events": [...]}</c>. Every event
/// must be an object with a UUID <c>id</c>, an RFC 3339 <c>@timestamp</c> and a non-empty <c>event.action</c>; the
/// server sets <c>event.ingested</c> and, for an authenticated submitter, <c>trainguard.submitter</c>. The whole batch
/// is refused when any event is malformed in these ways (a client bug); an event that is well formed but may not be
/// stored (too large, an integer canonical JSON would round, another host's or person's event) is refused on its own
/// and the rest of the batch goes on.
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
    public static EventBatch? Parse(ReadOnlySpan<byte> body, BatchLimits limits, DateTimeOffset ingested, out IReadOnlyList<EventProblem> problems, out int badCount) =>
        Parse(body, limits, ingested, null, out problems, out badCount);

    /// <summary>
    /// Parses <paramref name="body"/> sent by <paramref name="submitter"/>: each event is stamped with it
    /// (<c>trainguard.submitter</c>, replacing anything sent under that name), keyed by its id in the submitter's scope,
    /// and checked against the token's binding (an agent token's host, a signer token's person and actions); a
    /// <c>@timestamp</c> outside the window of <paramref name="limits"/> is marked and indexed at its ingest time.
    /// Null <paramref name="submitter"/>: none of that (fuzzing, tests of the parser itself).
    /// </summary>
    public static EventBatch? Parse(ReadOnlySpan<byte> body, BatchLimits limits, DateTimeOffset ingested, Submitter? submitter, out IReadOnlyList<EventProblem> problems, out int badCount)
    {
        ArgumentNullException.ThrowIfNull(limits);
        var ingestedText = EventRecord.FormatTimestamp(ingested);
        var batch = new BatchBuilder(limits, Encoding.UTF8.GetBytes(ingestedText), Rfc3339.Parse(ingestedText, "event.ingested"), submitter);
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
        return badCount == 0 ? new EventBatch(batch.Ids, batch.Entries) { Refusals = batch.Refusals } : null;
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
    private sealed class BatchBuilder(BatchLimits limits, byte[] ingested, DateTimeOffset ingestedAt, Submitter? submitter)
    {
        /// <summary>Longest piece of an event's own text quoted in a refusal.</summary>
        private const int MaxQuoted = 64;

        private readonly byte[]? _tokenId = submitter is null ? null : Encoding.UTF8.GetBytes(submitter.TokenId);
        private readonly byte[]? _role = submitter is null ? null : Encoding.UTF8.GetBytes(submitter.Role.ToWireName());
        private readonly byte[]? _identity = submitter?.Identity is { } identity ? Encoding.UTF8.GetBytes(identity) : null;
        private readonly byte[]? _label = submitter?.Label is { } label ? Encoding.UTF8.GetBytes(label) : null;
        private readonly int _maxEventBytes = Math.Min(limits.MaxEventBytes, LedgerLimits.MaxEntryBytes);

        public CanonicalJsonDocument Document { get; } = new();

        public List<string> Ids { get; } = [];

        public List<LedgerAppend> Entries { get; } = [];

        public List<EventRefusal> Refusals { get; } = [];

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

                if (Validate(index, out var id, out var entry, out var row, out var refusal) is { } problem)
                {
                    BadCount++;
                    if (Problems.Count < MaxListedProblems)
                    {
                        Problems.Add(problem);
                    }

                    continue;
                }

                if (BadCount > 0)
                {
                    continue;
                }

                if (refusal is not null)
                {
                    Refusals.Add(refusal);
                    continue;
                }

                Ids.Add(id!);
                Entries.Add(new EventAppend(entry!, submitter?.KeyFor(id!) ?? id!, row!) { BatchIndex = index });
            }
        }

        /// <summary>A problem (the event is malformed: the batch is refused), or null with either the entry or a refusal of this event alone.</summary>
        private EventProblem? Validate(int index, out string? id, out byte[]? entry, out EventIndexRow? row, out EventRefusal? refusal)
        {
            id = null;
            entry = null;
            row = null;
            refusal = null;
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
            var eventId = Encoding.ASCII.GetString(lower);
            string? refused = null;
            var outsideWindow = false;
            if (submitter is not null)
            {
                refused = CheckBinding(action);
                outsideWindow = timestamp < limits.EarliestTimestamp
                    || timestamp - ingestedAt > limits.MaxClockAhead
                    || (limits.MaxEventAge is { } age && ingestedAt - timestamp > age);
                refused ??= Stamp(outsideWindow);
            }

            ReadOnlySpan<byte> canonical;
            try
            {
                canonical = document.Write();
            }
            catch (MalformedInputException ex)
            {
                return new EventProblem(index, null, ex.Message);
            }

            // Refusals of this event alone come after every reason to refuse the batch, so a malformed event always refuses it.
            if (refused is not null)
            {
                refusal = new EventRefusal(index, eventId, EventOutcome.Refused, refused);
                return null;
            }

            if (document.TryFindRoundedInteger(out var path, out var digits))
            {
                refusal = new EventRefusal(index, eventId, EventOutcome.Refused,
                    $"{Quote(path)}: the integer {Quote(digits)} is beyond 2^53 and no double holds it exactly, so canonical JSON (RFC 8785) would store another number; send it as a string");
                return null;
            }

            if (canonical.Length > _maxEventBytes)
            {
                refusal = new EventRefusal(index, eventId, EventOutcome.TooLarge, $"the event is {canonical.Length:N0} bytes as canonical JSON; at most {_maxEventBytes:N0} are accepted per event");
                return null;
            }

            id = eventId;
            entry = canonical.ToArray();

            // An implausible @timestamp is indexed at the ingest time, so time queries find the event when it arrived.
            var indexedAt = outsideWindow ? ingestedAt : timestamp;
            row = new EventIndexRow(0, Rfc3339.ToUnixMicroseconds(indexedAt), NameOf("host"u8), NameOf("user"u8), Encoding.UTF8.GetString(action), eventId);
            return null;

            // Null when the submitter's token may send this event; otherwise why not.
            string? CheckBinding(ReadOnlySpan<byte> actionUtf8)
            {
                switch (submitter.Role)
                {
                    case Role.Agent when submitter.Identity is { } host:
                        var sentHost = NameOf("host"u8);
                        return string.Equals(sentHost, host, StringComparison.OrdinalIgnoreCase)
                            ? null
                            : $"host.name {(sentHost is null ? "is missing" : $"'{Quote(sentHost)}' is not")}: token {submitter.TokenId} is bound to host '{host}' and sends only that host's events";
                    case Role.Signer:
                        if (!actionUtf8.StartsWith("checkpoint-"u8))
                        {
                            return $"event.action '{Quote(Encoding.UTF8.GetString(actionUtf8))}': a signer token records only checkpoint-* events";
                        }

                        var actor = NameOf("user"u8);
                        return string.Equals(actor, submitter.Identity, StringComparison.Ordinal)
                            ? null
                            : $"user.name {(actor is null ? "is missing" : $"'{Quote(actor)}' is not")}: signer token {submitter.TokenId} records only what '{submitter.Identity}' does";
                    default:
                        return null;
                }
            }

            // Writes trainguard.submitter (the server's word: anything sent under that name is replaced); null when done.
            string? Stamp(bool outside)
            {
                var trainguard = document.FindMember(root, "trainguard"u8);
                if (trainguard == CanonicalJsonDocument.None)
                {
                    trainguard = document.SetObject(root, "trainguard"u8);
                }
                else if (document.Kind(trainguard) != JsonTokenType.StartObject)
                {
                    return "trainguard must be an object: the server records who sent each event in trainguard.submitter";
                }

                var stamp = document.SetObject(trainguard, "submitter"u8);
                document.SetString(stamp, "token_id"u8, _tokenId);
                document.SetString(stamp, "role"u8, _role);
                if (_identity is not null)
                {
                    document.SetString(stamp, "identity"u8, _identity);
                }

                if (_label is not null)
                {
                    document.SetString(stamp, "label"u8, _label);
                }

                if (outside)
                {
                    document.SetBoolean(stamp, "timestamp_outside_window"u8, true);
                }

                return null;
            }

            // host.name / user.name when the member is an object holding a string name (EventIndexRow.FromEntry's rule).
            string? NameOf(ReadOnlySpan<byte> member)
            {
                var name = document.FindMember(document.FindMember(root, member), "name"u8);
                return name != CanonicalJsonDocument.None && document.Kind(name) == JsonTokenType.String && document.TryGetUtf8(name, out var utf8)
                    ? Encoding.UTF8.GetString(utf8)
                    : null;
            }
        }

        /// <summary>Text of the event quoted in an answer, cut short and with control characters escaped.</summary>
        private static string Quote(string text) => TextSanitizer.Escape(text, MaxQuoted);

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
        _ = EventIndexRow.FromEntry(0, data);
        foreach (var submitter in FuzzSubmitters)
        {
            var batch = Parse(data, new BatchLimits { MaxEvents = 1000 }, DateTimeOffset.UnixEpoch, submitter, out _, out _);
            foreach (var entry in batch?.Entries ?? [])
            {
                var row = EventIndexRow.FromEntry(0, entry.Entry) ?? throw new InvalidOperationException("a validated event has no index row");
                if (entry is EventAppend validated && row != validated.Row)
                {
                    throw new InvalidOperationException($"the index row carried with an event ({validated.Row}) is not the one derived from its bytes ({row})");
                }
            }
        }
    }

    private static readonly Submitter?[] FuzzSubmitters = [null, new("0123456789ab", Role.Agent, "gpu-node-1", "fuzz"), new("ba9876543210", Role.Signer, "alice", null)];

    /// <summary>Where the server records who sent an event.</summary>
    public const string SubmitterField = "trainguard.submitter";

    /// <summary>True when two stored events are the same apart from <c>event.ingested</c> and <c>trainguard.submitter</c> (the idempotency check).</summary>
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
    }

    /// <summary>SHA-256 of what <see cref="SameContent"/> compares: the canonical JSON without <c>event.ingested</c> and <c>trainguard.submitter</c> (of the bytes as they are when that cannot be read).</summary>
    public static byte[] ContentHash(ReadOnlySpan<byte> entry)
    {
        try
        {
            return SHA256.HashData(StripIngested(entry));
        }
        catch (Exception ex) when (ex is JsonException or MalformedInputException or InvalidOperationException or ArgumentException)
        {
            return SHA256.HashData(entry);
        }
    }

    /// <summary>The canonical JSON of an event without what the server adds (<c>event.ingested</c>, <c>trainguard.submitter</c>).</summary>
    private static byte[] StripIngested(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = CanonicalJson.MaxDepth });
        var node = JsonNode.Parse(ref reader);
        if (node is JsonObject obj)
        {
            var record = EventRecord.FromObject(obj);
            record.Remove(EventFields.Ingested);
            record.Remove(SubmitterField);
            if (record.Get("trainguard") is JsonObject { Count: 0 })
            {
                record.Remove("trainguard");
            }
        }

        return CanonicalJson.Serialize(node);
    }
}
