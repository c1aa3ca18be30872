using System.Text.Json;
using TrainGuard.Findings;
using TrainGuard.Output;

namespace TrainGuard.Core.Tests;

public class ReportWriterTests
{
    private static Report SampleReport() => new()
    {
        Command = "scan",
        Items =
        [
            new AnalyzedItem
            {
                Path = "ckpt/rng_state.pth",
                Format = "torch-zip",
                Verdict = Verdict.Malicious,
                Members = ["archive/data.pkl"],
                Findings =
                [
                    new Finding
                    {
                        RuleId = "TG-PKL-001",
                        Severity = Severity.Critical,
                        Verdict = Verdict.Malicious,
                        Message = "os.system('echo pwned') would run via REDUCE at offset 0x1a",
                        Location = new Location("ckpt/rng_state.pth", "archive/data.pkl", 0x1a),
                        Global = "os.system",
                        Call = "os.system('echo pwned')",
                        Why = "runs a shell command",
                        Guidance = "do not load this file",
                        Evidence = new Dictionary<string, string> { ["opcode"] = "REDUCE" },
                    },
                ],
            },
            new AnalyzedItem { Path = "ckpt/model.safetensors", Format = "safetensors", Verdict = Verdict.Clean },
            new AnalyzedItem { Path = "README.txt", Format = "other", Verdict = Verdict.Skipped },
        ],
        Rules = [new RuleDescriptor("TG-PKL-001", "process-execution", Severity.Critical, "runs a shell command", "do not load this file")],
    };

    private static string Render(IReportWriter writer, Report report)
    {
        using var output = new StringWriter();
        writer.Write(report, output);
        return output.ToString();
    }

    [Fact]
    public void Json_report_carries_files_with_verdicts_and_finding_locations()
    {
        using var doc = JsonDocument.Parse(Render(new JsonReportWriter(), SampleReport()));
        var root = doc.RootElement;
        Assert.Equal("malicious", root.GetProperty("verdict").GetString());
        Assert.Equal(1, root.GetProperty("exit_code").GetInt32());
        Assert.Equal(1, root.GetProperty("summary").GetProperty("clean").GetInt32());
        var file = root.GetProperty("files")[0];
        Assert.Equal("ckpt/rng_state.pth", file.GetProperty("path").GetString());
        Assert.Equal("torch-zip", file.GetProperty("format").GetString());
        var finding = file.GetProperty("findings")[0];
        Assert.Equal("TG-PKL-001", finding.GetProperty("rule").GetString());
        Assert.Equal("critical", finding.GetProperty("severity").GetString());
        Assert.Equal("archive/data.pkl", finding.GetProperty("member").GetString());
        Assert.Equal(0x1a, finding.GetProperty("offset").GetInt64());
        Assert.Equal("os.system", finding.GetProperty("global").GetString());
        Assert.Equal("os.system('echo pwned')", finding.GetProperty("call").GetString());
        Assert.Equal("REDUCE", finding.GetProperty("evidence").GetProperty("opcode").GetString());
    }

    [Fact]
    public void Sarif_report_is_version_2_1_0_with_rules_results_and_member_properties()
    {
        using var doc = JsonDocument.Parse(Render(new SarifReportWriter(), SampleReport()));
        var root = doc.RootElement;
        Assert.Equal("2.1.0", root.GetProperty("version").GetString());
        var run = root.GetProperty("runs")[0];
        var rule = run.GetProperty("tool").GetProperty("driver").GetProperty("rules")[0];
        Assert.Equal("TG-PKL-001", rule.GetProperty("id").GetString());
        Assert.Equal("error", rule.GetProperty("defaultConfiguration").GetProperty("level").GetString());
        var result = run.GetProperty("results")[0];
        Assert.Equal("TG-PKL-001", result.GetProperty("ruleId").GetString());
        Assert.Equal(0, result.GetProperty("ruleIndex").GetInt32());
        Assert.Equal("ckpt/rng_state.pth", result.GetProperty("locations")[0].GetProperty("physicalLocation").GetProperty("artifactLocation").GetProperty("uri").GetString());
        Assert.Equal("archive/data.pkl", result.GetProperty("properties").GetProperty("member").GetString());
        Assert.Equal(26, result.GetProperty("properties").GetProperty("offset").GetInt64());
        Assert.Single(run.GetProperty("results").EnumerateArray());
    }

    [Fact]
    public void Text_report_says_where_what_why_and_what_to_do()
    {
        var text = Render(new TextReportWriter(), SampleReport());
        Assert.Contains("MALICIOUS  ckpt/rng_state.pth (torch-zip)", text, StringComparison.Ordinal);
        Assert.Contains("member archive/data.pkl at offset 0x1a", text, StringComparison.Ordinal);
        Assert.Contains("why:   runs a shell command", text, StringComparison.Ordinal);
        Assert.Contains("do:    do not load this file", text, StringComparison.Ordinal);
        Assert.Contains("3 items scanned: 1 malicious, 0 suspicious, 0 error, 1 clean, 1 skipped", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Text_report_escapes_control_characters_from_hostile_paths_and_messages()
    {
        var report = new Report
        {
            Command = "scan",
            Items = [new AnalyzedItem { Path = "evil\n\u001b[31mclean.pt", Format = "pickle", Verdict = Verdict.Error }],
        };
        var text = Render(new TextReportWriter(), report);
        Assert.DoesNotContain("\u001b", text, StringComparison.Ordinal);
        Assert.Contains("evil\\n\\x1b[31mclean.pt", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Quiet_text_report_omits_clean_and_skipped_items()
    {
        var text = Render(new TextReportWriter { ShowClean = false }, SampleReport());
        Assert.DoesNotContain("model.safetensors", text, StringComparison.Ordinal);
        Assert.Contains("rng_state.pth", text, StringComparison.Ordinal);
    }
}
