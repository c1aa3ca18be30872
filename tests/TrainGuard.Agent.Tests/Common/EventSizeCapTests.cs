using System.Text;
using TrainGuard.Agent.Common;
using TrainGuard.Events;

namespace TrainGuard.Agent.Tests.Common;

public sealed class EventSizeCapTests
{
    private static EventRecord KeyEvent(string comment)
    {
        var e = new EventRecord(new DateTimeOffset(2026, 11, 22, 8, 0, 0, TimeSpan.Zero), EventActions.SshKeyAdded);
        e.Set("user.target.name", "alice").Set("trainguard.ssh.key_fingerprint", "SHA256:abc").Set("trainguard.ssh.key_comment", comment);
        return e;
    }

    [Fact]
    public void An_11000_byte_key_comment_is_cut_with_a_mark_and_named_in_trainguard_truncated()
    {
        var e = KeyEvent(new string('A', 11_000));
        Assert.Equal(["trainguard.ssh.key_comment"], EventSizeCap.Apply(e));

        var comment = e.GetString("trainguard.ssh.key_comment")!;
        Assert.True(Encoding.UTF8.GetByteCount(comment) <= EventSizeCap.MaxFieldBytes);
        Assert.StartsWith(new string('A', 4000), comment, StringComparison.Ordinal);
        var kept = comment.IndexOf('…', StringComparison.Ordinal);
        Assert.EndsWith($"…[truncated {11_000 - kept} bytes]", comment, StringComparison.Ordinal);
        Assert.Equal(["trainguard.ssh.key_comment"], e.GetStrings(EventSizeCap.TruncatedField));
        Assert.Equal("SHA256:abc", e.GetString("trainguard.ssh.key_fingerprint"));
    }

    [Fact]
    public void No_event_exceeds_the_documented_size_however_many_long_fields_it_has()
    {
        var e = KeyEvent(new string('c', 9000));
        e.Set("process.command_line", new string('x', 50_000)).Set("file.path", "/" + new string('p', 5000)).Set("process.name", new string('n', 3000));
        e.Set("trainguard.diff.added", Enumerable.Range(0, 500).Select(i => $"line {i} " + new string('d', 100)));
        EventSizeCap.Apply(e);

        Assert.True(Encoding.UTF8.GetByteCount(e.ToJsonLine()) <= EventSizeCap.MaxEventBytes, $"{Encoding.UTF8.GetByteCount(e.ToJsonLine())} bytes");
        Assert.Equal(["file.path", "process.command_line", "trainguard.diff.added", "trainguard.ssh.key_comment"], e.GetStrings(EventSizeCap.TruncatedField).Order(StringComparer.Ordinal));
        Assert.Equal(EventSizeCap.MaxArrayItems, e.GetStrings("trainguard.diff.added").Count);
        Assert.StartsWith("…[truncated 437 items]", e.GetStrings("trainguard.diff.added")[^1], StringComparison.Ordinal);
        Assert.Matches(@"…\[truncated [0-9]+ bytes\]$", e.GetString("process.command_line")!);
        Assert.DoesNotMatch(@"truncated.*truncated", e.GetString("process.command_line")!);
    }

    [Fact]
    public void Multi_byte_text_is_never_cut_inside_a_character_and_small_events_are_left_alone()
    {
        var e = KeyEvent(string.Concat(Enumerable.Repeat("é🔑", 3000)));
        EventSizeCap.Apply(e);
        var comment = e.GetString("trainguard.ssh.key_comment")!;
        Assert.DoesNotContain('\uFFFD', comment);
        Assert.False(char.IsHighSurrogate(comment[comment.IndexOf('…', StringComparison.Ordinal) - 1]));

        var small = KeyEvent("alice@laptop");
        var before = small.ToJsonLine();
        Assert.Empty(EventSizeCap.Apply(small));
        Assert.Equal(before, small.ToJsonLine());
    }
}
