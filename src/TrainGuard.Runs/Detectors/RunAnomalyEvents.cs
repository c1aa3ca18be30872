using System.Security.Cryptography;
using System.Text;
using TrainGuard.Events;
using TrainGuard.Findings;

namespace TrainGuard.Runs.Detectors;

/// <summary>The <c>run-anomaly</c> event (docs/events.md "Run anomalies") the server appends for an anomaly.</summary>
public static class RunAnomalyEvents
{
    public const string Action = "run-anomaly";
    public const string Module = "run";

    /// <summary>
    /// The event. Its id is a version 8 UUID of the run, kind, rank and steps, and its time the time of the event
    /// that completed the anomaly, so deriving the same events again (a restarted server) makes the same event,
    /// which the ledger stores once.
    /// </summary>
    public static EventRecord ToEvent(RunAnomaly anomaly, DateTimeOffset fallbackTime)
    {
        ArgumentNullException.ThrowIfNull(anomaly);
        var time = anomaly.Timestamp ?? fallbackTime;
        var record = new EventRecord(time, Action, anomaly.Lead ? EventKinds.Event : EventKinds.Alert, Id(anomaly))
            .Set(EventFields.Category, ["intrusion_detection"])
            .Set(EventFields.Type, ["info"])
            .Set(EventFields.Module, Module)
            .Set(EventFields.Dataset, Module)
            .Set("message", $"run {anomaly.RunName ?? anomaly.RunId}: {anomaly.Kind}{(anomaly.Lead ? " (lead)" : string.Empty)}: {anomaly.Detail}")
            .Set("trainguard.run.id", anomaly.RunId)
            .Set("trainguard.run.name", anomaly.RunName)
            .Set("trainguard.run.world_size", anomaly.WorldSize)
            .Set("trainguard.anomaly.kind", anomaly.Kind)
            .Set("trainguard.anomaly.lead", anomaly.Lead)
            .Set("trainguard.anomaly.first_step", anomaly.FirstStep)
            .Set("trainguard.anomaly.last_step", anomaly.LastStep)
            .Set("trainguard.anomaly.steps", anomaly.Steps)
            .Set("trainguard.anomaly.detail", anomaly.Detail)
            .Set(EventFields.HostName, anomaly.Host)
            .Set("user.name", anomaly.User);
        if (anomaly.Rank is { } rank)
        {
            record.Set("trainguard.run.rank", rank);
        }

        if (anomaly.Fraction is { } fraction && double.IsFinite(fraction))
        {
            record.Set("trainguard.anomaly.fraction", fraction);
        }

        if (anomaly.Score is { } score && double.IsFinite(score))
        {
            record.Set("trainguard.anomaly.score", score);
        }

        var finding = new Finding
        {
            RuleId = anomaly.RuleId,
            Severity = anomaly.Severity,
            Message = anomaly.Detail,
            Location = new Location($"run {anomaly.RunId}"),
            Verdict = anomaly.Lead ? Verdict.Clean : anomaly.Severity.ToVerdict(),
        };
        return record.WithFinding(finding, setFilePath: false);
    }

    private static string Id(RunAnomaly a)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes($"trainguard run-anomaly v1\n{a.RunId}\n{a.Kind}\n{a.Rank}\n{a.FirstStep}\n{a.LastStep}\n{a.Lead}"), hash);
        hash[6] = (byte)((hash[6] & 0x0F) | 0x80);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash[..16], bigEndian: true).ToString("D");
    }
}
