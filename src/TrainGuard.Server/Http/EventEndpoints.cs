using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using TrainGuard.Ledger.Merkle;
using TrainGuard.Ledger.Storage;
using TrainGuard.Parsing;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Events;
using TrainGuard.Server.Ledger;
using TrainGuard.Server.Storage;

namespace TrainGuard.Server.Http;

/// <summary><c>POST /api/v1/events</c> (append a batch) and the event queries.</summary>
internal static class EventEndpoints
{
    public static async Task AppendAsync(HttpContext context, ServerState state)
    {
        var request = context.Request;
        if (request.ContentType is { } type && !type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
        {
            state.Metrics.BatchRejected();
            await HttpJson.ProblemAsync(context, StatusCodes.Status415UnsupportedMediaType, "unsupported-media-type", "JSON expected", $"send the batch as application/json, not {type}");
            return;
        }

        var limits = state.Options.Batch;
        if (request.ContentLength is long declared && declared > limits.MaxBytes)
        {
            await TooLargeAsync(context, state, $"the batch is {declared:N0} bytes; at most {limits.MaxBytes:N0} are accepted");
            return;
        }

        byte[] buffer;
        int length;
        try
        {
            (buffer, length) = await ReadBodyAsync(request, limits.MaxBytes, context.RequestAborted);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await TooLargeAsync(context, state, $"the batch is over {limits.MaxBytes:N0} bytes");
            return;
        }

        if (length < 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            await TooLargeAsync(context, state, $"the batch is over {limits.MaxBytes:N0} bytes");
            return;
        }

        var submitter = Authorization.SubmitterOf(context);
        EventBatch? batch;
        IReadOnlyList<EventProblem> problems;
        int badCount;
        try
        {
            batch = EventBatchParser.Parse(buffer.AsSpan(0, length), limits, state.Time.GetUtcNow(), submitter, out problems, out badCount);
        }
        catch (MalformedInputException ex) when (ex.LimitExceeded)
        {
            await TooLargeAsync(context, state, ex.Message);
            return;
        }
        catch (MalformedInputException ex)
        {
            state.Metrics.BatchRejected();
            await HttpJson.ProblemAsync(context, StatusCodes.Status400BadRequest, "malformed-batch", "Malformed batch", ex.Message);
            return;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        if (batch is null)
        {
            state.Metrics.BatchRejected();
            var first = problems[0];
            var detail = $"{badCount} of the batch's events are invalid; nothing was stored. First: event {first.Index}" +
                         (first.Field is null ? string.Empty : $", field {first.Field}") + $": {first.Message}";
            await HttpJson.ProblemAsync(context, StatusCodes.Status400BadRequest, "invalid-events", "Invalid events", detail, problems);
            return;
        }

        // Not cancelled by the client going away: once started, the batch commits or fails as a whole.
        var (result, checkpoint) = batch.Entries.Count == 0
            ? (new AppendResult(state.Log.Size, [], [], 0, state.Log.Size), await state.TreeHeads.EnsureAsync(state.Log.Size, CancellationToken.None))
            : await state.TreeHeads.AppendAsync(batch.Entries, CancellationToken.None);

        var answers = new EventAnswer[batch.Count];
        var alerts = new List<LedgerAppend>();
        for (var i = 0; i < batch.Entries.Count; i++)
        {
            var entry = (EventAppend)batch.Entries[i];
            if (entry.ConflictsWith is { } existing)
            {
                answers[entry.BatchIndex] = new EventAnswer(batch.Ids[i], EventOutcome.Conflict, null, $"id already stored at leaf {existing} by this {submitter.Role.IdentityKind() ?? "token"} with other content; not stored (an event-id-conflict alert in the ledger names both submitters)", existing);
                alerts.Add(ConflictAlert.Create(entry, existing, entry.ConflictingEntry, submitter, state.Time.GetUtcNow()));
            }
            else
            {
                answers[entry.BatchIndex] = new EventAnswer(batch.Ids[i], result.Duplicates[i] ? EventOutcome.Duplicate : EventOutcome.Accepted, result.Indices[i], null, null);
            }
        }

        foreach (var refusal in batch.Refusals)
        {
            answers[refusal.Index] = new EventAnswer(refusal.Id, refusal.Outcome, null, refusal.Reason, null);
        }

        if (alerts.Count > 0)
        {
            state.Logger.LogWarning("{Count} event id conflicts from token {TokenId} ({Role}, {Identity}): alerts appended to the ledger", alerts.Count, submitter.TokenId, submitter.Role.ToWireName(), submitter.Identity ?? "unbound");
            (_, checkpoint) = await state.TreeHeads.AppendAsync(alerts, CancellationToken.None);
        }

        if (result.AppendedCount > 0 || alerts.Count > 0)
        {
            // The alert deriver evaluates what was just committed (docs/alerts.md).
            state.Deriver?.Wake();
        }

        var duplicates = answers.Count(a => a.Outcome == EventOutcome.Duplicate);
        var refused = answers.Length - result.AppendedCount - duplicates;
        if (refused > 0 && state.Logger.IsEnabled(LogLevel.Information))
        {
            state.Logger.LogInformation("token {TokenId} ({Role}, {Identity}): {Refused} of {Count} events not stored, first: {Reason}", submitter.TokenId, submitter.Role.ToWireName(), submitter.Identity ?? "unbound", refused, answers.Length, answers.First(a => a.Reason is not null).Reason);
        }

        state.Metrics.BatchAccepted(result.AppendedCount, duplicates, refused);
        await HttpJson.WriteAsync(context, refused == 0 ? StatusCodes.Status200OK : StatusCodes.Status207MultiStatus, w =>
        {
            w.WriteStartObject();
            w.WriteNumber("appended", result.AppendedCount);
            w.WriteNumber("duplicates", duplicates);
            w.WriteNumber("not_stored", refused);
            w.WriteNumber("tree_size", checkpoint.Size);
            w.WriteString("checkpoint", checkpoint.Note);
            w.WriteStartArray("results");
            foreach (var answer in answers)
            {
                w.WriteStartObject();
                if (answer.Id is null)
                {
                    w.WriteNull("id");
                }
                else
                {
                    w.WriteString("id", answer.Id);
                }

                if (answer.Index is { } index)
                {
                    w.WriteNumber("index", index);
                }
                else
                {
                    w.WriteNull("index");
                }

                w.WriteBoolean("duplicate", answer.Outcome == EventOutcome.Duplicate);
                w.WriteString("status", answer.Outcome.ToWireName());
                if (answer.Reason is not null)
                {
                    w.WriteString("reason", answer.Reason);
                }

                if (answer.ConflictsWith is { } leaf)
                {
                    w.WriteNumber("conflicts_with", leaf);
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    /// <summary>What the answer says about one event of a batch.</summary>
    private readonly record struct EventAnswer(string? Id, EventOutcome Outcome, long? Index, string? Reason, long? ConflictsWith);

    public static async Task GetAsync(HttpContext context, ServerState state)
    {
        var text = context.Request.RouteValues["id"] as string ?? string.Empty;
        if (text.Length != 36 || !Guid.TryParseExact(text, "D", out var guid))
        {
            await HttpJson.ProblemAsync(context, StatusCodes.Status400BadRequest, "bad-id", "Bad event id", "an event id is a UUID in 8-4-4-4-12 hex form");
            return;
        }

        var id = guid.ToString("D");
        var ct = context.RequestAborted;

        // Ids are unique per submitter identity: the oldest event with this id is answered, the others are listed.
        var leaves = await state.Store.FindEventAsync(id, ct);
        long? index = leaves.Count > 0 ? leaves[0] : null;
        var entry = index is { } i ? await state.Store.Ledger.GetEntryAsync(i, ct) : null;
        if (index is null || entry is null)
        {
            await HttpJson.ProblemAsync(context, StatusCodes.Status404NotFound, "not-found", "No such event", $"no event with id {id} is stored");
            return;
        }

        var checkpoint = await state.TreeHeads.EnsureAsync(index.Value + 1, ct);
        var proof = state.Log.InclusionProof(index.Value, checkpoint.Size);
        await HttpJson.WriteAsync(context, StatusCodes.Status200OK, w =>
        {
            w.WriteStartObject();
            w.WriteString("id", id);
            w.WriteNumber("index", index.Value);
            w.WriteBase64String("leaf_hash", MerkleHash.HashLeaf(entry));
            w.WritePropertyName("event");
            w.WriteRawValue(entry, skipInputValidation: true);
            w.WriteNumber("tree_size", checkpoint.Size);
            w.WriteString("checkpoint", checkpoint.Note);
            HttpJson.WriteProof(w, "inclusion_proof", proof);
            w.WriteStartArray("same_id_at");
            foreach (var other in leaves.Skip(1))
            {
                w.WriteNumberValue(other);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    public static async Task QueryAsync(HttpContext context, ServerState state)
    {
        var q = context.Request.Query;
        EventQuery query;
        try
        {
            query = new EventQuery
            {
                FromMicros = Time(q["from"], "from"),
                ToMicros = Time(q["to"], "to"),
                Host = Text(q["host"]),
                User = Text(q["user"]),
                Action = Text(q["action"]),
                After = Number(q["after"], "after", 0, long.MaxValue),
                Descending = Text(q["order"]) switch
                {
                    null or "asc" => false,
                    "desc" => true,
                    _ => MalformedInputException.Throw<bool>(InputErrorKind.Syntax, "order: asc or desc", field: "order"),
                },
                Limit = (int)(Number(q["limit"], "limit", 1, EventQuery.MaxLimit) ?? EventQuery.DefaultLimit),
            };
        }
        catch (MalformedInputException ex)
        {
            await HttpJson.ProblemAsync(context, StatusCodes.Status400BadRequest, "bad-query", "Bad query", ex.Message);
            return;
        }

        var events = await state.Store.QueryAsync(query, context.RequestAborted);
        await HttpJson.WriteAsync(context, StatusCodes.Status200OK, w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("events");
            foreach (var e in events)
            {
                w.WriteStartObject();
                w.WriteNumber("index", e.Index);
                w.WritePropertyName("event");
                w.WriteRawValue(e.Entry, skipInputValidation: true);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            if (events.Count == query.Limit)
            {
                w.WriteString("next", events[^1].Index.ToString(CultureInfo.InvariantCulture));
            }
            else
            {
                w.WriteNull("next");
            }

            w.WriteEndObject();
        });

        static string? Text(string? value) => string.IsNullOrEmpty(value) ? null : value;

        static long? Time(string? value, string name)
        {
            if (string.IsNullOrEmpty(value))
            {
                return null;
            }

            return Rfc3339.ToUnixMicroseconds(Rfc3339.Parse(value, name));
        }

        static long? Number(string? value, string name, long min, long max)
        {
            if (string.IsNullOrEmpty(value))
            {
                return null;
            }

            return long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
                ? n
                : MalformedInputException.Throw<long>(InputErrorKind.Syntax, $"{name}: a whole number from {min} to {max}", field: name);
        }
    }

    private static async Task TooLargeAsync(HttpContext context, ServerState state, string detail)
    {
        // Read (and drop) what the client is still sending, up to a bound, so it can read the answer
        // instead of seeing the connection reset under its upload.
        await DrainAsync(context.Request, DrainLimit(state.Options.Batch.MaxBytes), context.RequestAborted);
        state.Metrics.BatchRejected();
        context.Response.Headers.Connection = "close";
        await HttpJson.ProblemAsync(context, StatusCodes.Status413PayloadTooLarge, "batch-too-large", "Batch too large", detail + "; split it into smaller batches");
    }

    /// <summary>How much of an oversize body is read and dropped before answering 413 (Kestrel's own limit is this plus one).</summary>
    internal static long DrainLimit(long maxBytes) => Math.Min(int.MaxValue - 1L, (2 * maxBytes) + (1 << 20));

    private static async Task DrainAsync(HttpRequest request, long limit, CancellationToken cancellationToken)
    {
        if (request.ContentLength > limit)
        {
            return;
        }

        var scratch = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            long total = 0;
            int read;
            while (total <= limit && (read = await request.Body.ReadAsync(scratch, cancellationToken)) > 0)
            {
                total += read;
            }
        }
        catch (Exception ex) when (ex is BadHttpRequestException or IOException or OperationCanceledException)
        {
            // The client went away or sent more than Kestrel allows: answer anyway.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    /// <summary>Reads the body into a pooled buffer; length -1 when it is longer than <paramref name="max"/>.</summary>
    private static async Task<(byte[] Buffer, int Length)> ReadBodyAsync(HttpRequest request, long max, CancellationToken cancellationToken)
    {
        var size = (int)Math.Min(request.ContentLength ?? 64 * 1024, max) + 1;
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(size, 4096));
        var length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (length > max)
                    {
                        return (buffer, -1);
                    }

                    var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min((long)buffer.Length * 2, max + 1));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                var read = await request.Body.ReadAsync(buffer.AsMemory(length), cancellationToken);
                if (read == 0)
                {
                    return (buffer, length > max ? -1 : length);
                }

                length += read;
                if (length > max)
                {
                    return (buffer, -1);
                }
            }
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }
}
