using TrainGuard.Events;

namespace TrainGuard.Agent.Snapshots;

/// <summary>
/// Remembers recent audit file events (writes, creations, renames) so a snapshot change can name who
/// made it: a key that appears in an authorized_keys file gets the actor of the audit write that put
/// it there. Bounded (oldest forgotten first); thread-safe.
/// </summary>
public sealed class AuditJoin(int capacity = 4096)
{
    private readonly LinkedList<(string Path, DateTimeOffset Time, EventRecord Event)> _recent = new();
    private readonly object _gate = new();

    /// <summary>Offers an event; only audit file events are kept.</summary>
    public void Observe(EventRecord e)
    {
        if (e.GetString(EventFields.Module) != "auditd" || e.Action is not (EventActions.FileChanged or EventActions.FileCreated or EventActions.FileRenamed))
        {
            return;
        }

        var path = e.Action == EventActions.FileRenamed ? e.GetString("file.target_path") ?? e.GetString("file.path") : e.GetString("file.path");
        if (path is null)
        {
            return;
        }

        lock (_gate)
        {
            _recent.AddLast((path, e.Timestamp, e));
            while (_recent.Count > capacity)
            {
                _recent.RemoveFirst();
            }
        }
    }

    /// <summary>The latest audit write to <paramref name="path"/> in [<paramref name="notAfter"/> - window, notAfter], or null.</summary>
    public EventRecord? FindWriter(string path, DateTimeOffset notAfter, TimeSpan window)
    {
        lock (_gate)
        {
            for (var node = _recent.Last; node is not null; node = node.Previous)
            {
                var (p, time, e) = node.Value;
                if (time <= notAfter && time >= notAfter - window && string.Equals(p, path, StringComparison.Ordinal))
                {
                    return e;
                }
            }
        }

        return null;
    }

    /// <summary>Copies the actor of <paramref name="writer"/> (<c>user.*</c> incl. <c>user.audit.*</c>, <c>process.*</c>) into <paramref name="target"/>.</summary>
    public static void CopyActor(EventRecord writer, EventRecord target)
    {
        foreach (var member in new[] { "user", "process" })
        {
            if (writer.Get(member) is System.Text.Json.Nodes.JsonObject obj)
            {
                foreach (var (name, value) in obj)
                {
                    // The account acted upon (user.target) belongs to the snapshot event, not to the writer.
                    if (name != "target")
                    {
                        target.SetNode(member + "." + name, value?.DeepClone());
                    }
                }
            }
        }

        target.Set("trainguard.join.audit_event_id", writer.Id);
        target.Set("trainguard.join.audit_action", writer.Action);
        target.Set("trainguard.join.audit_timestamp", writer.GetString(EventFields.Timestamp));
        if (writer.GetString("trainguard.audit.key") is { } key)
        {
            target.Set("trainguard.join.audit_key", key);
        }
    }
}
