namespace TrainGuard.Findings;

/// <summary>How bad a finding is. Ordered: a larger value is worse.</summary>
public enum Severity
{
    Info = 0,
    Low = 1,
    Medium = 2,
    High = 3,
    Critical = 4,
}

public static class SeverityExtensions
{
    /// <summary>The lowercase name used in JSON, SARIF properties and events (`trainguard.severity`).</summary>
    public static string ToWireName(this Severity severity) => severity switch
    {
        Severity.Info => "info",
        Severity.Low => "low",
        Severity.Medium => "medium",
        Severity.High => "high",
        Severity.Critical => "critical",
        _ => "unknown",
    };

    /// <summary>ECS `event.severity` (0-100).</summary>
    public static int ToEventSeverity(this Severity severity) => severity switch
    {
        Severity.Info => 10,
        Severity.Low => 25,
        Severity.Medium => 50,
        Severity.High => 75,
        Severity.Critical => 99,
        _ => 0,
    };

    /// <summary>
    /// The verdict a finding of this severity gives its item when its rule fixes none: critical is malicious,
    /// high and medium suspicious, low and info leave the item clean (informational).
    /// </summary>
    public static Verdict ToVerdict(this Severity severity) => severity switch
    {
        Severity.Critical => Verdict.Malicious,
        Severity.High or Severity.Medium => Verdict.Suspicious,
        _ => Verdict.Clean,
    };

    /// <summary>SARIF `level`: error, warning or note.</summary>
    public static string ToSarifLevel(this Severity severity) => severity switch
    {
        Severity.Critical or Severity.High => "error",
        Severity.Medium => "warning",
        _ => "note",
    };

    public static bool TryParse(string text, out Severity severity)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "info": severity = Severity.Info; return true;
            case "low": severity = Severity.Low; return true;
            case "medium": severity = Severity.Medium; return true;
            case "high": severity = Severity.High; return true;
            case "critical": severity = Severity.Critical; return true;
            default: severity = Severity.Info; return false;
        }
    }
}
