using System.Text.Encodings.Web;
using System.Text.Json;
using TrainGuard.Findings;

namespace TrainGuard.Output;

/// <summary>
/// The machine-readable report. Schema (documented in <c>docs/json-output.md</c>):
/// <c>{ tool, version, command, started_at, elapsed_ms, verdict, exit_code, summary: {verdict: count},
/// files: [ { path, format, verdict, size, sha256, members, findings: [ { rule, severity, verdict, message,
/// file, member, offset, global, call, why, guidance, evidence } ] } ], ...details }</c>. Every JSON output of
/// the CLI is one of these: commands with more to say than findings add their members after the items.
/// </summary>
public sealed class JsonReportWriter : IReportWriter
{
    public const string SchemaVersion = "1";

    internal static readonly JsonWriterOptions WriterOptions = new()
    {
        Indented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public void Write(Report report, TextWriter output)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, WriterOptions))
        {
            json.WriteStartObject();
            json.WriteString("schema_version", SchemaVersion);
            json.WriteString("tool", "trainguard");
            json.WriteString("version", ToolInfo.Version);
            json.WriteString("command", report.Command);
            json.WriteString("started_at", report.StartedAt.ToUniversalTime().ToString("O"));
            json.WriteNumber("elapsed_ms", Math.Round(report.Elapsed.TotalMilliseconds, 1));
            json.WriteString("verdict", report.Overall.ToWireName());
            json.WriteNumber("exit_code", report.ExitCode);
            json.WriteStartObject("summary");
            foreach (var verdict in Enum.GetValues<Verdict>())
            {
                json.WriteNumber(verdict.ToWireName(), report.Count(verdict));
            }

            json.WriteEndObject();
            json.WriteStartArray(report.ItemsName);
            foreach (var item in report.Items)
            {
                WriteItem(json, item);
            }

            json.WriteEndArray();
            report.Details?.WriteJson(json);
            json.WriteEndObject();
        }

        output.Write(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
        output.WriteLine();
    }

    private static void WriteItem(Utf8JsonWriter json, AnalyzedItem item)
    {
        json.WriteStartObject();
        json.WriteString("path", item.Path);
        json.WriteString("format", item.Format);
        json.WriteString("verdict", item.Verdict.ToWireName());
        if (item.Size is { } size)
        {
            json.WriteNumber("size", size);
        }

        if (item.Sha256 is { } sha)
        {
            json.WriteString("sha256", sha);
        }

        if (item.Members is { } members)
        {
            json.WriteStartArray("members");
            foreach (var member in members)
            {
                json.WriteStringValue(member);
            }

            json.WriteEndArray();
        }

        json.WriteStartArray("findings");
        foreach (var finding in item.Findings)
        {
            WriteFinding(json, finding);
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    /// <summary>Writes one finding object; shared with event writers that embed findings.</summary>
    public static void WriteFinding(Utf8JsonWriter json, Finding finding)
    {
        json.WriteStartObject();
        json.WriteString("rule", finding.RuleId);
        json.WriteString("severity", finding.Severity.ToWireName());
        json.WriteString("verdict", finding.Verdict.ToWireName());
        json.WriteString("message", finding.Message);
        json.WriteString("file", finding.Location.File);
        WriteNullable(json, "member", finding.Location.Member);
        if (finding.Location.Offset is { } offset)
        {
            json.WriteNumber("offset", offset);
        }
        else
        {
            json.WriteNull("offset");
        }

        if (finding.Location.Line is { } line)
        {
            json.WriteNumber("line", line);
        }

        WriteNullable(json, "global", finding.Global);
        WriteNullable(json, "call", finding.Call);
        WriteNullable(json, "why", finding.Why);
        WriteNullable(json, "guidance", finding.Guidance);
        if (finding.Evidence is { Count: > 0 } evidence)
        {
            json.WriteStartObject("evidence");
            foreach (var (key, value) in evidence.OrderBy(e => e.Key, StringComparer.Ordinal))
            {
                json.WriteString(key, value);
            }

            json.WriteEndObject();
        }

        json.WriteEndObject();
    }

    private static void WriteNullable(Utf8JsonWriter json, string name, string? value)
    {
        if (value is null)
        {
            json.WriteNull(name);
        }
        else
        {
            json.WriteString(name, value);
        }
    }
}
