using System.Text.Json;

namespace TrainGuard.Server.Notifications;

/// <summary>The JSON shapes of a target and of a delivery attempt, shared by the API and the CLI.</summary>
public static class WebhookJson
{
    /// <summary>One target as the API and <c>webhook list --format json</c> show it.</summary>
    public static void WriteTarget(Utf8JsonWriter w, WebhookTargetStatus status)
    {
        var t = status.Target;
        w.WriteStartObject();
        w.WriteString("name", t.Name);
        w.WriteString("mode", WebhookTarget.ModeName(t.Mode));
        w.WriteString("url", t.DisplayUrl);
        w.WriteBoolean("enabled", t.Enabled);
        StringOrNull(w, "disabled_reason", t.DisabledReason);

        w.WriteString("created_at", WebhookPayloads.Timestamp(t.CreatedAt));
        w.WriteNumber("pending", status.Pending);
        w.WriteEndObject();
    }

    /// <summary>One attempt as the API and <c>webhook deliveries --format json</c> show it.</summary>
    public static void WriteDelivery(Utf8JsonWriter w, WebhookDelivery d)
    {
        w.WriteStartObject();
        w.WriteNumber("id", d.Id);
        w.WriteString("message_id", d.MessageId);
        w.WriteString("target", d.Target);
        w.WriteString("type", d.EventType);
        w.WriteNumber("attempt", d.Attempt);
        w.WriteString("attempted_at", WebhookPayloads.Timestamp(d.AttemptedAt));
        if (d.StatusCode is { } code)
        {
            w.WriteNumber("status_code", code);
        }
        else
        {
            w.WriteNull("status_code");
        }

        w.WriteNumber("duration_ms", d.DurationMs);
        w.WriteString("outcome", WebhookDelivery.OutcomeName(d.Outcome));
        StringOrNull(w, "error", d.Error);
        StringOrNull(w, "next_attempt_at", d.NextAttemptAt is { } next ? WebhookPayloads.Timestamp(next) : null);

        w.WriteEndObject();
    }

    /// <summary>A string member, or JSON null.</summary>
    internal static void StringOrNull(Utf8JsonWriter w, string name, string? value)
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
}
