using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using TrainGuard.Server.Alerts;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Dashboard;
using TrainGuard.Server.Hosting;
using TrainGuard.Server.Storage;

namespace TrainGuard.Benchmarks;

/// <summary>
/// Dashboard targets on 2 cores: every page answered in under 100 ms with 10 million events stored (an account's
/// timeline read from the <c>actor_event</c> index, not a scan), and every page under 300 KB (its HTML plus the
/// assets it loads, gzip-compressed as served). Each benchmark is one <c>GET</c> of a logged-in session over loopback
/// HTTP as a browser asks (brotli or gzip accepted, body read and decompressed): the figure is the page's server time
/// plus a loopback round trip.
/// <para>
/// Setup writes the SQLite database directly (the server's own schema, bulk inserts in large transactions, secondary
/// indexes built after the fill): 10 million events of 64 hosts and 500 accounts over 30 days with their ledger rows,
/// leaf hashes, event index and actor index (no <c>ANALYZE</c>: a server never runs it, so the query plans measured
/// are the ones a server has), then starts a real server on it (which loads the Merkle tree and signs a
/// tree head) and ships the recorded insider incident through the API so the deriver raises real alerts. The filled
/// database is kept in the temporary folder and reused by the next run (delete it to fill again); the setup prints
/// how long each step took, and the page weights.
/// </para>
/// </summary>
[Config(typeof(InProcessConfig))]
public class DashboardBenchmarks
{
    public const long EventCount = 10_000_000;
    private const int Hosts = 64;
    private const int Accounts = 500;
    private const int FillTransaction = 200_000;

    private static readonly Lazy<Task<Environment>> Shared = new(StartAsync);

    private Environment _env = null!;

    /// <summary>
    /// In this process, so the server filled and started once serves every benchmark; with a timeout long enough for
    /// the first run's fill (BenchmarkDotNet's in-process default is a few minutes).
    /// </summary>
    private sealed class InProcessConfig : ManualConfig
    {
        public InProcessConfig() =>
            AddJob(Job.Default.WithToolchain(new InProcessEmitToolchain(TimeSpan.FromHours(3), logOutput: true)).WithWarmupCount(3).WithIterationCount(15));
    }

    [GlobalSetup]
    public async Task Setup() => _env = await Shared.Value;

    [Benchmark]
    public Task<int> Overview() => GetAsync("/dashboard");

    [Benchmark]
    public Task<int> AlertList() => GetAsync("/dashboard/alerts");

    [Benchmark]
    public Task<int> AlertPage() => GetAsync("/dashboard/alerts/" + _env.CriticalAlertId);

    /// <summary>One of 500 accounts with 20,000 events each: the first 400 from the actor index.</summary>
    [Benchmark]
    public Task<int> AccountTimeline() => GetAsync("/dashboard/timeline?user=user-17");

    [Benchmark]
    public Task<int> AttackerTimeline() => GetAsync("/dashboard/timeline?user=intern7");

    [Benchmark]
    public Task<int> HostTimeline() => GetAsync("/dashboard/timeline?host=vm");

    /// <summary>A host with 156,250 events: the first 400 in time order from <c>event_index_host_ts</c>.</summary>
    [Benchmark]
    public Task<int> BusyHostTimeline() => GetAsync("/dashboard/timeline?host=gpu-node-3");

    [Benchmark]
    public Task<int> EventsNewest() => GetAsync("/dashboard/events");

    /// <summary>A page in the middle of the 10 million (keyset paging by ledger index).</summary>
    [Benchmark]
    public Task<int> EventsDeepPage() => GetAsync("/dashboard/events?before=5000000");

    [Benchmark]
    public Task<int> EventsByHostAndTimeRange() => GetAsync("/dashboard/events?host=gpu-node-3&from=" + _env.MidDay + "T10:00:00&to=" + _env.MidDay + "T11:00:00");

    [Benchmark]
    public Task<int> EventsByTimeRange() => GetAsync("/dashboard/events?from=" + _env.MidDay + "T10:00:00&to=" + _env.MidDay + "T11:00:00");

    [Benchmark]
    public Task<int> EventsByUserAndAction() => GetAsync("/dashboard/events?user=user-42&action=process-signal");

