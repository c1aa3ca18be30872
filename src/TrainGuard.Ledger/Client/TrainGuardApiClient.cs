using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using TrainGuard.Events;
using TrainGuard.Findings;
using TrainGuard.Ledger.Merkle;
using TrainGuard.Ledger.Tiles;
using TrainGuard.Parsing;

namespace TrainGuard.Ledger.Client;

/// <summary>
/// The one client of the TrainGuard server's HTTP API (docs/server.md), used by the agent's shipper, <c>ckpt sign/verify
/// --ledger</c> and <c>ledger verify</c>: a base URL, an optional bearer token and typed calls. Errors are of two
/// kinds only: <see cref="TrainGuardApiException"/> when the server cannot be reached or answers with an error status
/// (its message names the request and carries the server's explanation), and <see cref="MalformedInputException"/>
/// when an answer arrives but is not what a TrainGuard server sends. Answers are read up to a bound per call; nothing
/// a server sends is trusted beyond what the caller verifies (see <see cref="ProvenEvent.Verify"/>).
/// </summary>
public sealed class TrainGuardApiClient : IDisposable
{
    /// <summary>Largest answer read for a single event, the log's identity, a tree head or a proof.</summary>
    public const int MaxResponseBytes = 1 << 20;

    /// <summary>Longest error answer kept in <see cref="TrainGuardApiException.ResponseText"/>.</summary>
    public const int MaxErrorTextLength = 4096;

    /// <summary>Bytes allowed per event of a batch in the answer to <c>POST /api/v1/events</c> (its id, index, status and a reason).</summary>
    private const int ResultBytesPerEvent = 1024;

    private const int EventBatchPrefixBytes = 64 * 1024;

    private readonly HttpClient _http;
    private readonly Uri _base;

    /// <summary>
    /// A client of the server at <paramref name="baseUrl"/>, sending <paramref name="token"/> as a bearer token when
    /// given. Plain <c>http://</c> is refused unless the server is this machine (<see cref="ClientTls.InsecureReason"/>).
    /// </summary>
    /// <param name="timeout">Time allowed for each request, answer included (default 30 s).</param>
    /// <param name="handler">
    /// The message handler to send through (tests), used as given: no TLS settings and no http check apply. The client
    /// does not dispose it.
    /// </param>
    /// <param name="tls">The pinned CA and client certificate (default: the system's roots, no client certificate).</param>
    public TrainGuardApiClient(Uri baseUrl, string? token = null, TimeSpan? timeout = null, HttpMessageHandler? handler = null, ClientTls? tls = null)
    {
        ArgumentNullException.ThrowIfNull(baseUrl);
        if (!baseUrl.IsAbsoluteUri || baseUrl.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException($"'{baseUrl}' is not an http(s) URL", nameof(baseUrl));
        }

        if (handler is not null && tls is not null)
        {
            throw new ArgumentException("give a message handler or TLS settings, not both", nameof(tls));
        }

        if (handler is null && ClientTls.InsecureReason(baseUrl) is { } insecure)
        {
            throw new ArgumentException(insecure, nameof(baseUrl));
        }

        BaseUrl = baseUrl;
        _base = new Uri(baseUrl.ToString().TrimEnd('/') + "/");
        Token = string.IsNullOrWhiteSpace(token) ? null : token.Trim();
        Timeout = timeout is { } t && t > TimeSpan.Zero ? t : TimeSpan.FromSeconds(30);
        _http = handler is null ? new HttpClient((tls ?? ClientTls.None).CreateHandler(), disposeHandler: true) : new HttpClient(handler, disposeHandler: false);
        _http.Timeout = System.Threading.Timeout.InfiniteTimeSpan;
    }

    /// <summary>The server's base URL as given.</summary>
    public Uri BaseUrl { get; }

    /// <summary>The bearer token sent with every request, if any.</summary>
    public string? Token { get; }

