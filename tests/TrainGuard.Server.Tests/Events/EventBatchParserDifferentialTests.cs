using System.Text;
using System.Text.Unicode;
using TrainGuard.Core.Tests.Events;
using TrainGuard.Parsing;
using TrainGuard.Server.Events;
using TrainGuard.Server.Tests.Support;

namespace TrainGuard.Server.Tests.Events;

/// <summary>
/// The reader-based <see cref="EventBatchParser"/> against the <c>JsonNode</c> one it replaced
/// (<see cref="ReferenceEventBatchParser"/>) on generated batches of good, bad and hostile events: the same stored
/// bytes and ids, the same events and fields named in the errors, the same refusals (malformed or too large).
/// </summary>
public sealed class EventBatchParserDifferentialTests
{
    private static readonly DateTimeOffset Ingested = new(2026, 11, 23, 12, 0, 0, 123, TimeSpan.Zero);

    [Fact]
    public void Generated_batches_parse_exactly_as_the_json_node_parser()
    {
        var random = new Random(4);
        var accepted = 0;
        var rejected = 0;
        for (var i = 0; i < 2500; i++)
        {
            var body = Encoding.UTF8.GetBytes(new BatchGenerator(random).Batch());
            var limits = new BatchLimits { MaxEvents = random.Next(10) == 0 ? 3 : 10_000 };
            switch (AssertSameAsReference(body, limits))
            {
                case Outcome.Accepted:
                    accepted++;
                    break;
                case Outcome.Problems:
                    rejected++;
                    break;
            }
        }

        // Both sides of the comparison are exercised: stored bytes and per-event errors.
        Assert.InRange(accepted, 300, 2500);
        Assert.InRange(rejected, 300, 2500);
    }

    [Fact]
    public void Mutated_batches_are_refused_or_parsed_as_the_json_node_parser()
    {
        var random = new Random(5);
        const string alphabet = "{}[]\":,\\0123456789eE.+-uadfxnt\u00e9 ";
        for (var i = 0; i < 2500; i++)
        {
            var body = Encoding.UTF8.GetBytes(new BatchGenerator(random).Batch());
            for (var m = random.Next(1, 4); m > 0 && body.Length > 0; m--)
            {
                body[random.Next(body.Length)] = random.Next(8) == 0 ? (byte)random.Next(256) : (byte)alphabet[random.Next(alphabet.Length)];
            }

            AssertSameAsReference(body, new BatchLimits());
        }
    }

    [Fact]
    public void A_realistic_agent_batch_is_stored_byte_for_byte_as_before()
    {
        var events = Enumerable.Range(0, 200).Select(n => ServerHarness.Event(n)).ToList();
        Assert.Equal(Outcome.Accepted, AssertSameAsReference(Encoding.UTF8.GetBytes(ServerHarness.Batch(events)), new BatchLimits()));
    }

    [Theory]
    [InlineData("[{\"id\":\"0190f5a0-0000-7000-8000-000000000001\",\"@timestamp\":\"2026-11-23T10:00:00Z\",\"event\":{\"action\":\"a\"},\"\\ud800\":1}]")]
    [InlineData("[{\"id\":\"0190f5a0-0000-7000-8000-000000000001\",\"@timestamp\":\"2026-11-23T10:00:00Z\",\"event\":{\"action\":\"a\"},\"x\":\"\\udc00\"}]")]
    [InlineData("{\"\\ud800\":1,\"events\":[]}")]
    public void Lone_surrogates_anywhere_refuse_the_batch(string json)
    {
        var threw = false;
        EventBatch? batch = null;
        try
        {
            batch = EventBatchParser.Parse(Encoding.UTF8.GetBytes(json), new BatchLimits(), Ingested, out _, out _);
        }
        catch (MalformedInputException)
        {
            threw = true;
        }

        Assert.True(threw || batch is null);
    }

    [Theory]
    [InlineData("5B7B226964223A2230313930663561302D303030302D373030302D383030302D303030303030303030303031222C224074696D657374616D70223A22323032362D31312D32335431303A30303A30305A222C226576656E74223A7B22616374696F6E223A2261227D2C22C3223A317D5D")]
    [InlineData("5B7B226964223A2230313930663561302D303030302D373030302D383030302D303030303030303030303031222C224074696D657374616D70223A22323032362D31312D32335431303A30303A30305A222C226576656E74223A7B22616374696F6E223A2261FF227D7D5D")]
    public void Bytes_that_are_not_utf8_refuse_the_batch_instead_of_being_stored_as_replacement_characters(string hex)
    {
        var batch = EventBatchParser.Parse(Convert.FromHexString(hex), new BatchLimits(), Ingested, out var problems, out var bad);
        Assert.Null(batch);
        Assert.Equal(1, bad);
        Assert.Equal(0, problems[0].Index);
    }

