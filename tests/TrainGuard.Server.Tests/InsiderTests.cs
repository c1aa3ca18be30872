using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using TrainGuard.Events;
using TrainGuard.Ledger.Tiles;
using Microsoft.Extensions.Logging;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Storage;
using TrainGuard.Server.Tests.Support;

namespace TrainGuard.Server.Tests;

/// <summary>
/// What a colleague with an ordinary account and token tried against a running server (issue 11), each attack a test
/// that now fails to work; docs/server.md, "What an insider with an account can and cannot do", follows these tests.
/// </summary>
public sealed class InsiderTests
{
    [Fact]
    public async Task Reading_entry_tiles_without_a_token_is_refused()
    {
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite);
        await h.PostEventsOkAsync(Enumerable.Range(0, 3).Select(i => ServerHarness.Event(i)));
        var signer = await h.NewTokenAsync(Role.Signer, "mallory");
        var entries = TileAddress.Entries(0, 3).ToPath();

        // Events (user, host, command lines) and metrics: a reader's (or an admin's), nobody else's.
        foreach (var path in new[] { entries, "metrics", "api/v1/events", $"api/v1/events/{Guid.NewGuid()}" })
        {
            using var anonymous = await h.GetAsync(path, null);
            Assert.True(anonymous.StatusCode == HttpStatusCode.Unauthorized, $"{path} without a token: {(int)anonymous.StatusCode}");
            foreach (var (role, token) in new[] { ("agent", h.AgentToken), ("signer", signer) })
            {
                using var refused = await h.GetAsync(path, token);
                Assert.True(refused.StatusCode == HttpStatusCode.Forbidden, $"{path} with a {role} token: {(int)refused.StatusCode}");
            }
        }

        // A path spelled so the router might take it for a hash tile does not serve events either.
        using (var disguised = await h.GetAsync("tile/entries%2F000.p%2F3", null))
        {
            Assert.True(disguised.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Unauthorized, $"{(int)disguised.StatusCode}");
        }

        using (var reader = await h.GetAsync(entries, h.ReaderToken))
        {
            Assert.Equal(HttpStatusCode.OK, reader.StatusCode);
            Assert.Equal(3, EntryBundle.Parse(await reader.Content.ReadAsByteArrayAsync()).Count);
        }

        using (var admin = await h.GetAsync("metrics", h.AdminToken))
        {
            Assert.Equal(HttpStatusCode.OK, admin.StatusCode);
        }

        // The witness view stays public: tree heads, hash tiles, consistency proofs, the log's identity.
        foreach (var path in new[] { "checkpoint", TileAddress.Hashes(0, 0, 3).ToPath(), "api/v1/log", "api/v1/proof/consistency?from=1&to=3", "healthz", "readyz" })
        {
            using var open = await h.GetAsync(path, null);
            Assert.True(open.StatusCode == HttpStatusCode.OK, $"{path} without a token: {(int)open.StatusCode}");
        }
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task An_agent_token_cannot_post_events_for_another_host(string backend)
    {
        await using var h = await ServerHarness.StartAsync(backend);
        var node1 = await h.NewTokenAsync(Role.Agent, "node1", "rack 3 node 1");
        var own = Event("node1", "mallory");
        var forged = Event("gpu-node-17", "alice");
        var hostless = Event("node1", "mallory");
        hostless.Remove("host");

        var (status, answer) = await h.PostEventsAsAsync(node1, own, forged, hostless, Event("NODE1", "mallory"));

        // The forged event is refused on its own; the node's own events are stored (host names compare without case).
        Assert.Equal(HttpStatusCode.MultiStatus, status);
        var results = answer["results"]!.AsArray();
        Assert.Equal(["accepted", "refused", "refused", "accepted"], results.Select(r => (string)r!["status"]!));
        Assert.Contains("gpu-node-17", (string)results[1]!["reason"]!, StringComparison.Ordinal);
        Assert.Contains("bound to host 'node1'", (string)results[1]!["reason"]!, StringComparison.Ordinal);
        Assert.Null(results[1]!["index"]);
        Assert.Equal(2, await h.Server.Store.Ledger.SizeAsync());
        Assert.Empty((await h.GetJsonAsync("api/v1/events?host=gpu-node-17"))["events"]!.AsArray());

        // What is stored names the token that sent it, inside the committed (hashed) entry.
        var stored = EventRecord.Parse(Encoding.UTF8.GetString((await h.Server.Store.Ledger.GetEntryAsync(0))!));
        var tokenId = (await h.Server.Store.ListTokensAsync()).Single(t => t.Identity == "node1").Id;
        Assert.Equal(tokenId, stored.GetString("trainguard.submitter.token_id"));
        Assert.Equal("agent", stored.GetString("trainguard.submitter.role"));
        Assert.Equal("node1", stored.GetString("trainguard.submitter.identity"));
        Assert.Equal("rack 3 node 1", stored.GetString("trainguard.submitter.label"));
    }

