using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using TrainGuard.Events;
using TrainGuard.Ledger.Storage;
using TrainGuard.Server.Cluster;
using TrainGuard.Server.Hosting;
using TrainGuard.Server.Ledger;
using TrainGuard.Server.Tests.Support;

namespace TrainGuard.Server.Tests;

/// <summary>
/// Two servers in one process on one PostgreSQL database: the follower hands its batches to the sequencer and answers
/// exactly as a direct append would (accepted, duplicate, conflict with its alert); both serve the same tree head; the
/// follower takes over when the sequencer stops. And a second server on one SQLite file stops with a clear error.
/// </summary>
public sealed class ClusterTests
{
    [PostgresFact]
    public async Task A_follower_answers_duplicates_and_conflicts_as_a_direct_append_does()
    {
        await using var sequencer = await ServerHarness.StartAsync(Backends.Postgres);
        await using var follower = await StartFollowerAsync(sequencer);
        Assert.True(sequencer.Server.Cluster!.IsSequencer);
        Assert.False(follower.Server.Cluster!.IsSequencer);

        var original = ServerHarness.Event(1);
        var first = await follower.PostEventsOkAsync([original]);
        Assert.Equal(0, (long)first["results"]![0]!["index"]!);
        Assert.Equal("accepted", (string)first["results"]![0]!["status"]!);

        var changed = (JsonObject)original.DeepClone();
        changed["user"] = new JsonObject { ["name"] = "someone-else" };
        using var response = await follower.PostEventsAsync(ServerHarness.Batch([ServerHarness.Event(2), changed]), follower.AgentToken);
        var answer = await ServerHarness.AssertNewAndConflictAsync(response, existing: 0);
        Assert.Equal(3, (long)answer["tree_size"]!);
        var alert = EventRecord.Parse(Encoding.UTF8.GetString((await follower.Server.Store.Ledger.GetEntryAsync(2))!));
        Assert.Equal(ConflictAlertAction, alert.Action);
        Assert.Equal((string)original["id"]!, alert.GetString("trainguard.conflict.event_id"));

        // The same batch again: duplicates at the leaves first given, through either server.
        var again = await follower.PostEventsOkAsync([original]);
        Assert.Equal(("duplicate", 0L), ((string)again["results"]![0]!["status"]!, (long)again["results"]![0]!["index"]!));
        var direct = await sequencer.PostEventsOkAsync([original]);
        Assert.Equal(("duplicate", 0L), ((string)direct["results"]![0]!["status"]!, (long)direct["results"]![0]!["index"]!));

        // Both serve the tree head that covers everything, and say which is which.
        // (Within a notification round trip; the bound leaves room for a loaded test machine.)
        Assert.Equal(await CheckpointWithinAsync(sequencer, TimeSpan.FromSeconds(3)), await CheckpointWithinAsync(follower, TimeSpan.FromSeconds(3)));
        Assert.Equal("follower", (string)(await follower.GetJsonAsync("readyz"))["role"]!);
        Assert.Equal("sequencer", (string)(await sequencer.GetJsonAsync("readyz"))["role"]!);
        using var metrics = await follower.GetAsync("metrics", follower.ReaderToken);
        var text = await metrics.Content.ReadAsStringAsync();
        Assert.Contains("\ntrainguard_sequencer 0\n", text, StringComparison.Ordinal);
        Assert.Matches(@"\ntrainguard_staging_depth \d+\n", text);
        Assert.Matches(@"\ntrainguard_sequencer_lag_leaves \d+\n", text);
    }

    [PostgresFact]
    public async Task The_follower_takes_over_when_the_sequencer_stops_and_carries_on_from_the_stored_log()
    {
        var sequencer = await ServerHarness.StartAsync(Backends.Postgres);
        await using var follower = await StartFollowerAsync(sequencer);
        await follower.PostEventsOkAsync([ServerHarness.Event(1), ServerHarness.Event(2)]);
        await sequencer.DisposeAsync();

        await TakesOverAsync(follower);
        var answer = await follower.PostEventsOkAsync([ServerHarness.Event(3)]);
        Assert.Equal(2, (long)answer["results"]![0]!["index"]!);
        Assert.Equal(3, (long)answer["tree_size"]!);
        Assert.Equal(1, follower.Server.Cluster!.Takeovers);
    }

