using System.Text;
using TrainGuard.Events;
using TrainGuard.Parsing;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Events;
using TrainGuard.Server.Tests.Support;

namespace TrainGuard.Server.Tests.Events;

public sealed class EventBatchParserTests
{
    private const string Alphabet = "{}[]\":,\\0e.-aZ\u00ff ";

    [Theory]
    [InlineData("2026-11-23T10:12:04Z")]
    [InlineData("2026-11-23T10:12:04.551Z")]
    [InlineData("2026-11-23t10:12:04.123456789z")]
    [InlineData("2026-11-23T10:12:04+05:30")]
    [InlineData("2024-02-29T23:59:59.1-00:00")]
    public void Rfc3339_accepts_date_times(string text) => Assert.True(Rfc3339.TryParse(text, out _));

    [Theory]
    [InlineData("2026-11-23")]
    [InlineData("2026-11-23T10:12:04")]
    [InlineData("2026-11-23T10:12Z")]
    [InlineData("2026-13-01T00:00:00Z")]
    [InlineData("2025-02-29T00:00:00Z")]
    [InlineData("2026-11-23T24:00:00Z")]
    [InlineData("2026-11-23T10:12:04.Z")]
    [InlineData("2026-11-23T10:12:04.1234567890Z")]
    [InlineData("2026-11-23T10:12:04+0530")]
    [InlineData("0000-01-01T00:00:00Z")]
    [InlineData("١٢٣٤-11-23T10:12:04Z")]
    public void Rfc3339_refuses_anything_else(string text) => Assert.False(Rfc3339.TryParse(text, out _));

    [Fact]
    public void Offsets_are_normalised_to_the_same_instant_for_the_time_index()
    {
        Assert.True(Rfc3339.TryParse("2026-11-23T11:00:00+01:00", out var a));
        Assert.True(Rfc3339.TryParse("2026-11-23T10:00:00Z", out var b));
        Assert.Equal(Rfc3339.ToUnixMicroseconds(b), Rfc3339.ToUnixMicroseconds(a));
    }

    [Fact]
    public void Uppercase_ids_are_stored_in_lowercase_so_the_idempotency_key_is_unique()
    {
        var e = ServerHarness.Event(1, id: "0190F5A0-0000-7000-8000-00000000000A");
        var batch = EventBatchParser.Parse(Encoding.UTF8.GetBytes(ServerHarness.Batch([e])), new BatchLimits(), DateTimeOffset.UnixEpoch, out _, out _);
        Assert.NotNull(batch);
        Assert.Equal("0190f5a0-0000-7000-8000-00000000000a", batch.Ids[0]);
        Assert.Contains("\"id\":\"0190f5a0-0000-7000-8000-00000000000a\"", Encoding.UTF8.GetString(batch.Entries[0].Entry), StringComparison.Ordinal);
    }

    [Fact]
    public void Index_row_is_derived_from_the_committed_bytes()
    {
        var e = ServerHarness.Event(6);
        var batch = EventBatchParser.Parse(Encoding.UTF8.GetBytes(ServerHarness.Batch([e])), new BatchLimits(), DateTimeOffset.UnixEpoch, out _, out _)!;
        var row = EventIndexRow.FromEntry(9, batch.Entries[0].Entry);
        Assert.Equal(new EventIndexRow(9, Rfc3339.ToUnixMicroseconds(new DateTimeOffset(2026, 11, 23, 10, 0, 6, TimeSpan.Zero)), "gpu-node-2", "alice", "process-signal", (string)e["id"]!), row);
    }

    [Fact]
    public void Same_content_ignores_only_event_ingested_and_the_submitter()
    {
        var a = Encoding.UTF8.GetBytes("{\"event\":{\"action\":\"x\",\"ingested\":\"2026-01-01T00:00:00.000Z\"},\"id\":\"1\"}");
        var b = Encoding.UTF8.GetBytes("{\"event\":{\"action\":\"x\",\"ingested\":\"2027-01-01T00:00:00.000Z\"},\"id\":\"1\"}");
        var c = Encoding.UTF8.GetBytes("{\"event\":{\"action\":\"y\",\"ingested\":\"2026-01-01T00:00:00.000Z\"},\"id\":\"1\"}");
        var d = Encoding.UTF8.GetBytes("{\"event\":{\"action\":\"x\",\"ingested\":\"2027-01-01T00:00:00.000Z\"},\"id\":\"1\",\"trainguard\":{\"submitter\":{\"role\":\"agent\",\"token_id\":\"0123456789ab\"}}}");
        var e = Encoding.UTF8.GetBytes("{\"event\":{\"action\":\"x\",\"ingested\":\"2027-01-01T00:00:00.000Z\"},\"id\":\"1\",\"trainguard\":{\"submitter\":{\"role\":\"agent\"},\"x\":1}}");
        Assert.True(EventBatchParser.SameContent(a, b));
        Assert.False(EventBatchParser.SameContent(a, c));
        Assert.True(EventBatchParser.SameContent(a, d));
        Assert.False(EventBatchParser.SameContent(a, e));
    }

