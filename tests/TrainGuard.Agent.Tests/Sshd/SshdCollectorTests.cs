using TrainGuard.Agent.Sshd;
using TrainGuard.Agent.Tests.Support;
using TrainGuard.Events;

namespace TrainGuard.Agent.Tests.Sshd;

public sealed class SshdCollectorTests
{
    [Fact]
    public void Verbose_sshd_capture_joins_each_key_login_to_its_authorized_keys_line()
    {
        var (events, stats) = Collect.Sshd(File.ReadAllText(Samples.SshdVerbose));

        Assert.Equal(0, stats.ParseErrors);
        var logins = events.Where(e => e.Action == EventActions.UserLogin).ToList();
        Assert.Equal(3, logins.Count);
        Assert.Equal([1L, 2L, 1L], logins.Select(e => e.GetInt64("trainguard.ssh.key_line")!.Value));
        Assert.Equal(
            ["SHA256:T+g+CPvDHqMATT7p+J2Qlnr/2eaZ9D70LMwLaZPU7Bw", "SHA256:8IMcMjEtRypSotHvKA09xulVlL45NO5ZoquNQKqYKTw", "SHA256:T+g+CPvDHqMATT7p+J2Qlnr/2eaZ9D70LMwLaZPU7Bw"],
            logins.Select(e => e.GetString("trainguard.ssh.key_fingerprint")!));
        Assert.All(logins, e =>
        {
            Assert.Equal("alice", e.GetString("user.name"));
            Assert.Equal("publickey", e.GetString("trainguard.ssh.method"));
            Assert.Equal("ED25519", e.GetString("trainguard.ssh.key_type"));
            Assert.Equal("/home/alice/.ssh/authorized_keys", e.GetString("trainguard.ssh.key_file"));
            Assert.Equal("127.0.0.1", e.GetString("source.ip"));
            Assert.Equal("success", e.GetString("event.outcome"));
            Assert.True(e.GetBoolean("trainguard.timestamp_inferred"));
        });
        Assert.Equal([42332L, 42346L, 38952L], logins.Select(e => e.GetInt64("source.port")!.Value));
        Assert.Equal(3, events.Count(e => e.Action == EventActions.UserLogout));
    }

    [Fact]
    public void Auth_log_lines_with_rfc3164_timestamps_yield_logins_failures_and_sessions()
    {
        var (events, stats) = Collect.Sshd("""
            Nov 22 08:00:01 gpu-07 sshd[4242]: Accepted key RSA SHA256:abc found at /home/bob/.ssh/authorized_keys:7
            Nov 22 08:00:01 gpu-07 sshd[4242]: Accepted publickey for bob from 10.1.2.3 port 50000 ssh2: RSA SHA256:abc
            Nov 22 08:00:01 gpu-07 sshd[4242]: pam_unix(sshd:session): session opened for user bob(uid=1001) by (uid=0)
            Nov 22 08:00:02 gpu-07 CRON[99]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)
            Nov 22 08:00:03 gpu-07 sshd[4300]: Failed password for invalid user admin from 203.0.113.9 port 4444 ssh2
            Nov 22 08:00:04 gpu-07 sshd[4301]: Invalid user oracle from 203.0.113.9 port 4445
            Nov 22 08:00:05 gpu-07 sshd[4302]: Accepted password for carol from 2001:db8::1 port 2222 ssh2
            Nov 22 08:00:06 gpu-07 sshd[4242]: pam_unix(sshd:session): session closed for user bob
            Nov 22 08:00:06 gpu-07 sshd[4242]: Disconnected from user bob 10.1.2.3 port 50000

            """);

        Assert.Equal(0, stats.ParseErrors);
        Assert.Equal(7, events.Count);
        var bob = events[0];
        Assert.Equal("2026-11-22T08:00:01.000Z", bob.GetString("@timestamp"));
        Assert.Equal("gpu-07", bob.GetString("host.name"));
        Assert.Equal(4242, bob.GetInt64("process.pid"));
        Assert.Equal("/home/bob/.ssh/authorized_keys", bob.GetString("trainguard.ssh.key_file"));
        Assert.Equal(7, bob.GetInt64("trainguard.ssh.key_line"));
        Assert.False(bob.Has("trainguard.timestamp_inferred"));
        Assert.Equal("session-open", events[1].GetString("trainguard.login.phase"));
        Assert.Equal("1001", events[1].GetString("user.id"));
        var failed = events[2];
        Assert.Equal("failure", failed.GetString("event.outcome"));
        Assert.Equal("admin", failed.GetString("user.name"));
        Assert.True(failed.GetBoolean("trainguard.ssh.invalid_user"));
        Assert.Equal("password", failed.GetString("trainguard.ssh.method"));
        Assert.Equal("oracle", events[3].GetString("user.name"));
        Assert.Equal("2001:db8::1", events[4].GetString("source.ip"));
        Assert.False(events[4].Has("trainguard.ssh.key_file"));
        Assert.Equal(EventActions.UserLogout, events[5].Action);
        Assert.Equal(EventActions.UserLogout, events[6].Action);
    }

