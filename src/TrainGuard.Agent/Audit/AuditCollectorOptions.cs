using TrainGuard.Agent.Common;

namespace TrainGuard.Agent.Audit;

/// <summary>How the audit collector labels and derives events.</summary>
public sealed class AuditCollectorOptions
{
    /// <summary>Login services allowed to set a login uid (the executable's file name).</summary>
    public static readonly IReadOnlySet<string> DefaultLoginServices = new HashSet<string>(StringComparer.Ordinal)
    {
        "sshd", "sshd-session", "login", "gdm-session-worker", "lightdm", "sddm-helper", "sddm", "cron", "crond",
        "atd", "systemd", "xrdp-sesman", "dropbear", "systemd-logind",
    };

    /// <summary>Directories a login service's executable must be in to count as one.</summary>
    public static readonly IReadOnlySet<string> DefaultTrustedDirectories = new HashSet<string>(StringComparer.Ordinal)
    {
        "/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/lib/openssh", "/usr/libexec/openssh", "/usr/lib/systemd",
        "/lib/systemd", "/usr/libexec", "/usr/lib/gdm3", "/usr/libexec/gdm", "/usr/lib/x86_64-linux-gnu/sddm",
        "/usr/lib/aarch64-linux-gnu/sddm",
    };

    /// <summary><c>host.name</c> for records without a <c>node=</c> prefix.</summary>
    public string? HostName { get; init; }

    public string? HostId { get; init; }

    /// <summary><c>agent.id</c>; omitted when null (forensic replay).</summary>
    public string? AgentId { get; init; }

    /// <summary><c>log.file.path</c> of the input, when it is a file.</summary>
    public string? SourcePath { get; init; }

    /// <summary>Names for numeric ids in raw (not enriched) logs.</summary>
    public IAccountNames? AccountNames { get; init; }

    /// <summary>Emit <c>kill(pid, 0)</c> existence probes as events (off: they deliver nothing).</summary>
    public bool IncludeSignalProbes { get; init; }

    /// <summary>Put the group's raw records in <c>event.original</c> (forensics; larger events).</summary>
    public bool IncludeOriginal { get; init; }

    public IReadOnlySet<string> LoginServices { get; init; } = DefaultLoginServices;

    public IReadOnlySet<string> TrustedDirectories { get; init; } = DefaultTrustedDirectories;

    /// <summary>Audit events assembled at the same time (records of different events interleave).</summary>
    public int MaxOpenGroups { get; init; } = 32;

    /// <summary>A group closes when a record arrives this much later in audit time.</summary>
    public TimeSpan GroupTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Longest line accepted (the kernel's records are below 9 KiB).</summary>
    public int MaxLineLength { get; init; } = LineReader.DefaultMaxLineLength;
}
