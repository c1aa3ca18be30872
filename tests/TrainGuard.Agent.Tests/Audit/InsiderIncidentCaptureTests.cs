using System.Text.Json;
using TrainGuard.Agent.Audit;
using TrainGuard.Agent.Tests.Support;
using TrainGuard.Events;

namespace TrainGuard.Agent.Tests.Audit;

/// <summary>
/// The insider incident recorded by <c>scripts/capture-audit.sh</c> (tests/fixtures/audit/insider-incident) yields
/// every step of its story as events. Pids, uids and key fingerprints come from the capture's <c>scenario.json</c>,
/// so a new recording keeps these tests valid.
/// </summary>
public sealed class InsiderIncidentCaptureTests
{
    private static readonly JsonElement Scenario = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Samples.InsiderIncident, "scenario.json"))).RootElement;

    private static readonly List<EventRecord> AuditEvents = LoadAudit();

    [Fact]
    public void Cross_user_kill_through_sudo_is_attributed_to_the_insider_login()
    {
        var kill = Signal(Pid("rank0"));

        Assert.Equal("intern7", kill.GetString("user.audit.name"));
        Assert.Equal(Uid("intern7"), kill.GetString("user.audit.id"));
        Assert.Equal("root", kill.GetString("user.name"));
        Assert.Equal("/usr/bin/kill", kill.GetString("process.executable"));
        Assert.Equal("lena", kill.GetString("trainguard.target.user.audit.name"));
        Assert.Equal("python3", kill.GetString("trainguard.target.name"));
        Assert.True(kill.GetBoolean("trainguard.cross_user"));
        Assert.Equal("SIGTERM", kill.GetString("trainguard.signal.name"));
        Assert.Equal("success", kill.GetString("event.outcome"));
    }

    [Fact]
    public void Colleague_killing_her_own_eval_job_is_not_cross_user()
    {
        var kill = Signal(Pid("eval"));

        Assert.Equal("lena", kill.GetString("user.audit.name"));
        Assert.Equal("lena", kill.GetString("user.name"));
        Assert.False(kill.GetBoolean("trainguard.cross_user"));
        Assert.Equal("SIGTERM", kill.GetString("trainguard.signal.name"));
    }

    [Fact]
    public void Kills_over_the_planted_key_are_attributed_to_the_colleague_account_it_opened()
    {
        foreach (var process in new[] { "rank1", "rank0_restarted" })
        {
            var kill = Signal(Pid(process));
            Assert.Equal("lena", kill.GetString("user.audit.name"));
            Assert.Equal(Uid("lena"), kill.GetString("user.audit.id"));
            Assert.False(kill.GetBoolean("trainguard.cross_user"));
            Assert.Equal("SIGKILL", kill.GetString("trainguard.signal.name"));
        }

        Assert.Equal(4, AuditEvents.Count(e => e.Action == EventActions.ProcessSignal));
    }

    [Fact]
    public void Key_written_into_the_colleague_authorized_keys_names_the_insider()
    {
        var write = Assert.Single(AuditEvents, e => e.GetString("file.path") == "/home/lena/.ssh/authorized_keys");

        Assert.Equal(EventActions.FileChanged, write.Action);
        Assert.Equal("intern7", write.GetString("user.audit.name"));
        Assert.Equal("/usr/bin/tee", write.GetString("process.executable"));
        Assert.Equal("lena", write.GetString("file.owner"));
        Assert.Equal("tg-ssh", write.GetString("trainguard.audit.key"));
        Assert.Equal("success", write.GetString("event.outcome"));
    }

    [Fact]
    public void Denied_append_to_etc_passwd_is_a_failed_change_by_the_insider()
    {
        var denied = Assert.Single(AuditEvents, e => e.GetString("file.path") == "/etc/passwd" && e.GetString("event.outcome") == "failure");

        Assert.Equal("intern7", denied.GetString("user.audit.name"));
        Assert.Equal("intern7", denied.GetString("user.name"));
        Assert.Equal("tg-identity", denied.GetString("trainguard.audit.key"));
    }

    [Fact]
    public void Uid_0_account_added_through_sudo_is_user_created_with_target_id_0()
    {
        var created = Assert.Single(AuditEvents, e => e.Action == EventActions.UserCreated);

        Assert.Equal("0", created.GetString("user.target.id"));
        Assert.Equal("intern7", created.GetString("user.audit.name"));
        Assert.Equal("/usr/sbin/useradd", created.GetString("process.executable"));
        Assert.Equal("success", created.GetString("event.outcome"));
    }

    [Fact]
    public void Uid_0_account_is_named_by_the_node_passwd_line_useradd_appended_not_by_root()
    {
        // auditd enriches id=0 as "root" (getpwuid answers the first uid-0 line); the node's passwd, read after the
        // attack, holds the account useradd -o appended.
        var names = TrainGuard.Agent.Common.PasswdFile.Load(Path.Combine(Samples.InsiderIncident, "passwd"), Path.Combine(Samples.InsiderIncident, "group"));
        var (events, _) = Collect.AuditFile(Path.Combine(Samples.InsiderIncident, "audit.log"), new AuditCollectorOptions { AccountNames = names });
        var created = Assert.Single(events, e => e.Action == EventActions.UserCreated);

        Assert.Equal("sysbackup", created.GetString("user.target.name"));
        Assert.Equal("0", created.GetString("user.target.id"));
        Assert.Equal("root", names.UserName(0));
        Assert.Equal("root", Assert.Single(AuditEvents, e => e.Action == EventActions.UserCreated).GetString("user.target.name"));
    }

    [Fact]
    public void Sshd_log_shows_the_planted_key_opening_the_colleague_account_from_authorized_keys_line_2()
    {
        var (events, stats) = Collect.Sshd(File.ReadAllText(Path.Combine(Samples.InsiderIncident, "auth.log")));

        Assert.Equal(0, stats.ParseErrors);
        var keyLogins = events.Where(e => e.Action == EventActions.UserLogin && e.Has("trainguard.ssh.key_fingerprint")).ToList();
        Assert.Equal(["lena", "intern7", "intern7", "lena", "lena"], keyLogins.Select(e => e.GetString("user.name")!));
        var planted = Account("intern7").GetProperty("planted_key").GetString()!;
        var lenaKey = Account("lena").GetProperty("key").GetString()!;
        var internKey = Account("intern7").GetProperty("key").GetString()!;
        Assert.Equal([lenaKey, internKey, internKey, lenaKey, planted], keyLogins.Select(e => e.GetString("trainguard.ssh.key_fingerprint")!));

        var backdoor = keyLogins[^1];
        Assert.Equal("/home/lena/.ssh/authorized_keys", backdoor.GetString("trainguard.ssh.key_file"));
        Assert.Equal(2, backdoor.GetInt64("trainguard.ssh.key_line"));
        Assert.Equal("127.0.0.1", backdoor.GetString("source.ip"));
        Assert.False(backdoor.Has("trainguard.timestamp_inferred"));
    }

    [Fact]
    public void Capture_holds_no_records_of_other_processes_on_the_capture_machine()
    {
        var (events, stats) = Collect.AuditFile(Path.Combine(Samples.InsiderIncident, "audit.log"));

        Assert.Equal(0, stats.ParseErrors);
        Assert.Equal(0, stats.UnattributedSignals);
        var staged = new[] { Uid("lena"), Uid("intern7") };
        Assert.All(events.Where(e => e.Action == EventActions.ProcessSignal), e => Assert.Contains(e.GetString("user.audit.id"), staged));
    }

    private static List<EventRecord> LoadAudit()
    {
        var (events, _) = Collect.AuditFile(Path.Combine(Samples.InsiderIncident, "audit.log"));
        return events;
    }

    private static EventRecord Signal(long pid) =>
        Assert.Single(AuditEvents, e => e.Action == EventActions.ProcessSignal && e.GetInt64("trainguard.target.pid") == pid);

    private static long Pid(string process) => Scenario.GetProperty("processes").GetProperty(process).GetProperty("pid").GetInt64();

    private static JsonElement Account(string name) => Scenario.GetProperty("accounts").GetProperty(name);

    private static string Uid(string name) => Account(name).GetProperty("uid").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture);
}