    /// <summary>An action the host never sent: answered from <c>event_index_host_action</c>, not by walking the host's events.</summary>
    [Benchmark]
    public Task<int> EventsByHostAndAction() => GetAsync("/dashboard/events?host=gpu-node-3&action=ssh-key-added");

    [Benchmark]
    public Task<int> EventWithProof() => GetAsync("/dashboard/events/5000000");

    [Benchmark]
    public Task<int> Host() => GetAsync("/dashboard/hosts/gpu-node-3");

    [Benchmark]
    public Task<int> HostList() => GetAsync("/dashboard/hosts");

    [Benchmark]
    public Task<int> Checkpoints() => GetAsync("/dashboard/checkpoints");

    [Benchmark]
    public Task<int> Environments() => GetAsync("/dashboard/environments");

    [Benchmark]
    public Task<int> Ledger() => GetAsync("/dashboard/ledger");

    private async Task<int> GetAsync(string path)
    {
        using var response = await _env.Http.GetAsync(path);
        var body = await response.Content.ReadAsByteArrayAsync();
        return response.StatusCode == HttpStatusCode.OK ? body.Length : throw new InvalidOperationException($"{path} answered {(int)response.StatusCode}");
    }

    /// <summary>The server and a logged-in client, shared by every benchmark of the process (the server is stopped when it exits).</summary>
    private sealed record Environment(TrainGuardServer Server, HttpClient Http, CookieContainer Cookies, string CriticalAlertId, string MidDay);

