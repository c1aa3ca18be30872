using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using TrainGuard.Events;
using TrainGuard.Ledger.Merkle;
using TrainGuard.Ledger.Notes;
using TrainGuard.Server.Tests.Support;

namespace TrainGuard.Server.Tests;

/// <summary>Appending and querying events over HTTP, on SQLite and PostgreSQL.</summary>
public sealed class EventApiTests
{
    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Append_returns_each_events_leaf_index_and_a_stored_signed_checkpoint_covering_the_batch(string backend)
    {
        await using var h = await ServerHarness.StartAsync(backend);
        var events = Enumerable.Range(0, 10).Select(i => ServerHarness.Event(i)).ToList();

        var response = await h.PostEventsOkAsync(events);

        Assert.Equal(10, (int)response["appended"]!);
        Assert.Equal(0, (int)response["duplicates"]!);
        var results = response["results"]!.AsArray();
        Assert.Equal(events.Select(e => (string)e["id"]!), results.Select(r => (string)r!["id"]!));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), results.Select(r => (long)r!["index"]!));
        var note = (string)response["checkpoint"]!;
        var checkpoint = TreeHead.OpenSigned(Encoding.UTF8.GetBytes(note), [NoteVerifier.Parse(h.Server.VerifierKey)], "test.trainguard/ledger");
        Assert.True(checkpoint.IsTrusted);
        Assert.Equal(10, checkpoint.TreeHead.Size);
        var stored = await h.Server.Store.Ledger.GetTreeHeadsAsync();
        Assert.Contains(stored, c => c.Note == note);
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Stored_entry_is_the_canonical_json_of_the_event_with_event_ingested_and_its_submitter_and_its_leaf_can_be_recomputed(string backend)
    {
        await using var h = await ServerHarness.StartAsync(backend);
        var sent = ServerHarness.Event(7);
        await h.PostEventsOkAsync([sent]);

        var entry = await h.Server.Store.Ledger.GetEntryAsync(0);
        Assert.NotNull(entry);
        var stored = EventRecord.Parse(Encoding.UTF8.GetString(entry));
        Assert.NotNull(stored.GetString("event.ingested"));
        Assert.Equal(CanonicalJson.Serialize(stored.Root), entry);
        Assert.Equal("agent", stored.GetString("trainguard.submitter.role"));
        stored.Remove("event.ingested");
        stored.Remove("trainguard");
        Assert.Equal(CanonicalJson.Serialize(sent), CanonicalJson.Serialize(stored.Root));

        var got = await h.GetJsonAsync($"api/v1/events/{sent["id"]}");
        Assert.Equal(Convert.ToBase64String(MerkleHash.HashLeaf(CanonicalJson.Serialize(got["event"]))), (string)got["leaf_hash"]!);
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Resending_the_same_events_returns_their_existing_indices_and_appends_nothing(string backend)
    {
        await using var h = await ServerHarness.StartAsync(backend);
        var events = Enumerable.Range(0, 5).Select(i => ServerHarness.Event(i)).ToList();
        await h.PostEventsOkAsync(events);

        // Same ids, same content, in another order, plus one new event and one repeated inside the batch.
        var fresh = ServerHarness.Event(99);
        var again = await h.PostEventsOkAsync([events[3], fresh, events[0], fresh]);

        Assert.Equal(1, (int)again["appended"]!);
        Assert.Equal(3, (int)again["duplicates"]!);
        Assert.Equal([3L, 5L, 0L, 5L], again["results"]!.AsArray().Select(r => (long)r!["index"]!));
        Assert.Equal(6, await h.Server.Store.Ledger.SizeAsync());
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Reusing_an_id_with_different_content_is_a_conflict_for_that_event_alone_and_raises_an_alert(string backend)
    {
        await using var h = await ServerHarness.StartAsync(backend);
        var original = ServerHarness.Event(1);
        await h.PostEventsOkAsync([original]);
        var changed = (JsonObject)original.DeepClone();
        changed["user"] = new JsonObject { ["name"] = "someone-else" };

        using var response = await h.PostEventsAsync(ServerHarness.Batch([ServerHarness.Event(2), changed]), h.AgentToken);

        // The conflicting event is answered on its own (not stored); the other one is stored; an alert follows them.
        var answer = await ServerHarness.AssertNewAndConflictAsync(response, existing: 0);
        Assert.Equal(3, await h.Server.Store.Ledger.SizeAsync());
        Assert.Equal(3, h.Server.Log.Size);
        Assert.Equal(3, (long)answer["tree_size"]!);
        var alert = EventRecord.Parse(Encoding.UTF8.GetString((await h.Server.Store.Ledger.GetEntryAsync(2))!));
        Assert.Equal(("event-id-conflict", "alert", "high"), (alert.Action, alert.GetString("event.kind"), alert.GetString("trainguard.severity")));
        Assert.Equal((string)original["id"]!, alert.GetString("trainguard.conflict.event_id"));
        Assert.Equal(0, alert.GetInt64("trainguard.conflict.existing.index"));
        var agentId = (await h.Server.Store.ListTokensAsync()).Single(t => t.Role == TrainGuard.Server.Auth.Role.Agent).Id;
        Assert.Equal((agentId, "agent"), (alert.GetString("trainguard.conflict.attempted.submitter.token_id"), alert.GetString("trainguard.conflict.attempted.submitter.role")));
        Assert.Equal(agentId, alert.GetString("trainguard.conflict.existing.submitter.token_id"));
        Assert.Equal("someone-else", alert.GetString("user.name"));

        // The stored event is the original, untouched.
        var stored = EventRecord.Parse(Encoding.UTF8.GetString((await h.Server.Store.Ledger.GetEntryAsync(0))!));
        Assert.Equal("mallory", stored.GetString("user.name"));
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Query_filters_by_host_user_action_and_time_and_pages_with_a_cursor(string backend)
    {
        await using var h = await ServerHarness.StartAsync(backend);
        await h.PostEventsOkAsync(Enumerable.Range(0, 24).Select(i => ServerHarness.Event(i)));

        var byHost = await h.GetJsonAsync("api/v1/events?host=gpu-node-1");
        Assert.Equal([1L, 5, 9, 13, 17, 21], Indices(byHost));
        var combined = await h.GetJsonAsync("api/v1/events?user=alice&action=process-signal");
        Assert.Equal([0L, 6, 12, 18], Indices(combined));
        var window = await h.GetJsonAsync("api/v1/events?from=2026-11-23T10:00:05Z&to=2026-11-23T11:00:08%2B01:00");
        Assert.Equal([5L, 6, 7], Indices(window));

        var page1 = await h.GetJsonAsync("api/v1/events?user=mallory&limit=5");
        Assert.Equal([1L, 3, 5, 7, 9], Indices(page1));
        var page2 = await h.GetJsonAsync($"api/v1/events?user=mallory&limit=5&after={page1["next"]}");
        Assert.Equal([11L, 13, 15, 17, 19], Indices(page2));
        var last = await h.GetJsonAsync("api/v1/events?order=desc&limit=2");
        Assert.Equal([23L, 22], Indices(last));
        Assert.Equal("gpu-node-3", (string)last["events"]![0]!["event"]!["host"]!["name"]!);

        static long[] Indices(JsonObject page) => [.. page["events"]!.AsArray().Select(e => (long)e!["index"]!)];
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Get_by_id_returns_the_event_with_an_inclusion_proof_against_the_latest_checkpoint(string backend)
    {
        await using var h = await ServerHarness.StartAsync(backend);
        var events = Enumerable.Range(0, 37).Select(i => ServerHarness.Event(i)).ToList();
        await h.PostEventsOkAsync(events.Take(20));
        await h.PostEventsOkAsync(events.Skip(20));

        var got = await h.GetJsonAsync($"api/v1/events/{events[11]["id"]}");

        Assert.Equal(11, (long)got["index"]!);
        var checkpoint = TreeHead.OpenSigned(Encoding.UTF8.GetBytes((string)got["checkpoint"]!), [NoteVerifier.Parse(h.Server.VerifierKey)]);
        Assert.True(checkpoint.Verification.IsVerified);
        Assert.Equal(37, checkpoint.TreeHead.Size);
        var proof = got["inclusion_proof"]!.AsArray().Select(p => Convert.FromBase64String((string)p!)).ToList();
        var leaf = MerkleHash.HashLeaf(CanonicalJson.Serialize(got["event"]));
        Assert.True(MerkleTree.VerifyInclusion(leaf, 11, 37, proof, checkpoint.TreeHead.RootHash));

        using var missing = await h.GetAsync($"api/v1/events/{Guid.NewGuid()}", h.ReaderToken);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Events_and_checkpoints_survive_a_restart_and_the_new_tree_extends_the_old_checkpoint(string backend)
    {
        await using var h = await ServerHarness.StartAsync(backend);
        var first = await h.PostEventsOkAsync(Enumerable.Range(0, 10).Select(i => ServerHarness.Event(i)));
        await h.RestartAsync();
        await h.PostEventsOkAsync(Enumerable.Range(10, 5).Select(i => ServerHarness.Event(i)));

        var old = TreeHead.Parse(SignedNote.Parse((string)first["checkpoint"]!).Text);
        var proof = await h.GetJsonAsync("api/v1/proof/consistency?from=10&to=15", token: null);
        var now = await h.GetJsonAsync("api/v1/log", token: null);
        var current = TreeHead.Parse(SignedNote.Parse((string)now["checkpoint"]!).Text);
        Assert.Equal(15, current.Size);
        Assert.True(MerkleTree.VerifyConsistency(10, 15, [.. proof["proof"]!.AsArray().Select(p => Convert.FromBase64String((string)p!))], old.RootHash, current.RootHash));
        var query = await h.GetJsonAsync("api/v1/events?limit=1000");
        Assert.Equal(15, query["events"]!.AsArray().Count);
    }
}
