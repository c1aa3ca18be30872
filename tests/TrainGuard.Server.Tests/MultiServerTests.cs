using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using TrainGuard.Ledger.Notes;
using TrainGuard.Server.Tests.Support;
using Xunit.Abstractions;

namespace TrainGuard.Server.Tests;

/// <summary>
/// Three real server processes on one PostgreSQL database, agents posting to all three, and the sequencer killed with
/// -9 twice mid-stream: every acknowledged event ends in the log exactly once at the index it was acknowledged with,
/// every tree head any server handed out is a prefix of the final tree, and the ledger audit is clean.
/// </summary>
public sealed class MultiServerTests(ITestOutputHelper output)
{
    private const int Servers = 3;
    private const int Agents = 6;
    private const int BatchSize = 40;
    private const int Target = 2_000;

    // Acknowledged events beyond a kill's trigger the agents may post (so each kill lands mid-stream, and the run stays bounded).
    private const int Headroom = 400;

    private long _limit;

    [PostgresFact]
    public async Task Three_servers_lose_no_acknowledged_event_when_the_sequencer_is_killed_twice()
    {
        var directories = Enumerable.Range(0, Servers).Select(_ => TestPaths.NewTempDirectory()).ToArray();
        var database = await Backends.NewDatabaseAsync(Backends.Postgres, directories[0]);
        var (exit, token, stderr) = await CliRunner.RunAsync("server", "token", "new", "--role", "admin", "--data-dir", directories[0], "--db", database);
        Assert.True(exit == 0, stderr);
        token = token.Trim();
        var (_, key, _) = await CliRunner.RunAsync("server", "key", "show", "--data-dir", directories[0]);
        var verifier = NoteVerifier.Parse(key.Trim());
        var keyFile = Path.Combine(directories[0], "log-signing.key");

        var servers = new ServerProcess?[Servers];
        try
        {
            for (var i = 0; i < Servers; i++)
            {
                servers[i] = await ServerProcess.StartAsync(directories[i], database, "--log-signing-key", keyFile);
            }

            var first = await SequencerAsync(servers, token, TimeSpan.FromSeconds(30));
            var acknowledged = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
            var checkpoints = new ConcurrentBag<string>();
            using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(4));
            Volatile.Write(ref _limit, (Target / 4) + Headroom);
            var agents = Enumerable.Range(0, Agents).Select(a => AgentAsync(servers, token, a, acknowledged, checkpoints, stop.Token)).ToList();
            var watcher = WatchCheckpointsAsync(servers, checkpoints, stop.Token);

            await UntilAsync(() => acknowledged.Count >= Target / 4, stop.Token);
            var failover1 = await KillSequencerAsync(servers, first, token);
            Volatile.Write(ref _limit, (Target / 2) + Headroom);
            await UntilAsync(() => acknowledged.Count >= Target / 2, stop.Token);
            var second = await SequencerAsync(servers, token, TimeSpan.FromSeconds(30));
            var failover2 = await KillSequencerAsync(servers, second, token);

            // The first server killed comes back and joins as a follower.
            servers[first] = await ServerProcess.StartAsync(directories[first], database, "--log-signing-key", keyFile);
            Volatile.Write(ref _limit, Target);
            await UntilAsync(() => acknowledged.Count >= Target, stop.Token);
            await stop.CancelAsync();
            await Task.WhenAll(agents);
            await watcher;
            output.WriteLine($"failover after kill -9: {failover1.TotalMilliseconds:F0} ms, {failover2.TotalMilliseconds:F0} ms; {acknowledged.Count} events acknowledged; {checkpoints.Count} tree heads seen");
            Assert.True(failover1 < TimeSpan.FromSeconds(10) && failover2 < TimeSpan.FromSeconds(10), $"failover took {failover1} and {failover2}");

            // Every live server serves the same latest tree head shortly after the last append.
            var live = servers.OfType<ServerProcess>().ToList();
            var final = await ConvergedTreeHeadAsync(live, verifier);
            await AssertLogAsync(live[0].BaseAddress, token, verifier, final, acknowledged, checkpoints);
        }
        finally
        {
            foreach (var server in servers)
            {
                server?.Dispose();
            }
        }

