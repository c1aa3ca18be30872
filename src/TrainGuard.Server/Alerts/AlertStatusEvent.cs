using System.Text.Json;
using TrainGuard.Events;
using TrainGuard.Findings;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Events;

namespace TrainGuard.Server.Alerts;

/// <summary>
/// The <c>alert-status-changed</c> event: one alert's status change (who, when, from, to, classification, assignee,
/// note), appended to the ledger before the change is answered, so the lifecycle of every alert is evidence like the
/// events that raised it. The deriver reads it back in ledger order (a replay folds as the live run did).
/// </summary>
public static class AlertStatusEvent
{
    public const string Action = "alert-status-changed";

    /// <summary>Longest note kept, in characters.</summary>
    public const int MaxNoteLength = 4000;

    /// <summary>Longest assignee, in characters.</summary>
    public const int MaxAssigneeLength = 200;

    /// <summary>How a change's author is named: <c>alice (responder token 3f2a9c01b7de)</c>.</summary>
    public static string By(Submitter submitter)
    {
        ArgumentNullException.ThrowIfNull(submitter);
        var token = $"{submitter.Role.ToWireName()} token {submitter.TokenId}";
        var name = submitter.Identity ?? submitter.Label;
        return name is null ? token : $"{TextSanitizer.Escape(name, 128)} ({token})";
    }

    /// <summary>The ledger entry recording <paramref name="change"/> of <paramref name="alert"/> by <paramref name="submitter"/>.</summary>
    public static EventAppend Create(Alert alert, AlertStatusChange change, Submitter submitter, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(alert);
        ArgumentNullException.ThrowIfNull(change);
        ArgumentNullException.ThrowIfNull(submitter);
        var by = By(submitter);
        var record = ConflictAlert.ServerEvent(now, Action)
            .Set("message", $"{by} changed alert {alert.Id} ({alert.Rule.Id}) from {alert.Status} to {change.Status}")
            .Set("trainguard.alert.id", alert.Id)
            .Set("trainguard.alert.rule_id", alert.Rule.Id)
            .Set("trainguard.alert.from", alert.Status)
            .Set("trainguard.alert.to", change.Status)
            .Set("trainguard.alert.classification", change.Classification)
            .Set("trainguard.alert.assignee", change.Assignee)
            .Set("trainguard.alert.note", change.Note)
            .Set("trainguard.alert.by", by)
            .Set("trainguard.submitter.token_id", submitter.TokenId)
            .Set("trainguard.submitter.role", submitter.Role.ToWireName())
            .Set("trainguard.submitter.identity", submitter.Identity)
            .Set("trainguard.submitter.label", submitter.Label)
            .Set("user.name", submitter.Identity);
        return ConflictAlert.ServerAppend(record, "the status change");
    }

    /// <summary>The change an <c>alert-status-changed</c> event records, or null when <paramref name="e"/> is not one.</summary>
    public static (string AlertId, AlertHistoryEntry Entry)? Read(long index, JsonElement e)
    {
        if (EventFacts.Text(e, "event", "action") != Action || EventFacts.Text(e, "trainguard", "submitter", "role") is null or "agent" or "signer")
        {
            return null;
        }

        var alertId = EventFacts.Text(e, "trainguard", "alert", "id");
        var to = EventFacts.Text(e, "trainguard", "alert", "to");
        var from = EventFacts.Text(e, "trainguard", "alert", "from");
        if (alertId is null || !AlertStatus.IsStatus(to) || !AlertStatus.IsStatus(from)
            || EventFacts.Text(e, "@timestamp") is not { } text || !Rfc3339.TryParse(text, out var at))
        {
            return null;
        }

        return (alertId, new AlertHistoryEntry(
            at,
            EventFacts.Text(e, "trainguard", "alert", "by") ?? "unknown",
            from!,
            to!,
            EventFacts.Text(e, "trainguard", "alert", "classification"),
            EventFacts.Text(e, "trainguard", "alert", "assignee"),
            EventFacts.Text(e, "trainguard", "alert", "note"),
            index));
    }
}

/// <summary>A requested status change: the new status, and the classification, assignee and note that go with it.</summary>
public sealed record AlertStatusChange(string Status, string? Classification, string? Assignee, string? Note);
