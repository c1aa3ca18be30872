using System.Net;
using System.Text;
using TrainGuard.Ledger.Client;
using TrainGuard.Ledger.Merkle;
using TrainGuard.Ledger.Notes;
using TrainGuard.Ledger.Tiles;
using TrainGuard.Parsing;
using TrainGuard.Server.Tests.Support;

namespace TrainGuard.Server.Tests.Client;

/// <summary>
/// <see cref="TrainGuardApiClient"/> against the real server in-process: every typed call, and the three kinds of
/// failure (unreachable, an error answer with the server's message, an answer that is not a TrainGuard server's).
/// </summary>
public sealed class TrainGuardApiClientTests
{
    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Posted_events_come_back_proven_in_a_tree_head_signed_by_the_logs_key(string backend)
    {
        await using var h = await ServerHarness.StartAsync(backend);
        using var agent = new TrainGuardApiClient(h.Server.BaseAddress, h.AgentToken);
        using var reader = new TrainGuardApiClient(h.Server.BaseAddress, h.ReaderToken);
        var events = Enumerable.Range(0, 5).Select(i => ServerHarness.Event(i)).ToList();

        var posted = await agent.PostEventsAsync([.. events.Select(e => e.ToJsonString())]);
        var again = await agent.PostEventsAsync([events[3].ToJsonString()]);

        Assert.Equal((5, 0, 5L), (posted.Appended, posted.Duplicates, posted.TreeSize));
        Assert.Equal([.. events.Select(e => (string)e["id"]!)], posted.Results.Select(r => r.Id));
        Assert.Equal([0L, 1, 2, 3, 4], posted.Results.Select(r => r.Index));
        Assert.Equal((0, 1, 3L, true), (again.Appended, again.Duplicates, again.Results[0].Index, again.Results[0].Duplicate));
        var key = NoteVerifier.Parse(h.Server.VerifierKey);
        Assert.True(TreeHead.OpenSigned(Encoding.UTF8.GetBytes(posted.TreeHead), [key]).IsTrusted);

        var proven = await reader.GetEventAsync((string)events[2]["id"]!);
        Assert.NotNull(proven);
        Assert.Equal(2, proven.Index);
        var inclusion = proven.Verify(key);
        Assert.True(inclusion.IsProven, inclusion.Problem);
        Assert.Equal(5, inclusion.TreeHead.TreeHead.Size);
        Assert.Contains("\"gpu-node-2\"", Encoding.UTF8.GetString(proven.Entry), StringComparison.Ordinal);
        Assert.Null(await reader.GetEventAsync(Guid.NewGuid().ToString()));
    }

    [Fact]
    public async Task Log_info_tree_head_consistency_proof_and_tiles_agree_with_each_other()
    {
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite);
        using var agent = new TrainGuardApiClient(h.Server.BaseAddress, h.AgentToken);
        using var anyone = new TrainGuardApiClient(h.Server.BaseAddress);
        using var reader = new TrainGuardApiClient(h.Server.BaseAddress, h.ReaderToken);
        await agent.PostEventsAsync([.. Enumerable.Range(0, 3).Select(i => ServerHarness.Event(i).ToJsonString())]);
        var old = TreeHead.Parse(SignedNote.Parse(await anyone.GetTreeHeadAsync()).Text);
        await agent.PostEventsAsync([.. Enumerable.Range(3, 7).Select(i => ServerHarness.Event(i).ToJsonString())]);

        var info = await anyone.GetLogInfoAsync();
        var current = TreeHead.OpenSigned(Encoding.UTF8.GetBytes(await anyone.GetTreeHeadAsync()), [NoteVerifier.Parse(info.VerifierKey)], info.Origin);
        var proof = await anyone.GetConsistencyProofAsync(old.Size, current.TreeHead.Size);
        var hashes = await anyone.GetTileAsync(TileAddress.Hashes(0, 0, 10));
        var bundle = EntryBundle.Parse(await reader.GetTileAsync(TileAddress.Entries(0, 10)));

