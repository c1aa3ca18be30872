using System.Text;
using TrainGuard.Agent.Audit;
using TrainGuard.Agent.Common;
using TrainGuard.Agent.Tests.Support;
using TrainGuard.Events;

namespace TrainGuard.Agent.Tests.Audit;

/// <summary>Hand-written audit fixtures for shapes the captures do not contain.</summary>
public sealed class SyntheticAuditTests
{
    private const string Actor = "ppid=100 pid=200 auid=1001 uid=1001 gid=1001 euid=1001 suid=1001 fsuid=1001 egid=1001 sgid=1001 fsgid=1001 tty=pts0 ses=5 comm=\"python3\" exe=\"/usr/bin/python3.11\"";

    [Fact]
    public void Tgkill_takes_the_signal_from_a2_and_flags_a_cross_user_victim()
    {
        var (events, stats) = Collect.Audit($"""
            type=SYSCALL msg=audit(1800000000.100:500): arch=c000003e syscall=234 success=yes exit=0 a0=1f40 a1=1f41 a2=9 a3=0 items=0 {Actor} key="tg-signal"
            type=OBJ_PID msg=audit(1800000000.100:500): opid=8001 oauid=1002 ouid=1002 oses=7 obj=unconfined ocomm="torchrun"
            type=PROCTITLE msg=audit(1800000000.100:500): proctitle=707974686F6E330061747461636B2E7079

            """);

        Assert.Equal(0, stats.ParseErrors);
        var e = Assert.Single(events);
        Assert.Equal("tgkill", e.GetString("trainguard.syscall"));
        Assert.Equal("SIGKILL", e.GetString("trainguard.signal.name"));
        Assert.Equal(8001, e.GetInt64("trainguard.target.pid"));
        Assert.Equal(8001, e.GetInt64("trainguard.signal.target_arg"));
        Assert.Equal("torchrun", e.GetString("trainguard.target.name"));
        Assert.Equal("1002", e.GetString("trainguard.target.user.audit.id"));
        Assert.True(e.GetBoolean("trainguard.cross_user"));
        Assert.Equal(["python3", "attack.py"], e.GetStrings("process.args"));
        Assert.Equal("python3 attack.py", e.GetString("process.command_line"));
        Assert.Equal("node1", e.GetString("host.name"));
        Assert.Equal("tg-signal", e.GetString("trainguard.audit.key"));
    }

    [Fact]
    public void Pidfd_send_signal_names_the_victim_from_obj_pid_only()
    {
        var (events, _) = Collect.Audit($"""
            type=SYSCALL msg=audit(1800000000.200:501): arch=c000003e syscall=424 success=yes exit=0 a0=3 a1=f a2=0 a3=0 items=0 {Actor} key="tg-signal"
            type=OBJ_PID msg=audit(1800000000.200:501): opid=8002 oauid=1002 ouid=1002 oses=7 ocomm="python"
            type=PROCTITLE msg=audit(1800000000.200:501): proctitle=707974686F6E33

            """);

        var e = Assert.Single(events);
        Assert.Equal("pidfd_send_signal", e.GetString("trainguard.syscall"));
        Assert.Equal("SIGTERM", e.GetString("trainguard.signal.name"));
        Assert.Equal(8002, e.GetInt64("trainguard.target.pid"));
        Assert.False(e.Has("trainguard.signal.target_arg"));
    }

    [Fact]
    public void Process_group_kill_with_three_victims_yields_three_events()
    {
        var (events, _) = Collect.Audit($"""
            type=SYSCALL msg=audit(1800000000.300:502): arch=c000003e syscall=62 success=yes exit=0 a0=ffffe0c0 a1=9 a2=0 a3=0 items=0 {Actor} key="tg-signal"
            type=OBJ_PID msg=audit(1800000000.300:502): opid=8000 oauid=1002 ouid=1002 oses=7 ocomm="torchrun"
            type=OBJ_PID msg=audit(1800000000.300:502): opid=8001 oauid=1002 ouid=1002 oses=7 ocomm="python"
            type=OBJ_PID msg=audit(1800000000.300:502): opid=8003 oauid=1001 ouid=1001 oses=5 ocomm="python"
            type=PROCTITLE msg=audit(1800000000.300:502): proctitle=6B696C6C002D39002D38303030

            """);

        Assert.Equal(3, events.Count);
        Assert.Equal([8000L, 8001L, 8003L], events.Select(e => e.GetInt64("trainguard.target.pid")!.Value));
        Assert.All(events, e =>
        {
            Assert.Equal("process-group", e.GetString("trainguard.signal.scope"));
            Assert.Equal(-8000, e.GetInt64("trainguard.signal.target_arg"));
        });
        Assert.Equal([true, true, false], events.Select(e => e.GetBoolean("trainguard.cross_user")!.Value));
        Assert.Equal(3, events.Select(e => e.Id).Distinct().Count());
    }

