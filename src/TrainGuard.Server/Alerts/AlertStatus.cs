namespace TrainGuard.Server.Alerts;

/// <summary>An alert's lifecycle (open, acknowledged, closed) and the classifications a closed alert carries.</summary>
public static class AlertStatus
{
    public const string Open = "open";
    public const string Acknowledged = "acknowledged";
    public const string Closed = "closed";

    /// <summary>The statuses, in lifecycle order.</summary>
    public static IReadOnlyList<string> All { get; } = [Open, Acknowledged, Closed];

    /// <summary>What a responder may say a closed alert was.</summary>
    public static IReadOnlyList<string> Classifications { get; } = ["true-positive", "benign-positive", "false-positive", "undetermined"];

    public static bool IsStatus(string? text) => text is Open or Acknowledged or Closed;

    public static bool IsClassification(string? text) => text is not null && Classifications.Contains(text);

    /// <summary>
    /// Null when an alert in status <paramref name="from"/> may go to <paramref name="to"/>; otherwise why not. An open or
    /// acknowledged alert may be acknowledged (again: a new assignee or note), closed or set open; a closed alert may
    /// only be reopened.
    /// </summary>
    public static string? CheckTransition(string from, string to) => (from, to) switch
    {
        (Closed, Open) => null,
        (Closed, _) => $"the alert is closed: reopen it (status {Open}) before it can be {to}",
        (Open, Open) => "the alert is open already",
        (Open or Acknowledged, Open or Acknowledged or Closed) => null,
        _ => $"unknown status '{to}'",
    };
}
