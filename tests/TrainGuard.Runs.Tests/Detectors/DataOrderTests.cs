using System.Globalization;
using System.Text.Json.Nodes;
using TrainGuard.Checkpoints.Rng;
using TrainGuard.Checkpoints.Runs;
using TrainGuard.Parsing;
using TrainGuard.Runs.Detectors;

namespace TrainGuard.Runs.Tests.Detectors;

/// <summary>The declared data order against what real torch 1.13 and 2.14 drew (tests/fixtures/runs/order, make_order_vectors.py).</summary>
public sealed class DataOrderTests
{
    public static TheoryData<string, string> Configurations()
    {
        var data = new TheoryData<string, string>();
        foreach (var file in VectorFiles)
        {
            foreach (var config in Vectors(file)["configs"]!.AsArray())
            {
                data.Add(file, (string)config!["name"]!);
            }
        }

        return data;
    }

    private static readonly string[] VectorFiles = ["torch-1.13.json", "torch-2.14.json"];

    [Fact]
    public void Both_torch_versions_are_in_the_vectors()
    {
        Assert.StartsWith("1.13", (string)Vectors(VectorFiles[0])["torch"]!, StringComparison.Ordinal);
        Assert.StartsWith("2.14", (string)Vectors(VectorFiles[1])["torch"]!, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Configurations))]
    public void Every_steps_batch_hash_is_the_one_torch_gave(string file, string name)
    {
        var config = Config(file, name);
        var worldSize = (int)config["world_size"]!;
        var ranks = config["ranks"]!.AsArray();
        if (ranks[0]!["error"] is { } error)
        {
            // torch refused the configuration; so does the manifest.
            Assert.StartsWith("ValueError: num_samples should be a positive integer", (string)error!, StringComparison.Ordinal);
            Assert.Throws<MalformedInputException>(() => Manifest(config));
            return;
        }

        var order = new DataOrder(Manifest(config).Data!, worldSize);
        foreach (var rank in ranks)
        {
            var steps = rank!["steps"]!.AsObject();
            foreach (var (step, hash) in steps)
            {
                Assert.Equal((string)hash!, order.Expected((int)rank["rank"]!, long.Parse(step, CultureInfo.InvariantCulture)).Hash);
            }

            if (steps.Count == 0)
            {
                Assert.NotNull(order.Expected((int)rank["rank"]!, 1).Missing);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Configurations))]
    public void Every_permutation_is_the_one_torch_drew(string file, string name)
    {
        var config = Config(file, name);
        var drawn = config["ranks"]![0]!["permutations"]?.AsArray() ?? [];
        var data = config["ranks"]![0]!["error"] is null ? Manifest(config).Data! : null;
        var stream = data is null ? null : new TorchCpuGenerator(data.Seed);
        for (var k = 0; k < drawn.Count; k++)
        {
            var permutation = new int[data!.DatasetSize];
            var generator = data.Sampler == DataSampler.Random ? stream! : new TorchCpuGenerator(unchecked(data.Seed + (data.SetEpoch ? (ulong)k : 0)));
            generator.Randperm(permutation);
            Assert.Equal(drawn[k]!.AsArray().Select(v => (int)v!), permutation.Take(16));
        }
    }

    [Fact]
    public void A_random_sampler_recomputes_an_epoch_it_no_longer_holds_from_the_seed()
    {
        var config = Config(VectorFiles[0], "random");
        var order = new DataOrder(Manifest(config).Data!, 1);
        var steps = config["ranks"]![0]!["steps"]!.AsObject();

        // 13 steps per epoch: epochs 3, 2 and 1 are in the cache's way of epoch 0.
        foreach (var step in new[] { 40, 27, 14, 1, 40, 2 })
        {
            Assert.Equal((string)steps[step.ToString(CultureInfo.InvariantCulture)]!, order.Expected(0, step).Hash);
        }
    }

    [Fact]
    public void A_random_sampler_does_not_replay_its_stream_past_the_limit()
    {
        var data = new DataSpec { Sampler = DataSampler.Random, Seed = 1, DatasetSize = 1 << 20, BatchSize = 1 << 20 };
        var order = new DataOrder(data, 1);

        Assert.Equal(default, order.Expected(0, 2_000));
        Assert.NotNull(order.Expected(0, 3).Hash);
    }

    [Fact]
    public void A_step_before_1_is_not_checked_and_a_rank_outside_the_world_has_no_batch()
    {
        var order = new DataOrder(new DataSpec { Sampler = DataSampler.Distributed, DatasetSize = 10, BatchSize = 2 }, 2);

        Assert.Equal(default, order.Expected(0, 0));
        Assert.Equal("has no rank 2 (world size 2)", order.Expected(2, 1).Missing);
        Assert.Equal("has no rank -1 (world size 2)", order.Expected(-1, 1).Missing);
    }

    [Fact]
    public void Torchs_randperm_refuses_sizes_where_torch_versions_disagree()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new TorchCpuGenerator(0).Randperm(new int[TorchCpuGenerator.MaxRandpermSize + 1]));
    }

    private static JsonNode Vectors(string file) => JsonNode.Parse(File.ReadAllText(Fixtures.Path_(Path.Combine("order", file))))!;

    private static JsonNode Config(string file, string name) => Vectors(file)["configs"]!.AsArray().Single(c => (string)c!["name"]! == name)!;

    /// <summary>The configuration as a run manifest's data section, through the parser.</summary>
    private static RunManifest Manifest(JsonNode config)
    {
        var yaml = "version: 1\ndata:\n" + string.Concat(config["data"]!.AsObject().Select(p => $"  {p.Key}: {Yaml(p.Value!)}\n"));
        return RunManifestParser.Parse(yaml, (string)config["name"]! + ".yaml");
    }

    private static string Yaml(JsonNode value) => value.GetValueKind() switch
    {
        System.Text.Json.JsonValueKind.True => "true",
        System.Text.Json.JsonValueKind.False => "false",
        _ => value.ToJsonString(),
    };
}