    [Theory]
    [InlineData(129, "a1", "kill", "SIGTERM")]
    [InlineData(131, "a2", "tgkill", "SIGTERM")]
    [InlineData(130, "a1", "tkill", "SIGTERM")]
    [InlineData(138, "a1", "rt_sigqueueinfo", "SIGTERM")]
    [InlineData(240, "a2", "rt_tgsigqueueinfo", "SIGTERM")]
    [InlineData(424, "a1", "pidfd_send_signal", "SIGTERM")]
    public void Aarch64_signal_syscall_numbers_are_recognised(int number, string signalArg, string name, string signal)
    {
        var args = signalArg == "a1" ? "a0=1f41 a1=f a2=0" : "a0=1f40 a1=1f41 a2=f";
        var (events, _) = Collect.Audit($"""
            type=SYSCALL msg=audit(1800000000.400:503): arch=c00000b7 syscall={number} success=yes exit=0 {args} a3=0 items=0 {Actor} key="tg-signal"
            type=OBJ_PID msg=audit(1800000000.400:503): opid=8001 oauid=1002 ouid=1002 oses=7 ocomm="torchrun"
            type=PROCTITLE msg=audit(1800000000.400:503): proctitle=6B696C6C

            """);

        var e = Assert.Single(events);
        Assert.Equal(name, e.GetString("trainguard.syscall"));
        Assert.Equal(signal, e.GetString("trainguard.signal.name"));
        Assert.Equal("aarch64", e.GetString("trainguard.audit.arch"));
    }

    [Fact]
    public void Aarch64_syscall_62_is_lseek_not_kill()
    {
        var (events, _) = Collect.Audit($"""
            type=SYSCALL msg=audit(1800000000.400:504): arch=c00000b7 syscall=62 success=yes exit=0 a0=3 a1=9 a2=0 a3=0 items=0 {Actor} key="tg-signal"
            type=PROCTITLE msg=audit(1800000000.400:504): proctitle=6B696C6C

            """);

        Assert.Empty(events);
    }

    [Fact]
    public void Kill_without_obj_pid_takes_the_target_from_a0()
    {
        var (events, _) = Collect.Audit($"""
            type=SYSCALL msg=audit(1800000000.500:505): arch=c000003e syscall=62 success=no exit=-3 a0=1f4d a1=9 a2=0 a3=0 items=0 {Actor} key="tg-signal"
            type=PROCTITLE msg=audit(1800000000.500:505): proctitle=6B696C6C

            """);

        var e = Assert.Single(events);
        Assert.Equal(8013, e.GetInt64("trainguard.target.pid"));
        Assert.Equal("failure", e.GetString("event.outcome"));
        Assert.False(e.Has("trainguard.cross_user"));
    }

    [Fact]
    public void Kill_with_signal_zero_is_a_probe_and_skipped_unless_asked()
    {
        var text = $"""
            type=SYSCALL msg=audit(1800000000.600:506): arch=c000003e syscall=62 success=yes exit=0 a0=1f4d a1=0 a2=0 a3=0 items=0 {Actor} key="tg-signal"
            type=OBJ_PID msg=audit(1800000000.600:506): opid=8013 oauid=1002 ouid=1002 oses=7 ocomm="python"

            """;

        var (skipped, stats) = Collect.Audit(text);
        var (kept, _) = Collect.Audit(text, new AuditCollectorOptions { HostName = "node1", IncludeSignalProbes = true });

        Assert.Empty(skipped);
        Assert.Equal(1, stats.SignalProbesSkipped);
        Assert.Equal("SIG0", Assert.Single(kept).GetString("trainguard.signal.name"));
    }

