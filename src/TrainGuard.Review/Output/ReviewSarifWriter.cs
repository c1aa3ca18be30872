using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;
using TrainGuard.Findings;
using TrainGuard.Output;

namespace TrainGuard.Review.Output;

/// <summary>
/// SARIF 2.1.0 for a review, written with <see cref="Utf8JsonWriter"/>: one run with the reviewed revision as
/// <c>versionControlProvenance</c>, the rules that fired under <c>tool.driver.rules</c>, and one result per finding with a
/// <c>partialFingerprints</c> entry (<c>trainguardFingerprint/v1</c>: SHA-256 of the rule, the file and the code or message
/// without line numbers), so code-scanning dashboards track a finding across runs even when lines move.
/// </summary>
public sealed partial class ReviewSarifWriter : IReportWriter
{
    public const string SchemaUri = "https://json.schemastore.org/sarif-2.1.0.json";
    public const string FingerprintName = "trainguardFingerprint/v1";

    private static readonly JsonWriterOptions Options = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public void Write(Report report, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(output);
        var details = report.Details as ReviewDetails;
        var findings = report.Items.SelectMany(i => i.Findings).ToList();
        var known = report.Rules.GroupBy(r => r.Id, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        var ruleIds = findings.Select(f => f.RuleId).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, Options))
        {
            json.WriteStartObject();
            json.WriteString("$schema", SchemaUri);
            json.WriteString("version", "2.1.0");
            json.WriteStartArray("runs");
            json.WriteStartObject();
            json.WriteStartObject("tool");
            json.WriteStartObject("driver");
            json.WriteString("name", "TrainGuard review");
            json.WriteString("semanticVersion", ToolInfo.Version);
            json.WriteString("informationUri", SarifReportWriter.InformationUri);
            json.WriteStartArray("rules");
            foreach (var id in ruleIds)
            {
                var rule = known.GetValueOrDefault(id);
                var sample = findings.First(f => f.RuleId == id);
                json.WriteStartObject();
                json.WriteString("id", id);
                json.WriteString("name", rule?.Name ?? id);
                json.WriteStartObject("shortDescription");
                json.WriteString("text", rule?.Why ?? sample.Why ?? id);
                json.WriteEndObject();
                json.WriteStartObject("help");
                json.WriteString("text", rule?.Guidance ?? sample.Guidance ?? "See the rule's page.");
                json.WriteEndObject();
                json.WriteString("helpUri", $"{SarifReportWriter.InformationUri}/blob/main/docs/rules/{id}.md");
                json.WriteStartObject("defaultConfiguration");
                json.WriteString("level", (rule?.Severity ?? sample.Severity).ToSarifLevel());
                json.WriteEndObject();
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteEndObject();

            if (details is not null)
            {
                json.WriteStartArray("versionControlProvenance");
                json.WriteStartObject();
                json.WriteString("repositoryUri", new Uri(Path.GetFullPath(details.Repository)).AbsoluteUri);
                json.WriteString("revisionId", details.Head);
                json.WriteStartObject("properties");
                json.WriteString("base", details.Base);
                json.WriteEndObject();
                json.WriteEndObject();
                json.WriteEndArray();
            }

            json.WriteStartArray("results");
            foreach (var finding in findings)
            {
                WriteResult(json, finding, ruleIds.IndexOf(finding.RuleId));
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

        output.Write(Encoding.UTF8.GetString(buffer.ToArray()));
        output.WriteLine();
    }

    /// <summary>The fingerprint of a finding: stable while the rule, the file and the code stay the same, whatever the line.</summary>
    public static string Fingerprint(Finding finding)
    {
        ArgumentNullException.ThrowIfNull(finding);
        var what = finding.Evidence?.GetValueOrDefault("code") ?? Digits().Replace(finding.Message, "#");
        var change = finding.Evidence?.GetValueOrDefault("change") ?? string.Empty;
        var text = $"{finding.RuleId}\n{finding.Location.File}\n{change}\n{what}";
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..32];
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
        json.WriteString("uri", string.Join('/', finding.Location.File.Split('/').Select(Uri.EscapeDataString)));
        json.WriteEndObject();
        if (finding.Location.Line is { } line)
        {
            json.WriteStartObject("region");
            json.WriteNumber("startLine", Math.Max(1, line));
            json.WriteEndObject();
        }

        json.WriteEndObject();
        json.WriteEndObject();
        json.WriteEndArray();
        json.WriteStartObject("partialFingerprints");
        json.WriteString(FingerprintName, Fingerprint(finding));
        json.WriteEndObject();
        json.WriteStartObject("properties");
        json.WriteString("severity", finding.Severity.ToWireName());
        json.WriteString("verdict", finding.Verdict.ToWireName());
        foreach (var (key, value) in (finding.Evidence ?? new Dictionary<string, string>()).OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            json.WriteString(key, value);
        }

        json.WriteEndObject();
        json.WriteEndObject();
    }

    [GeneratedRegex("[0-9]+", RegexOptions.CultureInvariant)]
    private static partial Regex Digits();
}
