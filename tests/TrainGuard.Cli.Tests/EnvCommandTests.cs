using System.Text.Json;

namespace TrainGuard.Cli.Tests;

public sealed class EnvCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tg-env-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Keys_new_creates_a_pair_and_refuses_to_overwrite_it()
    {
        var (code, stdout, _) = await CliRunner.RunAsync("keys", "new", "--dir", _dir);
        Assert.Equal(0, code);
        Assert.Contains("trainguard.key", stdout, StringComparison.Ordinal);
        Assert.Contains("BEGIN PRIVATE KEY", await File.ReadAllTextAsync(Path.Combine(_dir, "trainguard.key")), StringComparison.Ordinal);
        var (again, _, stderr) = await CliRunner.RunAsync("keys", "new", "--dir", _dir);
        Assert.Equal(2, again);
        Assert.Contains("never overwritten", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Baseline_then_diff_reports_a_changed_module_and_an_added_pth_hook()
    {
        var site = Path.Combine(_dir, "site");
        Directory.CreateDirectory(Path.Combine(site, "pkg"));
        await File.WriteAllTextAsync(Path.Combine(site, "pkg", "optim.py"), "maximize = False\n");
        Assert.Equal(0, (await CliRunner.RunAsync("keys", "new", "--dir", _dir)).Code);
        var sig = Path.Combine(_dir, "env.sig");
        var (baseline, _, stderr) = await CliRunner.RunAsync("env", "baseline", "--key", Path.Combine(_dir, "trainguard.key"), "--site", site, "--baseline", sig);
        Assert.True(baseline == 0, stderr);

        Assert.Equal(0, (await CliRunner.RunAsync("env", "diff", "--baseline", sig, "--key", Path.Combine(_dir, "trainguard.pub"))).Code);

        await File.WriteAllTextAsync(Path.Combine(site, "pkg", "optim.py"), "maximize = True\n");
        await File.WriteAllTextAsync(Path.Combine(site, "evil.pth"), "import os; os.system('id')\n");
        var (code, json, _) = await CliRunner.RunAsync("env", "diff", "--baseline", sig, "--key", Path.Combine(_dir, "trainguard.pub"), "--format", "json");
        Assert.Equal(1, code);
        using var doc = JsonDocument.Parse(json);
        var messages = doc.RootElement.GetProperty("packages").EnumerateArray()
            .SelectMany(p => p.GetProperty("findings").EnumerateArray()).Select(f => f.GetProperty("message").GetString()).ToList();
        Assert.Contains(messages, m => m!.Contains("optim.py", StringComparison.Ordinal));
        Assert.Contains(messages, m => m!.Contains("evil.pth", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Verify_with_events_appends_one_env_finding_event_per_finding_as_the_agent_writes_them()
    {
        var events = Path.Combine(_dir, "env.jsonl");
        await File.WriteAllTextAsync(events, "{\"kept\": true}\n");

        var (code, _, stderr) = await CliRunner.RunAsync("env", "verify", "--site", CliRunner.Repo("samples", "env", "edited-site-packages"), "--events", events);
        var (clean, _, _) = await CliRunner.RunAsync("env", "verify", "--site", CliRunner.Repo("samples", "env", "site-packages"), "--events", events);

        Assert.True(code == 1, stderr);
        Assert.Equal(0, clean);
        var lines = await File.ReadAllLinesAsync(events);
        Assert.Equal("{\"kept\": true}", lines[0]);
        var written = lines.Skip(1).Select(l => JsonDocument.Parse(l)).ToList();
        var finding = Assert.Single(written).RootElement;
        Assert.Equal("env-finding", finding.GetProperty("event").GetProperty("action").GetString());
        Assert.Equal("env", finding.GetProperty("event").GetProperty("module").GetString());
        Assert.Equal("TG-ENV-001", finding.GetProperty("trainguard").GetProperty("finding").GetProperty("rule").GetString());
        Assert.EndsWith("torch/optim/adamw.py", finding.GetProperty("file").GetProperty("path").GetString(), StringComparison.Ordinal);
        Assert.Equal("torch", finding.GetProperty("package").GetProperty("name").GetString());
        Assert.False(string.IsNullOrEmpty(finding.GetProperty("id").GetString()));
    }

    [Fact]
    public async Task Verify_with_events_in_a_missing_folder_is_an_error_before_anything_runs()
    {
        var (code, _, stderr) = await CliRunner.RunAsync("env", "verify", "--site", CliRunner.Repo("samples", "env", "site-packages"), "--events", Path.Combine(_dir, "no", "env.jsonl"));

        Assert.Equal(2, code);
        Assert.Contains("--events", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Diff_with_the_wrong_key_is_an_error()
    {
        var site = Path.Combine(_dir, "site2");
        Directory.CreateDirectory(site);
        await File.WriteAllTextAsync(Path.Combine(site, "a.py"), "x = 1\n");
        var other = Directory.CreateDirectory(Path.Combine(_dir, "other")).FullName;
        Assert.Equal(0, (await CliRunner.RunAsync("keys", "new", "--dir", _dir)).Code);
        Assert.Equal(0, (await CliRunner.RunAsync("keys", "new", "--dir", other)).Code);
        var sig = Path.Combine(_dir, "env2.sig");
        Assert.Equal(0, (await CliRunner.RunAsync("env", "baseline", "--key", Path.Combine(_dir, "trainguard.key"), "--site", site, "--baseline", sig)).Code);
        var (code, _, _) = await CliRunner.RunAsync("env", "diff", "--baseline", sig, "--key", Path.Combine(other, "trainguard.pub"));
        Assert.Equal(2, code);
    }

    [Fact]
    public async Task Verify_of_a_missing_site_folder_is_a_usage_error()
    {
        var (code, _, stderr) = await CliRunner.RunAsync("env", "verify", "--site", Path.Combine(_dir, "nope"));
        Assert.Equal(2, code);
        Assert.Contains("does not exist", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_reports_an_injected_module_in_a_site_folder()
    {
        var site = Path.Combine(_dir, "site3");
        var dist = Path.Combine(site, "tinypkg-1.0.dist-info");
        Directory.CreateDirectory(dist);
        Directory.CreateDirectory(Path.Combine(site, "tinypkg"));
        await File.WriteAllTextAsync(Path.Combine(site, "tinypkg", "__init__.py"), "");
        await File.WriteAllTextAsync(Path.Combine(dist, "METADATA"), "Metadata-Version: 2.1\nName: tinypkg\nVersion: 1.0\n");
        await File.WriteAllTextAsync(Path.Combine(dist, "RECORD"), "tinypkg/__init__.py,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\ntinypkg-1.0.dist-info/METADATA,,\ntinypkg-1.0.dist-info/RECORD,,\n");
        var (clean, cleanOut, _) = await CliRunner.RunAsync("env", "verify", "--site", site, "--no-progress");
        Assert.True(clean == 0, cleanOut);
        await File.WriteAllTextAsync(Path.Combine(site, "tinypkg", "backdoor.py"), "import os\n");
        var (code, stdout, _) = await CliRunner.RunAsync("env", "verify", "--site", site, "--no-progress");
        Assert.Equal(1, code);
        Assert.Contains("backdoor.py", stdout, StringComparison.Ordinal);
    }
}
