using System.Net;
using System.Text.Json.Nodes;
using TrainGuard.Server.Events;
using TrainGuard.Server.Tests.Support;

namespace TrainGuard.Server.Tests;

/// <summary>Malformed JSON, invalid events, oversize batches, wrong tokens and roles: clear 4xx answers, nothing stored.</summary>
public sealed class BadInputTests
{
    public static TheoryData<string, string, int?, string?> InvalidBatches => new()
    {
        { "not JSON", "{\"events\": [", null, null },
        { "a number", "42", null, null },
        { "an object without events", "{\"items\": []}", null, null },
        { "duplicate member names", "[{\"id\":\"0190f5a0-0000-7000-8000-000000000001\",\"@timestamp\":\"2026-11-23T10:00:00Z\",\"event\":{\"action\":\"a\"},\"x\":1,\"x\":2}]", null, null },
        { "an event that is a string", "[\"hello\"]", 0, null },
        { "no id", "[{\"@timestamp\":\"2026-11-23T10:00:00Z\",\"event\":{\"action\":\"a\"}}]", 0, "id" },
        { "numeric id", "[{\"id\":7,\"@timestamp\":\"2026-11-23T10:00:00Z\",\"event\":{\"action\":\"a\"}}]", 0, "id" },
        { "id not a UUID", "[{\"id\":\"not-a-uuid-but-36-characters-long!!\",\"@timestamp\":\"2026-11-23T10:00:00Z\",\"event\":{\"action\":\"a\"}}]", 0, "id" },
        { "no timestamp", "[{\"id\":\"0190f5a0-0000-7000-8000-000000000001\",\"event\":{\"action\":\"a\"}}]", 0, "@timestamp" },
        { "timestamp without zone", "[{\"id\":\"0190f5a0-0000-7000-8000-000000000001\",\"@timestamp\":\"2026-11-23T10:00:00\",\"event\":{\"action\":\"a\"}}]", 0, "@timestamp" },
        { "February 30", "[{\"id\":\"0190f5a0-0000-7000-8000-000000000001\",\"@timestamp\":\"2026-02-30T10:00:00Z\",\"event\":{\"action\":\"a\"}}]", 0, "@timestamp" },
        { "no action", "[{\"id\":\"0190f5a0-0000-7000-8000-000000000001\",\"@timestamp\":\"2026-11-23T10:00:00Z\",\"event\":{\"kind\":\"event\"}}]", 0, "event.action" },
        { "empty action", "[{\"id\":\"0190f5a0-0000-7000-8000-000000000001\",\"@timestamp\":\"2026-11-23T10:00:00Z\",\"event\":{\"action\":\"\"}}]", 0, "event.action" },
        { "event is a string", "[{\"id\":\"0190f5a0-0000-7000-8000-000000000001\",\"@timestamp\":\"2026-11-23T10:00:00Z\",\"event\":\"login\"}]", 0, "event.action" },
        { "lone surrogate", "[{\"id\":\"0190f5a0-0000-7000-8000-000000000001\",\"@timestamp\":\"2026-11-23T10:00:00Z\",\"event\":{\"action\":\"a\"},\"m\":\"\\ud800\"}]", 0, null },
    };

    [Theory]
    [MemberData(nameof(InvalidBatches))]
    public async Task Invalid_batch_is_a_400_problem_naming_the_event_and_field_and_nothing_is_stored(string why, string body, int? index, string? field)
    {
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite);
        using var response = await h.PostEventsAsync(body, h.AgentToken);

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{why}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(400, (int)problem["status"]!);
        if (index is not null)
        {
            Assert.Equal(index, (int)problem["errors"]![0]!["index"]!);
            Assert.Equal(field, (string?)problem["errors"]![0]!["field"]);
        }

