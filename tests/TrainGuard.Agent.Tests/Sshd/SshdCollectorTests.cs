using TrainGuard.Agent.Spool;
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

    private static string JournalCapture => File.ReadAllText(Fixtures.Agent("journal/sshd-login-and-logger-forgery.json"));

    [Fact]
    public void A_logger_line_forged_as_sshd_in_the_journal_is_no_longer_a_user_login_for_alice()
    {
        var (events, stats) = Collect.Sshd(JournalCapture);

        Assert.Equal(0, stats.ParseErrors);
        Assert.DoesNotContain(events, e => e.Action == EventActions.UserLogin && e.GetString("source.ip") == "10.9.9.9");
        var forged = Assert.Single(events, e => e.Action == AgentActions.SshdLogForged);
        Assert.Equal(EventKinds.Alert, forged.GetString(EventFields.Kind));
        Assert.True(forged.GetBoolean("trainguard.forged"));
        Assert.False(forged.GetBoolean("trainguard.source.verified"));
        Assert.Equal(("65534", 26201L, "/usr/bin/logger", "logger"), (forged.GetString("user.id"), forged.GetInt64("process.pid"), forged.GetString("process.executable"), forged.GetString("process.name")));
        Assert.Equal(("alice", EventActions.UserLogin, "4242"), (forged.GetString("trainguard.claimed.user.name"), forged.GetString("trainguard.claimed.action"), forged.GetString("trainguard.claimed.pid")));
        Assert.Equal(75, forged.GetInt64(EventFields.Severity));
    }

    [Fact]
    public void A_real_sshd_login_read_from_the_journal_is_verified_by_its_trusted_fields()
    {
        var (events, _) = Collect.Sshd(JournalCapture);

        var login = Assert.Single(events, e => e.Action == EventActions.UserLogin && e.GetString("trainguard.login.phase") == "authentication");
        Assert.Equal("alice", login.GetString("user.name"));
        Assert.Equal("127.0.0.1", login.GetString("source.ip"));
        Assert.Equal("/tmp/jtest/home/alice/.ssh/authorized_keys", login.GetString("trainguard.ssh.key_file"));
        Assert.Equal(("journal", true), (login.GetString("trainguard.source.kind"), login.GetBoolean("trainguard.source.verified")));
        Assert.Equal(("0", "/usr/sbin/sshd"), (login.GetString("trainguard.source.journal.uid"), login.GetString("trainguard.source.journal.exe")));
        Assert.False(login.Has(EventFields.Severity));
        Assert.True(Assert.Single(events, e => e.GetString("trainguard.login.phase") == "session-open").GetBoolean("trainguard.source.verified"));

        // sshd's per-session child runs as the user: its lines are sshd's, but prove less than root's.
        var disconnect = Assert.Single(events, e => e.GetString("trainguard.login.phase") == "disconnect");
        Assert.False(disconnect.GetBoolean("trainguard.source.verified"));
        Assert.False(disconnect.Has("trainguard.forged"));
        Assert.Equal("sent by uid 1600, not root", disconnect.GetString("trainguard.source.reason"));
    }

    [Fact]
    public void An_sshd_line_from_a_syslog_file_is_marked_unverified_with_a_lower_severity()
    {
        var (events, _) = Collect.Sshd("Nov 22 08:00:01 gpu-07 sshd[4242]: Accepted publickey for alice from 10.9.9.9 port 50000 ssh2: ED25519 SHA256:abc\n");

        var e = Assert.Single(events);
        Assert.Equal(EventActions.UserLogin, e.Action);
        Assert.Equal(("syslog", false), (e.GetString("trainguard.source.kind"), e.GetBoolean("trainguard.source.verified")));
        Assert.Contains("logger", e.GetString("trainguard.source.reason"), StringComparison.Ordinal);
        Assert.Equal((10L, "info"), (e.GetInt64(EventFields.Severity)!.Value, e.GetString(EventFields.TrainGuardSeverity)));
    }

    [Theory]
    [InlineData("\"_UID\":\"0\",\"_SYSTEMD_UNIT\":\"ssh.service\"", true, false)]
    [InlineData("\"_UID\":\"0\",\"_SYSTEMD_UNIT\":\"sshd@3-10.0.0.1:22-10.0.0.9:5000.service\",\"_COMM\":\"sshd-session\",\"_EXE\":\"/usr/lib/openssh/sshd-session\"", true, false)]
    [InlineData("\"_UID\":\"0\",\"_EXE\":\"/usr/bin/logger\",\"_COMM\":\"logger\"", false, true)]
    [InlineData("\"_UID\":\"0\",\"_EXE\":\"/tmp/sshd\",\"_COMM\":\"sshd\"", false, true)]
    [InlineData("\"_UID\":\"1500\",\"_SYSTEMD_UNIT\":\"session-4.scope\"", false, false)]
    [InlineData("\"_UID\":[\"0\",\"1500\"],\"_COMM\":\"sshd\"", false, false)]
    [InlineData("\"_UID\":\"0\",\"_SYSTEMD_UNIT\":\"cron.service\"", false, false)]
    public void Only_root_with_sshds_executable_command_or_unit_counts_as_sshd(string trusted, bool verified, bool forged)
    {
        var line = "{\"__REALTIME_TIMESTAMP\":\"1795429306000000\",\"SYSLOG_IDENTIFIER\":\"sshd\",\"_PID\":\"900\"," + trusted
            + ",\"MESSAGE\":\"Accepted password for alice from 10.0.0.9 port 5000 ssh2\"}\n";
        var (events, stats) = Collect.Sshd(line);

        Assert.Equal(0, stats.ParseErrors);
        var e = Assert.Single(events);
        Assert.Equal(verified, e.GetBoolean("trainguard.source.verified"));
        Assert.Equal(forged ? AgentActions.SshdLogForged : EventActions.UserLogin, e.Action);
    }

    [Fact]
    public void Journal_export_entries_are_judged_by_the_same_trusted_fields()
    {
        var (events, _) = Collect.Sshd("""
            __REALTIME_TIMESTAMP=1795429306000000
            SYSLOG_IDENTIFIER=sshd
            SYSLOG_PID=4242
            _PID=5151
            _UID=1500
            _COMM=logger
            _EXE=/usr/bin/logger
            MESSAGE=Accepted publickey for alice from 10.9.9.9 port 50000 ssh2: ED25519 SHA256:abc

            """);

        var e = Assert.Single(events);
        Assert.Equal(AgentActions.SshdLogForged, e.Action);
        Assert.Equal(("1500", 5151L), (e.GetString("user.id"), e.GetInt64("process.pid")));
    }

    [Fact]
    public void Journal_json_lines_never_make_the_sshd_collector_throw()
    {
        var seeds = JournalCapture.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => System.Text.Encoding.UTF8.GetBytes(l + "\n")).ToList();
        seeds.Add(System.Text.Encoding.UTF8.GetBytes("{\"MESSAGE\":[104,105],\"__REALTIME_TIMESTAMP\":\"1\",\"SYSLOG_IDENTIFIER\":\"sshd\"}\n"));
        FuzzHarness.Run(SshdCollector.Fuzz, seeds, 3000, 8785, Audit.FuzzTests.Alphabet);
    }
}
