using System.Text;
using TrainGuard.Events;

namespace TrainGuard.Server.Alerts;

/// <summary>Alert ids: <c>alt_</c> + a version 7 UUID (hex, no dashes) stamped with the first event's time.</summary>
public static class AlertIds
{
    public const string Prefix = "alt_";

    /// <summary>
    /// The id of the alert opened by the event at ledger index <paramref name="index"/> for <paramref name="foldKey"/>:
    /// derived from both, so a replay of the same ledger opens the alert under the same id.
    /// </summary>
    public static string Create(string foldKey, long index, string eventId, DateTimeOffset firstSeen) =>
        Prefix + UuidV7.FromKey(firstSeen, Encoding.UTF8.GetBytes($"trainguard alert v1\n{foldKey}\n{index}\n{eventId}")).Replace("-", string.Empty, StringComparison.Ordinal);

    /// <summary>The id of an <c>agent-silent</c> alert: the host and the last heartbeat before the silence.</summary>
    public static string Silent(string host, long heartbeatIndex, DateTimeOffset lastHeartbeat) =>
        Prefix + UuidV7.FromKey(lastHeartbeat, Encoding.UTF8.GetBytes($"trainguard agent-silent v1\n{host}\n{heartbeatIndex}")).Replace("-", string.Empty, StringComparison.Ordinal);

    /// <summary>True for text shaped like an alert id (so a path segment can be checked before it reaches the store).</summary>
    public static bool IsWellFormed(string? text) =>
        text is { Length: 36 } && text.StartsWith(Prefix, StringComparison.Ordinal) && text.AsSpan(Prefix.Length).ContainsAnyExcept("0123456789abcdef") is false;
}
