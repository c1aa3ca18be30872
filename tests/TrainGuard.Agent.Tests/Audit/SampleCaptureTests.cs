using TrainGuard.Agent.Tests.Support;
using TrainGuard.Events;

namespace TrainGuard.Agent.Tests.Audit;

/// <summary>Events derived from the real captures in tests/fixtures/audit.</summary>
public sealed class SampleCaptureTests
{
    [Fact]
    public void Kill_by_login_user_bob_is_attributed_to_his_login_uid_with_victim_details()
    {
        var (events, stats) = Collect.AuditFile(Samples.EnrichedAudit);

        Assert.Equal(0, stats.ParseErrors);
        var kill = Assert.Single(events, e => e.Action == EventActions.ProcessSignal);
        Assert.Equal("1500", kill.GetString("user.audit.id"));
        Assert.Equal("bob", kill.GetString("user.audit.name"));
        Assert.Equal("0", kill.GetString("user.id"));
        Assert.Equal("root", kill.GetString("user.name"));
        Assert.Equal(11237, kill.GetInt64("process.pid"));
        Assert.Equal(11198, kill.GetInt64("process.parent.pid"));
        Assert.Equal("/usr/bin/bash", kill.GetString("process.executable"));
        Assert.Equal("bash", kill.GetString("process.name"));
        Assert.Equal(1, kill.GetInt64("process.session_id"));
        Assert.Equal(11239, kill.GetInt64("trainguard.target.pid"));
        Assert.Equal("sleep", kill.GetString("trainguard.target.name"));
        Assert.Equal("0", kill.GetString("trainguard.target.user.id"));
        Assert.Equal("root", kill.GetString("trainguard.target.user.name"));
        Assert.Equal("1500", kill.GetString("trainguard.target.user.audit.id"));
        Assert.Equal("bob", kill.GetString("trainguard.target.user.audit.name"));
        Assert.False(kill.GetBoolean("trainguard.cross_user"));
        Assert.Equal("SIGKILL", kill.GetString("trainguard.signal.name"));
        Assert.Equal(9, kill.GetInt64("trainguard.signal.number"));
        Assert.Equal("kill", kill.GetString("trainguard.syscall"));
        Assert.Equal("proc_kill", kill.GetString("trainguard.audit.key"));
        Assert.Equal("success", kill.GetString("event.outcome"));
        Assert.Equal("2026-11-23T10:12:04.551Z", kill.GetString("@timestamp"));
        Assert.Equal("auditd", kill.GetString("event.module"));
    }

    [Fact]
    public void Kill_over_ssh_by_alice_names_SIGTERM_and_the_sleep_she_started()
    {
        var (events, stats) = Collect.AuditFile(Samples.SshSessionAudit);

        Assert.Equal(0, stats.ParseErrors);
        var kill = Assert.Single(events, e => e.Action == EventActions.ProcessSignal);
        Assert.Equal("1600", kill.GetString("user.audit.id"));
        Assert.Equal("alice", kill.GetString("user.audit.name"));
        Assert.Equal(1793, kill.GetInt64("process.pid"));
        Assert.Equal(1799, kill.GetInt64("trainguard.target.pid"));
        Assert.Equal("1600", kill.GetString("trainguard.target.user.audit.id"));
        Assert.Equal("SIGTERM", kill.GetString("trainguard.signal.name"));
        Assert.False(kill.GetBoolean("trainguard.cross_user"));
        Assert.Equal(["bash", "-c", "id; cat /proc/self/loginuid; echo; sleep 300 & sleep 0.3; kill -TERM $!; echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHbMh"], kill.GetStrings("process.args"));

        // Two OBJ_PID records in the capture have no SYSCALL record: no sender, no event.
        Assert.Equal(2, stats.UnattributedSignals);
    }

    [Fact]
    public void Loginuid_written_by_bash_is_flagged_as_forged()
    {
        var (events, _) = Collect.AuditFile(Samples.EnrichedAudit);

        var change = Assert.Single(events, e => e.Action == EventActions.LoginUidChanged);
        Assert.True(change.GetBoolean("trainguard.forged"));
        Assert.Equal("4294967295", change.GetString("trainguard.loginuid.old.id"));
        Assert.Equal("unset", change.GetString("trainguard.loginuid.old.name"));
        Assert.Equal("1500", change.GetString("trainguard.loginuid.new.id"));
        Assert.Equal("bob", change.GetString("trainguard.loginuid.new.name"));
        Assert.Equal("/usr/bin/bash", change.GetString("process.executable"));
        Assert.Equal(11237, change.GetInt64("process.pid"));
        Assert.Equal("success", change.GetString("event.outcome"));
    }

