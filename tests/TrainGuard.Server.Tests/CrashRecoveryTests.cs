using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using TrainGuard.Ledger.Notes;
using TrainGuard.Server.Tests.Support;

namespace TrainGuard.Server.Tests;

/// <summary>
/// <c>kill -9</c> of a real server process while clients stream batches: after each restart every acknowledged
/// event is stored and queryable, and the tree is consistent with every checkpoint handed out before the crash.
/// </summary>
public sealed class CrashRecoveryTests
{
    private const int Kills = 3;
    private const int BatchSize = 50;
    private const int Streams = 2;

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Killing_the_server_during_a_stream_of_batches_loses_no_acknowledged_event_and_keeps_every_checkpoint(string backend)
    {
        var directory = TestPaths.NewTempDirectory();
        var database = await Backends.NewDatabaseAsync(backend, directory);
        var (exit, token, stderr) = await CliRunner.RunAsync("server", "token", "new", "--role", "admin", "--data-dir", directory, "--db", database);
        Assert.True(exit == 0, stderr);
        token = token.Trim();
        var (_, key, _) = await CliRunner.RunAsync("server", "key", "show", "--data-dir", directory);
        var verifier = NoteVerifier.Parse(key.Trim());

        var acknowledged = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        var checkpoints = new ConcurrentBag<string>();
        var random = new Random(4242);
        for (var round = 0; round < Kills; round++)
        {
            using var server = await ServerProcess.StartAsync(directory, database);
            await AssertRecoveredAsync(server.BaseAddress, token, verifier, acknowledged, checkpoints);

            using var stop = new CancellationTokenSource();
            var streams = Enumerable.Range(0, Streams).Select(s => StreamAsync(server.BaseAddress, token, round * 1000 + s, acknowledged, checkpoints, stop.Token)).ToList();
            await Task.Delay(TimeSpan.FromMilliseconds(1000 + random.Next(1500)));
            await server.KillAsync();
            await stop.CancelAsync();
            await Task.WhenAll(streams);
        }

        Assert.True(acknowledged.Count >= Kills * BatchSize, $"only {acknowledged.Count} events were acknowledged");
        using (var server = await ServerProcess.StartAsync(directory, database))
        {
            await AssertRecoveredAsync(server.BaseAddress, token, verifier, acknowledged, checkpoints);
            await server.KillAsync();
        }

        var (auditExit, audit, auditErrors) = await CliRunner.RunAsync("ledger", "audit", "--db", database, "--log-key", verifier.VerifierKey);
        Assert.True(auditExit == 0, audit + auditErrors);
    }

    private static async Task StreamAsync(Uri server, string token, int stream, ConcurrentDictionary<string, long> acknowledged, ConcurrentBag<string> checkpoints, CancellationToken stop)
    {
        using var http = new HttpClient { BaseAddress = server, Timeout = TimeSpan.FromSeconds(30) };
        for (var batch = 0; !stop.IsCancellationRequested; batch++)
        {
            var events = Enumerable.Range(0, BatchSize).Select(i => ServerHarness.Event((stream * 100_000) + (batch * BatchSize) + i)).ToList();
            using var request = new HttpRequestMessage(HttpMethod.Post, "api/v1/events") { Content = new StringContent(ServerHarness.Batch(events), Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            try
            {
                using var response = await http.SendAsync(request, stop);
                if (!response.IsSuccessStatusCode)
                {
                    continue;
                }

                // Acknowledged only once the whole answer arrived.
                var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync(stop))!;
                foreach (var result in answer["results"]!.AsArray())
                {
                    acknowledged[(string)result!["id"]!] = (long)result["index"]!;
                }

                checkpoints.Add((string)answer["checkpoint"]!);
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException or OperationCanceledException)
            {
                // The server died under us: this batch was not acknowledged. Wait for the test to kill or restart it.
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

    private static async Task AssertRecoveredAsync(Uri server, string token, NoteVerifier verifier, ConcurrentDictionary<string, long> acknowledged, ConcurrentBag<string> checkpoints)
    {
        using var http = new HttpClient { BaseAddress = server, Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var current = TreeHead.OpenSigned(Encoding.UTF8.GetBytes(await http.GetStringAsync("checkpoint")), [verifier]);
        Assert.True(current.Verification.IsVerified);
        var size = current.TreeHead.Size;

        // Every acknowledged event is stored at the index it was acknowledged with.
        var stored = new Dictionary<string, long>(StringComparer.Ordinal);
        string? after = null;
        do
        {
            var page = JsonNode.Parse(await http.GetStringAsync($"api/v1/events?limit=1000{(after is null ? string.Empty : "&after=" + after)}"))!;
            foreach (var e in page["events"]!.AsArray())
            {
                stored[(string)e!["event"]!["id"]!] = (long)e["index"]!;
            }

            after = (string?)page["next"];
        }
        while (after is not null);

        Assert.Equal(size, stored.Count);
        foreach (var (id, index) in acknowledged)
        {
            Assert.True(stored.TryGetValue(id, out var at), $"acknowledged event {id} (leaf {index}) is missing after the restart");
            Assert.Equal(index, at);
        }

        // Every checkpoint handed out is signed and a prefix of the current tree.
        await TreeHeadChecks.AssertPrefixesAsync(http, verifier, checkpoints, current.TreeHead);
    }
}
