namespace TrainGuard.Agent.Audit;

/// <summary>
/// Assembles records into events by (node, timestamp, serial). Records of different events can
/// interleave (a PROCTITLE may arrive after the next event's records), so a few groups stay open.
/// A group closes on its EOE record (when auditd writes them), on its PROCTITLE (the kernel writes
/// it last), at once for single-record user-space messages, when a record arrives more than
/// <see cref="Timeout"/> later in audit time, when more than <see cref="MaxOpen"/> groups are open
/// (the oldest closes), and on <see cref="Flush"/>.
/// </summary>
public sealed class AuditEventGrouper
{
    private readonly List<AuditEventGroup> _open = [];
    private readonly Action<AuditEventGroup> _closed;

    public AuditEventGrouper(Action<AuditEventGroup> closed, int maxOpen = 32, TimeSpan? timeout = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxOpen, 1);
        _closed = closed;
        MaxOpen = maxOpen;
        Timeout = timeout ?? TimeSpan.FromSeconds(2);
    }

    public int MaxOpen { get; }

    public TimeSpan Timeout { get; }

    public int OpenCount => _open.Count;

    public void Add(AuditRecord record)
    {
        var index = IndexOf(record);
        if (record.Type == "EOE")
        {
            if (index >= 0)
            {
                CloseAt(index);
            }

            return;
        }

        AuditEventGroup group;
        if (index >= 0)
        {
            group = _open[index];
            group.Records.Add(record);
        }
        else
        {
            group = new AuditEventGroup(record);
            _open.Add(group);
            index = _open.Count - 1;
        }

        if (record.Type == "PROCTITLE" || (group.Records.Count == 1 && IsSingleRecordType(record.Type)))
        {
            CloseAt(index);
        }

        CloseOlderThan(record.TimestampMs - (long)Timeout.TotalMilliseconds);
        while (_open.Count > MaxOpen)
        {
            CloseAt(0);
        }
    }

    /// <summary>Closes every open group whose audit time is before <paramref name="timestampMs"/> (a live collector calls this with the wall clock minus the timeout).</summary>
    public void CloseOlderThan(long timestampMs)
    {
        for (var i = 0; i < _open.Count;)
        {
            if (_open[i].TimestampMs < timestampMs)
            {
                CloseAt(i);
            }
            else
            {
                i++;
            }
        }
    }

    /// <summary>Closes all open groups, oldest first.</summary>
    public void Flush()
    {
        while (_open.Count > 0)
        {
            CloseAt(0);
        }
    }

    /// <summary>User-space messages (PAM, shadow-utils, auditd itself) are one record each.</summary>
    public static bool IsSingleRecordType(string type) =>
        type.StartsWith("USER_", StringComparison.Ordinal)
        || type.StartsWith("CRED_", StringComparison.Ordinal)
        || type.StartsWith("DAEMON_", StringComparison.Ordinal)
        || type.StartsWith("SERVICE_", StringComparison.Ordinal)
        || type.StartsWith("ANOM_", StringComparison.Ordinal)
        || type is "ADD_USER" or "DEL_USER" or "ADD_GROUP" or "DEL_GROUP" or "GRP_MGMT" or "GRP_CHAUTHTOK";

    private int IndexOf(AuditRecord record)
    {
        for (var i = _open.Count - 1; i >= 0; i--)
        {
            if (_open[i].Matches(record))
            {
                return i;
            }
        }

        return -1;
    }

    private void CloseAt(int index)
    {
        var group = _open[index];
        _open.RemoveAt(index);
        _closed(group);
    }
}
