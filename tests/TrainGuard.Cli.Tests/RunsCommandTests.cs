using System.Text.Json.Nodes;

namespace TrainGuard.Cli.Tests;

/// <summary><c>trainguard runs compare|inspect</c> on the bundled sample runs and the reader fixtures.</summary>
public sealed class RunsCommandTests
{
    private static string Sample(string name) => CliRunner.Repo("samples", "runs", name);

    private static string Fixture(string path) => CliRunner.Repo("tests", "fixtures", "runs", path);

    [Fact]
    public async Task Compare_names_the_first_divergent_step_and_exits_1()
    {
        var (code, stdout, stderr) = await CliRunner.RunAsync("runs", "compare", Sample("clean.jsonl"), Sample("rerun.jsonl"), "-f", "json");

        Assert.True(code == 1, stderr);
        var report = JsonNode.Parse(stdout)!;
        Assert.True((bool)report["diverged"]!);
        Assert.Equal("loss", (string?)report["first"]!["criterion"]);
        Assert.Equal(126, (long?)report["first"]!["step"]);
    }

    [Fact]
    public async Task Compare_of_a_run_with_itself_agrees_and_exits_0()
    {
        var (code, stdout, _) = await CliRunner.RunAsync("runs", "compare", Sample("clean.jsonl"), Sample("clean.jsonl"));

        Assert.Equal(0, code);
        Assert.Contains("the runs agree on every step both have", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Compare_reads_tensorboard_against_mlflow()
    {
        var (code, stdout, _) = await CliRunner.RunAsync("runs", "compare", Fixture("tensorboard"), Fixture("mlruns/0/4f1c2ab9"), "-f", "json");

        Assert.Equal(0, code);
        var report = JsonNode.Parse(stdout)!;
        Assert.Equal(30, (long?)report["common_steps"]);
        Assert.Equal("tensorboard", (string?)report["a"]!["format"]);
        Assert.Equal("mlflow", (string?)report["b"]!["format"]);
    }

    [Fact]
    public async Task Inspect_reports_flipped_updates_with_exit_1_and_a_clean_run_with_exit_0()
    {
        var (bad, stdout, _) = await CliRunner.RunAsync("runs", "inspect", Sample("rerun.jsonl"), "--run", Sample("run.yaml"), "-f", "json");
        var (clean, cleanOut, _) = await CliRunner.RunAsync("runs", "inspect", Sample("clean.jsonl"), "--run", Sample("run.yaml"), "-f", "json");

        Assert.Equal(1, bad);
        var anomalies = JsonNode.Parse(stdout)!["anomalies"]!.AsArray();
        var direction = anomalies.First(a => (string?)a!["kind"] == "direction")!;
        Assert.Equal(("critical", "TG-RUN-101", 125L), ((string?)direction["severity"], (string?)direction["rule"], (long?)direction["first_step"]));
        Assert.Equal(("lena", "gpu-node-2"), ((string?)direction["user"], (string?)direction["host"]));
        Assert.Equal(0, clean);
        Assert.Empty(JsonNode.Parse(cleanOut)!["anomalies"]!.AsArray());
    }

    [Theory]
    [InlineData("bad/events.jsonl", "events.jsonl:2: trainguard.step.step: expected an integer")]
    [InlineData("bad/data-crc.tfevents", "record at offset 0: the data's CRC")]
    [InlineData("bad/mlruns/0/run", "metrics/loss:2: value 'two' is not a number")]
    public async Task Malformed_input_is_exit_2_with_file_and_place_and_no_stack_trace(string fixture, string message)
    {
        var (code, stdout, stderr) = await CliRunner.RunAsync("runs", "inspect", Fixture(fixture));

        Assert.Equal(2, code);
        Assert.Empty(stdout);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_run_is_exit_2()
    {
        var (code, _, stderr) = await CliRunner.RunAsync("runs", "compare", Sample("clean.jsonl"), Sample("no-such.jsonl"));

        Assert.Equal(2, code);
        Assert.Contains("no-such.jsonl: no such file or folder", stderr, StringComparison.Ordinal);
    }
}