        var (auditExit, audit, auditErrors) = await CliRunner.RunAsync("ledger", "audit", "--db", database, "--log-key", verifier.VerifierKey);
        Assert.True(auditExit == 0, audit + auditErrors);
    }

    [PostgresFact]
    public async Task A_server_with_another_signing_key_refuses_to_join()
    {
        var one = TestPaths.NewTempDirectory();
        var two = TestPaths.NewTempDirectory();
        var database = await Backends.NewDatabaseAsync(Backends.Postgres, one);
        using var first = await ServerProcess.StartAsync(one, database);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => ServerProcess.StartAsync(two, database));
        Assert.Contains("not signed by this server's log key", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Posts batches of fresh events, each to the next live server; a batch that fails is sent again to another.</summary>
    private async Task AgentAsync(ServerProcess?[] servers, string token, int agent, ConcurrentDictionary<string, long> acknowledged, ConcurrentBag<string> checkpoints, CancellationToken stop)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(90) };
        var attempt = agent;
        for (var batch = 0; !stop.IsCancellationRequested; batch++)
        {
            while (acknowledged.Count >= Volatile.Read(ref _limit) && !stop.IsCancellationRequested)
            {
                await Task.Delay(20, CancellationToken.None);
            }

            var body = ServerHarness.Batch(Enumerable.Range(0, BatchSize).Select(i => ServerHarness.Event((agent * 1_000_000) + (batch * BatchSize) + i)));
            while (!stop.IsCancellationRequested)
            {
                var server = servers[attempt++ % Servers];
                if (server is null)
                {
                    continue;
                }

                using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server.BaseAddress, "api/v1/events")) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
                try
                {
                    using var response = await http.SendAsync(request, stop);
                    if (response.IsSuccessStatusCode)
                    {
                        var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync(stop))!;
                        foreach (var result in answer["results"]!.AsArray())
                        {
                            var id = (string)result!["id"]!;
                            var index = (long)result["index"]!;
                            var was = acknowledged.GetOrAdd(id, index);
                            Assert.True(was == index, $"event {id} was acknowledged at leaf {was} and again at leaf {index}");
                        }

                        checkpoints.Add((string)answer["checkpoint"]!);
                        break;
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException or OperationCanceledException)
                {
                    // The server died under the request: not acknowledged; sent again to another server.
                }

                try
                {
                    await Task.Delay(50, stop);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Reads every live server's /checkpoint while the agents post (what a reader or witness would be handed).</summary>
    private static async Task WatchCheckpointsAsync(ServerProcess?[] servers, ConcurrentBag<string> checkpoints, CancellationToken stop)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        while (!stop.IsCancellationRequested)
        {
            foreach (var server in servers.OfType<ServerProcess>())
            {
                try
                {
                    checkpoints.Add(await http.GetStringAsync(new Uri(server.BaseAddress, "checkpoint"), stop));
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or OperationCanceledException)
                {
                }
            }

            try
            {
                await Task.Delay(200, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Kills the sequencer with SIGKILL and returns how long until another server reports it holds the role.</summary>
    private async Task<TimeSpan> KillSequencerAsync(ServerProcess?[] servers, int sequencer, string token)
    {
        var victim = servers[sequencer]!;
        servers[sequencer] = null;
        var killed = Stopwatch.StartNew();
        await victim.KillAsync();
        victim.Dispose();
        var next = await SequencerAsync(servers, token, TimeSpan.FromSeconds(30));
        output.WriteLine($"server {sequencer} (sequencer) killed; server {next} took over after {killed.ElapsedMilliseconds} ms");
        return killed.Elapsed;
    }

    /// <summary>The slot of the live server whose /readyz says it is the sequencer.</summary>
    private static async Task<int> SequencerAsync(ServerProcess?[] servers, string token, TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            for (var i = 0; i < servers.Length; i++)
            {
                if (servers[i] is not { } server)
                {
                    continue;
                }

                try
                {
                    var ready = JsonNode.Parse(await http.GetStringAsync(new Uri(server.BaseAddress, "readyz")))!;
                    if ((string?)ready["role"] == "sequencer")
                    {
                        return i;
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                {
                }
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"no server reported the sequencer role within {timeout}");
    }

    /// <summary>Waits until every server serves the same signed tree head; returns it.</summary>
    private async Task<TreeHead> ConvergedTreeHeadAsync(IReadOnlyList<ServerProcess> live, NoteVerifier verifier)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var heads = new List<TreeHead>();
            foreach (var server in live)
            {
                var opened = TreeHead.OpenSigned(Encoding.UTF8.GetBytes(await http.GetStringAsync(new Uri(server.BaseAddress, "checkpoint"))), [verifier]);
                Assert.True(opened.Verification.IsVerified);
                heads.Add(opened.TreeHead);
            }

            if (heads.All(h => h.Size == heads[0].Size && h.RootHash.SequenceEqual(heads[0].RootHash)))
            {
                output.WriteLine($"all {live.Count} servers serve tree size {heads[0].Size} ({waited.ElapsedMilliseconds} ms after the agents stopped)");
                return heads[0];
            }

            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(5), $"the servers still serve tree sizes {string.Join(", ", heads.Select(h => h.Size))} after {waited.Elapsed}");
            await Task.Delay(50);
        }
    }

    private static async Task AssertLogAsync(Uri server, string token, NoteVerifier verifier, TreeHead final, ConcurrentDictionary<string, long> acknowledged, ConcurrentBag<string> checkpoints)
    {
        using var http = new HttpClient { BaseAddress = server, Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

        // Every stored event once; every acknowledged event at the leaf it was acknowledged with.
        var stored = new Dictionary<string, long>(StringComparer.Ordinal);
        string? after = null;
        var rows = 0;
        do
        {
            var page = JsonNode.Parse(await http.GetStringAsync($"api/v1/events?limit=1000{(after is null ? string.Empty : "&after=" + after)}"))!;
            foreach (var e in page["events"]!.AsArray())
            {
                // A batch whose agent gave up (cancelled at the end of the test) after a follower staged it is still
                // appended, after the tree head taken as final: it was never acknowledged, so it is no loss, and it
                // lies beyond the final tree.
                var index = (long)e!["index"]!;
                if (index >= final.Size)
                {
                    continue;
                }

                rows++;
                Assert.True(stored.TryAdd((string)e["event"]!["id"]!, index), $"event {(string)e["event"]!["id"]!} is stored twice");
            }

            after = (string?)page["next"];
        }
        while (after is not null);

        Assert.Equal(final.Size, rows);
        foreach (var (id, index) in acknowledged)
        {
            Assert.True(stored.TryGetValue(id, out var at), $"acknowledged event {id} (leaf {index}) is not in the final log");
            Assert.Equal(index, at);
        }

        // Every tree head handed out by any server is signed and a prefix of the final tree.
        await TreeHeadChecks.AssertPrefixesAsync(http, verifier, checkpoints, final);
    }

    private static async Task UntilAsync(Func<bool> condition, CancellationToken cancellationToken)
    {
        while (!condition())
        {
            await Task.Delay(50, cancellationToken);
        }
    }
}