    private static async Task<Environment> StartAsync()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"trainguard-dashboard-bench-{EventCount}");
        var database = Path.Combine(directory, ServerStores.DefaultDatabaseFile);
        var marker = Path.Combine(directory, "filled");
        var total = Stopwatch.StartNew();
        var end = new DateTimeOffset(2026, 12, 6, 0, 0, 0, TimeSpan.Zero);
        var start = end.AddDays(-30);
        if (!File.Exists(marker))
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }

            Directory.CreateDirectory(directory);
            var fill = Stopwatch.StartNew();
            await FillAsync(database, start, end);
            await File.WriteAllTextAsync(marker, string.Create(CultureInfo.InvariantCulture, $"{EventCount} events; filled in {fill.Elapsed.TotalSeconds:F0} s\n"));
            Console.WriteLine($"// dashboard setup: filled {EventCount:N0} events into {database} in {fill.Elapsed.TotalSeconds:F0} s ({new FileInfo(database).Length / 1e9:F1} GB)");
        }
        else
        {
            Console.WriteLine($"// dashboard setup: reusing {database} ({File.ReadAllText(marker).Trim()})");
        }

        var started = Stopwatch.StartNew();
        var server = await TrainGuardServer.StartAsync(new ServerOptions
        {
            DataDirectory = directory,
            Urls = ["http://127.0.0.1:0"],
            Origin = "bench.trainguard/ledger",
            LogLevel = LogLevel.Warning,
        });
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Console.WriteLine($"// dashboard setup: server started on {server.Log.Size:N0} entries in {started.Elapsed.TotalSeconds:F1} s (Merkle tree loaded, tree head signed)");

        var shipped = Stopwatch.StartNew();
        foreach (var (file, host) in new[] { ("vm.jsonl", "vm"), ("gpu-node-2.jsonl", "gpu-node-2") })
        {
            await ShipAsync(server, ScannerBenchmarks.FixturePath("dashboard", file), host);
        }

        while (await server.Alerts.ReadCursorAsync() < server.Log.Size)
        {
            await Task.Delay(100);
        }

        var (alerts, _) = await server.Alerts.ListAsync(new AlertQuery { AllStatuses = true, Severity = "critical", Limit = 10 });
        var critical = alerts.FirstOrDefault() ?? throw new InvalidOperationException("the incident raised no critical alert");
        Console.WriteLine($"// dashboard setup: incident shipped and derived in {shipped.Elapsed.TotalSeconds:F1} s; critical alert {critical.Id}");

        var token = ApiTokens.NewToken();
        await server.Store.AddTokenAsync(ApiTokens.Hash(token), new TokenGrant(Role.Responder, "bench", "dashboard bench"));
        var cookies = new CookieContainer();
        var http = await LoginAsync(server, token, cookies);
        var env = new Environment(server, http, cookies, critical.Id, start.AddDays(15).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        await PrintPageWeightsAsync(env);
        Console.WriteLine($"// dashboard setup: {total.Elapsed.TotalSeconds:F0} s in all");
        return env;
    }

    /// <summary>Exchanges the token for a session cookie as a browser does (the login form with its anti-forgery token).</summary>
    private static async Task<HttpClient> LoginAsync(TrainGuardServer server, string token, CookieContainer cookies)
    {
        var http = new HttpClient(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false, AutomaticDecompression = DecompressionMethods.Brotli | DecompressionMethods.GZip })
        {
            BaseAddress = server.BaseAddress,
        };
        var login = await http.GetStringAsync("/dashboard/login");
        var antiforgery = Regex.Match(login, "name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]+)\"").Groups[1].Value;
        using var answer = await http.PostAsync("/dashboard/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["Token"] = token,
            ["__RequestVerificationToken"] = antiforgery,
        }));
        return answer.StatusCode == HttpStatusCode.Redirect ? http : throw new InvalidOperationException($"login answered {(int)answer.StatusCode}");
    }

    /// <summary>
    /// Each page's weight as a browser gets it the first time: the bytes on the wire of its HTML and of every asset it
    /// references, asked with <c>Accept-Encoding: br, gzip</c> (the uncompressed HTML is printed beside).
    /// </summary>
    private static async Task PrintPageWeightsAsync(Environment env)
    {
        string[] pages =
        [
            "/dashboard", "/dashboard/alerts", "/dashboard/alerts/" + env.CriticalAlertId, "/dashboard/timeline?user=user-17",
            "/dashboard/timeline?user=intern7", "/dashboard/timeline?host=vm", "/dashboard/timeline?host=gpu-node-3", "/dashboard/events",
            "/dashboard/events/5000000", "/dashboard/hosts/gpu-node-3", "/dashboard/checkpoints", "/dashboard/environments", "/dashboard/ledger",
        ];
        using var wire = new HttpClient(new HttpClientHandler { CookieContainer = env.Cookies, AllowAutoRedirect = false, AutomaticDecompression = DecompressionMethods.None })
        {
            BaseAddress = env.Server.BaseAddress,
        };
        wire.DefaultRequestHeaders.AcceptEncoding.ParseAdd("br, gzip");
        Console.WriteLine("// dashboard page weight (HTML + assets as sent compressed, first visit; limit 300 KB):");
        foreach (var page in pages)
        {
            var html = await env.Http.GetStringAsync(page);
            var sent = (await wire.GetByteArrayAsync(page)).Length;
            var assets = 0;
            foreach (var asset in Regex.Matches(html, "(?:src|href)=\"(/dashboard/assets/[^\"]+)\"").Select(m => WebUtility.HtmlDecode(m.Groups[1].Value)).Distinct())
            {
                assets += (await wire.GetByteArrayAsync(asset)).Length;
            }

            var weight = sent + assets;
            Console.WriteLine($"//   {page,-60} {Encoding.UTF8.GetByteCount(html) / 1024.0,7:F1} KB HTML, sent {sent / 1024.0,6:F1} KB + {assets / 1024.0,5:F1} KB assets = {weight / 1024.0,6:F1} KB {(weight < 300 * 1024 ? "ok" : "OVER")}");
        }
    }

    private static async Task ShipAsync(TrainGuardServer server, string file, string host)
    {
        var token = ApiTokens.NewToken();
        await server.Store.AddTokenAsync(ApiTokens.Hash(token), new TokenGrant(Role.Agent, host, "bench " + host));
        var events = new JsonArray();
        foreach (var line in File.ReadLines(file).Where(l => l.Length > 0))
        {
            var e = JsonNode.Parse(line)!.AsObject();
            e["host"] ??= new JsonObject { ["name"] = host };
            events.Add(e);
        }

        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var answer = await http.PostAsync("api/v1/events", new StringContent(new JsonObject { ["events"] = events }.ToJsonString(), Encoding.UTF8, "application/json"));
        answer.EnsureSuccessStatusCode();
    }

    private static readonly string[] SecondaryIndexes =
    [
        "event_index_ts", "event_index_host", "event_index_host_ts", "event_index_host_action", "event_index_user", "event_index_action",
        "event_index_event_id", "actor_event_login_uid", "actor_event_name_uid",
    ];

    /// <summary>
    /// Writes <see cref="EventCount"/> events straight into the server's schema: the store and alert store create the
    /// tables, their secondary indexes are dropped, rows are inserted in transactions of <see cref="FillTransaction"/>,
    /// and opening the stores again builds the indexes back.
    /// </summary>
    private static async Task FillAsync(string database, DateTimeOffset start, DateTimeOffset end)
    {
        await using (var store = await SqliteServerStore.OpenAsync(database))
        {
            await AlertStore.OpenAsync(store);
        }

        SqliteConnection.ClearAllPools();
        await using (var connection = new SqliteConnection($"Data Source={database};Pooling=False"))
        {
            await connection.OpenAsync();
            // A fill that fails is started again from nothing: no journal, one writer, a large cache.
            Execute(connection, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA locking_mode=EXCLUSIVE; PRAGMA cache_size=-2000000; PRAGMA temp_store=MEMORY;");
            foreach (var index in SecondaryIndexes)
            {
                Execute(connection, $"DROP INDEX IF EXISTS {index}");
            }

            var step = (end - start).Ticks / EventCount;
            var leaf = new byte[1 + 4096];
            for (long first = 0; first < EventCount; first += FillTransaction)
            {
                using var transaction = connection.BeginTransaction();
                using var entry = Prepare(connection, transaction, "INSERT INTO ledger_entry (idx, entry, leaf_hash, idem_key) VALUES ($1, $2, $3, $4)", 4);
                using var index = Prepare(connection, transaction, "INSERT INTO event_index (idx, ts, host, user_name, action, event_id) VALUES ($1, $2, $3, $4, $5, $6)", 6);
                using var actor = Prepare(connection, transaction, "INSERT INTO actor_event (idx, ts, host, login_uid, account_name, attribution) VALUES ($1, $2, $3, $4, $5, 'direct')", 5);
                for (var i = first; i < Math.Min(first + FillTransaction, EventCount); i++)
                {
                    var at = start.AddTicks(step * i);
                    var host = "gpu-node-" + (i % Hosts).ToString(CultureInfo.InvariantCulture);
                    var account = (int)(i / Hosts % Accounts);
                    var user = "user-" + account.ToString(CultureInfo.InvariantCulture);
                    var uid = (10_000 + account).ToString(CultureInfo.InvariantCulture);
                    var id = Guid.CreateVersion7(at).ToString("D");
                    var (action, json) = Event(i, at, id, host, user, uid);
                    var bytes = Encoding.UTF8.GetBytes(json);
                    bytes.CopyTo(leaf, 1);
                    var hash = SHA256.HashData(leaf.AsSpan(0, bytes.Length + 1));
                    var micros = (at.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
                    Run(entry, i, bytes, hash, "host:" + host + "/" + id);
                    Run(index, i, micros, host, user, action, id);
                    Run(actor, i, micros, host, uid, user);
                }

                transaction.Commit();
            }

            Execute(connection, $"UPDATE ledger_head SET tree_size = {EventCount} WHERE id = 1; UPDATE alert_cursor SET next_index = {EventCount} WHERE id = 1;");
            var now = (DateTimeOffset.UtcNow.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
            for (var h = 0; h < Hosts; h++)
            {
                Execute(connection, $"INSERT OR REPLACE INTO agent_heartbeat (host, received_us, interval_s, idx, event_id) VALUES ('gpu-node-{h}', {now}, 60, {EventCount - Hosts + h}, '00000000-0000-7000-8000-{h:D12}')");
            }

            Execute(connection, "PRAGMA journal_mode=WAL;");
        }

        SqliteConnection.ClearAllPools();
        await using (var store = await SqliteServerStore.OpenAsync(database))
        {
            await AlertStore.OpenAsync(store);
        }

        SqliteConnection.ClearAllPools();
        await using (var connection = new SqliteConnection($"Data Source={database};Pooling=False"))
        {
            await connection.OpenAsync();
            Execute(connection, "PRAGMA wal_checkpoint(TRUNCATE);");
        }

        SqliteConnection.ClearAllPools();
    }

    /// <summary>One event as an agent sends it (canonical JSON, keys sorted): four kinds, 330 to 520 bytes.</summary>
    private static (string Action, string Json) Event(long i, DateTimeOffset at, string id, string host, string user, string uid)
    {
        var ts = at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        var pid = 1000 + (i % 60_000);
        return (i % 4) switch
        {
            0 => ("process-signal", $$$$"""{"@timestamp":"{{{{ts}}}}","agent":{"version":"0.1.0"},"event":{"action":"process-signal","category":["process"],"kind":"event","module":"auditd","outcome":"success","type":["info"]},"host":{"name":"{{{{host}}}}"},"id":"{{{{id}}}}","process":{"executable":"/usr/bin/kill","name":"kill","pid":{{{{pid}}}}},"trainguard":{"signal":{"name":"SIGTERM","number":15},"target":{"name":"python3","pid":{{{{pid + 1}}}},"user":{"id":"{{{{uid}}}}","name":"{{{{user}}}}"}}},"user":{"audit":{"id":"{{{{uid}}}}","name":"{{{{user}}}}"},"id":"{{{{uid}}}}","name":"{{{{user}}}}"}}"""),
            1 => ("user-login", $$$$"""{"@timestamp":"{{{{ts}}}}","agent":{"version":"0.1.0"},"event":{"action":"user-login","category":["authentication"],"kind":"event","module":"auditd","outcome":"success","type":["start"]},"host":{"name":"{{{{host}}}}"},"id":"{{{{id}}}}","process":{"executable":"/usr/sbin/sshd","name":"sshd","pid":{{{{pid}}}}},"source":{"ip":"10.0.{{{{i % 250}}}}.{{{{i % 200}}}}"},"trainguard":{"login":{"phase":"login"}},"user":{"audit":{"id":"{{{{uid}}}}","name":"{{{{user}}}}"},"id":"{{{{uid}}}}","name":"{{{{user}}}}"}}"""),
            2 => ("file-changed", $$$$"""{"@timestamp":"{{{{ts}}}}","agent":{"version":"0.1.0"},"event":{"action":"file-changed","category":["file"],"kind":"event","module":"auditd","outcome":"success","type":["change"]},"file":{"path":"/home/{{{{user}}}}/runs/ft-{{{{i % 97}}}}/checkpoint-{{{{i % 13}}}}/trainer_state.json"},"host":{"name":"{{{{host}}}}"},"id":"{{{{id}}}}","process":{"executable":"/usr/bin/python3","name":"python3","pid":{{{{pid}}}}},"trainguard":{"audit":{"key":"tg-checkpoint"}},"user":{"audit":{"id":"{{{{uid}}}}","name":"{{{{user}}}}"},"id":"{{{{uid}}}}","name":"{{{{user}}}}"}}"""),
            _ => ("user-logout", $$$$"""{"@timestamp":"{{{{ts}}}}","agent":{"version":"0.1.0"},"event":{"action":"user-logout","category":["authentication"],"kind":"event","module":"auditd","outcome":"success","type":["end"]},"host":{"name":"{{{{host}}}}"},"id":"{{{{id}}}}","process":{"executable":"/usr/sbin/sshd","name":"sshd","pid":{{{{pid}}}}},"trainguard":{"login":{"phase":"logout"}},"user":{"audit":{"id":"{{{{uid}}}}","name":"{{{{user}}}}"},"id":"{{{{uid}}}}","name":"{{{{user}}}}"}}"""),
        };
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static SqliteCommand Prepare(SqliteConnection connection, SqliteTransaction transaction, string sql, int parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        for (var p = 1; p <= parameters; p++)
        {
            command.Parameters.Add(new SqliteParameter("$" + p.ToString(CultureInfo.InvariantCulture), null));
        }

        command.Prepare();
        return command;
    }

    private static void Run(SqliteCommand command, params object[] values)
    {
        for (var p = 0; p < values.Length; p++)
        {
            command.Parameters[p].Value = values[p];
        }

        command.ExecuteNonQuery();
    }
}
