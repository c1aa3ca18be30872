namespace TrainGuard.Server.Alerts;

/// <summary>Checks and applies status changes (open, acknowledged, closed; classification, assignee, note).</summary>
public static class AlertLifecycle
{
    /// <summary>Null when <paramref name="change"/> may be made to <paramref name="alert"/>; otherwise the problem and whether it is a conflict with the alert's state (409) rather than a bad request (400).</summary>
    public static (string Problem, bool Conflict)? Check(Alert alert, AlertStatusChange change)
    {
        ArgumentNullException.ThrowIfNull(alert);
        ArgumentNullException.ThrowIfNull(change);
        if (!AlertStatus.IsStatus(change.Status))
        {
            return ($"status: one of {string.Join(", ", AlertStatus.All)}", false);
        }

        if (change.Classification is not null && !AlertStatus.IsClassification(change.Classification))
        {
            return ($"classification: one of {string.Join(", ", AlertStatus.Classifications)}", false);
        }

        if (change.Status == AlertStatus.Closed && change.Classification is null)
        {
            return ($"classification: closing an alert needs one of {string.Join(", ", AlertStatus.Classifications)}", false);
        }

        if (change.Status != AlertStatus.Closed && change.Classification is not null)
        {
            return ("classification: only a closed alert has one", false);
        }

        if (change.Note is { Length: > AlertStatusEvent.MaxNoteLength })
        {
            return ($"note: at most {AlertStatusEvent.MaxNoteLength} characters", false);
        }

        if (change.Assignee is { Length: 0 or > AlertStatusEvent.MaxAssigneeLength })
        {
            return ($"assignee: 1 to {AlertStatusEvent.MaxAssigneeLength} characters", false);
        }

        return AlertStatus.CheckTransition(alert.Status, change.Status) is { } problem ? (problem, true) : null;
    }

    /// <summary>Applies a status change recorded at <see cref="AlertHistoryEntry.LedgerIndex"/> (once: a change at or before <see cref="Alert.StatusIndex"/> is not applied again).</summary>
    public static bool Apply(Alert alert, AlertHistoryEntry entry)
    {
        ArgumentNullException.ThrowIfNull(alert);
        ArgumentNullException.ThrowIfNull(entry);
        if (entry.LedgerIndex <= alert.StatusIndex)
        {
            return false;
        }

        alert.Status = entry.To;
        alert.Classification = entry.To == AlertStatus.Closed ? entry.Classification : null;
        if (entry.Assignee is not null)
        {
            alert.Assignee = entry.Assignee;
        }

        alert.History.Add(entry);
        alert.StatusIndex = entry.LedgerIndex;
        if (entry.At > alert.UpdatedAt)
        {
            alert.UpdatedAt = entry.At;
        }

        return true;
    }
}