    /// <summary>Time allowed for each request, answer included.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>
    /// <c>POST /api/v1/events</c> (an agent, signer or admin token): appends the events, each given as its JSON text, in
    /// one batch. A malformed event refuses the batch (an error answer); otherwise each event is answered on its own
    /// (<see cref="EventAppendResult.Status"/>): the ones not stored (a conflicting id, too large, refused for this token)
    /// do not keep the others out.
    /// </summary>
    public async Task<EventBatchResult> PostEventsAsync(IReadOnlyList<string> eventsJson, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(eventsJson);
        var length = 16L;
        foreach (var json in eventsJson)
        {
            length += json.Length + 1;
        }

        var body = new StringBuilder((int)Math.Min(length, int.MaxValue)).Append("{\"events\":[");
        for (var i = 0; i < eventsJson.Count; i++)
        {
            body.Append(i > 0 ? "," : string.Empty).Append(eventsJson[i]);
        }

        body.Append("]}");
        using var content = new StringContent(body.ToString(), Encoding.UTF8, "application/json");
        var answer = await SendAsync(HttpMethod.Post, "api/v1/events", content, checked(EventBatchPrefixBytes + ((long)eventsJson.Count * ResultBytesPerEvent)), "an agent or admin token", cancellationToken);
        return Parse(answer!, "POST api/v1/events", root =>
        {
            var results = root.GetProperty("results");
            var list = new List<EventAppendResult>(results.GetArrayLength());
            foreach (var result in results.EnumerateArray())
            {
                // Since per-event answers: "status" (accepted, duplicate, conflict, too-large, refused), "reason", and no index for an event not stored.
                var index = result.GetProperty("index");
                var status = result.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString()! : null;
                var reason = result.TryGetProperty("reason", out var r) && r.ValueKind == JsonValueKind.String ? TextSanitizer.Escape(r.GetString(), 500) : null;
                var duplicate = result.GetProperty("duplicate").GetBoolean();
                list.Add(new EventAppendResult(
                    result.GetProperty("id") is { ValueKind: JsonValueKind.Null } ? string.Empty : String(result, "id"),
                    index.ValueKind == JsonValueKind.Null && status is not (null or EventAppendResult.Accepted or EventAppendResult.Duplicated) ? -1 : index.GetInt64(),
                    duplicate,
                    status ?? (duplicate ? EventAppendResult.Duplicated : EventAppendResult.Accepted),
                    reason));
            }

            return new EventBatchResult(
                root.GetProperty("appended").GetInt32(),
                root.GetProperty("duplicates").GetInt32(),
                root.GetProperty("tree_size").GetInt64(),
                String(root, "checkpoint"),
                list);
        });
    }

    /// <summary>
    /// <c>GET /api/v1/events/{id}</c> (a reader or admin token): the event as committed, with its inclusion proof in a
    /// signed tree head; null when the server holds no event with this id. Check it with <see cref="ProvenEvent.Verify"/>.
    /// </summary>
    public async Task<ProvenEvent?> GetEventAsync(string eventId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(eventId);
        var path = "api/v1/events/" + Uri.EscapeDataString(eventId);
        var answer = await SendAsync(HttpMethod.Get, path, null, MaxResponseBytes, "a reader or admin token", cancellationToken, notFoundIsNull: true);
        if (answer is null)
        {
            return null;
        }

        return Parse(answer, "GET " + path, root =>
        {
            var proof = root.GetProperty("inclusion_proof");
            var hashes = new List<byte[]>(proof.GetArrayLength());
            foreach (var hash in proof.EnumerateArray())
            {
                hashes.Add(hash.GetBytesFromBase64());
            }

            return new ProvenEvent(
                root.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString()! : eventId,
                root.GetProperty("index").GetInt64(),
                root.TryGetProperty("leaf_hash", out var leaf) ? leaf.GetBytesFromBase64() : null,
                Encoding.UTF8.GetBytes(root.GetProperty("event").GetRawText()),
                root.GetProperty("tree_size").GetInt64(),
                String(root, "checkpoint"),
                hashes);
        });
    }

