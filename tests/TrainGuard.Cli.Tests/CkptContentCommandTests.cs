using System.Text.Json;

namespace TrainGuard.Cli.Tests;

public sealed class CkptContentCommandTests
{
    private static string Fixture(params string[] parts) => CliRunner.Repo(["tests", "fixtures", "ckpt", .. parts]);

    private static string Clean => Fixture("checkpoint-6");

    private static string Variant(string name) => Fixture("tampered", name, "checkpoint-6");

    private static string Run => Fixture("run.yaml");

    [Fact]
    public async Task Inspect_shows_optimizer_scheduler_rng_and_trainer_state_of_the_clean_checkpoint()
    {
        var (code, stdout, _) = await CliRunner.RunAsync("ckpt", "inspect", Clean);
        Assert.Equal(0, code);
        Assert.Contains("optimizer in optimizer.pt: Adam or AdamW", stdout, StringComparison.Ordinal);
        Assert.Contains("encoder.weight  float32   [8, 4]", stdout, StringComparison.Ordinal);
        Assert.Contains("cpu     seed 42, 162 32-bit draws since seeding (seed field 42, next 162)", stdout, StringComparison.Ordinal);
        Assert.Contains("trainer_state.json: global_step 6", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("uphill", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Inspect_json_follows_the_documented_schema()
    {
        var (code, stdout, _) = await CliRunner.RunAsync("ckpt", "inspect", Variant("maximize"), "--format", "json");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        Assert.Equal("1", root.GetProperty("schema_version").GetString());
        Assert.Equal(6, root.GetProperty("folder_step").GetInt64());
        var group = root.GetProperty("optimizers")[0].GetProperty("param_groups")[0];
        Assert.True(group.GetProperty("maximize").GetBoolean());
        Assert.Equal(0.001, group.GetProperty("initial_lr").GetDouble());
        Assert.All(root.GetProperty("rng")[0].GetProperty("generators").EnumerateArray(), g => Assert.Equal(42, g.GetProperty("seed").GetInt64()));
        Assert.Equal(6, root.GetProperty("trainer_state").GetProperty("global_step").GetInt64());
        Assert.Contains(root.GetProperty("tensors").EnumerateArray(), t => t.GetProperty("name").GetString() == "state.0.exp_avg");
    }

    [Fact]
    public async Task Inspect_refuses_a_malicious_optimizer_and_points_to_scan()
    {
        var folder = CopyClean();
        try
        {
            await File.WriteAllBytesAsync(Path.Combine(folder, "optimizer.pt"), "cos\nsystem\n(S'echo pwned'\ntR."u8.ToArray());
            var (code, stdout, _) = await CliRunner.RunAsync("ckpt", "inspect", folder);
            Assert.Equal(1, code);
            Assert.Contains("TG-CKP-033", stdout, StringComparison.Ordinal);
            Assert.Contains("run 'trainguard scan optimizer.pt'", stdout, StringComparison.Ordinal);
            Assert.DoesNotContain("optimizer in optimizer.pt", stdout, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(folder)!, recursive: true);
        }
    }

    [Fact]
    public async Task Check_of_the_clean_checkpoint_exits_zero()
    {
        var (code, stdout, _) = await CliRunner.RunAsync("ckpt", "check", Clean, "--run", Run);
        Assert.Equal(0, code);
        Assert.Contains("clean", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_reports_maximize_in_json_and_sarif()
    {
        var (code, json, _) = await CliRunner.RunAsync("ckpt", "check", Variant("maximize-bytepatch"), "--run", Run, "--format", "json");
        Assert.Equal(1, code);
        Assert.Contains("\"TG-CKP-020\"", json, StringComparison.Ordinal);
        var (sarifCode, sarif, _) = await CliRunner.RunAsync("ckpt", "check", Variant("maximize"), "--run", Run, "--format", "sarif");
        Assert.Equal(1, sarifCode);
        using var doc = JsonDocument.Parse(sarif);
        var result = doc.RootElement.GetProperty("runs")[0].GetProperty("results")[0];
        Assert.Equal("TG-CKP-020", result.GetProperty("ruleId").GetString());
    }

    [Fact]
    public async Task Check_with_a_bad_manifest_is_a_usage_error_naming_the_line()
    {
        var manifest = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(manifest, "version: 1\noptimizer:\n  maximise: false\n");
            var (code, _, stderr) = await CliRunner.RunAsync("ckpt", "check", Clean, "--run", manifest);
            Assert.Equal(2, code);
            Assert.Contains(":3: optimizer.maximise: unknown key", stderr, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(manifest);
        }
    }

    [Fact]
    public async Task Check_appends_a_checkpoint_inspected_event()
    {
        var events = Path.GetTempFileName();
        try
        {
            var (code, _, _) = await CliRunner.RunAsync("ckpt", "check", Variant("rng-seed7"), "--run", Run, "--events", events);
            Assert.Equal(1, code);
            var line = Assert.Single(await File.ReadAllLinesAsync(events));
            using var doc = JsonDocument.Parse(line);
            Assert.Equal("checkpoint-inspected", doc.RootElement.GetProperty("event").GetProperty("action").GetString());
            Assert.Equal("ckpt", doc.RootElement.GetProperty("event").GetProperty("module").GetString());
            Assert.Equal(7, doc.RootElement.GetProperty("trainguard").GetProperty("ckpt").GetProperty("rng_seeds").GetProperty("rng_state.pth:numpy").GetInt64());
            Assert.Equal("TG-CKP-024", doc.RootElement.GetProperty("trainguard").GetProperty("finding").GetProperty("rule").GetString());
        }
        finally
        {
            File.Delete(events);
        }
    }

    [Fact]
    public async Task Diff_of_identical_checkpoints_exits_zero()
    {
        var (code, stdout, _) = await CliRunner.RunAsync("ckpt", "diff", Clean, Clean);
        Assert.Equal(0, code);
        Assert.Contains("identical (22 tensors compared by SHA-256)", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Diff_names_the_edited_weight_and_exits_one()
    {
        var (code, stdout, _) = await CliRunner.RunAsync("ckpt", "diff", Clean, Variant("weight"), "--format", "json");
        Assert.Equal(1, code);
        using var doc = JsonDocument.Parse(stdout);
        var d = Assert.Single(doc.RootElement.GetProperty("differences").EnumerateArray());
        Assert.Equal("pytorch_model.bin:encoder.weight", d.GetProperty("subject").GetString());
    }

    [Fact]
    public async Task Missing_path_is_a_usage_error()
    {
        var (code, _, stderr) = await CliRunner.RunAsync("ckpt", "inspect", "/no/such/checkpoint-1");
        Assert.Equal(2, code);
        Assert.Contains("no such file or folder", stderr, StringComparison.Ordinal);
    }

    private static string CopyClean()
    {
        var folder = Path.Combine(Path.GetTempPath(), "tg-cli-ckpt-" + Guid.NewGuid().ToString("N"), "checkpoint-6");
        Directory.CreateDirectory(folder);
        foreach (var file in Directory.GetFiles(Clean))
        {
            File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
        }

        return folder;
    }
}
