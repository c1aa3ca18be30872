using TrainGuard.Checkpoints.Contents;
using TrainGuard.Checkpoints.Runs;
using TrainGuard.Checkpoints.Tests.Contents;
using TrainGuard.Parsing;

namespace TrainGuard.Checkpoints.Tests.Runs;

/// <summary>The <c>data</c> section of a run manifest: the declared data order.</summary>
public sealed class RunManifestDataTests
{
    [Fact]
    public void A_data_section_reads_every_key()
    {
        var manifest = RunManifestParser.Parse(
            "version: 1\nseed: 42\ndata:\n  sampler: distributed\n  seed: 7\n  dataset_size: 1000\n  batch_size: 16\n  drop_last: true\n  shuffle: false\n  sampler_drop_last: true\n  batches_per_step: 4\n  set_epoch: false\n",
            "run.yaml");

        Assert.Equal(
            new DataSpec { Sampler = DataSampler.Distributed, Seed = 7, DatasetSize = 1000, BatchSize = 16, DropLast = true, Shuffle = false, SamplerDropLast = true, BatchesPerStep = 4, SetEpoch = false },
            manifest.Data);
        Assert.Equal(3, manifest.LineOf("data"));
        Assert.Equal(5, manifest.LineOf("data.seed"));
    }

    [Fact]
    public void Left_out_keys_take_torchs_defaults_and_the_seed_the_manifests()
    {
        var data = RunManifestParser.Parse("version: 1\nseed: 42\ndata:\n  sampler: distributed\n  dataset_size: 10\n  batch_size: 2\n", "run.yaml").Data!;

        Assert.Equal((42UL, false, true, false, 1, true), (data.Seed, data.DropLast, data.Shuffle, data.SamplerDropLast, data.BatchesPerStep, data.SetEpoch));
    }

    [Theory]
    [InlineData("seed: -1\n", "distributed", ulong.MaxValue)]
    [InlineData("seed: 18446744073709551615\n", "random", ulong.MaxValue)]
    [InlineData("seed: 36893488147419103237\n", "random", 5UL)] // the manifest's seed as torch.manual_seed keeps it: modulo 2^64
    [InlineData("", "distributed", 0UL)] // DistributedSampler's own default
    [InlineData("", "sequential", 0UL)]
    public void The_data_seed_is_taken_as_torch_takes_it(string topSeed, string sampler, ulong expected)
    {
        var data = RunManifestParser.Parse($"version: 1\n{topSeed}data:\n  sampler: {sampler}\n  dataset_size: 10\n  batch_size: 2\n", "run.yaml").Data!;

        Assert.Equal(expected, data.Seed);
    }

    [Theory]
    [InlineData("  sampler: random\n  seed: 1\n  batch_size: 8\n", "run.yaml:4: data.dataset_size: required (the number of samples, len(dataset))")]
    [InlineData("  sampler: random\n  seed: 1\n  dataset_size: 10\n", "run.yaml:4: data.batch_size: required")]
    [InlineData("  seed: 1\n  dataset_size: 10\n  batch_size: 8\n", "run.yaml:4: data.sampler: required; one of: distributed, random, sequential")]
    [InlineData("  sampler: random\n  seed: 1\n  dataset_size: 10\n  batch_size: -3\n", "run.yaml:7: data.batch_size: must be between 1 and 2147483647, got -3")]
    [InlineData("  sampler: weighted\n  dataset_size: 10\n  batch_size: 8\n", "run.yaml:4: data.sampler: 'weighted' is not one of: distributed, random, sequential")]
    [InlineData("  sampler: random\n  seed: 1\n  dataset_size: 10\n  batch_size: 8\n  shufle: true\n", "run.yaml:8: data.shufle: unknown key; 'data' has: sampler, seed")]
    [InlineData("  sampler: random\n  seed: 1\n  dataset_size: 10\n  batch_size: 8\n  shuffle: false\n", "run.yaml:8: data.shuffle: only for sampler distributed (DistributedSampler), not random")]
    [InlineData("  sampler: sequential\n  seed: 1\n  dataset_size: 10\n  batch_size: 8\n", "run.yaml:5: data.seed: a sequential sampler has no seed")]
    [InlineData("  sampler: random\n  seed: 1\n  dataset_size: 0\n  batch_size: 8\n", "run.yaml:6: data.dataset_size: must be at least 1 (RandomSampler refuses an empty dataset), got 0")]
    [InlineData("  sampler: distributed\n  dataset_size: 16777217\n  batch_size: 8\n", "run.yaml:5: data.dataset_size: 16777217 samples is more than the 16777216 (2^24) TrainGuard models")]
    [InlineData("  sampler: distributed\n  dataset_size: -1\n  batch_size: 8\n", "run.yaml:5: data.dataset_size: must be at least 0, got -1")]
    [InlineData("  sampler: distributed\n  seed: 18446744073709551616\n  dataset_size: 10\n  batch_size: 8\n", "run.yaml:5: data.seed: torch.Generator.manual_seed takes -2^63..2^64-1")]
    [InlineData("  sampler: distributed\n  dataset_size: 10\n  batch_size: 8\n  batches_per_step: 0\n", "run.yaml:7: data.batches_per_step: must be between 1 and 1000000, got 0")]
    [InlineData("  sampler: distributed\n  dataset_size: 10\n  batch_size: 8\n  set_epoch: sometimes\n", "run.yaml:7: data.set_epoch: expected true or false, got 'sometimes'")]
    [InlineData("  - distributed\n", "run.yaml:4: data: expected a mapping with keys sampler, seed")]
    public void A_bad_data_section_names_the_file_line_and_field(string section, string expected)
    {
        var error = Assert.Throws<MalformedInputException>(() => RunManifestParser.Parse("version: 1\nname: r\ndata:\n" + section, "run.yaml"));

        Assert.StartsWith(expected, error.Message, StringComparison.Ordinal);
        Assert.Equal(InputErrorKind.Config, error.Kind);
    }

    [Fact]
    public void A_random_sampler_needs_a_seed_from_the_data_section_or_the_manifest()
    {
        var error = Assert.Throws<MalformedInputException>(() => RunManifestParser.Parse("version: 1\ndata:\n  sampler: random\n  dataset_size: 10\n  batch_size: 2\n", "run.yaml"));

        Assert.StartsWith("run.yaml:3: data.seed: required for sampler random", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ckpt_check_ignores_the_data_section()
    {
        var text = File.ReadAllText(CkptFixtures.RunManifest) + "data:\n  sampler: distributed\n  dataset_size: 100\n  batch_size: 4\n";
        var manifest = RunManifestParser.Parse(text, "run.yaml");

        foreach (var folder in new[] { CkptFixtures.Clean, CkptFixtures.Variant("lr") })
        {
            var contents = CheckpointReader.Read(folder);
            var plain = RunChecker.Check(contents, RunManifestParser.Load(CkptFixtures.RunManifest)).Select(f => f.Message);
            Assert.Equal(plain, RunChecker.Check(contents, manifest).Select(f => f.Message));
        }
    }

    [Fact]
    public void Fuzzing_a_data_section_throws_only_malformed_input()
    {
        var seed = "version: 1\nseed: 42\ndata:\n  sampler: distributed\n  seed: -7\n  dataset_size: 100\n  batch_size: 4\n  drop_last: true\n  shuffle: false\n  batches_per_step: 2\n"u8.ToArray();
        FuzzHarness.Run(RunManifestParser.Fuzz, [seed], 600, 104, "{}[]:,-&*!|>'\"#\n 0123456789e.~"u8.ToArray(), 1024);
    }
}
