using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TrainGuard.Events;
using TrainGuard.Integrity.Manifests;
using TrainGuard.Ledger.Notes;
using TrainGuard.Ledger.Merkle;
using TrainGuard.Parsing;

namespace TrainGuard.Checkpoints.Signing;

/// <summary>Where the ledger is and how to talk to it. The caller owns <see cref="Http"/> (and its timeout).</summary>
public sealed record LedgerConnection(HttpClient Http, Uri Server, string? Token)
{
    /// <summary>The log's verifier key (<c>name+keyid+base64</c>); when null, the key <c>GET /api/v1/log</c> announces is used.</summary>
    public NoteVerifier? PinnedKey { get; init; }

    internal Uri Resolve(string relative) => new(new Uri(Server.ToString().TrimEnd('/') + "/"), relative);
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

/// <summary>The outcome of recording a manifest at signing time.</summary>
public sealed record LedgerRecordResult(string EventId, long Index, bool AlreadyRecorded, LedgerRecord? Existing, string? Warning);

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

    /// <summary>Largest ledger answer read.</summary>
    public const int MaxResponseBytes = 1 << 20;

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
    /// Appends the event (<c>POST /api/v1/events</c>, an agent or admin token). The same event id already stored with
    /// other content (409: the same manifest signed earlier) is fetched and its digest compared; a differing digest
    /// is reported as a warning in the result, never silently accepted.
    /// </summary>
    /// <exception cref="HttpRequestException">Unreachable, refused (401/403) or an unexpected answer.</exception>
    public static async Task<LedgerRecordResult> RecordAsync(LedgerConnection ledger, EventRecord signedEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(signedEvent);
        var digest = signedEvent.GetString(DigestField) ?? throw new ArgumentException("not a checkpoint-signed event", nameof(signedEvent));
        using var request = new HttpRequestMessage(HttpMethod.Post, ledger.Resolve("api/v1/events"))
        {
            Content = new ByteArrayContent(Encoding.UTF8.GetBytes(new JsonObject { ["events"] = new JsonArray(signedEvent.Root.DeepClone()) }.ToJsonString())),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        Authorize(request, ledger.Token);
        using var response = await ledger.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        var body = await ReadBodyAsync(response, cancellationToken);
        if (response.StatusCode == HttpStatusCode.Conflict)
        {
            LedgerRecord? existing;
            try
            {
                existing = await FetchAsync(ledger, signedEvent.Id, cancellationToken);
            }
            catch (HttpRequestException ex) when (ex.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized)
            {
                return new LedgerRecordResult(signedEvent.Id, -1, true, null,
                    "the ledger already holds an event with this manifest's id, but this token may not read it (an agent token): its digest was not compared; verify with a reader token");
            }

            if (existing is null)
            {
                throw new HttpRequestException($"the ledger answered 409 Conflict for event {signedEvent.Id} but then has no such event");
            }

            var warning = existing.RecordedDigest == digest
                ? null
                : $"the ledger's event {existing.EventId} records digest {existing.RecordedDigest ?? "(none)"}, not {digest}";
            return new LedgerRecordResult(signedEvent.Id, existing.Index, true, existing, warning);
        }

        EnsureSuccess(response, body, "POST api/v1/events");
        try
        {
            using var document = JsonDocument.Parse(body);
            var result = document.RootElement.GetProperty("results")[0];
            return new LedgerRecordResult(signedEvent.Id, result.GetProperty("index").GetInt64(), result.GetProperty("duplicate").GetBoolean(), null, null);
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or IndexOutOfRangeException or FormatException)
        {
            throw new HttpRequestException($"the ledger's answer to POST api/v1/events is not what a TrainGuard server sends: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Fetches the event with <paramref name="eventId"/> (<c>GET /api/v1/events/{id}</c>, a reader or admin token) and
    /// checks its inclusion proof against the returned signed checkpoint, whose signature is checked with the pinned
    /// key or, without one, the key <c>GET /api/v1/log</c> announces. Null when the ledger has no such event.
    /// </summary>
    /// <exception cref="HttpRequestException">Unreachable, refused, or an answer that is not a TrainGuard ledger's.</exception>
    public static async Task<LedgerRecord?> FetchAsync(LedgerConnection ledger, string eventId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        using var request = new HttpRequestMessage(HttpMethod.Get, ledger.Resolve($"api/v1/events/{Uri.EscapeDataString(eventId)}"));
        Authorize(request, ledger.Token);
        using var response = await ledger.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        var body = await ReadBodyAsync(response, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        EnsureSuccess(response, body, $"GET api/v1/events/{eventId}");
        var (key, keySource) = ledger.PinnedKey is { } pinned
            ? (pinned, $"log checkpoint signature checked with the pinned key {pinned.Name}+{pinned.KeyId:x8} (--ledger-key)")
            : await AnnouncedKeyAsync(ledger, cancellationToken);
        try
        {
            return Check(body, eventId, key, keySource);
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or MalformedInputException)
        {
            throw new HttpRequestException($"the ledger's answer for event {eventId} is not what a TrainGuard server sends: {ex.Message}", ex);
        }
    }

    private static LedgerRecord Check(byte[] body, string eventId, NoteVerifier key, string keySource)
    {
        using var document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = CanonicalJson.MaxDepth });
        var root = document.RootElement;
        var index = root.GetProperty("index").GetInt64();
        var eventElement = root.GetProperty("event");
        var entry = Encoding.UTF8.GetBytes(eventElement.GetRawText());
        var leaf = MerkleHash.HashLeaf(entry);
        var proof = root.GetProperty("inclusion_proof").EnumerateArray().Select(p => p.GetBytesFromBase64()).ToList();
        var note = root.GetProperty("checkpoint").GetString() ?? string.Empty;
        var signed = TreeHead.OpenSigned(Encoding.UTF8.GetBytes(note), [key]);
        string? problem = null;
        if (!signed.Verification.IsVerified)
        {
            problem = $"the log checkpoint is not signed by {key.Name}+{key.KeyId:x8}: {signed.Verification.Problem}";
        }
        else if (root.TryGetProperty("leaf_hash", out var leafHash) && !leafHash.GetBytesFromBase64().AsSpan().SequenceEqual(leaf))
        {
            problem = "the server's leaf hash is not SHA-256(0x00 || the event it returned)";
        }
        else if (index < 0 || !MerkleTree.VerifyInclusion(leaf, (ulong)index, (ulong)signed.TreeHead.Size, proof, signed.TreeHead.RootHash))
        {
            problem = $"the inclusion proof of leaf {index} does not verify against the signed checkpoint of size {signed.TreeHead.Size}";
        }

        var recorded = EventRecord.FromObject(JsonNode.Parse(entry)!.AsObject());
        return new LedgerRecord
        {
            EventId = recorded.Id.Length > 0 ? recorded.Id : eventId,
            Index = index,
            RecordedDigest = recorded.GetString(DigestField),
            Action = recorded.Action,
            UserName = recorded.GetString("user.name"),
            HostName = recorded.GetString(EventFields.HostName),
            Timestamp = recorded.GetString(EventFields.Timestamp),
            ModelName = recorded.GetString("trainguard.ckpt.model_name"),
            TreeSize = signed.TreeHead.Size,
            ProofProblem = problem,
            KeySource = keySource,
            EventJson = Encoding.UTF8.GetString(entry),
        };
    }

    private static async Task<(NoteVerifier Key, string Source)> AnnouncedKeyAsync(LedgerConnection ledger, CancellationToken cancellationToken)
    {
        using var response = await ledger.Http.GetAsync(ledger.Resolve("api/v1/log"), HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        var body = await ReadBodyAsync(response, cancellationToken);
        EnsureSuccess(response, body, "GET api/v1/log");
        try
        {
            using var document = JsonDocument.Parse(body);
            var key = NoteVerifier.Parse(document.RootElement.GetProperty("verifier_key").GetString() ?? string.Empty);
            return (key, $"log checkpoint signature checked with the key the server announces ({key.Name}+{key.KeyId:x8}, GET /api/v1/log); pin it with --ledger-key");
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or MalformedInputException)
        {
            throw new HttpRequestException($"the ledger's GET api/v1/log answer has no usable verifier_key: {ex.Message}", ex);
        }
    }

    private static void Authorize(HttpRequestMessage request, string? token)
    {
        if (!string.IsNullOrEmpty(token))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
    }

    private static async Task<byte[]> ReadBodyAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentLength > MaxResponseBytes)
        {
            throw new HttpRequestException($"the ledger answered {response.Content.Headers.ContentLength:N0} bytes; at most {MaxResponseBytes:N0} are read");
        }

        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > MaxResponseBytes)
            {
                throw new HttpRequestException($"the ledger answered more than {MaxResponseBytes:N0} bytes");
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    private static void EnsureSuccess(HttpResponseMessage response, byte[] body, string what)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var detail = ProblemDetail(body);
        var hint = response.StatusCode switch
        {
            HttpStatusCode.Unauthorized => " (no or unknown token: pass --ledger-token or set TRAINGUARD_LEDGER_TOKEN)",
            HttpStatusCode.Forbidden => " (the token's role may not do this: signing needs an agent or admin token, verifying a reader or admin token)",
            _ => string.Empty,
        };
        throw new HttpRequestException($"{what} answered {(int)response.StatusCode} {response.ReasonPhrase}{hint}{(detail is null ? string.Empty : ": " + detail)}", null, response.StatusCode);
    }

    private static string? ProblemDetail(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("detail", out var detail) && detail.ValueKind == JsonValueKind.String
                ? TrainGuard.Findings.TextSanitizer.Escape(detail.GetString() ?? string.Empty, 300)
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