    [Fact]
    public async Task A_forged_submitter_is_replaced_by_the_token_that_sent_the_event()
    {
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite);
        var node1 = await h.NewTokenAsync(Role.Agent, "node1");
        var forged = Event("node1", "mallory");
        forged["trainguard"] = new JsonObject { ["submitter"] = new JsonObject { ["token_id"] = "000000000000", ["role"] = "admin", ["identity"] = "gpu-node-17" }, ["note"] = "kept" };
        var notAnObject = Event("node1", "mallory");
        notAnObject["trainguard"] = "a string";

        var (_, answer) = await h.PostEventsAsAsync(node1, forged, notAnObject);

        Assert.Equal(["accepted", "refused"], answer["results"]!.AsArray().Select(r => (string)r!["status"]!));
        var stored = EventRecord.Parse(Encoding.UTF8.GetString((await h.Server.Store.Ledger.GetEntryAsync(0))!));
        Assert.Equal("agent", stored.GetString("trainguard.submitter.role"));
        Assert.Equal("node1", stored.GetString("trainguard.submitter.identity"));
        Assert.Equal("kept", stored.GetString("trainguard.note"));
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_signer_token_cannot_record_for_a_colleague(string backend)
    {
        await using var h = await ServerHarness.StartAsync(backend);
        var mallory = await h.NewTokenAsync(Role.Signer, "mallory");
        var own = Event("ws-3", "mallory", "checkpoint-signed");
        var forAlice = Event("ws-3", "alice", "checkpoint-signed");
        var notACheckpoint = Event("ws-3", "mallory", "user-login");

        var (status, answer) = await h.PostEventsAsAsync(mallory, own, forAlice, notACheckpoint);

        Assert.Equal(HttpStatusCode.MultiStatus, status);
        var results = answer["results"]!.AsArray();
        Assert.Equal(["accepted", "refused", "refused"], results.Select(r => (string)r!["status"]!));
        Assert.Contains("user.name 'alice'", (string)results[1]!["reason"]!, StringComparison.Ordinal);
        Assert.Contains("checkpoint-*", (string)results[2]!["reason"]!, StringComparison.Ordinal);
        Assert.Equal(1, await h.Server.Store.Ledger.SizeAsync());
        Assert.Empty((await h.GetJsonAsync("api/v1/events?user=alice"))["events"]!.AsArray());

        // A signer token reads nothing either.
        using var read = await h.GetAsync($"api/v1/events/{own["id"]}", mallory);
        Assert.Equal(HttpStatusCode.Forbidden, read.StatusCode);
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_revoked_token_is_refused_at_once(string backend)
    {
        await using var h = await ServerHarness.StartAsync(backend);
        var node1 = await h.NewTokenAsync(Role.Agent, "node1");
        var node2 = await h.NewTokenAsync(Role.Agent, "node2");
        await h.PostEventsAsAsync(node1, Event("node1", "root"));
        await h.PostEventsAsAsync(node2, Event("node2", "root"));
        var tokens = await h.Server.Store.ListTokensAsync();

        // Revoked in the server's process: refused on the very next request.
        Assert.NotNull(await h.Server.RevokeTokenAsync(tokens.Single(t => t.Identity == "node1").Id));
        using (var refused = await h.PostEventsAsync(ServerHarness.Batch([Event("node1", "root")]), node1))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Contains("revoked", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Revoked by another process on the same database (the CLI): refused within the documented bound of one second.
        var node2Id = tokens.Single(t => t.Identity == "node2").Id;
        var (exit, stdout, stderr) = await CliRunner.RunAsync("server", "token", "revoke", node2Id, "--data-dir", h.Directory, "--db", h.Database);
        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains("revoked " + node2Id, stdout, StringComparison.Ordinal);
        await Task.Delay(TokenAuthenticator.MaxCacheTime + TimeSpan.FromMilliseconds(100));
        using (var refused = await h.PostEventsAsync(ServerHarness.Batch([Event("node2", "root")]), node2))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        Assert.Equal(2, await h.Server.Store.Ledger.SizeAsync());
    }

    [Fact]
    public async Task An_expired_token_is_refused()
    {
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite);
        var expired = await h.NewTokenAsync(Role.Agent, "node1", expires: DateTimeOffset.UtcNow.AddSeconds(-1));
        var live = await h.NewTokenAsync(Role.Agent, "node1", expires: DateTimeOffset.UtcNow.AddDays(1));

        using var refused = await h.PostEventsAsync(ServerHarness.Batch([Event("node1", "root")]), expired);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Contains("expired", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await h.PostEventsAsAsync(live, Event("node1", "root"));
        Assert.Equal(1, await h.Server.Store.Ledger.SizeAsync());
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task An_absurd_timestamp_is_stored_marked_and_found_at_its_arrival_time(string backend)
    {
        await using var h = await ServerHarness.StartAsync(backend);
        var node1 = await h.NewTokenAsync(Role.Agent, "node1");
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        var ancient = Event("node1", "mallory", at: new DateTimeOffset(1, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var future = Event("node1", "mallory", at: new DateTimeOffset(9999, 12, 31, 0, 0, 0, TimeSpan.Zero));
        var now = Event("node1", "mallory", at: DateTimeOffset.UtcNow);

        var (status, _) = await h.PostEventsAsAsync(node1, ancient, future, now);

        Assert.Equal(HttpStatusCode.OK, status);
        var entries = await h.Server.Store.Ledger.GetEntriesAsync(0, 3);
        var marks = entries.Select(e => EventRecord.Parse(Encoding.UTF8.GetString(e)).Get("trainguard.submitter.timestamp_outside_window") is JsonValue v && v.GetValue<bool>()).ToList();
        Assert.Equal([true, true, false], marks);
        Assert.Equal("0001-01-01T00:00:00.000Z", EventRecord.Parse(Encoding.UTF8.GetString(entries[0])).GetString("@timestamp"));

        // A reader looking at the last minutes sees all three, the claimed times kept as sent.
        var window = await h.GetJsonAsync($"api/v1/events?from={Uri.EscapeDataString(ServerHarness.EventRecordTime(before))}");
        Assert.Equal([0L, 1, 2], window["events"]!.AsArray().Select(e => (long)e!["index"]!));
        var audit = await CliRunner.RunAsync("ledger", "audit", "--db", h.Database, "--log-key", h.Server.VerifierKey);
        Assert.True(audit.Exit == 0, audit.Stdout + audit.Stderr);
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Pre_posting_an_agents_event_ids_does_not_suppress_its_events(string backend)
    {
        await using var h = await ServerHarness.StartAsync(backend);
        var victim = await h.NewTokenAsync(Role.Agent, "gpu-node-17");
        var attackersNode = await h.NewTokenAsync(Role.Agent, "node1");

        // The agent's ids are derived from data the attacker knows: they post them first, with other content, from
        // their own node and with a legacy (unbound) agent token that may name any host.
        var scans = Enumerable.Range(0, 30).Select(i => Event("gpu-node-17", "root", "artifact-scanned")).ToList();
        foreach (var (token, host, action) in new[] { (attackersNode, "node1", "artifact-scanned"), (h.AgentToken, "gpu-node-17", "artifact-scanned") })
        {
            var claims = scans.Select(e => WithId(Event(host, "mallory", action), (string)e["id"]!)).ToArray();
            await h.PostEventsAsAsync(token, claims);
        }

        var claimed = await h.Server.Store.Ledger.SizeAsync();
        var (status, answer) = await h.PostEventsAsAsync(victim, [.. scans]);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.All(answer["results"]!.AsArray(), r => Assert.Equal("accepted", (string)r!["status"]!));
        Assert.Equal(claimed + 30, await h.Server.Store.Ledger.SizeAsync());

        // A reader finds the node's own event under its id, beside the attacker's claims.
        var got = await h.GetJsonAsync($"api/v1/events/{scans[7]["id"]}");
        var leaves = got["same_id_at"]!.AsArray().Select(l => (long)l!).Append((long)got["index"]!).ToList();
        Assert.Equal(3, leaves.Count);
        var hosts = new List<string?>();
        foreach (var leaf in leaves)
        {
            hosts.Add(EventRecord.Parse(Encoding.UTF8.GetString((await h.Server.Store.Ledger.GetEntryAsync(leaf))!)).GetString("trainguard.submitter.identity"));
        }

        Assert.Contains("gpu-node-17", hosts);

        // Sending them again is still idempotent for the node itself.
        var (again, repeat) = await h.PostEventsAsAsync(victim, [.. scans]);
        Assert.Equal(HttpStatusCode.OK, again);
        Assert.All(repeat["results"]!.AsArray(), r => Assert.Equal("duplicate", (string)r!["status"]!));
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task An_oversized_event_does_not_lose_its_batch(string backend)
    {
        await using var h = await ServerHarness.StartAsync(backend);
        var node = await h.NewTokenAsync(Role.Agent, "gpu-node-17");
        var planted = Event("gpu-node-17", "alice", "ssh-key-added");
        planted["trainguard"] = new JsonObject { ["ssh"] = new JsonObject { ["key_comment"] = new string('A', 11_000), ["key_line"] = "ssh-ed25519 AAAA " + new string('A', 55_000) } };
        var other = Event("gpu-node-17", "bob", "ssh-key-added");

        var (status, answer) = await h.PostEventsAsAsync(node, Event("gpu-node-17", "alice", "user-login"), planted, other);

        Assert.Equal(HttpStatusCode.MultiStatus, status);
        Assert.Equal(["accepted", "too-large", "accepted"], answer["results"]!.AsArray().Select(r => (string)r!["status"]!));
        Assert.Equal(2, (int)answer["appended"]!);
        Assert.Equal(1, (int)answer["not_stored"]!);
        var stored = await h.GetJsonAsync($"api/v1/events/{other["id"]}");
        Assert.Equal("bob", (string)stored["event"]!["user"]!["name"]!);
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Reusing_a_hosts_event_id_with_other_content_raises_an_alert_naming_both_tokens(string backend)
    {
        await using var h = await ServerHarness.StartAsync(backend);
        var first = await h.NewTokenAsync(Role.Agent, "gpu-node-17", "agent token");
        var second = await h.NewTokenAsync(Role.Agent, "gpu-node-17", "copied from the node");
        var original = Event("gpu-node-17", "root", "artifact-scanned");
        await h.PostEventsAsAsync(first, original);
        var rewritten = (JsonObject)original.DeepClone();
        rewritten["user"] = new JsonObject { ["name"] = "nobody" };

        var (status, answer) = await h.PostEventsAsAsync(second, rewritten, Event("gpu-node-17", "root"));

        Assert.Equal(HttpStatusCode.MultiStatus, status);
        Assert.Equal(["conflict", "accepted"], answer["results"]!.AsArray().Select(r => (string)r!["status"]!));
        var tokens = await h.Server.Store.ListTokensAsync();
        var alerts = await h.GetJsonAsync("api/v1/events?action=event-id-conflict");
        var alert = EventRecord.FromObject(alerts["events"]!.AsArray().Single()!["event"]!.AsObject());
        Assert.Equal(tokens.Single(t => t.Label == "agent token").Id, alert.GetString("trainguard.conflict.existing.submitter.token_id"));
        Assert.Equal(tokens.Single(t => t.Label == "copied from the node").Id, alert.GetString("trainguard.conflict.attempted.submitter.token_id"));
        Assert.Equal(75, alert.GetInt64("event.severity"));
        Assert.Equal("gpu-node-17", alert.GetString("host.name"));
        Assert.Contains("copied from the node", alert.GetString("message"), StringComparison.Ordinal);

        // The original is what stays stored under the id.
        var stored = await h.GetJsonAsync($"api/v1/events/{original["id"]}");
        Assert.Equal("root", (string)stored["event"]!["user"]!["name"]!);
        Assert.Empty(stored["same_id_at"]!.AsArray());

        // The same conflicting content sent again (an agent retrying its dead letters) is a conflict again, not another alert.
        var size = await h.Server.Store.Ledger.SizeAsync();
        var (_, retried) = await h.PostEventsAsAsync(second, rewritten);
        Assert.Equal("conflict", (string)retried["results"]![0]!["status"]!);
        Assert.Equal(size, await h.Server.Store.Ledger.SizeAsync());
    }

    [Fact]
    public async Task Slow_body_gets_408()
    {
        var log = new CollectingLogger();
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite, o => o with
        {
            MinRequestBodyDataRate = new(bytesPerSecond: 240, gracePeriod: TimeSpan.FromSeconds(2)),
            ExtraLoggerProvider = log,
        });

        // Headers promise 100 kB; the body trickles a byte at a time, far below 240 bytes/s.
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync(h.Server.BaseAddress.Host, h.Server.BaseAddress.Port);
        var stream = client.GetStream();
        var head = $"POST /api/v1/events HTTP/1.1\r\nHost: {h.Server.BaseAddress.Authority}\r\nAuthorization: Bearer {h.AgentToken}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n[";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        var answer = new StringBuilder();
        var buffer = new byte[4096];
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var reading = stream.ReadAsync(buffer, deadline.Token).AsTask();
        while (!reading.IsCompleted)
        {
            await Task.WhenAny(reading, Task.Delay(500, deadline.Token));
            if (!reading.IsCompleted)
            {
                try
                {
                    await stream.WriteAsync(" "u8.ToArray(), deadline.Token);
                }
                catch (IOException)
                {
                    break;
                }
            }
        }

        var read = await reading;
        answer.Append(Encoding.ASCII.GetString(buffer, 0, read));
        Assert.StartsWith("HTTP/1.1 408", answer.ToString(), StringComparison.Ordinal);
        Assert.Contains("body-timeout", answer.ToString(), StringComparison.Ordinal);
        Assert.Equal(0, await h.Server.Store.Ledger.SizeAsync());

        // Logged as one line, without a stack trace; no error.
        Assert.Contains(log.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("408", StringComparison.Ordinal));
        Assert.DoesNotContain(log.Entries, e => e.Category.StartsWith("TrainGuard", StringComparison.Ordinal) && (e.Exception is not null || e.Level >= LogLevel.Error));
    }

    [Fact]
    public async Task Rate_limit_answers_429_with_retry_after()
    {
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite, o => o with { RateLimit = new RateLimit(PerSecond: 0.5, Burst: 3) });
        var other = await h.NewTokenAsync(Role.Reader);

        // A burst of 3 is allowed, then the bucket refills at one request per two seconds.
        for (var i = 0; i < 3; i++)
        {
            using var ok = await h.GetAsync("api/v1/events", h.ReaderToken);
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using var limited = await h.GetAsync("api/v1/events", h.ReaderToken);
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        var retryAfter = limited.Headers.RetryAfter?.Delta;
        Assert.NotNull(retryAfter);
        Assert.InRange(retryAfter.Value, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2));
        Assert.Contains("rate-limited", await limited.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // The bucket is the token's: another token is not held back, nor are the public endpoints.
        using var otherToken = await h.GetAsync("api/v1/events", other);
        Assert.Equal(HttpStatusCode.OK, otherToken.StatusCode);
        using var checkpoint = await h.GetAsync("checkpoint", null);
        Assert.Equal(HttpStatusCode.OK, checkpoint.StatusCode);

        await Task.Delay(retryAfter.Value + TimeSpan.FromMilliseconds(200));
        using var again = await h.GetAsync("api/v1/events", h.ReaderToken);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
    }

    [Fact]
    public async Task Data_directory_and_database_are_private_under_umask_022()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var previous = Umask(Convert.ToUInt32("022", 8));
        var parent = TestPaths.NewTempDirectory();
        ServerHarness h;
        try
        {
            var directory = Path.Combine(parent, "data");
            h = await ServerHarness.StartAtAsync(directory, "sqlite:" + Path.Combine(directory, "trainguard.db"));
        }
        finally
        {
            Umask(previous);
        }

        await using (h)
        {
            await h.PostEventsOkAsync([ServerHarness.Event(1)]);
            var database = Path.Combine(h.Directory, "trainguard.db");
            Assert.Equal(PrivateFiles.DirectoryMode, File.GetUnixFileMode(h.Directory));
            foreach (var file in new[] { database, database + "-wal", database + "-shm", Path.Combine(h.Directory, "log-signing.key") })
            {
                Assert.True(File.Exists(file), file);
                Assert.True(File.GetUnixFileMode(file) == PrivateFiles.FileMode, $"{file}: {File.GetUnixFileMode(file)}");
            }
        }

        Directory.Delete(parent, recursive: true);

        // A database an older server left readable to others is narrowed when opened.
        var older = TestPaths.NewTempDirectory();
        var path = Path.Combine(older, "trainguard.db");
        await File.WriteAllBytesAsync(path, []);
        File.SetUnixFileMode(path, PrivateFiles.FileMode | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        await using (await TrainGuard.Server.Storage.SqliteServerStore.OpenAsync(path))
        {
            Assert.Equal(PrivateFiles.FileMode, File.GetUnixFileMode(path));
        }

        Directory.Delete(older, recursive: true);
    }

    [Fact]
    public async Task Integers_above_2_pow_53_are_not_rounded()
    {
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite);
        var node = await h.NewTokenAsync(Role.Agent, "gpu-node-1");

        // Up to 2^53 every integer keeps its digits in canonical JSON (RFC 8785 writes numbers as doubles). Beyond, the
        // digits would change: 2^53 + 1 to its neighbour, and even 2^60, which a double holds, to 1152921504606847000.
        const string body = """
            [
              {"id":"0190f5a0-0000-7000-8000-000000000001","@timestamp":"2026-11-23T10:00:00Z","event":{"action":"a"},"host":{"name":"gpu-node-1"},"n":{"pow53":9007199254740992,"neg":-9007199254740992,"sixteen":1234567890123456}},
              {"id":"0190f5a0-0000-7000-8000-000000000002","@timestamp":"2026-11-23T10:00:00Z","event":{"action":"a"},"host":{"name":"gpu-node-1"},"file":{"inode":9007199254740993}},
              {"id":"0190f5a0-0000-7000-8000-000000000003","@timestamp":"2026-11-23T10:00:00Z","event":{"action":"a"},"host":{"name":"gpu-node-1"},"list":[1,[2,1152921504606846976]]},
              {"id":"0190f5a0-0000-7000-8000-000000000004","@timestamp":"2026-11-23T10:00:00Z","event":{"action":"a"},"host":{"name":"gpu-node-1"},"d":{"big":-123456789012345678901234}},
              {"id":"0190f5a0-0000-7000-8000-000000000005","@timestamp":"2026-11-23T10:00:00Z","event":{"action":"a"},"host":{"name":"gpu-node-1"},"file":{"inode":"9007199254740993"}}
            ]
            """;
        using var response = await h.PostEventsAsync(body, node);

        Assert.Equal(HttpStatusCode.MultiStatus, response.StatusCode);
        var results = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["results"]!.AsArray();
        Assert.Equal(["accepted", "refused", "refused", "refused", "accepted"], results.Select(r => (string)r!["status"]!));
        Assert.Contains("file.inode: the integer 9007199254740993 is beyond 2^53", (string)results[1]!["reason"]!, StringComparison.Ordinal);
        Assert.Contains("list[1][1]: the integer 1152921504606846976", (string)results[2]!["reason"]!, StringComparison.Ordinal);
        Assert.Contains("d.big: the integer -123456789012345678901234", (string)results[3]!["reason"]!, StringComparison.Ordinal);
        Assert.Contains("send it as a string", (string)results[2]!["reason"]!, StringComparison.Ordinal);

        var stored = Encoding.UTF8.GetString((await h.Server.Store.Ledger.GetEntryAsync(0))!);
        Assert.Contains("\"pow53\":9007199254740992", stored, StringComparison.Ordinal);
        Assert.Contains("\"neg\":-9007199254740992", stored, StringComparison.Ordinal);
        Assert.Contains("\"sixteen\":1234567890123456", stored, StringComparison.Ordinal);
        Assert.Contains("\"inode\":\"9007199254740993\"", Encoding.UTF8.GetString((await h.Server.Store.Ledger.GetEntryAsync(1))!), StringComparison.Ordinal);
        Assert.Equal(2, await h.Server.Store.Ledger.SizeAsync());
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "umask")]
    private static extern uint Umask(uint mask);

    private static JsonObject WithId(JsonObject e, string id)
    {
        e["id"] = id;
        return e;
    }

    private static JsonObject Event(string host, string user, string action = "user-login", DateTimeOffset? at = null) => new()
    {
        ["id"] = Guid.CreateVersion7().ToString(),
        ["@timestamp"] = ServerHarness.EventRecordTime(at ?? new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero)),
        ["event"] = new JsonObject { ["kind"] = "event", ["action"] = action },
        ["host"] = new JsonObject { ["name"] = host },
        ["user"] = new JsonObject { ["name"] = user },
    };
}
