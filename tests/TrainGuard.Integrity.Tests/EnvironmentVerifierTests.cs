using TrainGuard.Findings;
using TrainGuard.Integrity.Environments;
using TrainGuard.Output;

namespace TrainGuard.Integrity.Tests;

public sealed class EnvironmentVerifierTests(VenvFixture venv) : IClassFixture<VenvFixture>
{
    private IEnumerable<Finding> Tampered(string ruleId) =>
        venv.TamperedReport.Items.SelectMany(i => i.Findings).Where(f => f.RuleId == ruleId);

    private AnalyzedItem TgDemo => venv.TamperedReport.Items.Single(i => i.Path == "tgdemo 0.1.0");

    [Fact]
    public void Untouched_venv_reports_nothing_above_low()
    {
        var loud = venv.CleanReport.Items.SelectMany(i => i.Findings).Where(f => f.Severity > Severity.Low).ToList();
        Assert.True(loud.Count == 0, string.Join("\n", loud.Select(f => $"{f.RuleId} {f.Severity} {f.Message}")));
        Assert.Equal(ExitCodes.Clean, venv.CleanReport.ExitCode);
        Assert.Contains(venv.CleanReport.Items, i => i.Path == "tgdemo 0.1.0" && i.Verdict == Verdict.Clean);
    }

    [Fact]
    public void Untouched_venv_reports_setuptools_distutils_precedence_pth_as_info_only()
    {
        var pth = venv.CleanReport.Items.SelectMany(i => i.Findings).Single(f => f.RuleId == "TG-ENV-009");
        Assert.Equal(Severity.Info, pth.Severity);
        Assert.EndsWith("distutils-precedence.pth", pth.Location.File, StringComparison.Ordinal);
    }

    [Fact]
    public void Edited_source_is_reported_as_changed_with_package_and_hashes()
    {
        var finding = Assert.Single(Tampered("TG-ENV-001"), f => f.Location.File.EndsWith("tgdemo/optim.py", StringComparison.Ordinal));
        Assert.Equal(Severity.High, finding.Severity);
        Assert.Contains("tgdemo 0.1.0", finding.Message, StringComparison.Ordinal);
        Assert.Contains("size", finding.Message, StringComparison.Ordinal);
        Assert.NotEqual(finding.Evidence!["expected"], finding.Evidence["actual"]);
        Assert.Contains(finding, TgDemo.Findings);
    }

    [Fact]
    public void Swapped_pyc_with_valid_header_is_reported_by_the_recompilation_check()
    {
        var finding = Assert.Single(Tampered("TG-ENV-007"), f => f.Severity > Severity.Info);
        Assert.Equal(Severity.Critical, finding.Severity);
        Assert.Contains("__pycache__/data.cpython-311.pyc", finding.Location.File, StringComparison.Ordinal);
        Assert.Contains("system", finding.Evidence!["difference"], StringComparison.Ordinal);
        Assert.Equal(Verdict.Malicious, TgDemo.Verdict);
    }

    [Fact]
    public void Added_module_is_reported_as_unlisted_in_the_package()
    {
        var finding = Assert.Single(Tampered("TG-ENV-003"), f => f.Location.File.EndsWith("tgdemo/backdoor.py", StringComparison.Ordinal));
        Assert.Equal(Severity.High, finding.Severity);
        Assert.Contains(finding, TgDemo.Findings);
    }

    [Fact]
    public void Sourceless_pyc_inside_the_package_is_reported()
    {
        var finding = Assert.Single(Tampered("TG-ENV-008"), f => f.Location.File.EndsWith("tgdemo/hidden.pyc", StringComparison.Ordinal));
        Assert.Equal(Severity.High, finding.Severity);
    }

    [Fact]
    public void Pth_hook_is_reported_critical_with_the_code_it_runs()
    {
        var finding = Assert.Single(Tampered("TG-ENV-009"), f => f.Location.File.EndsWith("zz_telemetry.pth", StringComparison.Ordinal));
        Assert.Equal(Severity.Critical, finding.Severity);
        Assert.Contains("os.system('echo pwned')", finding.Evidence!["code"], StringComparison.Ordinal);
    }

    [Fact]
    public void Sitecustomize_in_the_site_is_reported_critical_with_its_code()
    {
        var finding = Assert.Single(Tampered("TG-ENV-010"), f => f.Location.File == Path.Combine(venv.TamperedSite, "sitecustomize.py"));
        Assert.Equal(Severity.Critical, finding.Severity);
        Assert.Contains("echo pwned", finding.Evidence!["code"], StringComparison.Ordinal);
    }

    [Fact]
    public void Deleted_file_is_reported_missing()
    {
        var finding = Assert.Single(Tampered("TG-ENV-002"), f => f.Location.File.EndsWith("tgdemo/util.py", StringComparison.Ordinal));
        Assert.Equal(Severity.Medium, finding.Severity);
    }

    [Fact]
    public void Edited_record_line_is_reported_malformed_with_its_line_number()
    {
        var finding = Assert.Single(Tampered("TG-ENV-004"));
        Assert.EndsWith("RECORD", finding.Location.File, StringComparison.Ordinal);
        Assert.NotNull(finding.Location.Line);
        Assert.Contains("edited-by-hand", finding.Evidence!["line"], StringComparison.Ordinal);
    }

    [Fact]
    public void Tampered_report_exits_with_findings_and_lists_the_worst_package_first()
    {
        Assert.Equal(ExitCodes.Findings, venv.TamperedReport.ExitCode);
        Assert.Equal("packages", venv.TamperedReport.ItemsName);
        var first = venv.TamperedReport.Items[0];
        Assert.Equal(Severity.Critical, first.Findings.Max(f => f.Severity));
        Assert.All(venv.TamperedReport.Items.SelectMany(i => i.Findings), f => Assert.StartsWith("TG-ENV-", f.RuleId, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(OutputFormat.Text)]
    [InlineData(OutputFormat.Json)]
    [InlineData(OutputFormat.Sarif)]
    public void Tampered_report_renders_through_every_shared_writer(OutputFormat format)
    {
        using var writer = new StringWriter();
        ReportWriters.For(format).Write(venv.TamperedReport, writer);
        Assert.Contains("TG-ENV-007", writer.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Swapped_pyc_is_not_caught_without_an_interpreter_but_everything_else_is()
    {
        var report = await EnvironmentVerifier.VerifyAsync(new EnvVerifyOptions { Sites = [venv.TamperedSite] });
        var rules = report.Items.SelectMany(i => i.Findings).Select(f => f.RuleId).ToHashSet();
        Assert.DoesNotContain("TG-ENV-007", rules);
        Assert.Superset(new HashSet<string> { "TG-ENV-001", "TG-ENV-002", "TG-ENV-003", "TG-ENV-004", "TG-ENV-008", "TG-ENV-009", "TG-ENV-010" }, rules);
    }

    [Fact]
    public void Locator_reads_the_venv_layout_without_running_python()
    {
        var located = EnvironmentLocator.Locate(new EnvLocateOptions { PythonPath = venv.CleanPython });
        var site = Assert.Single(located.Sites);
        Assert.Equal(venv.CleanSite, site.Path);
        Assert.Equal(SiteKind.Venv, site.Kind);
    }

    [Fact]
    public void Locator_asks_the_interpreter_in_isolated_mode_when_told_to()
    {
        var located = EnvironmentLocator.Locate(new EnvLocateOptions { PythonPath = venv.CleanPython, UseInterpreter = true });
        Assert.Contains(located.Sites, s => s.Path == venv.CleanSite && s.Kind == SiteKind.Venv);
    }
}
