using TrainGuard.Findings;

namespace TrainGuard.Server.Alerts;

/// <summary>Alert severities on the wire (<c>informational</c> .. <c>critical</c>) and their order.</summary>
public static class AlertSeverity
{
    public const string Informational = "informational";

    /// <summary>The severities, least severe first.</summary>
    public static IReadOnlyList<string> All { get; } = [Informational, "low", "medium", "high", "critical"];

    /// <summary>The wire name of a rule's severity (Sigma's <c>informational</c> for <see cref="Severity.Info"/>).</summary>
    public static string FromSeverity(Severity severity) => severity == Severity.Info ? Informational : severity.ToWireName();

    /// <summary>0 for informational .. 4 for critical; -1 for anything else.</summary>
    public static int Rank(string? severity) => severity is null ? -1 : All.ToList().IndexOf(severity);
}
