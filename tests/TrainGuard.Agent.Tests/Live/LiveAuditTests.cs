using System.Diagnostics;
using TrainGuard.Agent.Audit;
using TrainGuard.Agent.Common;
using TrainGuard.Events;

namespace TrainGuard.Agent.Tests.Live;

/// <summary>
/// Against the real kernel: installs a signal rule, starts a victim under one login uid and kills it
/// from a process under another login uid, then checks that the agent's audit collector names the
/// right sender and victim. Removes its rule afterwards. Skipped (with the reason) where auditing is not possible.
/// </summary>
public sealed class LiveAuditTests
{
    private const string Key = "tg-live-test";
    private const string VictimAuid = "41001";
    private const string SenderAuid = "41002";

    [LiveAuditFact]
    public void A_kill_across_login_uids_is_reported_with_the_right_sender_and_victim()
    {
        const string AuditLog = "/var/log/audit/audit.log";
        var rule = new[] { "-a", "always,exit", "-F", "arch=b64", "-S", "kill", "-k", Key };
        var (added, addOutput) = LiveAuditFactAttribute.Run("auditctl", rule);
        Assert.True(added == 0, "auditctl could not add the rule: " + addOutput);
        try
        {
            var start = File.Exists(AuditLog) ? new FileInfo(AuditLog).Length : 0;

            // Each shell sets its own login uid (root may, unless --loginuid-immutable), then becomes the victim or the sender.
            using var victim = Process.Start("sh", ["-c", $"echo {VictimAuid} > /proc/self/loginuid && exec sleep 120"])!;
            Thread.Sleep(300);
            using var sender = Process.Start("sh", ["-c", $"echo {SenderAuid} > /proc/self/loginuid && kill -KILL {victim.Id}"])!;
            sender.WaitForExit();
            victim.WaitForExit(5000);
            Assert.True(victim.HasExited, "the victim was not killed");

            var events = new List<EventRecord>();
            var deadline = DateTime.UtcNow.AddSeconds(10);
            do
            {
                Thread.Sleep(500);
                events.Clear();
                var collector = new AuditCollector(new AuditCollectorOptions { HostName = "live", AccountNames = PasswdFile.Load() }, events.Add);
                using var stream = new FileStream(AuditLog, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                stream.Position = Math.Min(start, stream.Length);
                collector.ProcessStream(stream);
                collector.Flush();
            }
            while (!events.Any(IsOurKill) && DateTime.UtcNow < deadline);

            var e = Assert.Single(events, IsOurKill);
            Assert.Equal(SenderAuid, e.GetString("user.audit.id"));
            Assert.Equal(VictimAuid, e.GetString("trainguard.target.user.audit.id"));
            Assert.Equal("SIGKILL", e.GetString("trainguard.signal.name"));
            Assert.True(e.GetBoolean("trainguard.cross_user"));

            bool IsOurKill(EventRecord r) => r.Action == EventActions.ProcessSignal && r.GetInt64("trainguard.target.pid") == victim.Id;
        }
        finally
        {
            rule[0] = "-d";
            var (removed, removeOutput) = LiveAuditFactAttribute.Run("auditctl", rule);
            Assert.True(removed == 0, "auditctl could not remove the test rule: " + removeOutput);
        }
    }
}