    [Fact]
    public void A_client_sent_event_ingested_is_replaced_by_the_servers()
    {
        const string json = "[{\"event\":{\"ingested\":\"1999-01-01T00:00:00Z\",\"action\":\"a\"},\"id\":\"0190F5A0-0000-7000-8000-00000000000A\",\"@timestamp\":\"2026-11-23T10:00:00Z\"}]";
        var batch = EventBatchParser.Parse(Encoding.UTF8.GetBytes(json), new BatchLimits(), Ingested, out _, out _);
        Assert.NotNull(batch);
        Assert.Equal(
            "{\"@timestamp\":\"2026-11-23T10:00:00Z\",\"event\":{\"action\":\"a\",\"ingested\":\"2026-11-23T12:00:00.123Z\"},\"id\":\"0190f5a0-0000-7000-8000-00000000000a\"}",
            Encoding.UTF8.GetString(batch.Entries[0].Entry));
    }

    private enum Outcome
    {
        Accepted,
        Problems,
        Refused,
    }

    private static Outcome AssertSameAsReference(byte[] body, BatchLimits limits)
    {
        var expected = Run(body, limits, ReferenceEventBatchParser.Parse);
        var actual = Run(body, limits, EventBatchParser.Parse);
        var hex = Convert.ToHexString(body);
        Assert.True(actual.Crash is null, $"the parser threw {actual.Crash} for {hex}");
        if (!Utf8.IsValid(body) || expected.Crash is not null)
        {
            // The JsonNode parser stored bad bytes in names as U+FFFD and crashed on lone surrogates in names: refuse.
            Assert.True(actual.Kind != Outcome.Accepted, $"accepted a batch the reference could not read ({expected.Crash ?? "not UTF-8"}): {hex}");
            return actual.Kind;
        }

        Assert.True(expected.Kind == actual.Kind, $"reference {expected.Describe()}, parser {actual.Describe()} for {hex}");
        Assert.True(expected.Detail == actual.Detail, $"reference {expected.Describe()}, parser {actual.Describe()} for {hex}");
        return actual.Kind;
    }

    private delegate EventBatch? Parser(ReadOnlySpan<byte> body, BatchLimits limits, DateTimeOffset ingested, out IReadOnlyList<EventProblem> problems, out int badCount);

    private static Result Run(byte[] body, BatchLimits limits, Parser parse)
    {
        try
        {
            var batch = parse(body, limits, Ingested, out var problems, out var badCount);
            if (batch is null)
            {
                return new Result(Outcome.Problems, $"{badCount} bad: " + string.Join("; ", problems.Select(p => $"{p.Index}/{p.Field}")), null, string.Join("; ", problems.Select(p => p.Message)));
            }

            foreach (var entry in batch.Entries.OfType<EventAppend>())
            {
                // The index columns carried with a validated event are the ones an audit derives from its bytes.
                Assert.Equal(EventIndexRow.FromEntry(7, entry.Entry), entry.Row with { Index = 7 });
            }

            var entries = string.Join("\n", batch.Entries.Select((e, i) => $"{batch.Ids[i]} {e.IdempotencyKey} {Encoding.UTF8.GetString(e.Entry)}"));
            var refused = string.Join("\n", batch.Refusals.Select(r => $"{r.Index} {r.Id} {r.Outcome}"));
            return new Result(Outcome.Accepted, entries + "\nrefused:\n" + refused, null, null);
        }
        catch (MalformedInputException ex)
        {
            return new Result(Outcome.Refused, ex.LimitExceeded ? "too large" : "malformed", null, ex.Message);
        }
        catch (Exception ex)
        {
            return new Result(Outcome.Refused, "crash", $"{ex.GetType().Name}: {ex.Message}", null);
        }
    }

    private sealed record Result(Outcome Kind, string Detail, string? Crash, string? Messages)
    {
        public string Describe() => $"{Kind} [{Detail}] {Messages}";
    }

    /// <summary>Batches in every envelope with events that are good, subtly bad, oversize or hostile, fields in random order.</summary>
    private sealed class BatchGenerator(Random random)
    {
        private readonly JsonTextGenerator _json = new(random) { MaxDepth = 4 };

        /// <summary>Half the batches only vary what must not matter (escapes, order, extra fields, ids in upper case).</summary>
        private bool _clean;

