using System.Net;
using System.Text;
using TrainGuard.Ledger.Merkle;
using TrainGuard.Ledger.Notes;
using TrainGuard.Ledger.Tiles;
using TrainGuard.Server.Tests.Support;

namespace TrainGuard.Server.Tests;

/// <summary>The tlog-tiles read side, health, readiness and metrics.</summary>
public sealed class LogEndpointTests
{
    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Tiles_let_a_client_rebuild_the_signed_root_and_read_back_every_entry(string backend)
    {
        await using var h = await ServerHarness.StartAsync(backend);
        await h.PostEventsOkAsync(Enumerable.Range(0, 300).Select(i => ServerHarness.Event(i)));

        var note = await h.Http.GetStringAsync("checkpoint");
        var checkpoint = TreeHead.OpenSigned(Encoding.UTF8.GetBytes(note), [NoteVerifier.Parse(h.Server.VerifierKey)], "test.trainguard/ledger");
        Assert.True(checkpoint.IsTrusted);
        Assert.Equal(300, checkpoint.TreeHead.Size);

        // Level-0 tiles: one full (256 leaves) and one partial (44); entry bundles alike.
        var leaves = new List<byte[]>();
        foreach (var address in TileReader.TilesFor(300, includeEntryBundles: true).Where(a => a.Level == 0))
        {
            // Hash tiles are public; entry bundles hold the events and need a reader token.
            using var response = await h.GetAsync(address.ToPath(), address.IsEntryBundle ? h.ReaderToken : null);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Contains("immutable", response.Headers.CacheControl?.ToString() ?? string.Empty, StringComparison.Ordinal);
            var body = await response.Content.ReadAsByteArrayAsync();
            if (address.IsEntryBundle)
            {
                var entries = EntryBundle.Parse(body);
                Assert.Equal(address.Width, entries.Count);
                for (var i = 0; i < entries.Count; i++)
                {
                    var index = (address.Index * TileAddress.FullWidth) + i;
                    Assert.Equal(MerkleHash.HashLeaf(entries[i]), body.Length > 0 ? leaves[(int)index] : null);
                }
            }
            else
            {
                for (var i = 0; i < body.Length; i += MerkleHash.Size)
                {
                    leaves.Add(body[i..(i + MerkleHash.Size)]);
                }
            }
        }

        var levels = new MerkleLevels();
        levels.AppendLeafHashes([.. leaves.SelectMany(l => l)]);
        Assert.Equal(checkpoint.TreeHead.RootHash.ToArray(), new MerkleTree(levels).RootHash(300));

        using var beyond = await h.Http.GetAsync("tile/0/001");
        Assert.Equal(HttpStatusCode.NotFound, beyond.StatusCode);
        using var malformed = await h.Http.GetAsync("tile/0/x1");
        Assert.Equal(HttpStatusCode.NotFound, malformed.StatusCode);
    }

    [Fact]
    public async Task Health_and_readiness_answer_without_a_token_and_metrics_answer_a_reader()
    {
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite);
        await h.PostEventsOkAsync(Enumerable.Range(0, 3).Select(i => ServerHarness.Event(i)));

        Assert.Equal("ok\n", await h.Http.GetStringAsync("healthz"));
        Assert.Contains("\"tree_size\":3", await h.Http.GetStringAsync("readyz"), StringComparison.Ordinal);
        using var response = await h.GetAsync("metrics", h.ReaderToken);
        var metrics = await response.Content.ReadAsStringAsync();
        Assert.Contains("trainguard_events_appended_total 3", metrics, StringComparison.Ordinal);
        Assert.Contains("trainguard_ledger_tree_size 3", metrics, StringComparison.Ordinal);
        Assert.Contains("trainguard_batches_total{outcome=\"accepted\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("trainguard_http_request_duration_seconds_count{method=\"POST\",route=\"/api/v1/events\"} 1", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_say_how_far_alert_derivation_is_behind_the_log()
    {
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite);
        await h.PostEventsOkAsync(Enumerable.Range(0, 5).Select(i => ServerHarness.Event(i)));

        var metrics = string.Empty;
        for (var waited = 0; waited < 200 && !metrics.Contains("trainguard_alert_deriver_cursor 5\n", StringComparison.Ordinal); waited++)
        {
            await Task.Delay(50);
            using var response = await h.GetAsync("metrics", h.ReaderToken);
            metrics = await response.Content.ReadAsStringAsync();
        }

        Assert.Contains("trainguard_alert_deriver_cursor 5\n", metrics, StringComparison.Ordinal);
        Assert.Contains("trainguard_alert_deriver_lag_entries 0\n", metrics, StringComparison.Ordinal);
        Assert.Contains("trainguard_alert_deriver_failures_total 0\n", metrics, StringComparison.Ordinal);
        Assert.Contains("# TYPE trainguard_alert_deriver_lag_entries gauge", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Checkpoints_are_coalesced_when_an_interval_is_set_and_every_one_served_is_stored()
    {
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite, o => o with { TreeHeadInterval = TimeSpan.FromMilliseconds(200) });
        var posts = Enumerable.Range(0, 8).Select(b => h.PostEventsOkAsync(Enumerable.Range(b * 10, 10).Select(i => ServerHarness.Event(i)))).ToList();
        var answers = await Task.WhenAll(posts);

        var stored = (await h.Server.Store.Ledger.GetTreeHeadsAsync()).Select(c => c.Note).ToHashSet();
        foreach (var answer in answers)
        {
            var note = (string)answer["checkpoint"]!;
            Assert.Contains(note, stored);
            var size = TreeHead.Parse(SignedNote.Parse(note).Text).Size;
            Assert.True(answer["results"]!.AsArray().All(r => (long)r!["index"]! < size));
        }

        Assert.True(stored.Count < 9, $"expected coalesced checkpoints, got {stored.Count}");
    }
}
