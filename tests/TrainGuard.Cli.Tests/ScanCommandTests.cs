using System.Text.Json;

namespace TrainGuard.Cli.Tests;

public class ScanCommandTests
{
    [Fact]
    public async Task Demo_scan_reports_the_poisoned_checkpoint_malicious_and_the_clean_one_clean()
    {
        var (code, stdout, _) = await CliRunner.RunAsync("scan", CliRunner.Repo("samples", "demo", "runs"), "--format", "json");
        Assert.Equal(1, code);
        using var doc = JsonDocument.Parse(stdout);
        var files = doc.RootElement.GetProperty("files").EnumerateArray().ToList();
        var poisoned = files.Where(f => f.GetProperty("path").GetString()!.Contains("poisoned", StringComparison.Ordinal)).ToList();
        var clean = files.Where(f => f.GetProperty("path").GetString()!.Contains("/clean/", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(clean);
        Assert.All(clean, f => Assert.Contains(f.GetProperty("verdict").GetString(), new[] { "clean", "skipped" }));
        var rng = Assert.Single(poisoned, f => f.GetProperty("path").GetString()!.EndsWith("rng_state.pth", StringComparison.Ordinal));
        Assert.Equal("malicious", rng.GetProperty("verdict").GetString());
        Assert.Contains(rng.GetProperty("findings").EnumerateArray(), f => f.GetProperty("global").GetString() == "os.system");
        var optimizer = Assert.Single(poisoned, f => f.GetProperty("path").GetString()!.EndsWith("optimizer.pt", StringComparison.Ordinal));
        Assert.Contains(optimizer.GetProperty("findings").EnumerateArray(), f => f.GetProperty("global").GetString() == "time.sleep");
    }

    [Fact]
    public async Task Text_output_names_the_call_the_member_and_the_offset()
    {
        var (code, stdout, _) = await CliRunner.RunAsync("scan", CliRunner.Repo("samples", "demo", "runs", "poisoned"));
        Assert.Equal(1, code);
        Assert.Contains("MALICIOUS", stdout, StringComparison.Ordinal);
        Assert.Contains("os.system(", stdout, StringComparison.Ordinal);
        Assert.Contains("at offset 0x", stdout, StringComparison.Ordinal);
        Assert.Contains("data.pkl", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Clean_checkpoint_exits_0()
    {
        var (code, stdout, stderr) = await CliRunner.RunAsync("scan", CliRunner.Repo("samples", "demo", "runs", "clean"));
        Assert.True(code == 0, stdout + stderr);
    }

    [Fact]
    public async Task Missing_path_is_an_error_with_exit_code_2()
    {
        var (code, _, stderr) = await CliRunner.RunAsync("scan", "/nonexistent/trainguard/model.pt");
        Assert.Equal(2, code);
        Assert.Contains("no such file or folder: /nonexistent/trainguard/model.pt", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sarif_output_is_sarif_2_1_0()
    {
        var (_, stdout, _) = await CliRunner.RunAsync("scan", CliRunner.Repo("samples", "demo", "runs", "poisoned"), "--format", "sarif");
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal("2.1.0", doc.RootElement.GetProperty("version").GetString());
        Assert.NotEmpty(doc.RootElement.GetProperty("runs")[0].GetProperty("results").EnumerateArray());
    }

    [Fact]
    public async Task Output_file_receives_the_report_and_stderr_the_summary()
    {
        var file = Path.Combine(Path.GetTempPath(), $"tg-{Guid.NewGuid():N}.json");
        try
        {
            var (code, stdout, stderr) = await CliRunner.RunAsync("scan", CliRunner.Repo("samples", "demo", "runs", "poisoned"), "--format", "json", "--output", file);
            Assert.Equal(1, code);
            Assert.Equal(string.Empty, stdout);
            Assert.Contains("report written to", stderr, StringComparison.Ordinal);
            using var doc = JsonDocument.Parse(File.ReadAllText(file));
            Assert.Equal("malicious", doc.RootElement.GetProperty("verdict").GetString());
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData("scan")]
    [InlineData("scan", "x", "--format", "xml")]
    [InlineData("scan", "x", "--jobs", "0")]
    [InlineData("nosuchverb")]
    public async Task Bad_usage_exits_2_with_a_message_and_no_stack_trace(params string[] args)
    {
        var (code, _, stderr) = await CliRunner.RunAsync(args);
        Assert.Equal(2, code);
        Assert.Contains("trainguard:", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_documents_exit_codes()
    {
        var (code, stdout, _) = await CliRunner.RunAsync("scan", "--help");
        Assert.Equal(0, code);
        Assert.Contains("Exit codes: 0 clean, 1 findings", stdout, StringComparison.Ordinal);
        Assert.Contains("--allow", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Allow_flag_turns_an_unknown_global_clean()
    {
        var suspicious = Directory.EnumerateFiles(CliRunner.Repo("tests", "fixtures", "suspicious")).First(f => f.EndsWith(".pkl", StringComparison.Ordinal));
        var (before, json, _) = await CliRunner.RunAsync("scan", suspicious, "--format", "json");
        Assert.Equal(1, before);
        using var doc = JsonDocument.Parse(json);
        var globals = doc.RootElement.GetProperty("files")[0].GetProperty("findings").EnumerateArray()
            .Select(f => f.GetProperty("global").GetString()).OfType<string>().Distinct().ToList();
        Assert.NotEmpty(globals);
        var args = new List<string> { "scan", suspicious };
        foreach (var global in globals)
        {
            args.AddRange(["--allow", global]);
        }

        var (after, stdout, _) = await CliRunner.RunAsync([.. args]);
        Assert.True(after == 0, stdout);
    }
}
