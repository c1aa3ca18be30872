using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TrainGuard.Events;
using TrainGuard.Integrity.Manifests;
using TrainGuard.Ledger.Client;
using TrainGuard.Ledger.Notes;
using TrainGuard.Ledger.Verification;
using TrainGuard.Parsing;

namespace TrainGuard.Checkpoints.Signing;

/// <summary>The ledger's server, through its API client (the caller owns <see cref="Api"/>), and the log key to pin.</summary>
public sealed record LedgerConnection(TrainGuardApiClient Api)
{
    /// <summary>The server's base URL.</summary>
    public Uri Server => Api.BaseUrl;

    /// <summary>The log's verifier key (<c>name+keyid+base64</c>); when null, the key <c>GET /api/v1/log</c> announces is used.</summary>
    public NoteVerifier? PinnedKey { get; init; }
}

/// <summary>A checkpoint-signed event as the ledger holds it, with what its proof established.</summary>
public sealed record LedgerRecord
{
    public required string EventId { get; init; }

    public required long Index { get; init; }

    /// <summary>The manifest digest the event records (<c>trainguard.ckpt.manifest_digest</c>).</summary>
    public string? RecordedDigest { get; init; }

    public string? Action { get; init; }

    public string? UserName { get; init; }

    public string? HostName { get; init; }

    public string? Timestamp { get; init; }

    public string? ModelName { get; init; }

    /// <summary>Size of the signed checkpoint the inclusion proof was checked against.</summary>
    public long TreeSize { get; init; }

    /// <summary>Null when the proof verified; otherwise why it did not.</summary>
    public string? ProofProblem { get; init; }

    /// <summary>Which key verified the log checkpoint: the pinned one or the one the server announced.</summary>
    public string KeySource { get; init; } = string.Empty;

    /// <summary>The event JSON exactly as committed to the ledger.</summary>
    public string? EventJson { get; init; }
}

/// <summary>
/// Whether the server's answer to a recorded event is an acknowledgement: its signed tree head verified, is consistent
/// with the head kept for the log, and covers the event's leaf.
/// </summary>
/// <param name="StateFile">Where the head is kept (null when the head was not trusted).</param>
/// <param name="KeySource">Which key verified the head: the pinned one or the one the server announces.</param>
public sealed record TreeHeadAcknowledgement(TreeHeadAdvance Advance, string? StateFile, string KeySource, bool CoversEvent)
{
    public bool IsAcknowledged => Advance.IsConsistent && CoversEvent;
}

/// <summary>The outcome of recording a manifest at signing time.</summary>
public sealed record LedgerRecordResult(string EventId, long Index, bool AlreadyRecorded, LedgerRecord? Existing, string? Warning)
{
    /// <summary>The signed tree head the server acknowledged the event with (null when it answered 409 and the record was looked up).</summary>
    public string? TreeHead { get; init; }
}

/// <summary>
/// Records checkpoint manifests in the TrainGuard ledger and proves, later, that a manifest was recorded.
/// The event id is derived from the manifest digest (<see cref="EventIdFor"/>), so a verifier finds the record with
/// <c>GET /api/v1/events/{id}</c> from the signature alone, and signing the same content twice finds the first record.
/// </summary>
public static class CheckpointLedger
{
    public const string SignedAction = "checkpoint-signed";
    public const string Module = "ckpt";
    public const string DigestField = "trainguard.ckpt.manifest_digest";

    /// <summary>Prefix hashed with the digest into the event id; versioned so a future scheme gets other ids.</summary>
    public const string EventIdPrefix = "trainguard ckpt checkpoint-signed v1\n";

    /// <summary>
    /// The manifest digest recorded in the ledger: SHA-256 (lowercase hex) of the RFC 8785 canonical JSON of the
    /// manifest's resources, <c>[{"algorithm","digest","name"}...]</c> in manifest order. Unlike the statement's root
    /// digest it covers the file names; it leaves out the model name (the folder's name), so a copied folder keeps it.
    /// </summary>
    public static string ManifestDigest(ModelManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var resources = new JsonArray();
        foreach (var resource in manifest.Resources)
        {
            resources.Add(new JsonObject { ["algorithm"] = resource.Algorithm, ["digest"] = resource.DigestHex, ["name"] = resource.Name });
        }

        return Convert.ToHexStringLower(SHA256.HashData(CanonicalJson.Serialize(resources)));
    }