    /// <summary><c>GET /api/v1/log</c> (no token needed): the log's origin, verifier key and latest signed tree head.</summary>
    public async Task<LogInfo> GetLogInfoAsync(CancellationToken cancellationToken = default)
    {
        var answer = await SendAsync(HttpMethod.Get, "api/v1/log", null, MaxResponseBytes, null, cancellationToken);
        return Parse(answer!, "GET api/v1/log", root => new LogInfo(
            String(root, "origin"),
            String(root, "verifier_key"),
            root.GetProperty("tree_size").GetInt64(),
            String(root, "checkpoint")));
    }

    /// <summary>
    /// <c>GET /checkpoint</c> (no token needed): the latest signed tree head as the signed note text (a C2SP
    /// checkpoint). Open it with <see cref="Notes.TreeHead.OpenSigned"/>.
    /// </summary>
    public async Task<string> GetTreeHeadAsync(CancellationToken cancellationToken = default)
    {
        var answer = await SendAsync(HttpMethod.Get, "checkpoint", null, MaxResponseBytes, null, cancellationToken);
        return Utf8Text(answer!, "GET checkpoint");
    }

    /// <summary>
    /// <c>POST /api/v1/cosignatures</c> (no token: the cosignature is the credential): hands the server a tree head it
    /// signed with a witness's <c>cosignature/v1</c> lines appended. The server keeps them only when the witness key is
    /// one it was configured with and the head is its own.
    /// </summary>
    public async Task<CosignatureReceipt> SubmitCosignatureAsync(string cosignedNote, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cosignedNote);
        using var content = new StringContent(cosignedNote, new UTF8Encoding(false), "text/plain");
        var answer = await SendAsync(HttpMethod.Post, "api/v1/cosignatures", content, MaxResponseBytes, null, cancellationToken);
        return Parse(answer!, "POST api/v1/cosignatures", root => new CosignatureReceipt(
            root.GetProperty("tree_size").GetInt64(),
            root.GetProperty("accepted").GetInt32()));
    }

    /// <summary>
    /// <c>GET /api/v1/checkpoint/cosigned</c> (no token needed): the newest tree head witnesses cosigned, with the log's
    /// signature and every cosignature the server holds for it; null when no witness has cosigned one yet.
    /// </summary>
    public async Task<string?> GetCosignedTreeHeadAsync(CancellationToken cancellationToken = default)
    {
        var answer = await SendAsync(HttpMethod.Get, "api/v1/checkpoint/cosigned", null, MaxResponseBytes, null, cancellationToken, notFoundIsNull: true);
        return answer is null ? null : Utf8Text(answer, "GET api/v1/checkpoint/cosigned");
    }

    /// <summary><c>GET /api/v1/proof/consistency?from=&amp;to=</c> (no token needed): the RFC 9162 consistency proof between two tree sizes.</summary>
    public async Task<byte[][]> GetConsistencyProofAsync(long fromSize, long toSize, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(fromSize);
        ArgumentOutOfRangeException.ThrowIfLessThan(toSize, fromSize);
        var path = string.Create(CultureInfo.InvariantCulture, $"api/v1/proof/consistency?from={fromSize}&to={toSize}");
        var answer = await SendAsync(HttpMethod.Get, path, null, MaxResponseBytes, null, cancellationToken);
        return Parse(answer!, "GET " + path, root =>
        {
            var proof = root.GetProperty("proof");
            var result = new byte[proof.GetArrayLength()][];
            var i = 0;
            foreach (var hash in proof.EnumerateArray())
            {
                result[i++] = hash.GetBytesFromBase64();
            }

            return result;
        });
    }

    /// <summary>
    /// <c>GET /tile/...</c> (no token needed): a C2SP tlog-tiles hash tile (its hashes concatenated, checked to be
    /// <c>width * 32</c> bytes) or entry bundle (checked to hold <c>width</c> length-prefixed entries).
    /// </summary>
    public async Task<byte[]> GetTileAsync(TileAddress address, CancellationToken cancellationToken = default)
    {
        var path = address.ToPath();
        var limit = address.IsEntryBundle ? (long)address.Width * (sizeof(ushort) + EntryBundle.MaxEntryBytes) : (long)address.Width * MerkleHash.Size;
        var tile = (await SendAsync(HttpMethod.Get, path, null, limit, null, cancellationToken))!;
        if (address.IsEntryBundle)
        {
            IReadOnlyList<byte[]> entries = [];
            try
            {
                entries = EntryBundle.Parse(tile);
            }
            catch (MalformedInputException ex)
            {
                MalformedInputException.Throw(ex.Kind, $"GET {path}: {ex.Message}", ex.Offset ?? 0);
            }

            if (entries.Count != address.Width)
            {
                MalformedInputException.Throw(InputErrorKind.Corrupt, $"GET {path}: the entry bundle holds {entries.Count} entries, not {address.Width}", tile.Length);
            }
        }
        else if (tile.Length != address.Width * MerkleHash.Size)
        {
            MalformedInputException.Throw(InputErrorKind.Corrupt, $"GET {path}: a hash tile of width {address.Width} is {address.Width * MerkleHash.Size} bytes, not {tile.Length}", tile.Length);
        }

        return tile;
    }

    /// <summary>
    /// <c>GET {pathAndQuery}</c> of a JSON resource of the API (alerts, the timeline): the answer as a JSON object,
    /// read up to <paramref name="maxBytes"/>. An error status is a <see cref="TrainGuardApiException"/> carrying the
    /// server's problem detail (a 403 names <paramref name="roleNeeded"/>); an answer that is not a JSON object is a
    /// <see cref="MalformedInputException"/>. The caller disposes the document.
    /// </summary>
    public async Task<JsonDocument> GetJsonAsync(string pathAndQuery, string? roleNeeded, long maxBytes = MaxResponseBytes, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(pathAndQuery);
        var answer = await SendAsync(HttpMethod.Get, pathAndQuery.TrimStart('/'), null, maxBytes, roleNeeded, cancellationToken);
        return JsonObjectAnswer(answer!, "GET " + pathAndQuery);
    }

    /// <summary><c>POST {path}</c> with a JSON body (an alert's status change): the answer as a JSON object, as <see cref="GetJsonAsync"/>.</summary>
    public async Task<JsonDocument> PostJsonAsync(string path, string jsonBody, string? roleNeeded, long maxBytes = MaxResponseBytes, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(jsonBody);
        using var content = new StringContent(jsonBody, new UTF8Encoding(false), "application/json");
        var answer = await SendAsync(HttpMethod.Post, path.TrimStart('/'), content, maxBytes, roleNeeded, cancellationToken);
        return JsonObjectAnswer(answer!, "POST " + path);
    }

    public void Dispose() => _http.Dispose();

    private static JsonDocument JsonObjectAnswer(byte[] body, string what)
    {
        JsonDocument? document = null;
        try
        {
            document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = CanonicalJson.MaxDepth });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, $"{what}: the answer is not a JSON object", 0);
            }

            var result = document;
            document = null;
            return result;
        }
        catch (JsonException ex)
        {
            return MalformedInputException.Throw<JsonDocument>(InputErrorKind.Syntax, $"{what}: the answer is not JSON: {ex.Message}", ex.BytePositionInLine ?? 0);
        }
        finally
        {
            document?.Dispose();
        }
    }

    /// <summary>Sends a request and returns the answer's body; null for a 404 when <paramref name="notFoundIsNull"/>.</summary>
    private async Task<byte[]?> SendAsync(HttpMethod method, string path, HttpContent? content, long maxBytes, string? roleNeeded, CancellationToken cancellationToken, bool notFoundIsNull = false)
    {
        var uri = new Uri(_base, path);
        var what = $"{method} {uri}";
        using var request = new HttpRequestMessage(method, uri) { Content = content };
        if (Token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(Timeout);
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
            if (response.IsSuccessStatusCode)
            {
                return await ReadBodyAsync(response, what, maxBytes, deadline.Token);
            }

            if (notFoundIsNull && response.StatusCode == HttpStatusCode.NotFound)
            {
                return null;
            }

            var error = await ReadBodyAsync(response, what, MaxResponseBytes, deadline.Token, truncate: true);
            throw StatusError(response, what, error, roleNeeded);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TrainGuardApiException(string.Create(CultureInfo.InvariantCulture, $"{what}: no answer within {Timeout.TotalSeconds:0.#} s"), ex, null);
        }
        catch (HttpRequestException ex) when (ex is not TrainGuardApiException)
        {
            throw new TrainGuardApiException($"cannot reach {BaseUrl} ({what}): {TextSanitizer.Escape(ex.Message, 300)}", ex, null);
        }
        catch (IOException ex)
        {
            throw new TrainGuardApiException($"cannot reach {BaseUrl} ({what}): the connection broke: {TextSanitizer.Escape(ex.Message, 300)}", ex, null);
        }
    }

    private static TrainGuardApiException StatusError(HttpResponseMessage response, string what, byte[] body, string? roleNeeded)
    {
        var detail = ProblemDetail(body);
        var hint = response.StatusCode switch
        {
            HttpStatusCode.Unauthorized => " (no token, or one the server does not know)",
            HttpStatusCode.Forbidden when roleNeeded is not null => $" (this needs {roleNeeded}; the token's role may not do it)",
            HttpStatusCode.Forbidden => " (the token's role may not do this)",
            _ => string.Empty,
        };
        var text = Encoding.UTF8.GetString(body);
        if (text.Length > MaxErrorTextLength)
        {
            text = text[..MaxErrorTextLength];
        }

        var message = $"{what} answered {(int)response.StatusCode} {TextSanitizer.Escape(response.ReasonPhrase ?? string.Empty, 100)}{hint}{(detail is null ? string.Empty : ": " + detail)}";
        return new TrainGuardApiException(message, null, response.StatusCode, detail, text);
    }

    private static string? ProblemDetail(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("detail", out var detail) && detail.ValueKind == JsonValueKind.String
                ? TextSanitizer.Escape(detail.GetString() ?? string.Empty, 500)
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Reads at most <paramref name="maxBytes"/> of the body: more is malformed, or, with <paramref name="truncate"/>, cut off.</summary>
    private static async Task<byte[]> ReadBodyAsync(HttpResponseMessage response, string what, long maxBytes, CancellationToken cancellationToken, bool truncate = false)
    {
        if (!truncate && response.Content.Headers.ContentLength > maxBytes)
        {
            MalformedInputException.ThrowLimit($"{what}: the answer of {response.Content.Headers.ContentLength:N0} bytes", maxBytes, 0);
        }

        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > maxBytes)
            {
                if (truncate)
                {
                    buffer.Write(chunk, 0, (int)(maxBytes - buffer.Length));
                    break;
                }

                MalformedInputException.ThrowLimit($"{what}: the answer", maxBytes, maxBytes);
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    private static string Utf8Text(byte[] answer, string what)
    {
        try
        {
            return new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(answer);
        }
        catch (DecoderFallbackException ex)
        {
            return MalformedInputException.Throw<string>(InputErrorKind.Syntax, $"{what}: the signed tree head is not UTF-8 text ({ex.Message})", ex.Index);
        }
    }

    /// <summary>Parses a JSON answer; anything but what a TrainGuard server sends is a <see cref="MalformedInputException"/>.</summary>
    private static T Parse<T>(byte[] body, string what, Func<JsonElement, T> read)
    {
        try
        {
            using var document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = CanonicalJson.MaxDepth });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, $"{what}: the answer is not a JSON object", 0);
            }

            return read(document.RootElement);
        }
        catch (JsonException ex)
        {
            return MalformedInputException.Throw<T>(InputErrorKind.Syntax, $"{what}: the answer is not JSON: {ex.Message}", ex.BytePositionInLine ?? 0);
        }
        catch (Exception ex) when (ex is KeyNotFoundException or InvalidOperationException or FormatException or IndexOutOfRangeException)
        {
            return MalformedInputException.Throw<T>(InputErrorKind.Syntax, $"{what}: the answer is not what a TrainGuard server sends: {ex.Message}", 0);
        }
    }

    private static string String(JsonElement element, string name) =>
        element.GetProperty(name) is { ValueKind: JsonValueKind.String } value
            ? value.GetString()!
            : throw new InvalidOperationException($"member '{name}' is not a string");
}
