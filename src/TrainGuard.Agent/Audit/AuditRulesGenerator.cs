using System.Text;
using TrainGuard.Agent.Common;

namespace TrainGuard.Agent.Audit;

/// <summary>What the generated audit rules watch.</summary>
public sealed class AuditRulesConfig
{
    /// <summary>Accounts whose <c>~/.ssh</c> is watched (from <c>/etc/passwd</c>).</summary>
    public IReadOnlyList<PasswdEntry> Accounts { get; init; } = [];

    /// <summary>Python site-packages / dist-packages folders (T2: edited PyTorch).</summary>
    public IReadOnlyList<string> SitePackages { get; init; } = [];

    /// <summary>Checkpoint folders (T1/T6: poisoned or deleted checkpoints).</summary>
    public IReadOnlyList<string> CheckpointFolders { get; init; } = [];

    /// <summary>Also add <c>arch=b32</c> signal rules (32-bit processes on a 64-bit kernel).</summary>
    public bool Include32Bit { get; init; } = true;

    /// <summary>Append <c>--loginuid-immutable</c> (login uids cannot be changed once set; needs a reboot to undo).</summary>
    public bool LoginUidImmutable { get; init; } = true;

    /// <summary>Whether a home directory exists (its <c>.ssh</c> can only be watched then); <see cref="Directory.Exists"/> by default.</summary>
    public Func<string, bool> DirectoryExists { get; init; } = Directory.Exists;
}

/// <summary>
/// Generates the audit rules the agent needs, in <c>auditctl</c> / <c>/etc/audit/rules.d</c>
/// syntax: signal syscalls keyed <c>tg-signal</c>, watches (<c>-p wa</c>) on every account's
/// <c>.ssh</c>, site-packages, checkpoint folders, identity files, sudoers, cron, systemd units and
/// <c>/etc/ld.so.preload</c>, and <c>--loginuid-immutable</c> last.
/// </summary>
public static class AuditRulesGenerator
{
    public const string SignalKey = "tg-signal";
    public const string SshKey = "tg-ssh";
    public const string PythonKey = "tg-pyenv";
    public const string CheckpointKey = "tg-checkpoint";
    public const string IdentityKey = "tg-identity";
    public const string SudoersKey = "tg-sudoers";
    public const string CronKey = "tg-cron";
    public const string SystemdKey = "tg-systemd";
    public const string PreloadKey = "tg-preload";

    private const string SignalSyscalls = "kill,tkill,tgkill,rt_sigqueueinfo,rt_tgsigqueueinfo,pidfd_send_signal";

    private static readonly string[] IdentityFiles = ["/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow"];
    private static readonly string[] SudoersPaths = ["/etc/sudoers", "/etc/sudoers.d"];
    private static readonly string[] CronPaths = ["/etc/crontab", "/etc/cron.d", "/etc/cron.hourly", "/etc/cron.daily", "/etc/cron.weekly", "/etc/cron.monthly", "/var/spool/cron"];
    private static readonly string[] SystemdPaths = ["/etc/systemd/system", "/usr/lib/systemd/system", "/etc/systemd/user", "/usr/lib/systemd/user"];

    /// <summary>The rules, one per line, ending with a line feed.</summary>
    public static string Generate(AuditRulesConfig config)
    {
        var sb = new StringBuilder();
        sb.Append("## TrainGuard agent audit rules (generated; do not edit by hand)\n");
        sb.Append("## T4: every signal sent, attributed to the sender's login uid\n");
        sb.Append($"-a always,exit -F arch=b64 -S {SignalSyscalls} -k {SignalKey}\n");
        if (config.Include32Bit)
        {
            sb.Append($"-a always,exit -F arch=b32 -S {SignalSyscalls} -k {SignalKey}\n");
        }

        sb.Append("## T5: login backdoors in authorized_keys\n");
        var homes = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var account in config.Accounts)
        {
            var home = account.Home.TrimEnd('/');
            if (home.Length == 0 || home == "/nonexistent" || !home.StartsWith('/') || !IsSafePath(home) || !config.DirectoryExists(home))
            {
                continue;
            }

            homes.Add(home);
        }

        foreach (var home in homes)
        {
            Watch(sb, home + "/.ssh", SshKey);
        }

        sb.Append("## T2: the shared Python environment\n");
        WatchAll(sb, config.SitePackages, PythonKey, "no site-packages folder found or configured (env.sites): edits to the Python environment are NOT audited");

        sb.Append("## T1/T6: checkpoint folders\n");
        WatchAll(sb, config.CheckpointFolders, CheckpointKey, "no checkpoint folder configured (checkpoints.folders): checkpoint writes are NOT audited");

        sb.Append("## T5: accounts, sudo, cron, systemd units, preload\n");
        foreach (var path in IdentityFiles)
        {
            Watch(sb, path, IdentityKey);
        }

        foreach (var path in SudoersPaths)
        {
            Watch(sb, path, SudoersKey);
        }

        foreach (var path in CronPaths)
        {
            Watch(sb, path, CronKey);
        }

        foreach (var path in SystemdPaths)
        {
            Watch(sb, path, SystemdKey);
        }

        Watch(sb, "/etc/ld.so.preload", PreloadKey);
        if (config.LoginUidImmutable)
        {
            sb.Append("## login uids cannot be changed once set (an attacker cannot pose as another account)\n");
            sb.Append("--loginuid-immutable\n");
        }

        return sb.ToString();
    }

    /// <summary>Watches every usable path; a section left empty says so, so an unaudited area is never silent.</summary>
    private static void WatchAll(StringBuilder sb, IReadOnlyList<string> paths, string key, string whenEmpty)
    {
        var usable = paths.Where(IsSafePath).Distinct(StringComparer.Ordinal).ToList();
        foreach (var path in usable)
        {
            Watch(sb, path, key);
        }

        if (usable.Count == 0)
        {
            sb.Append("# ").Append(whenEmpty).Append('\n');
        }
    }

    private static void Watch(StringBuilder sb, string path, string key) => sb.Append($"-w {path} -p wa -k {key}\n");

    /// <summary>auditctl splits its arguments on whitespace; a path with spaces or control bytes cannot be expressed.</summary>
    private static bool IsSafePath(string path) =>
        path.Length > 0 && path[0] == '/' && !path.Any(c => char.IsWhiteSpace(c) || char.IsControl(c));
}
