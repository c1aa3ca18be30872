using System.Text.Json;
using System.Text.Json.Serialization;
using TrainGuard.Events;

namespace TrainGuard.Server.Alerts;

/// <summary>
/// An alert as JSON: the API object (<see cref="Write"/>, docs/server.md "Alerts") and the derived part as the store
/// keeps it (<see cref="Derived"/>). Strings from events are written by <see cref="Utf8JsonWriter"/>, which escapes
/// control characters and markup (<c>&lt;</c>, <c>&gt;</c>, <c>&amp;</c>), so they arrive as data.
/// </summary>
public static class AlertJson
{
    private static readonly JsonSerializerOptions StoredOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>RFC 3339 UTC with milliseconds.</summary>
    public static string Time(DateTimeOffset value) => EventRecord.FormatTimestamp(value);

    /// <summary>Writes the alert object of the API.</summary>
    public static void Write(Utf8JsonWriter w, Alert alert)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(alert);
        w.WriteStartObject();
        w.WriteString("id", alert.Id);
        w.WriteStartObject("rule");
        w.WriteString("id", alert.Rule.Id);
        w.WriteString("title", alert.Rule.Title);
        w.WriteString("level", alert.Rule.Level);
        w.WriteString("guidance", alert.Rule.Guidance);
        w.WriteString("description", alert.Rule.Description);
        w.WriteEndObject();
        w.WriteString("severity", alert.Severity);
        w.WriteNumber("risk_score", alert.RiskScore);
        w.WriteString("reason", alert.Reason);
        w.WriteStartObject("account");
        StringOrNull(w, "name", alert.AccountName);
        StringOrNull(w, "login_uid", alert.LoginUid);
        w.WriteEndObject();
        w.WriteString("attribution", alert.Attribution);
        w.WriteStartArray("hosts");
        foreach (var host in alert.Hosts)
        {
            w.WriteStringValue(host);
        }

        w.WriteEndArray();
        w.WriteStartObject("group_by");
        foreach (var (name, value) in alert.GroupBy)
        {
            w.WriteString(name, value);
        }

        w.WriteEndObject();
        w.WriteString("first_seen", Time(alert.FirstSeen));
        w.WriteString("last_seen", Time(alert.LastSeen));
        w.WriteNumber("count", alert.Count);
        w.WriteStartArray("events");
        foreach (var e in alert.Events)
        {
            w.WriteStartObject();
            w.WriteString("event_id", e.EventId);
            w.WriteNumber("ledger_index", e.LedgerIndex);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteString("status", alert.Status);
        StringOrNull(w, "classification", alert.Classification);
        StringOrNull(w, "assignee", alert.Assignee);
        w.WriteStartArray("history");
        foreach (var h in alert.History)
        {
            w.WriteStartObject();
            w.WriteString("at", Time(h.At));
            w.WriteString("by", h.By);
            w.WriteString("from", h.From);
            w.WriteString("to", h.To);
            StringOrNull(w, "classification", h.Classification);
            StringOrNull(w, "assignee", h.Assignee);
            StringOrNull(w, "note", h.Note);
            w.WriteNumber("ledger_index", h.LedgerIndex);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteString("created_at", Time(alert.CreatedAt));
        w.WriteString("updated_at", Time(alert.UpdatedAt));
        w.WriteEndObject();
    }

    /// <summary>The derived part of an alert as the store keeps it (everything the deriver writes but the indexed columns).</summary>
    public static string Derived(Alert alert)
    {
        ArgumentNullException.ThrowIfNull(alert);
        return JsonSerializer.Serialize(
            new StoredDerived(
                alert.Rule,
                alert.RiskScore,
                alert.Reason,
                alert.Attribution,
                [.. alert.Hosts],
                [.. alert.GroupBy.Select(g => new[] { g.Key, g.Value })],
                alert.FirstSeen,
                alert.LastSeen,
                alert.Count,
                alert.Events,
                alert.MaxEventIndex,
                alert.Facts),
            StoredOptions);
    }

    /// <summary>The history as the store keeps it.</summary>
    public static string History(IReadOnlyList<AlertHistoryEntry> history) => JsonSerializer.Serialize(history, StoredOptions);

    /// <summary>Reads a stored alert back: its columns and its derived JSON.</summary>
    /// <exception cref="JsonException">The stored JSON is not what <see cref="Derived"/> writes.</exception>
    public static Alert Read(StoredAlertRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        var derived = JsonSerializer.Deserialize<StoredDerived>(row.Derived, StoredOptions) ?? throw new JsonException("the stored alert is null");
        var history = JsonSerializer.Deserialize<List<AlertHistoryEntry>>(row.History, StoredOptions) ?? [];
        var alert = new Alert
        {
            Id = row.Id,
            Rule = derived.Rule,
            Severity = row.Severity,
            RiskScore = derived.RiskScore,
            Reason = derived.Reason,
            AccountName = row.AccountName,
            LoginUid = row.LoginUid,
            Attribution = derived.Attribution,
            GroupBy = [.. derived.GroupBy.Where(g => g.Length == 2).Select(g => KeyValuePair.Create(g[0], g[1]))],
            FirstSeen = derived.FirstSeen,
            LastSeen = derived.LastSeen,
            Count = derived.Count,
            Events = [.. derived.Events],
            MaxEventIndex = derived.MaxEventIndex,
            Facts = derived.Facts ?? new AlertFacts(),
            FoldKey = row.FoldKey,
            FoldOpen = row.FoldOpen,
            Status = row.Status,
            Classification = row.Classification,
            Assignee = row.Assignee,
            History = history,
            StatusIndex = row.StatusIndex,
            CreatedAt = row.CreatedAt,
            UpdatedAt = row.UpdatedAt,
        };
        foreach (var host in derived.Hosts)
        {
            alert.Hosts.Add(host);
        }

        return alert;
    }

    private static void StringOrNull(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }

    private sealed record StoredDerived(
        AlertRuleInfo Rule,
        int RiskScore,
        string Reason,
        string Attribution,
        List<string> Hosts,
        List<string[]> GroupBy,
        DateTimeOffset FirstSeen,
        DateTimeOffset LastSeen,
        long Count,
        List<AlertEventRef> Events,
        long MaxEventIndex,
        AlertFacts? Facts);
}

/// <summary>One row of the <c>alert</c> table: the columns the deriver and status changes write, and the derived JSON.</summary>
public sealed record StoredAlertRow(
    string Id,
    string Severity,
    string? LoginUid,
    string? AccountName,
    string FoldKey,
    bool FoldOpen,
    string Derived,
    string Status,
    string? Classification,
    string? Assignee,
    string History,
    long StatusIndex,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);
