using TrainGuard.Findings;
using TrainGuard.Integrity.Environments;
using TrainGuard.Integrity.Keys;

namespace TrainGuard.Integrity.Tests;

public sealed class BaselineTests : IDisposable
{
    private readonly string _dir = TestSupport.NewTempDirectory("baseline");

    public void Dispose() => TestSupport.DeleteQuietly(_dir);

    private async Task<(string Site, string Sig, string Pub)> CreateAsync()
    {
        var site = Path.Combine(_dir, "lib", "python3.11", "site-packages");
        Directory.CreateDirectory(Path.Combine(site, "torch", "optim", "__pycache__"));
        await File.WriteAllTextAsync(Path.Combine(site, "torch", "optim", "adamw.py"), "def step(): pass\n");
        await File.WriteAllBytesAsync(Path.Combine(site, "torch", "optim", "__pycache__", "adamw.cpython-311.pyc"), [1, 2, 3]);
        await File.WriteAllTextAsync(Path.Combine(site, "torch", "README.md"), "docs\n");
        KeyPairGenerator.Create(Path.Combine(_dir, "k.pem"), Path.Combine(_dir, "k.pub"));
        var sig = Path.Combine(_dir, "env.sig");
        var summary = await EnvironmentBaseline.CreateAsync([site], Path.Combine(_dir, "k.pem"), sig);
        Assert.Equal(3, summary.Files);
        return (site, sig, Path.Combine(_dir, "k.pub"));
    }

    [Fact]
    public async Task Diff_of_an_unchanged_environment_is_clean()
    {
        var (_, sig, pub) = await CreateAsync();
        var report = await EnvironmentBaseline.DiffAsync(sig, pub);
        Assert.Equal(ExitCodes.Clean, report.ExitCode);
        Assert.Empty(report.Items.SelectMany(i => i.Findings));
    }

    [Fact]
    public async Task Diff_reports_changed_added_and_removed_files_since_the_baseline()
    {
        var (site, sig, pub) = await CreateAsync();
        await File.AppendAllTextAsync(Path.Combine(site, "torch", "optim", "adamw.py"), "maximize = True\n");
        await File.WriteAllBytesAsync(Path.Combine(site, "torch", "optim", "__pycache__", "adamw.cpython-311.pyc"), [9, 9, 9]);
        await File.WriteAllTextAsync(Path.Combine(site, "evil.pth"), "import os\n");
        File.Delete(Path.Combine(site, "torch", "README.md"));

        var report = await EnvironmentBaseline.DiffAsync(sig, pub);
        var findings = report.Items.SelectMany(i => i.Findings).ToList();
        Assert.Equal(2, findings.Count(f => f.RuleId == "TG-ENV-020" && f.Severity == Severity.Critical));
        Assert.Contains(findings, f => f.RuleId == "TG-ENV-021" && f.Location.File.EndsWith("evil.pth", StringComparison.Ordinal) && f.Severity == Severity.Critical);
        Assert.Contains(findings, f => f.RuleId == "TG-ENV-022" && f.Location.File.EndsWith("torch/README.md", StringComparison.Ordinal));
        Assert.Equal(ExitCodes.Findings, report.ExitCode);
    }

    [Fact]
    public async Task Diff_with_a_forged_baseline_is_an_error_not_a_clean_result()
    {
        var (_, sig, _) = await CreateAsync();
        KeyPairGenerator.Create(Path.Combine(_dir, "other.pem"), Path.Combine(_dir, "other.pub"));
        var report = await EnvironmentBaseline.DiffAsync(sig, Path.Combine(_dir, "other.pub"));
        Assert.Equal(ExitCodes.Error, report.ExitCode);
        Assert.Equal("TG-ENV-023", Assert.Single(report.Items.SelectMany(i => i.Findings)).RuleId);
    }
}
