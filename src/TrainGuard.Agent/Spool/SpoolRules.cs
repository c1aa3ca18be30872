using TrainGuard.Findings;

namespace TrainGuard.Agent.Spool;

/// <summary>Rule ids and event actions of the agent's own integrity checks (docs/rules/TG-AGT-*.md).</summary>
public static class AgentRules
{
    /// <summary>A spool record was edited, removed or reordered: the hash chain is broken.</summary>
    public const string SpoolTampered = "TG-AGT-001";

    /// <summary>The last spool record was cut short by a crash and was truncated (nothing acknowledged is lost).</summary>
    public const string SpoolTornTail = "TG-AGT-002";

    /// <summary>The spool cursor (acknowledged sequence, trim anchor) is unreadable.</summary>
    public const string SpoolCursorDamaged = "TG-AGT-003";

    public static IReadOnlyList<RuleDescriptor> Descriptors { get; } =
    [
        new RuleDescriptor(SpoolTampered, "spool-tampered", Severity.High, "Every spool record carries the SHA-256 of the record before it; a broken link means someone changed events on the node before they were shipped.", "Compare the node's events with what the server received; treat the node as compromised until explained."),
        new RuleDescriptor(SpoolTornTail, "spool-torn-tail", Severity.Low, "A record is acknowledged to its producer only after it is on disk; a cut-short last line was never acknowledged, so nothing is lost.", "Expected after a crash or power loss; frequent occurrences point to a failing disk or an agent being killed."),
        new RuleDescriptor(SpoolCursorDamaged, "spool-cursor-damaged", Severity.Medium, "The cursor records what the server acknowledged; without it the agent re-sends (the server drops duplicates by event id).", "Check who wrote the spool folder; it should be writable by the agent only."),
    ];
}

/// <summary><c>event.action</c> values of the agent itself (in addition to docs/events.md).</summary>
public static class AgentActions
{
    public const string SpoolTampered = "spool-tampered";
    public const string SpoolRecovered = "spool-recovered";
    public const string EventsRejected = "events-rejected";

    /// <summary>A checkpoint path that is not a regular file (FIFO, socket, device, a link to one, a dangling link or a link chain): never opened.</summary>
    public const string ArtifactUnscannable = "artifact-unscannable";

    /// <summary>An authorized_keys file (or one sshd_config's AuthorizedKeysFile names) exists but cannot be read.</summary>
    public const string SshKeyFileUnreadable = "ssh-key-file-unreadable";

    /// <summary>A journal entry claiming to be sshd's that the journal's trusted fields show another program wrote.</summary>
    public const string SshdLogForged = "sshd-log-forged";
}
