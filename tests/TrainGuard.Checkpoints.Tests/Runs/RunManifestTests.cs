using TrainGuard.Checkpoints.Runs;
using TrainGuard.Checkpoints.Tests.Rng;
using TrainGuard.Parsing;

namespace TrainGuard.Checkpoints.Tests.Runs;

public sealed class RunManifestTests
{
    private static readonly string FixtureManifest = Path.Combine(RngVectors.FindRepoRoot(), "tests", "fixtures", "ckpt", "run.yaml");

    [Fact]
    public void Fixture_manifest_reads_every_declared_field()
    {
        var manifest = RunManifestParser.Load(FixtureManifest);
        Assert.Equal("tiny-mlp-seed42", manifest.Name);
        Assert.Equal(42, (int)manifest.Seed!.Value);
        Assert.Equal(1, manifest.WorldSize);
        Assert.Equal(10, manifest.MaxSteps);
        Assert.Equal("AdamW", manifest.Optimizer!.Name);
        Assert.Equal(0.001, manifest.Optimizer.Lr);
        Assert.Equal([0.9, 0.999], manifest.Optimizer.Betas!);
        Assert.Equal(1e-8, manifest.Optimizer.Eps);
        Assert.Equal(0.01, manifest.Optimizer.WeightDecay);
        Assert.False(manifest.Optimizer.Amsgrad);
        Assert.False(manifest.Optimizer.Maximize);
        Assert.Equal("LambdaLR", manifest.Scheduler!.Name);
        Assert.Equal("linear", manifest.Scheduler.Schedule);
        Assert.Equal(2, manifest.Scheduler.WarmupSteps);
        Assert.NotNull(manifest.LineOf("optimizer.maximize"));
    }

    [Theory]
    [InlineData("version: 1\noptimizer:\n  lr: fast\n", "run.yaml:3: optimizer.lr: expected a number, got 'fast'")]
    [InlineData("version: 1\noptimizer:\n  lr: '0.001'\n", "run.yaml:3: optimizer.lr: expected a number, got the quoted text '0.001'")]
    [InlineData("version: 1\noptimizer:\n  maximise: false\n", "run.yaml:3: optimizer.maximise: unknown key")]
    [InlineData("version: 1\nseeed: 42\n", "run.yaml:2: seeed: unknown key; a run manifest has: version")]
    [InlineData("version: 1\nseed: 42\nseed: 43\n", "run.yaml:3: not valid YAML: Duplicate key")]
    [InlineData("version: 1\noptimizer:\n  maximize: yes\n", "run.yaml:3: optimizer.maximize: expected true or false, got 'yes'")]
    [InlineData("version: 1\noptimizer:\n  betas: [0.9]\n", "run.yaml:3: optimizer.betas: expected a list of 2 numbers, got a list of 1")]
    [InlineData("version: 1\nworld_size: 0\n", "run.yaml:2: world_size: must be between 1 and 1000000, got 0")]
    [InlineData("version: 2\n", "run.yaml:1: version: version 2 is not understood")]
    [InlineData("seed: 42\n", "run.yaml:1: version: required")]
    [InlineData("version: 1\nscheduler:\n  schedule: exponential\n", "run.yaml:3: scheduler.schedule: 'exponential' is not one of")]
    [InlineData("version: 1\nfiles: [../../etc/passwd]\n", "run.yaml:2: files: '../../etc/passwd' must be a plain file name")]
    [InlineData("version: 1\noptimizer: [1, 2]\n", "run.yaml:2: optimizer: expected a mapping")]
    [InlineData("version: 1\nseed: [unclosed\n", "run.yaml:3: not valid YAML")]
    [InlineData("- 1\n- 2\n", "run.yaml:1: expected a mapping")]
    public void Bad_manifest_names_the_file_line_and_field(string yaml, string expected)
    {
        var error = Assert.Throws<MalformedInputException>(() => RunManifestParser.Parse(yaml, "run.yaml"));
        Assert.StartsWith(expected, error.Message, StringComparison.Ordinal);
        Assert.Equal(InputErrorKind.Config, error.Kind);
        Assert.Equal("run.yaml", error.Origin);
        Assert.NotNull(error.Line);
    }

    [Fact]
    public void Optional_fields_left_out_stay_unset()
    {
        var manifest = RunManifestParser.Parse("version: 1\nseed: 12345678901234567890123\nfiles: [optimizer.pt, scaler.pt]\n", "run.yaml");
        Assert.Null(manifest.Optimizer);
        Assert.Null(manifest.WorldSize);
        Assert.Equal(System.Numerics.BigInteger.Parse("12345678901234567890123", System.Globalization.CultureInfo.InvariantCulture), manifest.Seed);
        Assert.Equal(["optimizer.pt", "scaler.pt"], manifest.Files);
    }

    [Fact]
    public void Control_characters_in_a_bad_value_are_escaped_in_the_message()
    {
        var error = Assert.Throws<MalformedInputException>(() => RunManifestParser.Parse("version: 1\nseed: \"4\\x1b[31m2\"\n", "run.yaml"));
        Assert.DoesNotContain('\x1b', error.Message);
        Assert.Contains("\\x1b", error.Message, StringComparison.Ordinal);
    }
}