    /// <summary>
    /// The event id for a manifest digest: the first 16 bytes of SHA-256(<see cref="EventIdPrefix"/> || digest hex) as
    /// an RFC 9562 version 8 UUID (version and variant bits set), lowercase 8-4-4-4-12.
    /// </summary>
    public static string EventIdFor(string manifestDigest)
    {
        ArgumentNullException.ThrowIfNull(manifestDigest);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(EventIdPrefix + manifestDigest), hash);
        hash[6] = (byte)((hash[6] & 0x0F) | 0x80);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        var hex = Convert.ToHexStringLower(hash[..16]);
        return $"{hex[..8]}-{hex[8..12]}-{hex[12..16]}-{hex[16..20]}-{hex[20..32]}";
    }

    /// <summary>The <c>checkpoint-signed</c> event for a signed manifest (ECS fields plus <c>trainguard.ckpt.*</c>).</summary>
    public static EventRecord SignedEvent(ModelManifest manifest, string checkpointPath, string signaturePath, string signerKeyHint, long bytes, DateTimeOffset timestamp, string userName, string hostName)
    {
        var digest = ManifestDigest(manifest);
        var record = new EventRecord(timestamp, SignedAction, EventKinds.Event, EventIdFor(digest));
        record.Set(EventFields.Category, ["file"])
            .Set(EventFields.Type, ["creation"])
            .Set(EventFields.Outcome, EventOutcomes.Success)
            .Set(EventFields.Module, Module)
            .Set(EventFields.Dataset, Module)
            .Set("user.name", userName)
            .Set(EventFields.HostName, hostName)
            .Set("file.path", checkpointPath)
            .Set(DigestField, digest)
            .Set("trainguard.ckpt.root_digest", Convert.ToHexStringLower(manifest.RootDigest()))
            .Set("trainguard.ckpt.model_name", manifest.ModelName)
            .Set("trainguard.ckpt.files", manifest.Resources.Count)
            .Set("trainguard.ckpt.bytes", bytes)
            .Set("trainguard.ckpt.signer_key_hint", signerKeyHint)
            .Set("trainguard.ckpt.signature_path", signaturePath)
            .Set("trainguard.tool", $"trainguard {ToolInfo.Version}");
        return record;
    }

    /// <summary>
    /// Appends the event (<c>POST /api/v1/events</c>, a signer token for the signing user, or an agent or admin token).
    /// The same event id already stored with other content (a <c>conflict</c> answer, or 409 from an older server: the
    /// same manifest signed earlier) is fetched and its digest compared; a differing digest is reported as a warning in
    /// the result, never silently accepted. An event the server refuses (another person's name on a signer token) is an error.
    /// </summary>
    /// <exception cref="TrainGuardApiException">Unreachable, refused (401/403) or an error answer.</exception>
    /// <exception cref="MalformedInputException">An answer that is not what a TrainGuard server sends.</exception>
    public static async Task<LedgerRecordResult> RecordAsync(LedgerConnection ledger, EventRecord signedEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(signedEvent);
        var digest = signedEvent.GetString(DigestField) ?? throw new ArgumentException("not a checkpoint-signed event", nameof(signedEvent));
        EventBatchResult answer;
        try
        {
            answer = await ledger.Api.PostEventsAsync([signedEvent.Root.ToJsonString()], cancellationToken);
        }
        catch (TrainGuardApiException ex) when (ex.StatusCode == HttpStatusCode.Conflict)
        {
            // A server from before per-event answers refuses the whole batch for a conflicting id.
            return await ExistingAsync(ex);
        }

        if (answer.Results.Count != 1)
        {
            MalformedInputException.Throw(InputErrorKind.Corrupt, $"POST api/v1/events: the ledger answered {answer.Results.Count} results for one event", 0);
        }

        var result = answer.Results[0];
        if (result.Status == EventAppendResult.Conflict)
        {
            // The same person signed this manifest before (the event id comes from its digest) with other details.
            return await ExistingAsync(null);
        }

        if (!result.IsStored)
        {
            throw new TrainGuardApiException($"the ledger did not store the checkpoint-signed event ({result.Status}): {result.Reason}", null, HttpStatusCode.MultiStatus, result.Reason);
        }

        return new LedgerRecordResult(signedEvent.Id, result.Index, result.Duplicate, null, null) { TreeHead = answer.TreeHead };

        async Task<LedgerRecordResult> ExistingAsync(TrainGuardApiException? conflict)
        {
            LedgerRecord? existing;
            try
            {
                existing = await FetchAsync(ledger, signedEvent.Id, cancellationToken);
            }
            catch (TrainGuardApiException refused) when (refused.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized)
            {
                return new LedgerRecordResult(signedEvent.Id, -1, true, null,
                    "the ledger already holds an event with this manifest's id, but this token may not read it (an agent or signer token): its digest was not compared; verify with a reader token");
            }

            if (existing is null)
            {
                throw new TrainGuardApiException($"the ledger answered that event {signedEvent.Id} conflicts with a stored one but then has no such event", conflict, HttpStatusCode.Conflict);
            }

            var warning = existing.RecordedDigest == digest
                ? null
                : $"the ledger's event {existing.EventId} records digest {existing.RecordedDigest ?? "(none)"}, not {digest}";
            return new LedgerRecordResult(signedEvent.Id, existing.Index, true, existing, warning);
        }
    }

    /// <summary>
    /// Checks the tree head the server acknowledged <paramref name="recorded"/> with against the head kept for the log
    /// under <paramref name="stateDirectory"/> (<see cref="TreeHeadTracker"/>; the kept head moves forward when it is
    /// consistent). Null when the answer carried no tree head (the event was already recorded and looked up).
    /// </summary>
    /// <exception cref="TrainGuardApiException">The log key or a consistency proof could not be fetched.</exception>
    /// <exception cref="MalformedInputException">The kept head or an answer is malformed.</exception>
    public static async Task<TreeHeadAcknowledgement?> CheckAcknowledgementAsync(LedgerConnection ledger, LedgerRecordResult recorded, string stateDirectory, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(recorded);
        if (recorded.TreeHead is not { } note)
        {
            return null;
        }

        var (key, keySource) = ledger.PinnedKey is { } pinned
            ? (pinned, $"pinned key {pinned.Name}+{pinned.KeyId:x8}")
            : await AnnouncedKeyAsync(ledger, cancellationToken);
        var (advance, stateFile) = await TreeHeadTracker.AdvanceInDirectoryAsync(stateDirectory, key, note, ledger.Api.GetConsistencyProofAsync, cancellationToken);
        return new TreeHeadAcknowledgement(advance, stateFile, keySource, advance.New is { } head && head.Size > recorded.Index);
    }

    /// <summary>
    /// Fetches the event with <paramref name="eventId"/> (<c>GET /api/v1/events/{id}</c>, a reader or admin token) and
    /// checks its inclusion proof against the returned signed tree head, whose signature is checked with the pinned
    /// key or, without one, the key <c>GET /api/v1/log</c> announces. Null when the ledger has no such event.
    /// </summary>
    /// <exception cref="TrainGuardApiException">Unreachable, refused or an error answer.</exception>
    /// <exception cref="MalformedInputException">An answer that is not what a TrainGuard server sends.</exception>
    public static async Task<LedgerRecord?> FetchAsync(LedgerConnection ledger, string eventId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        var proven = await ledger.Api.GetEventAsync(eventId, cancellationToken);
        if (proven is null)
        {
            return null;
        }

        var (key, keySource) = ledger.PinnedKey is { } pinned
            ? (pinned, $"log tree head signature checked with the pinned key {pinned.Name}+{pinned.KeyId:x8}")
            : await AnnouncedKeyAsync(ledger, cancellationToken);
        var inclusion = proven.Verify(key);
        EventRecord recorded;
        try
        {
            recorded = EventRecord.FromObject(JsonNode.Parse(proven.Entry, documentOptions: new JsonDocumentOptions { MaxDepth = CanonicalJson.MaxDepth })!.AsObject());
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or NullReferenceException)
        {
            return MalformedInputException.Throw<LedgerRecord>(InputErrorKind.Syntax, $"GET api/v1/events/{eventId}: the ledger's event is not an event object: {ex.Message}", 0);
        }

        return new LedgerRecord
        {
            EventId = recorded.Id.Length > 0 ? recorded.Id : eventId,
            Index = proven.Index,
            RecordedDigest = recorded.GetString(DigestField),
            Action = recorded.Action,
            UserName = recorded.GetString("user.name"),
            HostName = recorded.GetString(EventFields.HostName),
            Timestamp = recorded.GetString(EventFields.Timestamp),
            ModelName = recorded.GetString("trainguard.ckpt.model_name"),
            TreeSize = inclusion.TreeHead.TreeHead.Size,
            ProofProblem = inclusion.Problem,
            KeySource = keySource,
            EventJson = Encoding.UTF8.GetString(proven.Entry),
        };
    }

    private static async Task<(NoteVerifier Key, string Source)> AnnouncedKeyAsync(LedgerConnection ledger, CancellationToken cancellationToken)
    {
        var info = await ledger.Api.GetLogInfoAsync(cancellationToken);
        NoteVerifier key;
        try
        {
            key = NoteVerifier.Parse(info.VerifierKey);
        }
        catch (MalformedInputException ex)
        {
            return MalformedInputException.Throw<(NoteVerifier, string)>(ex.Kind, $"GET api/v1/log: the ledger's verifier_key is unusable: {ex.Message}", ex.Offset ?? 0);
        }

        return (key, $"log tree head signature checked with the key the server announces ({key.Name}+{key.KeyId:x8}, GET /api/v1/log); pin the log's key to prove more than the server's self-consistency");
    }
}
