using System.Text.Json.Nodes;
using TrainGuard.Findings;

namespace TrainGuard.Events;

/// <summary>
/// Embeds a <see cref="Finding"/> in an event as <c>trainguard.finding</c>, with <c>event.severity</c>
/// (0-100) and <c>trainguard.severity</c> (docs/events.md "Findings inside events").
/// </summary>
public static class FindingEvents
{
    /// <summary>A new event carrying <paramref name="finding"/> (one finding per event).</summary>
    public static EventRecord ToEvent(this Finding finding, DateTimeOffset timestamp, string action, string module, string kind = EventKinds.Event)
    {
        var record = new EventRecord(timestamp, action, kind);
        record.Set(EventFields.Module, module).Set(EventFields.Dataset, module);
        return record.WithFinding(finding);
    }

    /// <summary>
    /// Sets <c>trainguard.finding</c>, <c>event.severity</c>, <c>trainguard.severity</c> and, when the location names a
    /// file and <paramref name="setFilePath"/> is true, <c>file.path</c> (unless the event has one). A detection on a
    /// collector event passes false: its location is where the evidence was read, not a file the event is about.
    /// </summary>
    public static EventRecord WithFinding(this EventRecord record, Finding finding, bool setFilePath = true)
    {
        var obj = new JsonObject
        {
            ["rule"] = finding.RuleId,
            ["severity"] = finding.Severity.ToWireName(),
            ["message"] = finding.Message,
            ["verdict"] = finding.Verdict.ToWireName(),
        };
        var location = new JsonObject { ["file"] = finding.Location.File };
        if (finding.Location.Member is { } member)
        {
            location["member"] = member;
        }

        if (finding.Location.Offset is { } offset)
        {
            location["offset"] = offset;
        }

        if (finding.Location.Line is { } line)
        {
            location["line"] = line;
        }

        obj["location"] = location;
        AddIfPresent(obj, "why", finding.Why);
        AddIfPresent(obj, "guidance", finding.Guidance);
        AddIfPresent(obj, "global", finding.Global);
        AddIfPresent(obj, "call", finding.Call);
        if (finding.Evidence is { Count: > 0 } evidence)
        {
            var ev = new JsonObject();
            foreach (var pair in evidence.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                ev[pair.Key] = pair.Value;
            }

            obj["evidence"] = ev;
        }

        record.SetNode(EventFields.TrainGuardFinding, obj);
        record.Set(EventFields.Severity, finding.Severity.ToEventSeverity());
        record.Set(EventFields.TrainGuardSeverity, finding.Severity.ToWireName());
        if (setFilePath && !record.Has("file.path") && !string.IsNullOrEmpty(finding.Location.File))
        {
            record.Set("file.path", finding.Location.File);
        }

        return record;
    }

    private static void AddIfPresent(JsonObject obj, string name, string? value)
    {
        if (value is not null)
        {
            obj[name] = value;
        }
    }
}
