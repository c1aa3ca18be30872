namespace TrainGuard.Server.Reports;

/// <summary>
/// The regular audit report over a period (<c>trainguard report</c>, docs/report.md): the alerts, each node's health,
/// checkpoints, the ledger and the accounts with the most alerts, as the server's store holds them. Every string that
/// came from an event is kept as stored (attacker-controlled): the HTML writer encodes it, the JSON writer escapes it.
/// </summary>
public sealed record AuditReport
{
    public const string SchemaVersion = "1";

    /// <summary><c>rpt_</c> and 32 hex digits, random.</summary>
    public required string Id { get; init; }

    /// <summary>Inclusive start of the period (on event <c>@timestamp</c> and alert first/last seen).</summary>
    public required DateTimeOffset Since { get; init; }

    /// <summary>Exclusive end of the period.</summary>
    public required DateTimeOffset Until { get; init; }

    public required DateTimeOffset GeneratedAt { get; init; }

    /// <summary>The ledger's origin (the log signing key's name).</summary>
    public required string Origin { get; init; }

    /// <summary>Where the data came from (no password).</summary>
    public required string Store { get; init; }

    public required AlertSection Alerts { get; init; }

    public required IReadOnlyList<NodeSection> Nodes { get; init; }

    public required CheckpointSection Checkpoints { get; init; }

    public required LedgerSection Ledger { get; init; }

    public required IReadOnlyList<AccountSection> Accounts { get; init; }
}

/// <summary>Alerts active in the period (last seen at or after its start, first seen before its end).</summary>
public sealed record AlertSection
{
    public required int Total { get; init; }

    /// <summary>Count per status (<c>open</c>, <c>acknowledged</c>, <c>closed</c>), every status listed.</summary>
    public required IReadOnlyList<(string Name, int Count)> ByStatus { get; init; }

    /// <summary>Count per classification of the closed ones (<c>tp</c>, <c>fp</c>, <c>benign</c>...), and <c>none</c>.</summary>
    public required IReadOnlyList<(string Name, int Count)> ByClassification { get; init; }

    /// <summary>Count per severity, most severe first, every severity listed.</summary>
    public required IReadOnlyList<(string Name, int Count)> BySeverity { get; init; }

    /// <summary>The alerts not closed, most severe then oldest first.</summary>
    public required IReadOnlyList<OpenAlert> StillOpen { get; init; }

    /// <summary>More alerts were active than a report reads (<see cref="AuditReportBuilder.MaxAlerts"/>).</summary>
    public bool Truncated { get; init; }
}

public sealed record OpenAlert(string Id, string RuleId, string Title, string Severity, string Status, string? Account, IReadOnlyList<string> Hosts, DateTimeOffset OpenSince, DateTimeOffset LastSeen, long Count, string Reason);

/// <summary>One node: its agent's last heartbeat, env verify and access check results in the period, its alerts.</summary>
public sealed record NodeSection
{
    public required string Host { get; init; }

    public DateTimeOffset? LastHeartbeat { get; init; }

    public double? HeartbeatIntervalSeconds { get; init; }

    /// <summary><c>reporting</c>, <c>silent</c> (no heartbeat for longer than its interval × the silent factor) or <c>no heartbeat</c>.</summary>
    public required string AgentHealth { get; init; }

    /// <summary><c>env-finding</c> events of the period.</summary>
    public required int EnvFindings { get; init; }

    /// <summary>Worst <c>trainguard.finding.verdict</c> of those (<c>malicious</c>, <c>suspicious</c>...), or null.</summary>
    public string? EnvWorst { get; init; }

    /// <summary><c>access-finding</c> events of the period.</summary>
    public required int AccessFindings { get; init; }

    /// <summary><c>access-writer-added</c> events of the period naming an account the policy does not allow.</summary>
    public required int AccessWritersAdded { get; init; }

    /// <summary>The accounts those access events name (as stored).</summary>
    public required IReadOnlyList<string> AccessAccounts { get; init; }

    /// <summary>Alerts of the period with an event on this node.</summary>
    public required int Alerts { get; init; }
}

/// <summary>Checkpoints in the period: signed (<c>checkpoint-signed</c>), verified (<c>checkpoint-verified</c>), and every failure.</summary>
public sealed record CheckpointSection
{
    public required int Signed { get; init; }

    public required int Verified { get; init; }

    public required int VerifyFailed { get; init; }

    /// <summary>Checkpoint files the watcher scanned (<c>artifact-scanned</c>).</summary>
    public required int Scanned { get; init; }

    /// <summary>Every failed verification, malicious or suspicious scan, and inspection with a finding (at most 100).</summary>
    public required IReadOnlyList<CheckpointProblem> Problems { get; init; }
}

public sealed record CheckpointProblem(DateTimeOffset At, string? Host, string Action, string? Path, string? Verdict, string? Rule, string? Owner, long LedgerIndex);

/// <summary>The ledger: its growth over the period, the latest tree head, the witnesses, and an audit run at issuance.</summary>
public sealed record LedgerSection
{
    /// <summary>Tree size of the latest tree head signed before the period (0 when none).</summary>
    public required long SizeAtStart { get; init; }

    /// <summary>Tree size of the latest tree head signed before the period's end.</summary>
    public required long SizeAtEnd { get; init; }

    public required long TreeSize { get; init; }

    public DateTimeOffset? LatestTreeHeadAt { get; init; }

    public required int TreeHeadsInPeriod { get; init; }

    /// <summary>Size of the largest tree head a witness cosigned, or null when none did.</summary>
    public long? WitnessedSize { get; init; }

    public required IReadOnlyList<string> Witnesses { get; init; }

    public DateTimeOffset? WitnessedAt { get; init; }

    /// <summary><c>ledger audit</c> at issuance: verdict and what it found (first findings' messages).</summary>
    public required string AuditVerdict { get; init; }

    public required int AuditFindings { get; init; }

    public required IReadOnlyList<string> AuditMessages { get; init; }

    public required DateTimeOffset AuditedAt { get; init; }

    /// <summary>Reports issued before this one in the period (<c>report-issued</c> entries).</summary>
    public required int ReportsIssued { get; init; }
}

/// <summary>An account with alerts in the period, and the headlines of its timeline (the events its alerts name first).</summary>
public sealed record AccountSection(string Name, string? LoginUid, int Alerts, string WorstSeverity, int TimelineEntries, IReadOnlyList<Headline> Headlines);

public sealed record Headline(DateTimeOffset At, string? Host, string Summary, string? RuleId);