        public string Batch()
        {
            _clean = random.Next(2) == 0;
            var events = new List<string>();
            for (var i = random.Next(random.Next(20) == 0 ? 12 : 5); i >= 0; i--)
            {
                events.Add(!_clean && random.Next(25) == 0 ? _json.Value(depth: 3) : Event());
            }

            var array = "[" + string.Join(random.Next(2) == 0 ? "," : " ,\n ", events) + "]";
            return random.Next(12) switch
            {
                0 or 1 or 2 or 3 or 4 => array,
                5 => $"{{\"meta\":{_json.Value(depth: 2)},\"events\":{array}}}",
                6 => $"{{\"ev\\u0065nts\" : {array} }}",
                7 when random.Next(4) == 0 => random.Next(3) switch { 0 => "{\"events\":{}}", 1 => "{\"other\":[]}", _ => _json.Value(depth: 3) },
                _ => $"{{\"events\":{array}}}",
            };
        }

        private string Event()
        {
            var members = new List<(string Name, string Value)>();
            var guid = Guid.CreateVersion7(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).AddTicks(random.NextInt64(1L << 40)));
            var id = Pick(14) switch
            {
                0 => null,
                1 => "5",
                2 => _json.StringLiteral(guid.ToString().ToUpperInvariant()),
                3 => _json.StringLiteral(guid.ToString("B")),
                4 => _json.StringLiteral(guid.ToString("N")),
                5 => _json.StringLiteral("not-a-uuid"),
                6 => _json.StringLiteral(guid.ToString()[..35] + "g"),
                _ => _json.StringLiteral(guid.ToString()),
            };
            Add("id", id);
            var timestamp = Pick(14) switch
            {
                0 => null,
                1 => "1700000000",
                2 => _json.StringLiteral("2026-11-23"),
                3 => _json.StringLiteral("2025-02-29T00:00:00Z"),
                4 => _json.StringLiteral("2026-11-23t10:12:04.123456789z"),
                5 => _json.StringLiteral("2026-11-23T10:12:04+05:30"),
                6 => _json.StringLiteral("2026-11-23T10:12:04.1234567890Z"),
                7 => _json.StringLiteral("\u0661\u0662\u0663\u0664-11-23T10:12:04Z"),
                _ => _json.StringLiteral(TrainGuard.Events.EventRecord.FormatTimestamp(new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero).AddMilliseconds(random.Next(1_000_000)))),
            };
            Add("@timestamp", timestamp);

            var eventMembers = new List<string>();
            var action = Pick(12) switch
            {
                0 => null,
                1 => "\"\"",
                2 => "7",
                3 => _json.StringLiteral("\u00e9v\u00e9nement/\"quoted\""),
                _ => _json.StringLiteral(random.Next(2) == 0 ? "process-signal" : "user-login"),
            };
            if (action is not null)
            {
                eventMembers.Add($"{_json.StringLiteral("action")}:{action}");
            }

            if (random.Next(3) == 0)
            {
                eventMembers.Add($"\"kind\":{_json.StringLiteral("event")}");
            }

            if (random.Next(6) == 0)
            {
                eventMembers.Add($"\"ingested\":{_json.Value(depth: 3)}");
            }

            Add("event", Pick(15) == 0 ? _json.Value(depth: 4) : "{" + string.Join(",", Shuffle(eventMembers)) + "}");
            if (random.Next(2) == 0)
            {
                Add("host", random.Next(6) == 0 ? _json.Value(depth: 3) : $"{{\"name\":{_json.StringLiteral($"gpu-node-{random.Next(64)}")}}}");
            }

            if (random.Next(2) == 0)
            {
                Add("user", $"{{\"name\":{(random.Next(6) == 0 ? _json.Number() : _json.StringLiteral("mallory"))},\"id\":\"1600\"}}");
            }

            Add("process", $"{{\"pid\":{(_clean ? random.Next(1 << 22).ToString(System.Globalization.CultureInfo.InvariantCulture) : _json.Number())},\"executable\":{_json.StringLiteral("/usr/bin/kill")}}}");
            for (var i = random.Next(_clean ? 2 : 4); i > 0; i--)
            {
                Add("extra" + i, _json.Value(depth: _clean ? 3 : 2));
            }

            if (Pick(60) == 0)
            {
                Add("blob", "\"" + new string('x', 65_600) + "\"");
            }

            if (Pick(60) == 0 && members.Count > 0)
            {
                members.Add(members[random.Next(members.Count)]);
            }

            return "{" + string.Join(",", Shuffle(members).Select(m => $"{_json.StringLiteral(m.Name)}:{m.Value}")) + "}";

            void Add(string name, string? value)
            {
                if (value is not null)
                {
                    members.Add((name, value));
                }
            }
        }

        /// <summary>A choice among <paramref name="n"/>; in clean batches always the last (the ordinary case).</summary>
        private int Pick(int n) => _clean ? n - 1 : random.Next(n);

        private List<T> Shuffle<T>(List<T> items)
        {
            for (var i = items.Count - 1; i > 0; i--)
            {
                var j = random.Next(i + 1);
                (items[i], items[j]) = (items[j], items[i]);
            }

            return items;
        }
    }
}