        Assert.Equal(("test.trainguard/ledger", 10L, h.Server.VerifierKey), (info.Origin, info.TreeSize, info.VerifierKey));
        Assert.True(current.IsTrusted);
        Assert.Equal(info.TreeHead, await anyone.GetTreeHeadAsync());
        Assert.True(MerkleTree.VerifyConsistency(3, 10, proof, old.RootHash, current.TreeHead.RootHash));
        Assert.Equal(10, bundle.Count);
        Assert.Equal(bundle.SelectMany(e => MerkleHash.HashLeaf(e)), hashes);
    }

    [Fact]
    public async Task Error_answers_name_the_request_the_status_and_the_servers_own_message()
    {
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite);
        using var agent = new TrainGuardApiClient(h.Server.BaseAddress, h.AgentToken);
        using var reader = new TrainGuardApiClient(h.Server.BaseAddress, h.ReaderToken);
        using var nobody = new TrainGuardApiClient(h.Server.BaseAddress);

        var invalid = await Assert.ThrowsAsync<TrainGuardApiException>(() => agent.PostEventsAsync(["{\"id\":\"not-a-uuid\"}"]));
        var unknown = await Assert.ThrowsAsync<TrainGuardApiException>(() => nobody.GetEventAsync(Guid.NewGuid().ToString()));
        var refused = await Assert.ThrowsAsync<TrainGuardApiException>(() => reader.PostEventsAsync([ServerHarness.Event(1).ToJsonString()]));
        var badProof = await Assert.ThrowsAsync<TrainGuardApiException>(() => reader.GetConsistencyProofAsync(5, 7));

        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        Assert.True(invalid.IsClientError && !invalid.IsUnreachable);
        Assert.StartsWith("POST " + h.Server.BaseAddress + "api/v1/events answered 400", invalid.Message, StringComparison.Ordinal);
        Assert.NotNull(invalid.ServerMessage);
        Assert.Contains(invalid.ServerMessage, invalid.Message, StringComparison.Ordinal);
        Assert.Contains("\"errors\"", invalid.ResponseText, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, unknown.StatusCode);
        Assert.Contains("no token", unknown.Message, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("an agent or admin token", refused.Message, StringComparison.Ordinal);
        Assert.Contains("tree size", badProof.ServerMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_server_is_reported_as_such_with_its_address()
    {
        using var client = new TrainGuardApiClient(new Uri("http://127.0.0.1:9/"), "t", TimeSpan.FromSeconds(10));

        var e = await Assert.ThrowsAsync<TrainGuardApiException>(() => client.GetLogInfoAsync());

        Assert.True(e.IsUnreachable);
        Assert.Null(e.StatusCode);
        Assert.StartsWith("cannot reach http://127.0.0.1:9/", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_that_does_not_answer_in_time_is_unreachable_not_a_hang()
    {
        using var handler = new StubHandler(async (_, ct) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(30), ct);
            return new HttpResponseMessage(HttpStatusCode.OK);
        });
        using var client = new TrainGuardApiClient(new Uri("http://stub/"), timeout: TimeSpan.FromMilliseconds(200), handler: handler);

        var e = await Assert.ThrowsAsync<TrainGuardApiException>(() => client.GetTreeHeadAsync());

        Assert.True(e.IsUnreachable);
        Assert.Contains("no answer within 0.2 s", e.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, string> MalformedAnswers => new()
    {
        { "api/v1/log", "not json" },
        { "api/v1/log", "[1,2]" },
        { "api/v1/log", "{\"origin\":\"o\",\"verifier_key\":7,\"tree_size\":1,\"checkpoint\":\"c\"}" },
        { "api/v1/log", "{\"origin\":\"o\",\"verifier_key\":\"k\",\"checkpoint\":\"c\"}" },
        { "api/v1/proof/consistency", "{\"proof\":[\"%%%\"]}" },
        { "api/v1/proof/consistency", "{\"proof\":{}}" },
        { "api/v1/events", "{\"results\":[{\"id\":\"x\"}],\"appended\":1,\"duplicates\":0,\"tree_size\":1,\"checkpoint\":\"c\"}" },
        { "api/v1/events/", "{\"index\":\"0\",\"event\":{},\"tree_size\":1,\"checkpoint\":\"c\",\"inclusion_proof\":[]}" },
        { "tile/0/000.p/3", "short" },
        { "tile/entries/000.p/2", "\u0000\u0001a" },
    };

    [Theory]
    [MemberData(nameof(MalformedAnswers))]
    public async Task An_answer_that_is_not_a_TrainGuard_servers_is_malformed_input_naming_the_request(string path, string answer)
    {
        using var handler = new StubHandler((_, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(answer) }));
        using var client = new TrainGuardApiClient(new Uri("http://stub/"), "t", handler: handler);
        Func<Task> call = path switch
        {
            "api/v1/log" => () => client.GetLogInfoAsync(),
            "api/v1/proof/consistency" => () => client.GetConsistencyProofAsync(1, 2),
            "api/v1/events" => () => client.PostEventsAsync(["{}"]),
            "api/v1/events/" => () => client.GetEventAsync("0190a4b6-0000-7000-8000-000000000000"),
            "tile/0/000.p/3" => () => client.GetTileAsync(TileAddress.Hashes(0, 0, 3)),
            _ => () => client.GetTileAsync(TileAddress.Entries(0, 2)),
        };

        var e = await Assert.ThrowsAsync<MalformedInputException>(call);

        Assert.Contains(path.TrimEnd('/'), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_answer_beyond_the_size_bound_is_refused_before_it_is_read_whole()
    {
        var huge = "{\"proof\":[" + string.Join(',', Enumerable.Repeat("\"" + new string('A', 44) + "\"", 40_000)) + "]}";
        using var handler = new StubHandler((_, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(huge) }));
        using var client = new TrainGuardApiClient(new Uri("http://stub/"), handler: handler);

        var e = await Assert.ThrowsAsync<MalformedInputException>(() => client.GetConsistencyProofAsync(1, 2));

        Assert.True(e.LimitExceeded);
    }

    private sealed class StubHandler(Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> answer) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) => answer(request, cancellationToken);
    }
}
