using TrainGuard.Events;
using TrainGuard.Findings;

namespace TrainGuard.Agent.Spool;

/// <summary>What opening (or verifying) a spool found: its extent and any broken links, torn tail or damaged cursor.</summary>
public sealed record SpoolVerification
{
    public required string Directory { get; init; }

    public int Segments { get; init; }

    /// <summary>Valid records present (acknowledged ones not yet trimmed included).</summary>
    public long Records { get; init; }

    public long FirstSeq { get; init; }

    public long LastSeq { get; init; }

    public long AckedSeq { get; init; }

    public IReadOnlyList<Finding> Findings { get; init; } = [];

    /// <summary>Bytes of a cut-short last record removed on open (or that an open would remove, when only verifying).</summary>
    public long TornBytes { get; init; }

    /// <summary>Where the removed bytes were kept for forensics.</summary>
    public string? TornBytesSavedTo { get; init; }

    /// <summary>The sealed head in the cursor (newest record written, by sequence number and line hash); null for a cursor without one.</summary>
    public long? SealedHeadSeq { get; init; }

    public string? SealedHeadHash { get; init; }

    public bool Tampered => Findings.Any(f => f.RuleId is AgentRules.SpoolTampered or AgentRules.SpoolCursorDamaged);

    public bool Clean => Findings.Count == 0;

    /// <summary>One event per finding: <c>spool-tampered</c> for a broken chain or cursor, <c>spool-recovered</c> for a truncated torn tail.</summary>
    public IReadOnlyList<EventRecord> ToEvents(DateTimeOffset now)
    {
        var events = new List<EventRecord>();
        var index = 0;
        foreach (var finding in Findings)
        {
            var action = finding.RuleId == AgentRules.SpoolTornTail ? AgentActions.SpoolRecovered : AgentActions.SpoolTampered;
            var e = new EventRecord(now, action, EventKinds.Alert, UuidV7.FromKey(now, System.Text.Encoding.UTF8.GetBytes($"spool|{Directory}|{now.ToUnixTimeMilliseconds()}|{index++}")));
            e.Set(EventFields.Module, "agent").Set(EventFields.Dataset, "agent");
            e.Set(EventFields.Category, ["host", "intrusion_detection"]).Set(EventFields.Type, ["info"]);
            e.WithFinding(finding);
            e.Set("trainguard.spool.directory", Directory);
            e.Set("trainguard.spool.last_seq", LastSeq);
            e.Set("trainguard.spool.acked_seq", AckedSeq);
            events.Add(e);
        }

        return events;
    }
}
