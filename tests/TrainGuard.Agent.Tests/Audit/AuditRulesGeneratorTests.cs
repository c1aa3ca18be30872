using TrainGuard.Agent.Audit;
using TrainGuard.Agent.Common;

namespace TrainGuard.Agent.Tests.Audit;

public sealed class AuditRulesGeneratorTests
{
    [Fact]
    public void Rules_cover_signals_every_existing_home_the_python_env_and_end_with_loginuid_immutable()
    {
        var passwd = PasswdFile.Parse("""
            root:x:0:0:root:/root:/bin/bash
            toor:x:0:0::/root:/bin/bash
            _apt:x:42:65534::/nonexistent:/usr/sbin/nologin
            alice:x:1600:1600::/home/alice:/bin/bash
            ghost:x:1700:1700::/home/ghost:/bin/bash
            bad line
            spacey:x:1800:1800::/home/with space:/bin/bash
            """);
        var existing = new HashSet<string> { "/root", "/home/alice", "/home/with space" };

        var rules = AuditRulesGenerator.Generate(new AuditRulesConfig
        {
            Accounts = passwd.Entries,
            SitePackages = ["/opt/conda/lib/python3.11/site-packages"],
            CheckpointFolders = ["/data/checkpoints"],
            DirectoryExists = existing.Contains,
        });
        var lines = rules.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith('#')).ToList();

        Assert.Equal(1, passwd.SkippedLines);
        Assert.Contains("-a always,exit -F arch=b64 -S kill,tkill,tgkill,rt_sigqueueinfo,rt_tgsigqueueinfo,pidfd_send_signal -k tg-signal", lines);
        Assert.Contains("-a always,exit -F arch=b32 -S kill,tkill,tgkill,rt_sigqueueinfo,rt_tgsigqueueinfo,pidfd_send_signal -k tg-signal", lines);
        Assert.Single(lines, l => l == "-w /root/.ssh -p wa -k tg-ssh");
        Assert.Contains("-w /home/alice/.ssh -p wa -k tg-ssh", lines);
        Assert.DoesNotContain(lines, l => l.Contains("ghost", StringComparison.Ordinal) || l.Contains("nonexistent", StringComparison.Ordinal) || l.Contains("with space", StringComparison.Ordinal));
        Assert.Contains("-w /opt/conda/lib/python3.11/site-packages -p wa -k tg-pyenv", lines);
        Assert.Contains("-w /data/checkpoints -p wa -k tg-checkpoint", lines);
        foreach (var path in new[] { "/etc/passwd", "/etc/shadow", "/etc/group", "/etc/sudoers", "/etc/sudoers.d", "/etc/cron.d", "/etc/systemd/system", "/etc/ld.so.preload" })
        {
            Assert.Contains(lines, l => l.StartsWith($"-w {path} -p wa -k tg-", StringComparison.Ordinal));
        }

        Assert.Equal("--loginuid-immutable", lines[^1]);
    }

    [Fact]
    public void Optional_parts_can_be_left_out()
    {
        var rules = AuditRulesGenerator.Generate(new AuditRulesConfig { Include32Bit = false, LoginUidImmutable = false, DirectoryExists = _ => false });

        Assert.DoesNotContain("arch=b32", rules, StringComparison.Ordinal);
        Assert.DoesNotContain("--loginuid-immutable", rules, StringComparison.Ordinal);
        Assert.EndsWith("\n", rules, StringComparison.Ordinal);
    }
}