    [Fact]
    public void Hex_encoded_comm_exe_and_ocomm_are_decoded()
    {
        var (events, _) = Collect.Audit("""
            type=SYSCALL msg=audit(1800000000.700:507): arch=c000003e syscall=62 success=yes exit=0 a0=1f4d a1=9 a2=0 a3=0 items=0 ppid=1 pid=2 auid=1001 uid=1001 gid=1001 euid=1001 suid=1001 fsuid=1001 egid=1001 sgid=1001 fsgid=1001 tty=pts0 ses=5 comm=6D7920746F6F6C exe=2F746D702F6D792062696E key=(null)
            type=OBJ_PID msg=audit(1800000000.700:507): opid=8013 oauid=1002 ouid=1002 oses=7 ocomm=7472 61696E2E7079
            type=OBJ_PID msg=audit(1800000000.700:507): opid=8014 oauid=1002 ouid=1002 oses=7 ocomm=747261696E207079
            type=PROCTITLE msg=audit(1800000000.700:507): proctitle=6D7920746F6F6C

            """);

        Assert.Equal(2, events.Count);
        Assert.Equal("my tool", events[0].GetString("process.name"));
        Assert.Equal("/tmp/my bin", events[0].GetString("process.executable"));
        Assert.False(events[0].Has("trainguard.audit.key"));
        Assert.Equal("train py", events[1].GetString("trainguard.target.name"));
    }

    [Fact]
    public void Interleaved_serials_are_assembled_into_their_own_events()
    {
        var (events, _) = Collect.Audit($"""
            type=SYSCALL msg=audit(1800000000.800:600): arch=c000003e syscall=62 success=yes exit=0 a0=1f40 a1=9 a2=0 a3=0 items=0 {Actor} key="tg-signal"
            type=SYSCALL msg=audit(1800000000.800:601): arch=c000003e syscall=62 success=yes exit=0 a0=1f41 a1=f a2=0 a3=0 items=0 {Actor.Replace("auid=1001", "auid=1003", StringComparison.Ordinal)} key="tg-signal"
            type=OBJ_PID msg=audit(1800000000.800:600): opid=8000 oauid=1002 ouid=1002 oses=7 ocomm="a"
            type=OBJ_PID msg=audit(1800000000.800:601): opid=8001 oauid=1003 ouid=1003 oses=8 ocomm="b"
            type=PROCTITLE msg=audit(1800000000.800:601): proctitle=62
            type=PROCTITLE msg=audit(1800000000.800:600): proctitle=61

            """);

        Assert.Equal(2, events.Count);
        var first = Assert.Single(events, e => e.GetInt64("trainguard.audit.serial") == 600);
        var second = Assert.Single(events, e => e.GetInt64("trainguard.audit.serial") == 601);
        Assert.Equal(8000, first.GetInt64("trainguard.target.pid"));
        Assert.Equal("SIGKILL", first.GetString("trainguard.signal.name"));
        Assert.True(first.GetBoolean("trainguard.cross_user"));
        Assert.Equal(8001, second.GetInt64("trainguard.target.pid"));
        Assert.Equal("SIGTERM", second.GetString("trainguard.signal.name"));
        Assert.False(second.GetBoolean("trainguard.cross_user"));
    }

