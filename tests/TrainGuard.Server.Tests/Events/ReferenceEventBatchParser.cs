using System.Globalization;
using System.Numerics;
using System.Text.Json;
using System.Text.Json.Nodes;
using TrainGuard.Events;
using TrainGuard.Ledger.Storage;
using TrainGuard.Parsing;
using TrainGuard.Server.Events;

namespace TrainGuard.Server.Tests.Events;

/// <summary>
/// The batch parser as it was before the reader-based one: <c>JsonNode</c> trees and <see cref="CanonicalJson.Serialize"/>,
/// with the per-event refusals added since (an integer canonical JSON would round, an event over the size limit: that
/// event alone). Kept as the reference the differential tests compare <see cref="EventBatchParser"/> against.
/// </summary>
internal static class ReferenceEventBatchParser
{
    public const int MaxListedProblems = EventBatchParser.MaxListedProblems;

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
            throw MalformedInputException.Create(InputErrorKind.Syntax, $"the body is not valid JSON (line {(ex.LineNumber ?? 0) + 1}, byte {ex.BytePositionInLine ?? 0}): {ex.Message}", ex.BytePositionInLine ?? 0);
        }

        var array = root switch
        {
            JsonArray a => a,
            JsonObject o when o["events"] is JsonArray a => a,
            _ => throw MalformedInputException.Create(InputErrorKind.Syntax, "the body must be a JSON array of events or an object {\"events\": [...]}", 0),
        };

        if (array.Count > limits.MaxEvents)
        {
            throw MalformedInputException.Create(InputErrorKind.OverLimit, $"the batch holds {array.Count:N0} events; at most {limits.MaxEvents:N0} are accepted per batch", 0);
        }

        var list = new List<EventProblem>();
        badCount = 0;
        var ingestedText = EventRecord.FormatTimestamp(ingested);
        var ids = new List<string>();
        var entries = new List<LedgerAppend>();
        var refusals = new List<EventRefusal>();
        for (var i = 0; i < array.Count; i++)
        {
            EventProblem? problem;
            string? id;
            byte[]? entry;
            EventRefusal? refusal;
            try
            {
                problem = Validate(i, array[i], ingestedText, limits, out id, out entry, out refusal);
            }
            catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or FormatException)
            {
                // e.g. a string escape that is not valid UTF-16 (a lone surrogate).
                (problem, id, entry, refusal) = (new EventProblem(i, null, $"the event holds a value that cannot be read: {ex.Message}"), null, null, null);
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

            if (refusal is not null)
            {
                refusals.Add(refusal);
                continue;
            }

            ids.Add(id!);
            entries.Add(new LedgerAppend(entry!, id));
        }

        problems = list;
        return badCount == 0 ? new EventBatch(ids, entries) { Refusals = refusals } : null;
    }

    /// <summary>A problem (the batch is refused), or null with the entry or a refusal of this event alone (rounded integer, too large).</summary>
    private static EventProblem? Validate(int index, JsonNode? node, string ingested, BatchLimits limits, out string? id, out byte[]? entry, out EventRefusal? refusal)
    {
        id = null;
        entry = null;
        refusal = null;
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

        if (RoundedInteger(obj) is { } rounded)
        {
            (entry, refusal) = (null, new EventRefusal(index, id, EventOutcome.Refused, rounded));
            return null;
        }

        var max = Math.Min(limits.MaxEventBytes, LedgerLimits.MaxEntryBytes);
        if (entry.Length > max)
        {
            refusal = new EventRefusal(index, id, EventOutcome.TooLarge, $"{entry.Length} bytes");
            entry = null;
        }

        return null;
    }

    /// <summary>The integer an ECMAScript number text of an integral value denotes (digits, or a mantissa and an exponent).</summary>
    private static BigInteger Denotes(string number)
    {
        var parts = number.Split('e');
        var mantissa = parts[0];
        var point = mantissa.IndexOf('.', StringComparison.Ordinal);
        var fraction = point < 0 ? 0 : mantissa.Length - point - 1;
        var shift = (parts.Length == 1 ? 0 : int.Parse(parts[1], CultureInfo.InvariantCulture)) - fraction;
        var value = BigInteger.Parse(mantissa.Replace(".", string.Empty, StringComparison.Ordinal), CultureInfo.InvariantCulture);
        return shift >= 0 ? value * BigInteger.Pow(10, shift) : value / BigInteger.Pow(10, -shift);
    }

    /// <summary>The first integer literal (depth first, members in canonical order) that a double does not hold exactly.</summary>
    private static string? RoundedInteger(JsonNode? node) => node switch
    {
        JsonObject o => o.OrderBy(m => m.Key, StringComparer.Ordinal).Select(m => RoundedInteger(m.Value)).FirstOrDefault(r => r is not null),
        JsonArray a => a.Select(RoundedInteger).FirstOrDefault(r => r is not null),
        JsonValue v when v.GetValueKind() == JsonValueKind.Number && v.ToJsonString() is var text && text.TrimStart('-').All(char.IsAsciiDigit)
            && double.Parse(text, CultureInfo.InvariantCulture) is var d && double.IsFinite(d)
            && Denotes(CanonicalJson.FormatNumber(d)) != BigInteger.Parse(text, CultureInfo.InvariantCulture) => text,
        _ => null,
    };
}
