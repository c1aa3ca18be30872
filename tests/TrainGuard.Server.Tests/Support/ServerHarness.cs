using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Events;
using TrainGuard.Server.Hosting;
using TrainGuard.Server.Storage;

namespace TrainGuard.Server.Tests.Support;

/// <summary>A real server on 127.0.0.1 (port 0) over a fresh store, with one token per role and an HTTP client.</summary>
public sealed class ServerHarness : IAsyncDisposable
{
    private ServerHarness(TrainGuardServer server, string directory, string database, ServerOptions options)
    {
        Server = server;
        Directory = directory;
        Database = database;
        Options = options;
        Http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
    }

    public TrainGuardServer Server { get; private set; }

    public string Directory { get; }

    /// <summary>The <c>--db</c> value of the store.</summary>
    public string Database { get; }

    public ServerOptions Options { get; }

    public HttpClient Http { get; private set; }

    public string AgentToken { get; private set; } = string.Empty;

    public string ReaderToken { get; private set; } = string.Empty;

    public string AdminToken { get; private set; } = string.Empty;

    public static async Task<ServerHarness> StartAsync(string backend, Func<ServerOptions, ServerOptions>? configure = null)
    {
        var directory = TestPaths.NewTempDirectory();
        return await StartAtAsync(directory, await Backends.NewDatabaseAsync(backend, directory), configure);
    }

    /// <summary>A server on an existing data directory and store (e.g. one an older release made).</summary>
    public static async Task<ServerHarness> StartAtAsync(string directory, string database, Func<ServerOptions, ServerOptions>? configure = null)
    {
        var options = new ServerOptions
        {
            DataDirectory = directory,
            Database = database,
            Urls = ["http://127.0.0.1:0"],
            Origin = "test.trainguard/ledger",
            LogLevel = LogLevel.Warning,
            LogFormat = LogFormat.Text,
        };
        options = configure?.Invoke(options) ?? options;
        var server = await TrainGuardServer.StartAsync(options);
        var harness = new ServerHarness(server, directory, database, options);
        harness.AgentToken = await harness.NewTokenAsync(Role.Agent);
        harness.ReaderToken = await harness.NewTokenAsync(Role.Reader);
        harness.AdminToken = await harness.NewTokenAsync(Role.Admin);
        return harness;
    }

    public async Task<string> NewTokenAsync(Role role)
    {
        var token = ApiTokens.NewToken();
        await Server.Store.AddTokenAsync(ApiTokens.Hash(token), role, "test", CancellationToken.None);
        return token;
    }

    /// <summary>A token bound to <paramref name="identity"/> (a host for agent tokens, a person for signer tokens).</summary>
    public async Task<string> NewTokenAsync(Role role, string identity, string? label = null, DateTimeOffset? expires = null)
    {
        var token = ApiTokens.NewToken();
        await Server.Store.AddTokenAsync(ApiTokens.Hash(token), new TokenGrant(role, identity, label ?? $"{role.ToWireName()} {identity}", expires), CancellationToken.None);
        return token;
    }

    /// <summary>Posts <paramref name="events"/> with <paramref name="token"/>; the answer (200 or 207) and its per-event results.</summary>
    public async Task<(HttpStatusCode Status, JsonObject Answer)> PostEventsAsAsync(string token, params JsonObject[] events)
    {
        using var response = await PostEventsAsync(Batch(events), token);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"POST answered {(int)response.StatusCode}: {text}");
        return (response.StatusCode, JsonNode.Parse(text)!.AsObject());
    }

    /// <summary>Stops the server and starts a new one on the same data directory and store (<paramref name="configure"/> changes its options).</summary>
    public async Task RestartAsync(Func<ServerOptions, ServerOptions>? configure = null)
    {
        Http.Dispose();
        await Server.DisposeAsync();
        Server = await TrainGuardServer.StartAsync(configure?.Invoke(Options) ?? Options);
        Http = new HttpClient { BaseAddress = Server.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
    }

    public Task<HttpResponseMessage> PostEventsAsync(string body, string? token = null, string contentType = "application/json")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "api/v1/events") { Content = new StringContent(body, Encoding.UTF8) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return Http.SendAsync(request);
    }

    public async Task<JsonObject> PostEventsOkAsync(IEnumerable<JsonObject> events)
    {
        using var response = await PostEventsAsync(Batch(events), AgentToken);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"POST answered {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    public async Task<HttpResponseMessage> GetAsync(string path, string? token)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return await Http.SendAsync(request);
    }

    public async Task<JsonObject> GetJsonAsync(string path, string? token = null)
    {
        using var response = await GetAsync(path, token ?? ReaderToken);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET {path} answered {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    public static string Batch(IEnumerable<JsonObject> events) => new JsonObject { ["events"] = new JsonArray([.. events.Select(e => e.DeepClone())]) }.ToJsonString();

    /// <summary>A valid event; <paramref name="n"/> varies host, user and action so filters have something to select.</summary>
    public static JsonObject Event(int n, string? id = null, DateTimeOffset? at = null) => new()
    {
        ["id"] = id ?? Guid.CreateVersion7().ToString(),
        ["@timestamp"] = EventRecordTime(at ?? new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero).AddSeconds(n)),
        ["event"] = new JsonObject { ["kind"] = "event", ["action"] = n % 3 == 0 ? "process-signal" : "user-login" },
        ["host"] = new JsonObject { ["name"] = $"gpu-node-{n % 4}" },
        ["user"] = new JsonObject { ["name"] = n % 2 == 0 ? "alice" : "mallory" },
        ["process"] = new JsonObject { ["pid"] = 1000 + n },
        ["file"] = new JsonObject { ["path"] = $"/ckpt/run-{n}/optimizer.pt" },
    };

    /// <summary>The answer (207) to a batch of a new event and an event reusing leaf <paramref name="existing"/>'s id with other content.</summary>
    public static async Task<JsonNode> AssertNewAndConflictAsync(HttpResponseMessage response, long existing)
    {
        Assert.Equal(HttpStatusCode.MultiStatus, response.StatusCode);
        var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        var results = answer["results"]!.AsArray();
        Assert.Equal(["accepted", "conflict"], results.Select(r => (string)r!["status"]!));
        Assert.Equal(existing, (long)results[1]!["conflicts_with"]!);
        Assert.Null(results[1]!["index"]);
        Assert.Equal(1, (int)answer["appended"]!);
        return answer;
    }

    public static string EventRecordTime(DateTimeOffset value) => TrainGuard.Events.EventRecord.FormatTimestamp(value);

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    internal static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web);

    internal static BatchLimits DefaultLimits => new();

    internal static Task<T?> ReadAsync<T>(HttpResponseMessage response) => response.Content.ReadFromJsonAsync<T>(Json);
}