        Assert.Equal(0, await h.Server.Store.Ledger.SizeAsync());
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task One_bad_event_among_good_ones_rejects_the_whole_batch(string backend)
    {
        await using var h = await ServerHarness.StartAsync(backend);
        var events = Enumerable.Range(0, 5).Select(i => ServerHarness.Event(i)).ToList();
        events[3].Remove("@timestamp");

        using var response = await h.PostEventsAsync(ServerHarness.Batch(events), h.AgentToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Contains("event 3", (string)problem["detail"]!, StringComparison.Ordinal);
        Assert.Equal(0, await h.Server.Store.Ledger.SizeAsync());
        var metrics = await (await h.GetAsync("metrics", h.ReaderToken)).Content.ReadAsStringAsync();
        Assert.Contains("trainguard_batches_total{outcome=\"rejected\"} 1", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Batch_with_more_events_than_allowed_is_413()
    {
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite, o => o with { Batch = new BatchLimits { MaxEvents = 3 } });
        using var response = await h.PostEventsAsync(ServerHarness.Batch(Enumerable.Range(0, 4).Select(i => ServerHarness.Event(i))), h.AgentToken);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("at most 3", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(0, await h.Server.Store.Ledger.SizeAsync());
    }

    [Fact]
    public async Task Batch_over_the_byte_limit_is_413_whether_or_not_its_length_is_declared()
    {
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite, o => o with { Batch = new BatchLimits { MaxBytes = 4096 } });
        var big = ServerHarness.Batch(Enumerable.Range(0, 40).Select(i => ServerHarness.Event(i)));
        using var declared = await h.PostEventsAsync(big, h.AgentToken);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, declared.StatusCode);

        // Chunked: no Content-Length, the server stops reading at the limit.
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/v1/events")
        {
            Content = new StreamContent(new NonSeekableStream(System.Text.Encoding.UTF8.GetBytes(big))),
        };
        request.Content.Headers.ContentType = new("application/json");
        request.Headers.Authorization = new("Bearer", h.AgentToken);
        request.Headers.TransferEncodingChunked = true;
        using var chunked = await h.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, chunked.StatusCode);
        Assert.Equal(0, await h.Server.Store.Ledger.SizeAsync());
    }

    [Fact]
    public async Task Event_larger_than_a_ledger_entry_is_refused_by_index_and_alone()
    {
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite);
        var huge = ServerHarness.Event(1);
        huge["message"] = new string('x', 70_000);
        using var response = await h.PostEventsAsync(ServerHarness.Batch([ServerHarness.Event(0), huge]), h.AgentToken);

        Assert.Equal(HttpStatusCode.MultiStatus, response.StatusCode);
        var result = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["results"]![1]!;
        Assert.Equal(("too-large", (string)huge["id"]!), ((string)result["status"]!, (string)result["id"]!));
        Assert.Contains("at most 65,535", (string)result["reason"]!, StringComparison.Ordinal);
        Assert.Equal(1, await h.Server.Store.Ledger.SizeAsync());
    }

    [Fact]
    public async Task Non_json_content_type_is_415()
    {
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite);
        using var response = await h.PostEventsAsync("[]", h.AgentToken, "text/plain");
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Missing_or_unknown_token_is_401_and_wrong_role_is_403_and_nothing_is_stored(string backend)
    {
        await using var h = await ServerHarness.StartAsync(backend);
        var batch = ServerHarness.Batch([ServerHarness.Event(1)]);

        using (var none = await h.PostEventsAsync(batch, token: null))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
            Assert.Equal("Bearer", none.Headers.WwwAuthenticate.Single().Scheme);
        }

        using (var wrong = await h.PostEventsAsync(batch, "tgt_" + new string('A', 43)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        using (var reader = await h.PostEventsAsync(batch, h.ReaderToken))
        {
            Assert.Equal(HttpStatusCode.Forbidden, reader.StatusCode);
        }

        Assert.Equal(0, await h.Server.Store.Ledger.SizeAsync());

        using (var agentReads = await h.GetAsync("api/v1/events", h.AgentToken))
        {
            Assert.Equal(HttpStatusCode.Forbidden, agentReads.StatusCode);
        }

        using (var anonymousReads = await h.GetAsync("api/v1/events", null))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymousReads.StatusCode);
        }

        using (var admin = await h.PostEventsAsync(batch, h.AdminToken))
        {
            Assert.Equal(HttpStatusCode.OK, admin.StatusCode);
        }

        using var adminReads = await h.GetAsync("api/v1/events", h.AdminToken);
        Assert.Equal(HttpStatusCode.OK, adminReads.StatusCode);
    }

    [Theory]
    [InlineData("api/v1/events?from=yesterday")]
    [InlineData("api/v1/events?limit=0")]
    [InlineData("api/v1/events?limit=5000")]
    [InlineData("api/v1/events?after=-1")]
    [InlineData("api/v1/events?order=sideways")]
    [InlineData("api/v1/events/not-a-uuid")]
    [InlineData("api/v1/proof/consistency?from=0&to=1")]
    [InlineData("api/v1/proof/consistency?from=2&to=1")]
    [InlineData("api/v1/proof/consistency?from=1&to=999")]
    public async Task Bad_query_parameters_are_400(string path)
    {
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite);
        await h.PostEventsOkAsync([ServerHarness.Event(1), ServerHarness.Event(2)]);
        using var response = await h.GetAsync(path, h.ReaderToken);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    private sealed class NonSeekableStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
    }
}
