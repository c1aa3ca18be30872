using System.Text.Json;
using TrainGuard.Server.Alerts;

namespace TrainGuard.Server.Dashboard;

/// <summary>One stored event as a dashboard row: its ledger index, time, host, actor, action and a one-line summary.</summary>
public sealed record DashboardEvent(long Index, DateTimeOffset? At, string? EventId, string? Host, string? Actor, string Action, string Summary, string? Severity)
{
    /// <summary>Reads a row from an event's committed JSON; an entry that is not an event object is shown as such.</summary>
    public static DashboardEvent From(long index, byte[] entry)
    {
        try
        {
            using var document = JsonDocument.Parse(entry);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return new DashboardEvent(index, null, null, null, null, "?", "(not an event object)", null);
            }

            var facts = EventFacts.Read(index, root);
            var actor = facts.Actor.Name ?? facts.Actor.LoginUid ?? facts.UserName;
            string? severity = root.TryGetProperty("trainguard", out var tg) && tg.ValueKind == JsonValueKind.Object
                && tg.TryGetProperty("severity", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
            return new DashboardEvent(index, facts.Timestamp, facts.EventId, facts.Host, actor, facts.Action, AlertTimeline.Summary(facts, actor, false), severity);
        }
        catch (JsonException)
        {
            return new DashboardEvent(index, null, null, null, null, "?", "(not JSON)", null);
        }
    }
}
