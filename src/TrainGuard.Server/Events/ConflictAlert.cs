using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TrainGuard.Events;
using TrainGuard.Findings;
using TrainGuard.Server.Auth;

namespace TrainGuard.Server.Events;

/// <summary>
/// The server's own <c>event-id-conflict</c> alert: an event id already stored for a submitter identity was sent again
/// with other content. It names both submitters (the stored event's <c>trainguard.submitter</c> and the token that sent
/// the new content), is appended to the ledger like any event, and is indexed under the sent event's host and user.
/// One alert per conflicting content: the same content sent again is answered <c>conflict</c> without another alert.
/// </summary>
public static class ConflictAlert
{
    public const string Action = "event-id-conflict";

    /// <summary>The scope the server's own events are keyed in (no token can write it).</summary>
    public const string ServerScope = "server";

    /// <summary>A new event of the server's own (module and dataset <c>server</c>, ingested now) with a new id.</summary>
    public static EventRecord ServerEvent(DateTimeOffset now, string action) =>
        new EventRecord(now, action, EventKinds.Event, UuidV7.NewId(now))
            .Set(EventFields.Module, "server")
            .Set(EventFields.Dataset, "server")
            .Set(EventFields.Ingested, EventRecord.FormatTimestamp(now));

    /// <summary>The ledger entry of one of the server's own events, keyed by its id in the <see cref="ServerScope"/>.</summary>
    /// <param name="what">Names the event in the exception thrown when it is not a well-formed event.</param>
    public static EventAppend ServerAppend(EventRecord record, string what)
    {
        ArgumentNullException.ThrowIfNull(record);
        var entry = record.ToCanonicalJson();
        var row = EventIndexRow.FromEntry(0, entry) ?? throw new InvalidOperationException($"{what} is not a well-formed event");
        return new EventAppend(entry, ServerScope + "/" + record.Id, row);
    }

    /// <summary>The alert for <paramref name="attempted"/>, refused because leaf <paramref name="existingIndex"/> holds <paramref name="existingEntry"/> under its key.</summary>
    public static EventAppend Create(EventAppend attempted, long existingIndex, byte[]? existingEntry, Submitter submitter, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(attempted);
        ArgumentNullException.ThrowIfNull(submitter);
        var sent = Parse(attempted.Entry);
        var stored = existingEntry is null ? null : Parse(existingEntry);
        var eventId = attempted.Row.EventId ?? sent?.Id ?? string.Empty;
        var content = EventBatchParser.ContentHash(attempted.Entry);
        var id = AlertId(attempted.Key, content);
        var record = new EventRecord(now, Action, EventKinds.Alert, id)
            .Set(EventFields.Category, ["intrusion_detection"])
            .Set(EventFields.Type, ["info"])
            .Set(EventFields.Module, "server")
            .Set(EventFields.Dataset, "server")
            .Set(EventFields.Severity, Severity.High.ToEventSeverity())
            .Set(EventFields.TrainGuardSeverity, Severity.High.ToWireName())
            .Set(EventFields.Ingested, EventRecord.FormatTimestamp(now))
            .Set("message", $"event id {eventId} was sent again by token {submitter.TokenId} ({Describe(submitter.Role.ToWireName(), submitter.Identity, submitter.Label)}) with content other than leaf {existingIndex} holds (sent by {DescribeStored(stored)}); the new content was not stored")
            .Set("trainguard.conflict.event_id", eventId)
            .Set("trainguard.conflict.existing.index", existingIndex)
            .SetNode("trainguard.conflict.existing.submitter", stored?.Get(EventBatchParser.SubmitterField)?.DeepClone())
            .Set("trainguard.conflict.attempted.content_sha256", Convert.ToHexStringLower(content))
            .Set("trainguard.conflict.attempted.timestamp", sent?.GetString(EventFields.Timestamp))
            .Set("trainguard.conflict.attempted.action", sent?.Action)
            .Set("trainguard.conflict.attempted.submitter.token_id", submitter.TokenId)
            .Set("trainguard.conflict.attempted.submitter.role", submitter.Role.ToWireName())
            .Set("trainguard.conflict.attempted.submitter.identity", submitter.Identity)
            .Set("trainguard.conflict.attempted.submitter.label", submitter.Label)
            .Set("trainguard.submitter.role", ServerScope)
            .Set(EventFields.HostName, attempted.Row.Host)
            .Set("user.name", attempted.Row.User);
        return ServerAppend(record, "the conflict alert");
    }

    /// <summary>
    /// The alert's id: a version 8 UUID from the conflicting key and content, so sending the same conflicting event again
    /// (an agent retrying its dead letters) finds the alert already stored instead of raising another.
    /// </summary>
    private static string AlertId(string key, byte[] contentHash)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes($"trainguard event-id-conflict v1\n{key}\n{Convert.ToHexStringLower(contentHash)}"), hash);
        hash[6] = (byte)((hash[6] & 0x0F) | 0x80);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash[..16], bigEndian: true).ToString("D");
    }

    private static EventRecord? Parse(byte[] entry)
    {
        try
        {
            return JsonNode.Parse(entry, documentOptions: new JsonDocumentOptions { MaxDepth = CanonicalJson.MaxDepth }) is JsonObject obj ? EventRecord.FromObject(obj) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string DescribeStored(EventRecord? stored) =>
        stored?.GetString(EventBatchParser.SubmitterField + ".token_id") is { } token
            ? $"token {token} ({Describe(stored.GetString(EventBatchParser.SubmitterField + ".role") ?? "?", stored.GetString(EventBatchParser.SubmitterField + ".identity"), stored.GetString(EventBatchParser.SubmitterField + ".label"))})"
            : "a token not recorded (stored before submitters were recorded)";

    private static string Describe(string role, string? identity, string? label) =>
        TextSanitizer.Escape($"{role}{(identity is null ? ", unbound" : ", " + identity)}{(label is null ? string.Empty : ", label " + label)}", 300);
}