    [Fact]
    public void A_truncated_last_line_is_a_parse_error_with_its_line_number()
    {
        var text = $"""
            type=SYSCALL msg=audit(1800000000.900:700): arch=c000003e syscall=62 success=yes exit=0 a0=1f40 a1=9 a2=0 a3=0 items=0 {Actor} key="tg-signal"
            type=OBJ_PID msg=audit(1800000000.900:700): opid=8000 oauid=1002 ouid=1002 oses=7 ocomm="a"
            type=SYSCALL msg=audit(1800000000.950:701): arch=c000003e syscall=62 success=yes exit=0 a0=1f40 a1=9 a2=0 a3=0 items=0 ppid=1 pid=2 auid=1001 uid=0 comm="ki
            """;

        var (events, stats) = Collect.Audit(text);

        Assert.Single(events);
        Assert.Equal(1, stats.ParseErrors);
        var error = Assert.Single(stats.FirstErrors);
        Assert.Equal(3, error.Line);
        Assert.Contains("cut short", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Garbage_lines_are_counted_as_parse_errors_and_valid_records_still_derive()
    {
        var garbage = new List<byte[]>
        {
            "hello world"u8.ToArray(),
            new byte[] { 0, 1, 2, 0xff, 0xfe },
            "type="u8.ToArray(),
            "type=SYSCALL msg=audit(abc:1): x=1"u8.ToArray(),
            "type=SYSCALL msg=audit(1.2:3) missing colon"u8.ToArray(),
            "type=SYSCALL msg=audit(99999999999999999999.1:1): a=1"u8.ToArray(),
            "type=SYSCALL msg=audit(1.2:3): \u0001bad=1"u8.ToArray(),
            "node=onlynode"u8.ToArray(),
            "type=USER_LOGIN msg=audit(1.2:3): pid=1 msg='op=login acct=\"x"u8.ToArray(),
        };
        var valid = Encoding.UTF8.GetBytes($"type=SYSCALL msg=audit(1800000001.000:800): arch=c000003e syscall=62 success=yes exit=0 a0=1f40 a1=9 a2=0 a3=0 items=0 {Actor} key=\"tg-signal\"\n");
        var input = new MemoryStream();
        foreach (var line in garbage)
        {
            input.Write(line);
            input.WriteByte((byte)'\n');
        }

        input.Write(valid);

        var (events, stats) = Collect.Audit(input.ToArray());

        Assert.Equal(garbage.Count, stats.ParseErrors);
        Assert.Equal(Enumerable.Range(1, CollectorStats.MaxRecordedErrors).Take(garbage.Count).Select(i => (long)i), stats.FirstErrors.Select(e => e.Line));
        Assert.Single(events);
    }

    [Fact]
    public void A_group_separator_without_enrichment_parses_like_a_raw_line()
    {
        var raw = $"type=SYSCALL msg=audit(1800000002.000:801): arch=c000003e syscall=62 success=yes exit=0 a0=1f40 a1=9 a2=0 a3=0 items=0 {Actor} key=\"tg-signal\"";
        var (plain, _) = Collect.Audit(raw + "\n");
        var (separated, stats) = Collect.Audit(raw + "\u001d\n");
        var (spaced, _) = Collect.Audit(raw + "\u001d \n");

        Assert.Equal(0, stats.ParseErrors);
        Assert.Equal(Assert.Single(plain).ToCanonicalJson(), Assert.Single(separated).ToCanonicalJson());
        Assert.Equal(Assert.Single(plain).ToCanonicalJson(), Assert.Single(spaced).ToCanonicalJson());
    }

    [Fact]
    public void Raw_log_with_passwd_names_derives_the_same_events_as_the_enriched_log()
    {
        var enrichedText = File.ReadAllText(Samples.SshSessionAudit);
        var rawText = string.Join('\n', enrichedText.Split('\n').Select(l => l.Split('\u001d')[0]));
        var names = PasswdFile.Parse(
            "root:x:0:0:root:/root:/bin/bash\n_apt:x:42:65534::/nonexistent:/usr/sbin/nologin\nalice:x:1600:1600::/home/alice:/bin/bash\n",
            "root:x:0:\nalice:x:1600:\n");

        var (enriched, _) = Collect.Audit(enrichedText);
        var (raw, _) = Collect.Audit(rawText, new AuditCollectorOptions { HostName = "node1", AccountNames = names });

        Assert.NotEmpty(enriched);
        Assert.Equal(enriched.Count, raw.Count);
        for (var i = 0; i < enriched.Count; i++)
        {
            Assert.Equal(enriched[i].ToJsonLine(), raw[i].ToJsonLine());
        }
    }

    [Fact]
    public void Rename_unlink_and_read_only_open_on_watched_paths()
    {
        var (events, _) = Collect.Audit($"""
            type=SYSCALL msg=audit(1800000003.000:900): arch=c000003e syscall=316 success=yes exit=0 a0=ffffff9c a1=1 a2=ffffff9c a3=2 items=4 {Actor} key="tg-checkpoint"
            type=CWD msg=audit(1800000003.000:900): cwd="/data/ckpt"
            type=PATH msg=audit(1800000003.000:900): item=0 name="/data/ckpt/" inode=10 dev=fe:00 mode=040755 ouid=1001 ogid=1001 rdev=00:00 nametype=PARENT
            type=PATH msg=audit(1800000003.000:900): item=1 name="/data/ckpt/" inode=10 dev=fe:00 mode=040755 ouid=1001 ogid=1001 rdev=00:00 nametype=PARENT
            type=PATH msg=audit(1800000003.000:900): item=2 name="model.pt.tmp" inode=11 dev=fe:00 mode=0100644 ouid=1001 ogid=1001 rdev=00:00 nametype=DELETE
            type=PATH msg=audit(1800000003.000:900): item=3 name="model.pt" inode=11 dev=fe:00 mode=0100644 ouid=1001 ogid=1001 rdev=00:00 nametype=CREATE
            type=PROCTITLE msg=audit(1800000003.000:900): proctitle=6D76
            type=SYSCALL msg=audit(1800000003.100:901): arch=c000003e syscall=263 success=yes exit=0 a0=ffffff9c a1=1 a2=0 a3=0 items=2 {Actor} key="tg-checkpoint"
            type=CWD msg=audit(1800000003.100:901): cwd="/"
            type=PATH msg=audit(1800000003.100:901): item=0 name="/data/ckpt/" inode=10 dev=fe:00 mode=040755 ouid=1001 ogid=1001 rdev=00:00 nametype=PARENT
            type=PATH msg=audit(1800000003.100:901): item=1 name="/data/ckpt/optimizer.pt" inode=12 dev=fe:00 mode=0100644 ouid=1002 ogid=1002 rdev=00:00 nametype=DELETE
            type=PROCTITLE msg=audit(1800000003.100:901): proctitle=726D
            type=SYSCALL msg=audit(1800000003.200:902): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=1 a2=0 a3=0 items=1 {Actor} key="tg-checkpoint"
            type=PATH msg=audit(1800000003.200:902): item=0 name="/data/ckpt/model.pt" inode=11 dev=fe:00 mode=0100644 ouid=1001 ogid=1001 rdev=00:00 nametype=NORMAL
            type=PROCTITLE msg=audit(1800000003.200:902): proctitle=636174

            """);

        Assert.Equal(2, events.Count);
        Assert.Equal(EventActions.FileRenamed, events[0].Action);
        Assert.Equal("/data/ckpt/model.pt.tmp", events[0].GetString("file.path"));
        Assert.Equal("/data/ckpt/model.pt", events[0].GetString("file.target_path"));
        Assert.Equal("renameat2", events[0].GetString("trainguard.syscall"));
        Assert.Equal(EventActions.FileDeleted, events[1].Action);
        Assert.Equal("/data/ckpt/optimizer.pt", events[1].GetString("file.path"));
        Assert.Equal("1002", events[1].GetString("file.uid"));
    }

    [Fact]
    public void Config_change_and_auditd_stop_are_audit_config_changes()
    {
        var (events, _) = Collect.Audit("""
            type=CONFIG_CHANGE msg=audit(1800000004.000:950): auid=1001 ses=5 subj=unconfined op=remove_rule key="tg-signal" list=4 res=1
            type=SYSCALL msg=audit(1800000004.000:950): arch=c000003e syscall=44 success=yes exit=1072 a0=4 a1=7ffd a2=430 a3=0 items=0 ppid=10 pid=11 auid=1001 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=5 comm="auditctl" exe="/usr/sbin/auditctl" key=(null)
            type=PROCTITLE msg=audit(1800000004.000:950): proctitle=617564697463746C002D44
            type=CONFIG_CHANGE msg=audit(1800000004.100:951): op=set audit_enabled=0 old=1 auid=1001 ses=5 subj=unconfined res=1
            type=DAEMON_END msg=audit(1800000004.200:952): op=terminate auid=1001 uid=0 ses=5 pid=1 subj=unconfined res=success

            """);

        // Closing order: the DAEMON_END record is a complete event on its own, the SYSCALL-less
        // CONFIG_CHANGE waits for more records until the end of input.
        Assert.Equal(3, events.Count);
        Assert.All(events, e => Assert.Equal(EventActions.AuditConfigChanged, e.Action));
        events = events.OrderBy(e => e.GetInt64("trainguard.audit.serial")).ToList();
        Assert.Equal("remove_rule", events[0].GetString("trainguard.audit.op"));
        Assert.Equal("tg-signal", events[0].GetString("trainguard.audit.key"));
        Assert.Equal("/usr/sbin/auditctl", events[0].GetString("process.executable"));
        Assert.Equal("1001", events[0].GetString("user.audit.id"));
        Assert.Equal("audit_enabled", events[1].GetString("trainguard.audit.setting.name"));
        Assert.Equal("0", events[1].GetString("trainguard.audit.setting.value"));
        Assert.Equal("1", events[1].GetString("trainguard.audit.setting.old"));
        Assert.Equal("terminate", events[2].GetString("trainguard.audit.op"));
    }

    [Fact]
    public void Old_kernel_login_record_layout_and_failed_pam_auth_are_read()
    {
        var (events, _) = Collect.Audit("""
            type=LOGIN msg=audit(1800000005.000:960): login pid=300 uid=0 old auid=4294967295 new auid=1001 old ses=4294967295 new ses=9 res=1
            type=SYSCALL msg=audit(1800000005.000:960): arch=c000003e syscall=1 success=yes exit=4 a0=3 a1=1 a2=4 a3=0 items=0 ppid=1 pid=300 auid=1001 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=9 comm="sshd" exe="/tmp/sshd" key=(null)
            type=PROCTITLE msg=audit(1800000005.000:960): proctitle=73736864
            type=USER_AUTH msg=audit(1800000005.100:961): pid=301 uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:authentication grantors=? acct="mallory" exe="/usr/sbin/sshd" hostname=10.0.0.9 addr=10.0.0.9 terminal=ssh res=failed'

            """);

        Assert.Equal(2, events.Count);
        var change = events[0];
        Assert.Equal("4294967295", change.GetString("trainguard.loginuid.old.id"));
        Assert.Equal("1001", change.GetString("trainguard.loginuid.new.id"));
        Assert.Equal(9, change.GetInt64("process.session_id"));
        Assert.True(change.GetBoolean("trainguard.forged"));
        var auth = events[1];
        Assert.Equal(EventActions.UserLogin, auth.Action);
        Assert.Equal("failure", auth.GetString("event.outcome"));
        Assert.Equal("mallory", auth.GetString("user.name"));
        Assert.Equal("10.0.0.9", auth.GetString("source.ip"));
        Assert.Equal("authentication", auth.GetString("trainguard.login.phase"));
    }

    [Fact]
    public void Node_prefix_names_the_host_and_multiple_keys_are_split()
    {
        var keys = Convert.ToHexString(Encoding.ASCII.GetBytes("tg-signal\u0001extra"));
        var (events, _) = Collect.Audit($"""
            node=gpu-07 type=SYSCALL msg=audit(1800000006.000:970): arch=c000003e syscall=62 success=yes exit=0 a0=1f40 a1=9 a2=0 a3=0 items=0 {Actor} key={keys}
            node=gpu-07 type=PROCTITLE msg=audit(1800000006.000:970): proctitle=6B696C6C

            """);

        var e = Assert.Single(events);
        Assert.Equal("gpu-07", e.GetString("host.name"));
        Assert.Equal("tg-signal", e.GetString("trainguard.audit.key"));
        Assert.Equal(["tg-signal", "extra"], e.GetStrings("trainguard.audit.keys"));
    }

    [Fact]
    public void Reading_the_same_log_twice_yields_the_same_event_ids()
    {
        var (first, _) = Collect.AuditFile(Samples.EnrichedAudit);
        var (second, _) = Collect.AuditFile(Samples.EnrichedAudit);

        Assert.Equal(first.Select(e => e.Id), second.Select(e => e.Id));
        Assert.Equal(first.Count, first.Select(e => e.Id).Distinct().Count());
    }
}
