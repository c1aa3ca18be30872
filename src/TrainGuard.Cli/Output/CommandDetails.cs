using System.Text.Json;
using System.Text.Json.Nodes;
using TrainGuard.Output;

namespace TrainGuard.Cli.Output;

/// <summary>A command's own result (a JSON object and its text rendering) carried by a report to the writers.</summary>
internal sealed class CommandDetails(JsonObject json, Action<TextWriter> text) : IReportDetails
{
    public bool ReplacesItemText { get; init; } = true;

    public int ExitCode { get; init; }

    public void WriteJson(Utf8JsonWriter writer)
    {
        foreach (var (name, value) in json)
        {
            writer.WritePropertyName(name);
            if (value is null)
            {
                writer.WriteNullValue();
            }
            else
            {
                value.WriteTo(writer);
            }
        }
    }

    public void WriteText(TextWriter output) => text(output);
}

/// <summary>Reports of verbs that produce a result rather than findings (keys new, env baseline, ckpt sign).</summary>
internal static class ResultReports
{
    /// <summary>A report with one clean item and the verb's own result as its details.</summary>
    public static Findings.Report Create(string command, string path, string kind, JsonObject json, Action<TextWriter> text, DateTimeOffset started, TimeSpan elapsed, int exitCode = 0) => new()
    {
        Command = command,
        Items = [new Findings.AnalyzedItem { Path = path, Format = kind, Verdict = Findings.Verdict.Clean, Elapsed = elapsed }],
        ItemsName = "items",
        StartedAt = started,
        Elapsed = elapsed,
        Details = new CommandDetails(json, text) { ExitCode = exitCode },
    };
}
