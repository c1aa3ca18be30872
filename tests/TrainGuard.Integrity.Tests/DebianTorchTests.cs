using TrainGuard.Findings;
using TrainGuard.Integrity.Environments;

namespace TrainGuard.Integrity.Tests;

public sealed class DebianTorchTests
{
    private const string Md5Sums = "/var/lib/dpkg/info/python3-torch.md5sums";

    [Fact]
    public async Task Debian_python3_torch_on_this_machine_reports_nothing_above_low()
    {
        if (!File.Exists(Md5Sums))
        {
            return; // not a Debian machine with python3-torch
        }

        var report = await EnvironmentVerifier.VerifyAsync(new EnvVerifyOptions { PythonPath = TestSupport.SystemPython, RecompileByteCode = false, Packages = ["python3-torch"] });
        var item = Assert.Single(report.Items);
        Assert.Equal("python3-torch (dpkg)", item.Path);
        Assert.Equal("dpkg", item.Format);
        var loud = item.Findings.Where(f => f.Severity > Severity.Low).ToList();
        Assert.True(loud.Count == 0, string.Join("\n", loud.Take(20).Select(f => $"{f.RuleId} {f.Severity} {f.Message}")));
    }

    [Fact]
    public async Task Debian_file_differing_from_md5sums_is_reported_critical_in_a_copied_dpkg_database()
    {
        if (!File.Exists(Md5Sums))
        {
            return;
        }

        // A fake dpkg database whose md5sums records a wrong MD5 for torch/optim/adamw.py: same code path as an edit.
        var info = TestSupport.NewTempDirectory("dpkg");
        try
        {
            var lines = File.ReadAllLines(Md5Sums).Select(l => l.EndsWith("dist-packages/torch/optim/adamw.py", StringComparison.Ordinal) ? new string('0', 32) + l[32..] : l);
            File.WriteAllLines(Path.Combine(info, "python3-torch.md5sums"), lines);
            File.Copy("/var/lib/dpkg/info/python3-torch.list", Path.Combine(info, "python3-torch.list"));
            var report = await EnvironmentVerifier.VerifyAsync(new EnvVerifyOptions { Sites = ["/usr/lib/python3/dist-packages"], DpkgInfoDirectory = info, Packages = ["python3-torch"] });
            var finding = Assert.Single(report.Items.SelectMany(i => i.Findings), f => f.RuleId == "TG-ENV-001");
            Assert.Equal(Severity.Critical, finding.Severity);
            Assert.Equal("/usr/lib/python3/dist-packages/torch/optim/adamw.py", finding.Location.File);
            Assert.Contains("python3-torch", finding.Message, StringComparison.Ordinal);
            Assert.Equal("md5", finding.Evidence!["algorithm"]);
        }
        finally
        {
            TestSupport.DeleteQuietly(info);
        }
    }
}
