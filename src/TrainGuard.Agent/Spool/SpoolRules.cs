using TrainGuard.Findings;
using TrainGuard.Rules;

namespace TrainGuard.Agent.Spool;

/// <summary>Rule ids of the agent's checks of its own spool, read from <c>Rules/spool.yaml</c> (docs/rules/TG-AGT-00x.md).</summary>
public static class AgentRules
{
    public const string FamilyName = "agent-spool";

    /// <summary>A spool record was edited, removed or reordered: the hash chain is broken.</summary>
    public const string SpoolTampered = "TG-AGT-001";

    /// <summary>The last spool record was cut short by a crash and was truncated (nothing acknowledged is lost).</summary>
    public const string SpoolTornTail = "TG-AGT-002";

    /// <summary>The spool cursor (acknowledged sequence, trim anchor) is unreadable.</summary>
    public const string SpoolCursorDamaged = "TG-AGT-003";

    /// <summary>The rules with their matcher (<see cref="SpoolRuleFamily"/>: the spool check on a spool written from each sample).</summary>
    public static RuleFamily Family { get; } = new SpoolRuleFamily(
        RuleYaml.EmbeddedDefinitions(typeof(AgentRules).Assembly, FamilyName, "TrainGuard.Agent.Rules.spool.yaml"));

    public static IReadOnlyList<RuleDescriptor> Descriptors => Family.Descriptors;
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

    /// <summary>The server answered with a signed tree head smaller than one it acknowledged before: the log was cut at its end.</summary>
    public const string LedgerRolledBack = "ledger-rolled-back";

    /// <summary>The server answered with a signed tree head that does not extend one it acknowledged before (another history).</summary>
    public const string LedgerSplitView = "ledger-split-view";
}