    [PostgresFact]
    public async Task Without_a_sequencer_a_batch_is_answered_503_and_stays_staged_until_one_takes_over()
    {
        var directory = TestPaths.NewTempDirectory();
        var database = await Backends.NewDatabaseAsync(Backends.Postgres, directory);

        // Something else holds the sequencer lock (a sequencer that hangs): the server can only follow.
        var blocker = await PostgresLedgerStore.OpenAsync(database["postgresql:".Length..]);
        await blocker.AcquireSequencerLockAsync();
        await using var server = await ServerHarness.StartAtAsync(directory, database, o => o with { Cluster = new ClusterOptions { StagedWait = TimeSpan.FromSeconds(1) } });
        var stuck = ServerHarness.Event(1);
        using (var response = await server.PostEventsAsync(ServerHarness.Batch([stuck]), server.AgentToken))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal("5", response.Headers.RetryAfter?.ToString());
            Assert.Contains("no-sequencer", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Assert.Equal(0, await server.Server.Store.Ledger.SizeAsync());
        await blocker.DisposeAsync();

        // The server takes the role and appends what was staged; the batch sent again is answered as duplicates.
        await TakesOverAsync(server);
        var again = await server.PostEventsOkAsync([stuck]);
        Assert.Equal(("duplicate", 0L), ((string)again["results"]![0]!["status"]!, (long)again["results"]![0]!["index"]!));
        Assert.Equal(1, await server.Server.Store.Ledger.SizeAsync());
    }

    private static async Task TakesOverAsync(ServerHarness server)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (!server.Server.Cluster!.IsSequencer)
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(10), "the server did not take the sequencer role");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task A_second_server_on_one_SQLite_file_stops_with_a_clear_error()
    {
        await using var first = await ServerHarness.StartAsync(Backends.Sqlite);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => TrainGuardServer.StartAsync(first.Options with { DataDirectory = TestPaths.NewTempDirectory(), LogSigningKeyFile = LogSigningKey.PathIn(first.Directory) }));
        Assert.Contains("a SQLite ledger serves one server", error.Message, StringComparison.Ordinal);
        Assert.Contains("Several servers on PostgreSQL", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Key_show_prints_the_shared_signing_key_the_servers_are_given()
    {
        var first = TestPaths.NewTempDirectory();
        var (exit, key, stderr) = await CliRunner.RunAsync("server", "key", "show", "--data-dir", first);
        Assert.True(exit == 0, stderr);

        var other = TestPaths.NewTempDirectory();
        var (sharedExit, shared, _) = await CliRunner.RunAsync("server", "key", "show", "--data-dir", other, "--log-signing-key", LogSigningKey.PathIn(first));
        Assert.Equal((0, key), (sharedExit, shared));
        Assert.False(File.Exists(LogSigningKey.PathIn(other)));

        var (missingExit, _, missing) = await CliRunner.RunAsync("server", "key", "show", "--data-dir", other, "--log-signing-key", Path.Combine(other, "nope.key"));
        Assert.Equal(2, missingExit);
        Assert.Contains("--log-signing-key: ", missing, StringComparison.Ordinal);
        Assert.Contains("nope.key does not exist", missing, StringComparison.Ordinal);
    }

    private const string ConflictAlertAction = "event-id-conflict";

    private static Task<ServerHarness> StartFollowerAsync(ServerHarness sequencer) =>
        ServerHarness.StartAtAsync(TestPaths.NewTempDirectory(), sequencer.Database, o => o with { LogSigningKeyFile = LogSigningKey.PathIn(sequencer.Directory) });

    /// <summary>The server's /checkpoint once it covers the whole stored log, waiting at most <paramref name="within"/>.</summary>
    private static async Task<string> CheckpointWithinAsync(ServerHarness server, TimeSpan within)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var note = await server.Http.GetStringAsync("checkpoint");
            var size = long.Parse(note.Split('\n')[1], System.Globalization.CultureInfo.InvariantCulture);
            if (size == await server.Server.Store.Ledger.SizeAsync())
            {
                return note;
            }

            Assert.True(waited.Elapsed < within, $"the server still serves tree size {size} after {within}");
            await Task.Delay(20);
        }
    }
}
