using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using TrainGuard.Ledger.Merkle;
using TrainGuard.Ledger.Notes;

namespace TrainGuard.Agent.Tests.Support;

/// <summary>
/// A stand-in for <c>POST /api/v1/events</c> on 127.0.0.1: assigns a leaf index per new id, answers a
/// re-sent id with its first index (idempotent), records every id it receives (duplicates too), and
/// can be stopped, started again on the same port, slowed down or told to fail. Like the real server it keeps a
/// Merkle tree of what it appended, answers with a signed tree head and serves <c>/api/v1/log</c> and consistency
/// proofs; <see cref="Truncate"/> cuts it the way an insider with database access would.
/// </summary>
public sealed class FakeEventServer : IDisposable
{
    private readonly object _gate = new();
    private readonly Dictionary<string, long> _index = new(StringComparer.Ordinal);
    private readonly List<string> _received = [];
    private readonly List<byte[]> _entries = [];
    private readonly NoteSigner _key = NoteSigner.Generate("fake.trainguard/ledger");
    private MerkleLevels _levels = new();
    private HttpListener? _listener;
    private Task? _loop;

    private bool _started;

    public FakeEventServer()
    {
        Port = FreePort();
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    /// <summary>The port; fixed once the server has started (a restart listens on it again).</summary>
    public int Port { get; private set; }

    public Uri Url => new($"http://127.0.0.1:{Port}/");

    /// <summary>When set, requests get this status and nothing is recorded.</summary>
    public int? FailWith { get; set; }

    /// <summary>Delay between recording a batch and answering (a client killed meanwhile re-sends it).</summary>
    public TimeSpan ResponseDelay { get; set; }

    public string? ExpectedToken { get; set; }

    /// <summary>Ids someone else already claimed: a batch holding one is refused whole with 409 (the server's behaviour the attack used).</summary>
    public ConcurrentDictionary<string, bool> ConflictIds { get; } = new(StringComparer.Ordinal);

    /// <summary>When set, a batch holding an event larger than this (its JSON, in bytes) is refused whole with 400.</summary>
    public int? MaxEventBytes { get; set; }

    public ConcurrentQueue<string> Authorizations { get; } = new();

    public int Requests { get; private set; }

    /// <summary>Ids received more than once (each repetition counted).</summary>
    public int Duplicates { get; private set; }

    /// <summary>Duplicates of ids that the server had never received before: must stay 0 (impossible by construction; asserted anyway).</summary>
    public int DuplicatesOfUnknownIds { get; private set; }

    public int DistinctCount
    {
        get
        {
            lock (_gate)
            {
                return _index.Count;
            }
        }
    }

    public IReadOnlyList<string> ReceivedIds
    {
        get
        {
            lock (_gate)
            {
                return _received.ToList();
            }
        }
    }

    public IReadOnlyDictionary<string, long> Index
    {
        get
        {
            lock (_gate)
            {
                return new Dictionary<string, long>(_index, StringComparer.Ordinal);
            }
        }
    }

    public List<JsonElement> Events { get; } = [];

    /// <summary>The log key its tree heads are signed with.</summary>
    public NoteVerifier LogKey => _key.Verifier;

    /// <summary>Keeps only the first <paramref name="size"/> entries (and forgets the ids of the others).</summary>
    public void Truncate(int size)
    {
        lock (_gate)
        {
            foreach (var id in _index.Where(p => p.Value >= size).Select(p => p.Key).ToList())
            {
                _index.Remove(id);
            }

            _entries.RemoveRange(size, _entries.Count - size);
            Events.RemoveRange(size, Events.Count - size);
            _levels = new MerkleLevels();
            _entries.ForEach(e => _levels.AppendEntry(e));
        }
    }

    public void Start()
    {
        HttpListener l;
        for (var attempt = 1; ; attempt++)
        {
            l = new HttpListener();
            l.Prefixes.Add(Url.ToString());
            try
            {
                l.Start();
                break;
            }
            catch (HttpListenerException) when (!_started && attempt < 5)
            {
                // Another test assembly took the free port between the probe and this listener: take another.
                ((IDisposable)l).Dispose();
                Port = FreePort();
            }
        }

        _started = true;
        _listener = l;
        _loop = Task.Run(() => Serve(l));
    }

    public void Stop()
    {
        var l = _listener;
        _listener = null;
        if (l is null)
        {
            return;
        }

        l.Abort();
        try
        {
            _loop?.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // Listener torn down.
        }
    }

    public void Dispose() => Stop();

    private async Task Serve(HttpListener l)
    {
        while (l.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await l.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            _ = Task.Run(() => Handle(context));
        }
    }

    private async Task Handle(HttpListenerContext context)
    {
        try
        {
            Requests++;
            Authorizations.Enqueue(context.Request.Headers["Authorization"] ?? string.Empty);
            using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
            var body = await reader.ReadToEndAsync();
            if (FailWith is { } status)
            {
                await Respond(context, status, "{\"error\":\"failing on purpose\"}");
                return;
            }

            if (ExpectedToken is not null && context.Request.Headers["Authorization"] != "Bearer " + ExpectedToken)
            {
                await Respond(context, 401, "{\"error\":\"bad token\"}");
                return;
            }

            if (context.Request.HttpMethod == "GET" && await ServeLogAsync(context))
            {
                return;
            }

            if (context.Request.Url?.AbsolutePath != "/api/v1/events" || context.Request.HttpMethod != "POST")
            {
                await Respond(context, 404, "{}");
                return;
            }

            using var doc = JsonDocument.Parse(body);
            foreach (var e in doc.RootElement.GetProperty("events").EnumerateArray())
            {
                if (ConflictIds.ContainsKey(e.GetProperty("id").GetString()!))
                {
                    await Respond(context, 409, "{\"error\":\"conflicting event id\"}");
                    return;
                }

                if (MaxEventBytes is { } max && Encoding.UTF8.GetByteCount(e.GetRawText()) > max)
                {
                    await Respond(context, 400, "{\"error\":\"event too large\"}");
                    return;
                }
            }

            // The members of the real server's answer (docs/server.md).
            var results = new StringBuilder("{\"results\":[");
            var first = true;
            int appended = 0, duplicates = 0;
            foreach (var e in doc.RootElement.GetProperty("events").EnumerateArray())
            {
                var id = e.GetProperty("id").GetString()!;
                long leaf;
                bool duplicate;
                lock (_gate)
                {
                    _received.Add(id);
                    duplicate = _index.TryGetValue(id, out leaf);
                    if (duplicate)
                    {
                        Duplicates++;
                        duplicates++;
                    }
                    else
                    {
                        leaf = _index.Count;
                        _index[id] = leaf;
                        appended++;
                        Events.Add(e.Clone());
                        _entries.Add(Encoding.UTF8.GetBytes(e.GetRawText()));
                        _levels.AppendEntry(_entries[^1]);
                    }
                }

                results.Append(first ? string.Empty : ",").Append("{\"id\":\"").Append(id).Append("\",\"index\":").Append(leaf)
                    .Append(",\"duplicate\":").Append(duplicate ? "true" : "false").Append('}');
                first = false;
            }

            var (size, head) = Head();
            results.Append("],\"appended\":").Append(appended).Append(",\"duplicates\":").Append(duplicates)
                .Append(",\"tree_size\":").Append(size).Append(",\"checkpoint\":").Append(JsonSerializer.Serialize(head)).Append('}');
            if (ResponseDelay > TimeSpan.Zero)
            {
                await Task.Delay(ResponseDelay);
            }

            await Respond(context, 200, results.ToString());
        }
        catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or IOException or InvalidOperationException or JsonException)
        {
            // Client gone or listener stopped mid-request.
        }
    }