    [Fact]
    public void Loginuid_set_by_sshd_is_not_forged()
    {
        var (events, _) = Collect.AuditFile(Samples.SshSessionAudit);

        var changes = events.Where(e => e.Action == EventActions.LoginUidChanged).ToList();
        Assert.Equal(3, changes.Count);
        Assert.All(changes, c =>
        {
            Assert.False(c.GetBoolean("trainguard.forged"));
            Assert.Equal("/usr/sbin/sshd", c.GetString("process.executable"));
            Assert.Equal("alice", c.GetString("trainguard.loginuid.new.name"));
        });
    }

    [Fact]
    public void Authorized_keys_created_by_bob_is_a_file_created_event_with_key_and_actor()
    {
        var (events, _) = Collect.AuditFile(Samples.EnrichedAudit);

        var created = events.Where(e => e.Action == EventActions.FileCreated).ToList();
        Assert.Equal(2, created.Count);
        var keys = Assert.Single(created, e => e.GetString("trainguard.audit.key") == "ssh_keys");
        Assert.Equal("/tmp/research-host/home/alice/.ssh/authorized_keys", keys.GetString("file.path"));
        Assert.Equal("authorized_keys", keys.GetString("file.name"));
        Assert.Equal("11660070", keys.GetString("file.inode"));
        Assert.Equal("0644", keys.GetString("file.mode"));
        Assert.Equal("1500", keys.GetString("user.audit.id"));
        Assert.Equal("bob", keys.GetString("user.audit.name"));
        Assert.Equal("openat", keys.GetString("trainguard.syscall"));
        var pth = Assert.Single(created, e => e.GetString("trainguard.audit.key") == "pyenv_tamper");
        Assert.Equal("/tmp/research-host/fake-site-packages/evil.pth", pth.GetString("file.path"));
    }

    [Fact]
    public void Authorized_keys_appended_by_alice_is_a_file_changed_event()
    {
        var (events, _) = Collect.AuditFile(Samples.SshSessionAudit);

        var changed = Assert.Single(events, e => e.Action == EventActions.FileChanged);
        Assert.Equal("/home/alice/.ssh/authorized_keys", changed.GetString("file.path"));
        Assert.Equal("ssh_keys", changed.GetString("trainguard.audit.key"));
        Assert.Equal("alice", changed.GetString("user.audit.name"));
        Assert.Equal("alice", changed.GetString("file.owner"));
        Assert.Equal("0600", changed.GetString("file.mode"));

        // execve records with key user_exec name programs, not changed files.
        Assert.DoesNotContain(events, e => e.GetString("trainguard.audit.key") == "user_exec");
    }

    [Fact]
    public void Useradd_yields_user_created_for_the_account_and_its_group()
    {
        var (events, _) = Collect.AuditFile(Samples.EnrichedAudit);

        var created = events.Where(e => e.Action == EventActions.UserCreated).ToList();
        Assert.Equal(2, created.Count);
        var user = Assert.Single(created, e => e.GetStrings("event.type").Contains("user"));
        Assert.Equal("1500", user.GetString("user.target.id"));
        Assert.Null(user.GetString("user.target.name"));
        Assert.Equal("/usr/sbin/useradd", user.GetString("process.executable"));
        Assert.Equal("adding user", user.GetString("trainguard.audit.op"));
        Assert.Equal("success", user.GetString("event.outcome"));
        var group = Assert.Single(created, e => e.GetStrings("event.type").Contains("group"));
        Assert.Equal("bob", group.GetString("user.target.group.name"));
    }

    [Fact]
    public void Ssh_session_audit_records_yield_logins_and_logouts_with_source_ip()
    {
        var (events, _) = Collect.AuditFile(Samples.SshSessionAudit);

        var login = Assert.Single(events, e => e.GetString("trainguard.login.phase") == "login");
        Assert.Equal("user-login", login.Action);
        Assert.Equal("alice", login.GetString("user.name"));
        Assert.Equal("1600", login.GetString("user.id"));
        Assert.Equal("127.0.0.1", login.GetString("source.ip"));
        Assert.Equal("/usr/sbin/sshd", login.GetString("process.executable"));
        Assert.Equal(3, events.Count(e => e.GetString("trainguard.login.phase") == "session-open"));
        Assert.Equal(3, events.Count(e => e.Action == EventActions.UserLogout));
        Assert.All(events.Where(e => e.GetString("trainguard.login.phase") == "session-open"), e => Assert.Equal("alice", e.GetString("user.name")));
    }
}
