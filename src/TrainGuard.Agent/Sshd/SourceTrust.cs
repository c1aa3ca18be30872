using System.Text.RegularExpressions;

namespace TrainGuard.Agent.Sshd;

/// <summary>
/// Whether a log line can be believed to come from sshd. A syslog line names its own program (<c>logger -t
/// 'sshd[4242]'</c> writes one as any user), so a line read from <c>auth.log</c> is only a claim. The journal
/// adds fields the sender cannot choose (<c>_UID</c>, <c>_PID</c>, <c>_EXE</c>, <c>_COMM</c>, <c>_SYSTEMD_UNIT</c>,
/// from the socket credentials, <c>/proc</c> and the cgroup): a line is verified when <c>_UID</c> is 0 and the
/// executable, command name or unit is sshd's; it is forged when the journal shows another program sent it.
/// </summary>
public sealed partial record SourceTrust
{
    /// <summary><c>syslog</c> (a text log line) or <c>journal</c> (an entry with trusted fields).</summary>
    public required string Kind { get; init; }

    public bool Verified { get; init; }

    /// <summary>The journal shows that a program other than sshd wrote the line.</summary>
    public bool Forged { get; init; }

    /// <summary>Why the line is not verified (null when it is).</summary>
    public string? Reason { get; init; }

    public string? Uid { get; init; }

    public string? Pid { get; init; }

    public string? Executable { get; init; }

    public string? Command { get; init; }

    public string? Unit { get; init; }

    /// <summary><c>SYSLOG_PID</c>: the pid the line claims (the sender chooses it).</summary>
    public string? ClaimedPid { get; init; }

    /// <summary>A text log line: what it says about its sender is its own claim.</summary>
    public static SourceTrust Syslog { get; } = new()
    {
        Kind = "syslog",
        Reason = "a syslog line names its own program; any local user can write one (logger -t sshd)",
    };

    /// <summary>Folders an sshd binary is installed in.</summary>
    private static readonly string[] SystemDirectories = ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/lib/openssh", "/usr/libexec", "/usr/libexec/openssh", "/usr/local/sbin"];

    public static SourceTrust FromJournal(IReadOnlyDictionary<string, string> entry, IReadOnlySet<string> programs, IReadOnlyList<string> ambiguous)
    {
        var uid = entry.GetValueOrDefault("_UID");
        var exe = entry.GetValueOrDefault("_EXE");
        var comm = entry.GetValueOrDefault("_COMM");
        var unit = entry.GetValueOrDefault("_SYSTEMD_UNIT");
        var trust = new SourceTrust { Kind = "journal", Uid = uid, Pid = entry.GetValueOrDefault("_PID"), Executable = exe, Command = comm, Unit = unit, ClaimedPid = entry.GetValueOrDefault("SYSLOG_PID") };
        var contested = ambiguous.Where(f => f is "_UID" or "_EXE" or "_COMM" or "_SYSTEMD_UNIT" or "_PID").ToList();
        if (contested.Count > 0)
        {
            return trust with { Reason = $"trusted journal fields with several values ({string.Join(", ", contested)})" };
        }

        var exeIsSshd = exe is not null && IsSshdExecutable(exe, programs);
        var commIsSshd = comm is not null && programs.Contains(comm);
        var unitIsSsh = unit is not null && SshUnit().IsMatch(unit);
        if ((exe is not null && !exeIsSshd) || (comm is not null && !commIsSshd))
        {
            return trust with
            {
                Forged = true,
                Reason = $"the journal shows {exe ?? comm} (uid {uid ?? "?"}, pid {trust.Pid ?? "?"}) wrote it, not sshd",
            };
        }

        if (uid != "0")
        {
            // sshd's unprivileged per-session child logs some lines as the user; they prove less than root's.
            return trust with { Reason = uid is null ? "the journal entry has no _UID" : $"sent by uid {uid}, not root" };
        }

        return exeIsSshd || commIsSshd || unitIsSsh
            ? trust with { Verified = true }
            : trust with { Reason = "the journal entry names neither sshd's executable, command nor unit" };
    }

    private static bool IsSshdExecutable(string exe, IReadOnlySet<string> programs)
    {
        var slash = exe.LastIndexOf('/');
        return slash > 0 && programs.Contains(exe[(slash + 1)..]) && SystemDirectories.Contains(exe[..slash], StringComparer.Ordinal);
    }

    /// <summary><c>ssh.service</c> (Debian), <c>sshd.service</c> (RHEL), and per-connection instances of either.</summary>
    [GeneratedRegex(@"^sshd?(@[A-Za-z0-9:_.\-]+)?\.service$", RegexOptions.CultureInvariant)]
    private static partial Regex SshUnit();
}