    /// <summary>The size and signed tree head of the log now.</summary>
    private (long Size, string Note) Head()
    {
        lock (_gate)
        {
            var tree = new MerkleTree(_levels);
            return (_levels.Size, new TreeHead(_key.Name, _levels.Size, tree.RootHash(_levels.Size)).Sign(_key));
        }
    }

    /// <summary><c>GET /api/v1/log</c> and <c>GET /api/v1/proof/consistency</c>, as the real server answers them; false for other paths.</summary>
    private async Task<bool> ServeLogAsync(HttpListenerContext context)
    {
        switch (context.Request.Url?.AbsolutePath)
        {
            case "/api/v1/log":
                var (size, head) = Head();
                await Respond(context, 200, JsonSerializer.Serialize(new Dictionary<string, object> { ["origin"] = _key.Name, ["verifier_key"] = _key.VerifierKey, ["tree_size"] = size, ["checkpoint"] = head }));
                return true;
            case "/api/v1/proof/consistency":
                var status = 200;
                byte[][] proof = [];
                lock (_gate)
                {
                    var from = long.Parse(context.Request.QueryString["from"]!, System.Globalization.CultureInfo.InvariantCulture);
                    var to = long.Parse(context.Request.QueryString["to"]!, System.Globalization.CultureInfo.InvariantCulture);
                    if (from < 1 || from > to || to > _levels.Size)
                    {
                        status = 400;
                    }
                    else
                    {
                        proof = new MerkleTree(_levels).ConsistencyProof(from, to);
                    }
                }

                await Respond(context, status, JsonSerializer.Serialize(new Dictionary<string, object> { ["proof"] = proof.Select(Convert.ToBase64String).ToArray() }));
                return true;
            default:
                return false;
        }
    }

    private static async Task Respond(HttpListenerContext context, int status, string json)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        var bytes = Encoding.UTF8.GetBytes(json);
        context.Response.ContentLength64 = bytes.Length;
        await context.Response.OutputStream.WriteAsync(bytes);
        context.Response.Close();
    }
}
