using System.Text.Json.Nodes;
using TrainGuard.Events;
using TrainGuard.Findings;
using TrainGuard.Parsing;

namespace TrainGuard.Agent.Tests.Events;

public sealed class EventRecordTests
{
    private static readonly DateTimeOffset When = new(2026, 11, 23, 10, 12, 4, 551, TimeSpan.Zero);

    [Fact]
    public void Dotted_paths_build_nested_ecs_objects()
    {
        var e = new EventRecord(When, EventActions.ProcessSignal);
        e.Set("user.audit.id", "1000").Set("user.audit.name", "alice").Set("process.pid", 42).Set("event.category", ["process"]);

        var root = e.Root;
        Assert.Equal("1000", root["user"]!["audit"]!["id"]!.GetValue<string>());
        Assert.Equal(42, e.GetInt64("process.pid"));
        Assert.Equal(["process"], e.GetStrings("event.category"));
        Assert.Equal("2026-11-23T10:12:04.551Z", e.GetString("@timestamp"));
        Assert.Equal(When, e.Timestamp);
        Assert.Null(e.GetString("user.missing.deep"));
    }

    [Fact]
    public void Setting_below_a_scalar_is_refused_and_null_removes()
    {
        var e = new EventRecord(When, "x");
        e.Set("process.pid", 1);

        Assert.Throws<ArgumentException>(() => e.Set("process.pid.inner", 2));
        e.Set("process.pid", (string?)null);
        Assert.False(e.Has("process.pid"));
    }

    [Fact]
    public void Json_line_round_trips_and_canonical_form_changes_with_any_field()
    {
        var e = new EventRecord(When, EventActions.FileCreated);
        e.Set("file.path", "/home/alice/.ssh/authorized_keys").Set("trainguard.audit.key", "tg-ssh");

        var line = e.ToJsonLine();
        var back = EventRecord.Parse(line);

        Assert.DoesNotContain('\n', line);
        Assert.Equal(e.ToCanonicalJson(), back.ToCanonicalJson());
        back.Set("file.path", "/home/alice/.ssh/authorized_keys2");
        Assert.NotEqual(e.ToCanonicalJson(), back.ToCanonicalJson());
    }

    [Theory]
    [InlineData("[1,2]")]
    [InlineData("{\"a\":")]
    [InlineData("")]
    public void Parse_refuses_non_objects_and_bad_json(string text)
    {
        Assert.Throws<MalformedInputException>(() => EventRecord.Parse(text));
    }

    [Fact]
    public void Uuid_v7_ids_carry_version_variant_and_time_and_sort_by_time()
    {
        var early = UuidV7.NewId(When);
        var late = UuidV7.NewId(When.AddMilliseconds(1));

        Assert.Equal('7', early[14]);
        Assert.Contains(early[19], "89ab");
        Assert.True(string.CompareOrdinal(early, late) < 0);
        Assert.True(UuidV7.TryGetTimestamp(early, out var stamp));
        Assert.Equal(When, stamp);
        Assert.True(Guid.TryParse(early, out _));
        Assert.NotEqual(UuidV7.NewId(When), UuidV7.NewId(When));
    }

    [Fact]
    public void Uuid_v7_from_a_natural_key_is_deterministic()
    {
        var a = UuidV7.FromKey(When, "auditd|node1|1.2:3|0"u8);
        var b = UuidV7.FromKey(When, "auditd|node1|1.2:3|0"u8);
        var c = UuidV7.FromKey(When, "auditd|node1|1.2:3|1"u8);

        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.Equal('7', a[14]);
    }

    [Fact]
    public void A_finding_embeds_as_trainguard_finding_with_both_severities()
    {
        var finding = new Finding
        {
            RuleId = "TG-PKL-001",
            Severity = Severity.Critical,
            Message = "os.system('echo pwned') would run via REDUCE",
            Location = new Location("/ckpt/optimizer.pt", "archive/data.pkl", 0x1f),
            Verdict = Verdict.Malicious,
            Global = "os.system",
            Evidence = new Dictionary<string, string> { ["opcode"] = "REDUCE" },
        };

        var e = finding.ToEvent(When, EventActions.ArtifactScanned, "scan");

        Assert.Equal(99, e.GetInt64("event.severity"));
        Assert.Equal("critical", e.GetString("trainguard.severity"));
        Assert.Equal("TG-PKL-001", e.GetString("trainguard.finding.rule"));
        Assert.Equal("archive/data.pkl", e.GetString("trainguard.finding.location.member"));
        Assert.Equal(31, e.GetInt64("trainguard.finding.location.offset"));
        Assert.Equal("REDUCE", e.GetString("trainguard.finding.evidence.opcode"));
        Assert.Equal("malicious", e.GetString("trainguard.finding.verdict"));
        Assert.Equal("/ckpt/optimizer.pt", e.GetString("file.path"));
        Assert.Equal("scan", e.GetString("event.module"));
        Assert.IsType<JsonObject>(e.Get("trainguard.finding"));
    }
}
