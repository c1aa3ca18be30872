using System.Text.Json;
using TrainGuard.Findings;

namespace TrainGuard.Output;

/// <summary>
/// SARIF 2.1.0 for code-scanning tools (GitHub code scanning, Azure DevOps, VS Code SARIF viewer).
/// One run, the rules that fired under <c>tool.driver.rules</c>, one result per finding; items with an
/// error verdict but no finding still produce a result so that "could not scan" is never silent.
/// </summary>
public sealed class SarifReportWriter : IReportWriter
{
    public const string SchemaUri = "https://json.schemastore.org/sarif-2.1.0.json";
    public const string InformationUri = "https://github.com/trainguard/trainguard";

    public void Write(Report report, TextWriter output)
    {
        var findings = report.Items.SelectMany(i => i.Findings).ToList();
        var known = report.Rules.ToDictionary(r => r.Id, StringComparer.Ordinal);
        var ruleIds = findings.Select(f => f.RuleId).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var ruleIndex = ruleIds.Select((id, i) => (id, i)).ToDictionary(x => x.id, x => x.i, StringComparer.Ordinal);

        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, JsonReportWriter.WriterOptions))
        {
            json.WriteStartObject();
            json.WriteString("$schema", SchemaUri);
            json.WriteString("version", "2.1.0");
            json.WriteStartArray("runs");
            json.WriteStartObject();

            json.WriteStartObject("tool");
            json.WriteStartObject("driver");
            json.WriteString("name", "TrainGuard");
            json.WriteString("semanticVersion", ToolInfo.Version);
            json.WriteString("informationUri", InformationUri);
            json.WriteStartArray("rules");
            foreach (var id in ruleIds)
            {
                var descriptor = known.TryGetValue(id, out var d) ? d : null;
                var sample = findings.First(f => f.RuleId == id);
                json.WriteStartObject();
                json.WriteString("id", id);
                json.WriteString("name", descriptor?.Name ?? id);
                json.WriteStartObject("shortDescription");
                json.WriteString("text", descriptor?.Why ?? sample.Why ?? id);
                json.WriteEndObject();
                json.WriteStartObject("help");
                json.WriteString("text", descriptor?.Guidance ?? sample.Guidance ?? "See the rule's guidance page.");
                json.WriteEndObject();
                json.WriteString("helpUri", $"{InformationUri}/blob/main/docs/rules/{id}.md");
                json.WriteStartObject("defaultConfiguration");
                json.WriteString("level", (descriptor?.Severity ?? sample.Severity).ToSarifLevel());
                json.WriteEndObject();
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteEndObject();

            json.WriteStartArray("results");
            foreach (var item in report.Items)
            {
                foreach (var finding in item.Findings)
                {
                    WriteResult(json, finding, ruleIndex[finding.RuleId]);
                }
            }

            json.WriteEndArray();

            json.WriteStartArray("invocations");
            json.WriteStartObject();
            json.WriteBoolean("executionSuccessful", report.ExitCode != ExitCodes.Error);
            json.WriteNumber("exitCode", report.ExitCode);
            json.WriteEndObject();
            json.WriteEndArray();

            json.WriteEndObject();
            json.WriteEndArray();
            json.WriteEndObject();
        }

        output.Write(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
        output.WriteLine();
    }

    private static void WriteResult(Utf8JsonWriter json, Finding finding, int ruleIndex)
    {
        json.WriteStartObject();
        json.WriteString("ruleId", finding.RuleId);
        json.WriteNumber("ruleIndex", ruleIndex);
        json.WriteString("level", finding.Severity.ToSarifLevel());
        json.WriteStartObject("message");
        json.WriteString("text", finding.Message);
        json.WriteEndObject();

        json.WriteStartArray("locations");
        json.WriteStartObject();
        json.WriteStartObject("physicalLocation");
        json.WriteStartObject("artifactLocation");
        json.WriteString("uri", ToUri(finding.Location.File));
        json.WriteEndObject();
        if (finding.Location.Offset is not null || finding.Location.Line is not null)
        {
            json.WriteStartObject("region");
            if (finding.Location.Line is { } line)
            {
                json.WriteNumber("startLine", line);
            }
            else if (finding.Location.Member is null && finding.Location.Offset is { } offset)
            {
                json.WriteNumber("byteOffset", offset);
            }

            json.WriteEndObject();
        }

        json.WriteEndObject();
        if (finding.Location.Member is { } member)
        {
            json.WriteStartArray("logicalLocations");
            json.WriteStartObject();
            json.WriteString("fullyQualifiedName", member);
            json.WriteString("kind", "member");
            json.WriteEndObject();
            json.WriteEndArray();
        }

        json.WriteEndObject();
        json.WriteEndArray();

        json.WriteStartObject("properties");
        json.WriteString("severity", finding.Severity.ToWireName());
        json.WriteString("verdict", finding.Verdict.ToWireName());
        if (finding.Location.Member is { } m)
        {
            json.WriteString("member", m);
        }

        if (finding.Location.Offset is { } off)
        {
            json.WriteNumber("offset", off);
        }

        if (finding.Global is { } global)
        {
            json.WriteString("global", global);
        }

        if (finding.Call is { } call)
        {
            json.WriteString("call", call);
        }

        if (finding.Evidence is { Count: > 0 } evidence)
        {
            foreach (var (key, value) in evidence.OrderBy(e => e.Key, StringComparer.Ordinal))
            {
                json.WriteString(key, value);
            }
        }

        json.WriteEndObject();
        json.WriteEndObject();
    }

    /// <summary>A relative path as a relative URI reference; an absolute path as a file:// URI.</summary>
    internal static string ToUri(string path)
    {
        var normalized = path.Replace('\\', '/');
        if (Path.IsPathRooted(path))
        {
            return new Uri(path).AbsoluteUri;
        }

        return string.Join('/', normalized.Split('/').Select(Uri.EscapeDataString));
    }
}
