using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TrainGuard.Server.Alerts;
using TrainGuard.Server.Tests.Support;

namespace TrainGuard.Server.Tests.Alerting;

/// <summary>
/// <see cref="EventFacts.Read(long, ReadOnlySpan{byte})"/> reads an event in one pass without a document: it must give
/// what a lookup of each field's path in the parsed object gives, for real events and for hostile shapes.
/// </summary>
public sealed class EventFactsTests
{
    [Fact]
    public void Every_recorded_incident_event_reads_as_a_path_lookup_in_the_parsed_object_reads_it()
    {
        var lines = new[] { "vm.jsonl", "gpu-node-2.jsonl" }
            .SelectMany(f => File.ReadAllLines(Path.Combine(TestPaths.RepositoryRoot, "tests", "fixtures", "dashboard", f)))
            .ToList();
        Assert.True(lines.Count > 70);
        foreach (var line in lines)
        {
            var facts = EventFacts.Read(7, Encoding.UTF8.GetBytes(line));
            var node = JsonNode.Parse(line)!.AsObject();
            Assert.Equal((string?)Lookup(node, "id") ?? string.Empty, facts.EventId);
            Assert.Equal((string?)Lookup(node, "event.action"), facts.Action);
            Assert.Equal((string?)Lookup(node, "host.name"), facts.Host);
            Assert.Equal(Lookup(node, "user.audit.id") is { } uid && (string?)uid != EventFacts.UnsetLoginUid ? (string?)uid : null, facts.LoginUid);
            Assert.Equal((string?)Lookup(node, "user.name"), facts.UserName);
            Assert.Equal((string?)Lookup(node, "file.path"), facts.FilePath);
            Assert.Equal((string?)Lookup(node, "file.owner"), facts.FileOwner);
            Assert.Equal(Lookup(node, "process.pid")?.GetValue<long>(), facts.Pid);
            Assert.Equal((string?)Lookup(node, "trainguard.ssh.key_fingerprint"), facts.KeyFingerprint);
            Assert.Equal(7, facts.Index);
        }
    }

    [Fact]
    public void Escaped_names_numbers_as_strings_and_skipped_shapes_read_as_the_object_says()
    {
        var json = """
            {"ign\u006fred":{"user":{"name":"decoy"}},"user":{"audit":{"id":"4294967295","name":"unset"},"n\u0061me":"lena","id":[1,2]},
             "process":{"pid":"2757","session_id":4294967295,"name":{"nested":"x"}},"source":{"ip":"10.0.0.7","port":22},
             "trainguard":{"uid_zero":"true","snapshot":{"baseline":true},"agent":{"interval_seconds":2.5}},
             "file":{"path":"/a","path2":"/b"},"message":"m\n<b>x</b>","id":"e1","event":{"action":"file-changed"}}
            """;
        var facts = EventFacts.Read(1, Encoding.UTF8.GetBytes(json));

        Assert.Null(facts.LoginUid);
        Assert.Null(facts.LoginName);
        Assert.Equal("lena", facts.UserName);
        Assert.Null(facts.UserId);
        Assert.Equal(2757, facts.Pid);
        Assert.Null(facts.SessionId);
        Assert.Null(facts.ProcessName);
        Assert.Equal("10.0.0.7:22", facts.SourceAddress);
        Assert.False(facts.UidZero);
        Assert.True(facts.Baseline);
        Assert.Equal(2.5, facts.HeartbeatIntervalSeconds);
        Assert.Equal("/a", facts.FilePath);
        Assert.Equal("m\n<b>x</b>", facts.Message);
        Assert.Equal(("lena", null), facts.Actor);
    }

    [Fact]
    public void A_field_given_twice_keeps_its_last_value_and_an_owner_without_an_actor_is_the_file_owner_attribution()
    {
        var facts = EventFacts.Read(1, """{"event":{"action":"env-finding"},"file":{"owner":"mallory","owner":"intern7"}}"""u8);
        Assert.Equal("intern7", facts.FileOwner);
        Assert.Equal(AlertAttribution.FileOwner, facts.Attribution);
        Assert.Equal(("intern7", null), facts.Actor);

        var signed = EventFacts.Read(1, """{"event":{"action":"env-finding"},"user":{"name":"alice"},"file":{"owner":"intern7"}}"""u8);
        Assert.Equal(AlertAttribution.Direct, signed.Attribution);
        Assert.Equal(("alice", null), signed.Actor);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("\"event\"")]
    [InlineData("{\"event\":")]
    [InlineData("{\"a\":1}{")]
    [InlineData("")]
    public void Anything_but_one_json_object_is_refused(string text) =>
        Assert.ThrowsAny<JsonException>(() => EventFacts.Read(1, Encoding.UTF8.GetBytes(text)));

    [Fact]
    public void Nesting_past_the_limit_is_refused_not_a_stack_overflow()
    {
        var deep = new StringBuilder("{\"user\":");
        for (var i = 0; i < 10_000; i++)
        {
            deep.Append("{\"user\":");
        }

        Assert.ThrowsAny<JsonException>(() => EventFacts.Read(1, Encoding.UTF8.GetBytes(deep.ToString())));
    }

    private static JsonNode? Lookup(JsonObject node, string path)
    {
        JsonNode? current = node;
        foreach (var part in path.Split('.'))
        {
            current = current is JsonObject o && o.TryGetPropertyValue(part, out var next) ? next : null;
        }

        return current is JsonValue ? current : null;
    }
}