    [Fact]
    public void A_submitters_events_are_stamped_keyed_in_its_scope_and_indexed_as_an_audit_derives_them()
    {
        var submitter = new Submitter("0123456789ab", Role.Agent, "gpu-node-2", "rack \"3\"");
        var ingested = new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
        var events = new[] { ServerHarness.Event(2), ServerHarness.Event(6, at: new DateTimeOffset(3000, 1, 1, 0, 0, 0, TimeSpan.Zero)), ServerHarness.Event(10, at: new DateTimeOffset(1999, 12, 31, 0, 0, 0, TimeSpan.Zero)) };

        var batch = EventBatchParser.Parse(Encoding.UTF8.GetBytes(ServerHarness.Batch(events)), new BatchLimits(), ingested, submitter, out _, out _)!;

        Assert.Equal(3, batch.Entries.Count);
        for (var i = 0; i < 3; i++)
        {
            var entry = (EventAppend)batch.Entries[i];
            Assert.Equal($"host:gpu-node-2/{events[i]["id"]}", entry.IdempotencyKey);
            Assert.Equal(EventIndexRow.FromEntry(4, entry.Entry), entry.Row with { Index = 4 });
            var stored = EventRecord.Parse(Encoding.UTF8.GetString(entry.Entry));
            Assert.Equal(("0123456789ab", "agent", "gpu-node-2", "rack \"3\""), (stored.GetString("trainguard.submitter.token_id"), stored.GetString("trainguard.submitter.role"), stored.GetString("trainguard.submitter.identity"), stored.GetString("trainguard.submitter.label")));
            Assert.Equal(CanonicalJson.Serialize(stored.Root), entry.Entry);
        }

        // The year 3000 and 1999 are outside the plausible window: indexed when they arrived.
        Assert.Equal(Rfc3339.ToUnixMicroseconds(ingested), ((EventAppend)batch.Entries[1]).Row.TimestampMicros);
        Assert.Equal(Rfc3339.ToUnixMicroseconds(ingested), ((EventAppend)batch.Entries[2]).Row.TimestampMicros);
        Assert.NotEqual(Rfc3339.ToUnixMicroseconds(ingested), ((EventAppend)batch.Entries[0]).Row.TimestampMicros);
    }

    [Fact]
    public void Fuzzing_the_batch_parser_only_ever_raises_malformed_input()
    {
        var seeds = new[]
        {
            Encoding.UTF8.GetBytes(ServerHarness.Batch(Enumerable.Range(0, 3).Select(i => ServerHarness.Event(i)))),
            Encoding.UTF8.GetBytes("[{\"id\":\"0190f5a0-0000-7000-8000-000000000001\",\"@timestamp\":\"2026-11-23T10:00:00Z\",\"event\":{\"action\":\"a\"},\"n\":[1e308,-0.0,\"\\u00e9\"]}]"),
        };
        FuzzHarness.Run(EventBatchParser.Fuzz, seeds, 4000, 20261123, Encoding.Latin1.GetBytes(Alphabet), maxLength: 64);
    }

    [Fact]
    public void A_repeated_member_name_is_refused_with_the_name_escaped_in_message_and_field()
    {
        var body = Encoding.UTF8.GetBytes("{\"x\\u001b[2J\\n\":1,\"x\\u001b[2J\\n\":2}");
        var ex = Assert.Throws<MalformedInputException>(() => EventBatchParser.Parse(body, new BatchLimits(), DateTimeOffset.UnixEpoch, out _, out _));
        Assert.Equal(InputErrorKind.Corrupt, ex.Kind);
        Assert.DoesNotContain(ex.Message, c => char.IsControl(c));
        Assert.Contains("x\\x1b[2J\\n", ex.Message, StringComparison.Ordinal);
        Assert.Equal("x\\x1b[2J\\n", ex.Field);
    }

    [Fact]
    public void Fuzzing_rfc3339_query_values_only_ever_raises_malformed_input()
    {
        byte[][] seeds =
        [
            "2026-11-23T10:12:04Z"u8.ToArray(),
            "2026-11-23t10:12:04.123456789z"u8.ToArray(),
            "2024-02-29T23:59:59.1-00:00"u8.ToArray(),
            "9999-12-31T23:59:59.9999999-23:59"u8.ToArray(),
            "0001-01-01T00:00:00+23:59"u8.ToArray(),
        ];
        FuzzHarness.Run(Rfc3339.Fuzz, seeds, 4000, 3339, "0123456789-:T.Zz+ "u8.ToArray(), maxLength: 40);
    }

    [Theory]
    [InlineData("9999-12-31T23:59:59.9999999-23:59")]
    [InlineData("0001-01-01T00:00:00+23:59")]
    [InlineData("yesterday")]
    public void An_rfc3339_value_out_of_range_or_malformed_is_malformed_input_naming_its_field(string text)
    {
        var ex = Assert.Throws<MalformedInputException>(() => Rfc3339.Parse(text, "from"));
        Assert.Equal("from", ex.Field);
        Assert.StartsWith("from: not an RFC 3339 date-time", ex.Message, StringComparison.Ordinal);
    }
}
