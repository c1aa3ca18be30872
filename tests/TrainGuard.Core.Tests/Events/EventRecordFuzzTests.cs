using System.Text;
using TrainGuard.Events;
using TrainGuard.Parsing;

namespace TrainGuard.Core.Tests.Events;

/// <summary><see cref="EventRecord.Parse"/> (spool and export lines) under the shared fuzz harness.</summary>
public sealed class EventRecordFuzzTests
{
    [Fact]
    public void Event_lines_throw_only_malformed_input_on_random_and_mutated_input()
    {
        var record = new EventRecord(new DateTimeOffset(2026, 11, 22, 8, 12, 4, 235, TimeSpan.Zero), "ssh-key-added")
            .Set(EventFields.Category, ["iam", "configuration"])
            .Set(EventFields.Severity, 75)
            .Set("user.target.name", "alice")
            .Set("trainguard.ssh.key_line", 3);
        byte[][] seeds =
        [
            Encoding.UTF8.GetBytes(record.ToJsonLine()),
            "{\"@timestamp\":\"not a time\",\"event\":{\"category\":\"iam\",\"severity\":1e400},\"id\":7}"u8.ToArray(),
            "{\"a\":1,\"a\":2}"u8.ToArray(),
        ];
        FuzzHarness.Run(EventRecord.Fuzz, seeds, 3000, 7, CanonicalJsonDocumentTests.JsonAlphabet);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("{\"a\":")]
    [InlineData("\"text\"")]
    [InlineData("{\"a\":1,\"a\":2}")]
    public void A_line_that_is_not_a_json_object_is_malformed_input(string line) =>
        Assert.Equal(InputErrorKind.Syntax, Assert.Throws<MalformedInputException>(() => EventRecord.Parse(line)).Kind);
}
