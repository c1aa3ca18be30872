namespace TrainGuard.Output;

/// <summary>The <c>--format</c> of every command.</summary>
public enum OutputFormat
{
    Text,
    Json,
    Sarif,
}

public static class ReportWriters
{
    public static IReportWriter For(OutputFormat format) => format switch
    {
        OutputFormat.Json => new JsonReportWriter(),
        OutputFormat.Sarif => new SarifReportWriter(),
        _ => new TextReportWriter(),
    };
}
