using System.Text;
using TrainGuard.Agent.Runtime;
using TrainGuard.Agent.Tests.Support;

namespace TrainGuard.Agent.Tests.Runtime;

public sealed class LogFollowerTests
{
    private static List<string> Poll(LogFollower follower)
    {
        var lines = new List<string>();
        follower.Poll((line, _, _) => lines.Add(Encoding.UTF8.GetString(line)));
        return lines;
    }

    [Fact]
    public void Only_complete_lines_are_delivered_and_the_rest_waits_for_its_line_feed()
    {
        using var dir = new TempDir();
        var log = dir.Write("audit.log", "one\ntw");
        using var follower = new LogFollower(log);
        Assert.Equal(["one"], Poll(follower));
        File.AppendAllText(log, "o\nthree\n");
        Assert.Equal(["two", "three"], Poll(follower));
        Assert.Empty(Poll(follower));
    }

    [Fact]
    public void A_rotation_finishes_the_old_file_then_reads_the_new_one_from_the_start()
    {
        using var dir = new TempDir();
        var log = dir.Write("audit.log", "type=A msg=audit(1.0:1): first file line one\n");
        using var follower = new LogFollower(log);
        Assert.Single(Poll(follower));
        File.AppendAllText(log, "type=A msg=audit(1.0:2): written just before the rotation\n");
        File.Move(log, log + ".1");
        File.WriteAllText(log, "type=A msg=audit(2.0:3): new file line one\n");

        Assert.Equal(["type=A msg=audit(1.0:2): written just before the rotation", "type=A msg=audit(2.0:3): new file line one"], Poll(follower));
        Assert.Equal(1, follower.Rotations);
        File.AppendAllText(log, "type=A msg=audit(2.0:4): new file line two\n");
        Assert.Equal(["type=A msg=audit(2.0:4): new file line two"], Poll(follower));
    }

    [Fact]
    public void A_truncated_file_is_read_again_from_the_start()
    {
        using var dir = new TempDir();
        var log = dir.Write("auth.log", "a long first line of the log\nsecond\n");
        using var follower = new LogFollower(log);
        Assert.Equal(2, Poll(follower).Count);
        File.WriteAllText(log, "x\n");
        Assert.Equal(["x"], Poll(follower));
    }

    [Fact]
    public void The_position_survives_a_restart_and_is_dropped_when_the_file_was_replaced()
    {
        using var dir = new TempDir();
        var log = dir.Write("audit.log", "line 1\nline 2\n");
        var state = dir.Combine("pos.json");
        using (var follower = new LogFollower(log, state))
        {
            Assert.Equal(2, Poll(follower).Count);
        }

        File.AppendAllText(log, "line 3\n");
        using (var follower = new LogFollower(log, state))
        {
            Assert.Equal(["line 3"], Poll(follower));
        }

        File.WriteAllText(log, "other file\n");
        using (var follower = new LogFollower(log, state))
        {
            Assert.Equal(["other file"], Poll(follower));
        }
    }

    [Fact]
    public void A_missing_log_is_waited_for()
    {
        using var dir = new TempDir();
        var log = dir.Combine("audit.log");
        using var follower = new LogFollower(log);
        Assert.Empty(Poll(follower));
        File.WriteAllText(log, "hello\n");
        Assert.Equal(["hello"], Poll(follower));
    }
}
