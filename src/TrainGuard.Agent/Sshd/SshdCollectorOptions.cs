using TrainGuard.Agent.Common;

namespace TrainGuard.Agent.Sshd;

/// <summary>How the sshd collector labels events and reads timestamps.</summary>
public sealed class SshdCollectorOptions
{
    /// <summary><c>host.name</c> when the line has no syslog host field.</summary>
    public string? HostName { get; init; }

    public string? HostId { get; init; }

    public string? AgentId { get; init; }

    public string? SourcePath { get; init; }

    /// <summary>
    /// Reference for RFC 3164 year inference and the timestamp of lines without one (sshd -e
    /// output); replay uses the file's last write time, a live collector the clock.
    /// </summary>
    public DateTimeOffset? ReferenceTime { get; init; }

    /// <summary>Zone of RFC 3164 timestamps (syslog writes local time); UTC when null.</summary>
    public TimeZoneInfo? TimeZone { get; init; }

    /// <summary>Syslog program names whose lines are read.</summary>
    public IReadOnlySet<string> Programs { get; init; } = new HashSet<string>(StringComparer.Ordinal) { "sshd", "sshd-session", "sshd-auth" };

    public int MaxLineLength { get; init; } = LineReader.DefaultMaxLineLength;
}
