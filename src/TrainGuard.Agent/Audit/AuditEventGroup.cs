namespace TrainGuard.Agent.Audit;

/// <summary>The records of one audit event: same node, timestamp and serial.</summary>
public sealed class AuditEventGroup
{
    internal AuditEventGroup(AuditRecord first)
    {
        Node = first.Node;
        Seconds = first.Seconds;
        Milliseconds = first.Milliseconds;
        Serial = first.Serial;
        Records.Add(first);
    }

    public string? Node { get; }

    public long Seconds { get; }

    public int Milliseconds { get; }

    public ulong Serial { get; }

    public List<AuditRecord> Records { get; } = [];

    public DateTimeOffset Timestamp => DateTimeOffset.FromUnixTimeSeconds(Seconds).AddMilliseconds(Milliseconds);

    public long TimestampMs => (Seconds * 1000) + Milliseconds;

    /// <summary>Line number of the first record.</summary>
    public long FirstLine => Records[0].Line;

    /// <summary>The first record of <paramref name="type"/>, or null.</summary>
    public AuditRecord? Find(string type)
    {
        foreach (var record in Records)
        {
            if (record.Type == type)
            {
                return record;
            }
        }

        return null;
    }

    public IEnumerable<AuditRecord> All(string type) => Records.Where(r => r.Type == type);

    internal bool Matches(AuditRecord record) =>
        record.Serial == Serial && record.Seconds == Seconds && record.Milliseconds == Milliseconds && record.Node == Node;
}