    [Fact]
    public void Rfc3164_year_is_the_latest_that_is_not_after_the_reference_so_new_year_splits_correctly()
    {
        var options = new SshdCollectorOptions { HostName = "n", ReferenceTime = new DateTimeOffset(2027, 1, 1, 0, 30, 0, TimeSpan.Zero) };
        var (events, _) = Collect.Sshd("""
            Dec 31 23:59:59 n sshd[1]: Accepted password for a from 10.0.0.1 port 1 ssh2
            Jan  1 00:00:01 n sshd[1]: Accepted password for b from 10.0.0.1 port 2 ssh2

            """, options);

        Assert.Equal(["2026-12-31T23:59:59.000Z", "2027-01-01T00:00:01.000Z"], events.Select(e => e.GetString("@timestamp")!));
    }

    [Fact]
    public void Rfc3164_time_is_read_in_the_configured_zone()
    {
        var zone = TimeZoneInfo.CreateCustomTimeZone("plus2", TimeSpan.FromHours(2), "plus2", "plus2");
        var options = new SshdCollectorOptions { HostName = "n", ReferenceTime = new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero), TimeZone = zone };
        var (events, _) = Collect.Sshd("May 10 12:00:00 n sshd[1]: Accepted password for a from 10.0.0.1 port 1 ssh2\n", options);

        Assert.Equal("2026-05-10T10:00:00.000Z", Assert.Single(events).GetString("@timestamp"));
    }

    [Theory]
    [InlineData("2026-11-22T08:00:01.123456+01:00 gpu-07 sshd[7]: Accepted password for a from 10.0.0.1 port 1 ssh2", "2026-11-22T07:00:01.123Z")]
    [InlineData("2026-11-22T08:00:01+0100 gpu-07 sshd[7]: Accepted password for a from 10.0.0.1 port 1 ssh2", "2026-11-22T07:00:01.000Z")]
    [InlineData("2026-11-22T08:00:01Z gpu-07 sshd-session[7]: Accepted password for a from 10.0.0.1 port 1 ssh2", "2026-11-22T08:00:01.000Z")]
    public void Rfc3339_and_journalctl_short_iso_timestamps_are_exact(string line, string expected)
    {
        var (events, stats) = Collect.Sshd(line + "\n");

        Assert.Equal(0, stats.ParseErrors);
        Assert.Equal(expected, Assert.Single(events).GetString("@timestamp"));
    }

    [Fact]
    public void Journal_export_entries_are_read()
    {
        var (events, stats) = Collect.Sshd("""
            __CURSOR=s=1;i=2
            __REALTIME_TIMESTAMP=1795429306000000
            _HOSTNAME=gpu-07
            SYSLOG_IDENTIFIER=sshd
            _PID=1738
            MESSAGE=Accepted publickey for alice from 127.0.0.1 port 42332 ssh2: ED25519 SHA256:T+g+CPvDHqMATT7p+J2Qlnr/2eaZ9D70LMwLaZPU7Bw

            __CURSOR=s=1;i=3
            __REALTIME_TIMESTAMP=1795429307000000
            SYSLOG_IDENTIFIER=systemd
            MESSAGE=Started session.

            """);

        Assert.Equal(0, stats.ParseErrors);
        var e = Assert.Single(events);
        Assert.Equal("gpu-07", e.GetString("host.name"));
        Assert.Equal(1738, e.GetInt64("process.pid"));
        Assert.Equal("2026-11-23T10:21:46.000Z", e.GetString("@timestamp"));
        Assert.Equal("SHA256:T+g+CPvDHqMATT7p+J2Qlnr/2eaZ9D70LMwLaZPU7Bw", e.GetString("trainguard.ssh.key_fingerprint"));
    }

    [Fact]
    public void A_key_found_for_another_fingerprint_is_not_joined()
    {
        var (events, _) = Collect.Sshd("""
            Nov 22 08:00:01 n sshd[5]: Accepted key ED25519 SHA256:other found at /home/a/.ssh/authorized_keys:3
            Nov 22 08:00:01 n sshd[5]: Accepted publickey for a from 10.0.0.1 port 1 ssh2: ED25519 SHA256:used

            """);

        var e = Assert.Single(events);
        Assert.Equal("SHA256:used", e.GetString("trainguard.ssh.key_fingerprint"));
        Assert.False(e.Has("trainguard.ssh.key_file"));
    }

    [Fact]
    public void Malformed_sshd_lines_are_counted_not_thrown()
    {
        var (events, stats) = Collect.Sshd("Nov 22 08:00:01 n sshd[5]: Accepted publickey for\nNov 22 08:00:01 n\n\u0001\u0002garbage\nAccepted key X\nNov 22 08:00:01 n sshd[5]: Accepted password for a from 10.0.0.1 port 1 ssh2");

        Assert.Equal(4, stats.ParseErrors);
        Assert.Equal([1L, 2L, 3L, 4L], stats.FirstErrors.Select(e => e.Line));
        Assert.Single(events);
    }
}
