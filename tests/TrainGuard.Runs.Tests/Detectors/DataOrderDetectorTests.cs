using System.Globalization;
using System.Text.Json.Nodes;
using TrainGuard.Checkpoints.Runs;
using TrainGuard.Findings;
using TrainGuard.Runs.Detectors;
using TrainGuard.Runs.Model;
using TrainGuard.Runs.Readers;

namespace TrainGuard.Runs.Tests.Detectors;

/// <summary>
/// The data order checked live against the run manifest's <c>data</c> section, with the batch hashes real torch gave
/// (tests/fixtures/runs/order) and the recorded runs of tests/fixtures/runs.
/// </summary>
public sealed class DataOrderDetectorTests
{
    /// <summary>DistributedSampler(seed=21) over 30 samples on 3 ranks, batches of 2, two batches a step: 8 steps per rank.</summary>
    private const string Declared = """
        version: 1
        name: accumulation
        world_size: 3
        data:
          sampler: distributed
          seed: 21
          dataset_size: 30
          batch_size: 2
          batches_per_step: 2
        """;

    [Fact]
    public void A_run_in_the_declared_order_raises_nothing()
    {
        Assert.Empty(Inspect(Declared, TorchRun()));
    }

    [Fact]
    public void The_world_size_comes_from_the_events_when_the_manifest_has_none()
    {
        Assert.Empty(Inspect(Declared.Replace("world_size: 3\n", string.Empty, StringComparison.Ordinal), TorchRun()));
    }

    [Fact]
    public void Two_batches_swapped_are_caught_at_the_first_on_its_rank()
    {
        var run = TorchRun();
        (run[(1, 5)], run[(1, 6)]) = (run[(1, 6)], run[(1, 5)]);

        var order = Assert.Single(Inspect(Declared, run));

        Assert.Equal((RunAnomalyKinds.DataOrderMismatch, "TG-RUN-104", Severity.High), (order.Kind, order.RuleId, order.Severity));
        Assert.Equal((1, 5L, 5L), (order.Rank, order.FirstStep, order.LastStep));
        Assert.StartsWith($"rank 1 at step 5 trained on batch {run[(1, 5)][..16]}…; the declared data order (run.yaml:4 data) gives batch {run[(1, 6)][..16]}…", order.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_skipped_batch_is_caught_at_the_step_it_shifts()
    {
        var run = TorchRun();
        for (var step = 3; step < 8; step++)
        {
            run[(2, step)] = run[(2, step + 1)];
        }

        var order = Assert.Single(Inspect(Declared, run));

        Assert.Equal((2, 3L), (order.Rank, order.FirstStep));
    }

    [Fact]
    public void Another_seed_is_caught_at_the_first_step()
    {
        var order = Assert.Single(Inspect(Declared.Replace("seed: 21", "seed: 22", StringComparison.Ordinal), TorchRun()));

        Assert.Equal((RunAnomalyKinds.DataOrderMismatch, 0, 1L), (order.Kind, order.Rank, order.FirstStep));
    }

    [Fact]
    public void A_rank_outside_the_declared_world_is_a_mismatch()
    {
        var rank2 = TorchRun().Where(h => h.Key.Rank == 2).ToDictionary();

        var order = Assert.Single(Inspect(Declared.Replace("world_size: 3", "world_size: 2", StringComparison.Ordinal), rank2));

        Assert.Equal((2, 1L), (order.Rank, order.FirstStep));
        Assert.EndsWith("the declared data order (run.yaml:4 data) has no rank 2 (world size 2)", order.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Steps_an_epoch_cannot_fill_are_a_mismatch()
    {
        var order = Assert.Single(Inspect(Declared.Replace("batch_size: 2", "batch_size: 11", StringComparison.Ordinal).Replace("dataset_size: 30", "dataset_size: 30\n  drop_last: true", StringComparison.Ordinal), TorchRun()));

        Assert.EndsWith("gives no step: 10 samples per rank and epoch make 0 batch(es) of 11, fewer than batches_per_step 2", order.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(".")]
    [InlineData("torch2")]
    public void The_recorded_clean_run_follows_its_manifest(string set)
    {
        var found = InspectRecorded(set, "clean.jsonl");

        Assert.DoesNotContain(found, a => !a.Lead);
    }

    [Theory]
    [InlineData(".", "seed-changed.jsonl")]
    [InlineData(".", "clean-rerun.jsonl")]
    [InlineData(".", "sabotaged.jsonl")]
    [InlineData("torch2", "seed-changed.jsonl")]
    [InlineData("torch2", "clean-rerun.jsonl")]
    [InlineData("torch2", "sabotaged.jsonl")]
    public void Recorded_runs_with_the_declared_data_order_raise_no_data_order_mismatch(string set, string file)
    {
        Assert.DoesNotContain(InspectRecorded(set, file), a => a.Kind == RunAnomalyKinds.DataOrderMismatch);
    }

    [Theory]
    [InlineData(".")]
    [InlineData("torch2")]
    public void The_recorded_run_with_another_data_seed_is_caught_by_the_manifest_alone(string set)
    {
        var order = Assert.Single(InspectRecorded(set, "data-order-changed.jsonl"), a => a.Kind == RunAnomalyKinds.DataOrderMismatch);

        Assert.Equal((0, 1L), (order.Rank, order.FirstStep));
        Assert.Contains("the declared data order (", order.Detail, StringComparison.Ordinal);
        Assert.Contains("run.yaml:19 data) gives batch c574d77f81d43ed7…", order.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void The_servers_manifest_folder_checks_the_data_order_live_and_records_a_bad_data_section()
    {
        var dir = Directory.CreateTempSubdirectory("tg-data-order-").FullName;
        try
        {
            File.Copy(Fixtures.Path_("run.yaml"), Path.Combine(dir, "tiny-data-order-changed.yaml"));
            File.WriteAllText(Path.Combine(dir, "tiny-clean.yaml"), "version: 1\ndata:\n  sampler: random\n  seed: 0\n  batch_size: 128\n");
            var folder = new RunManifestFolder(dir);
            var detectors = new RunDetectors(new RunDetectorOptions { Manifest = folder.Find });
            var found = new List<RunAnomaly>();
            foreach (var e in RunFile.Load(Fixtures.Path_("data-order-changed.jsonl")).Events.Concat(RunFile.Load(Fixtures.Path_("clean.jsonl")).Events))
            {
                detectors.Observe(e, found);
            }

            var order = Assert.Single(found, a => a.Kind == RunAnomalyKinds.DataOrderMismatch);
            Assert.Equal(("tiny-data-order-changed", 1L), (order.RunId, order.FirstStep));
            Assert.Contains("tiny-clean.yaml:3: data.dataset_size: required", Assert.Single(folder.Errors), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static List<RunAnomaly> InspectRecorded(string set, string file)
    {
        var manifest = RunManifestParser.Load(Fixtures.Path_("run.yaml"));
        var log = RunFile.Load(Fixtures.Path_(Path.Combine(set, file)));
        return Inspect(manifest, log.Events);
    }

    private static List<RunAnomaly> Inspect(string manifest, Dictionary<(int Rank, long Step), string> hashes)
    {
        var events = hashes.OrderBy(h => h.Key.Step).ThenBy(h => h.Key.Rank).Select(h => new RunEvent
        {
            Kind = RunEventKind.Step,
            RunId = "job-7",
            Rank = h.Key.Rank,
            WorldSize = 3,
            Step = new RunStep { Step = h.Key.Step, BatchHash = h.Value },
        });
        return Inspect(RunManifestParser.Parse(manifest, "run.yaml"), events);
    }

    private static List<RunAnomaly> Inspect(RunManifest manifest, IEnumerable<RunEvent> events)
    {
        var detectors = new RunDetectors(new RunDetectorOptions { Manifest = _ => manifest });
        var found = new List<RunAnomaly>();
        foreach (var e in events)
        {
            detectors.Observe(e, found);
        }

        detectors.Flush(found);
        return found;
    }

    /// <summary>The batch hashes torch 2.14 gave each rank at each step of the declared configuration.</summary>
    private static Dictionary<(int Rank, long Step), string> TorchRun()
    {
        var vectors = JsonNode.Parse(File.ReadAllText(Fixtures.Path_(Path.Combine("order", "torch-2.14.json"))))!;
        var config = vectors["configs"]!.AsArray().Single(c => (string)c!["name"]! == "distributed-accumulation")!;
        var run = new Dictionary<(int Rank, long Step), string>();
        foreach (var rank in config["ranks"]!.AsArray())
        {
            foreach (var (step, hash) in rank!["steps"]!.AsObject())
            {
                run[((int)rank["rank"]!, long.Parse(step, CultureInfo.InvariantCulture))] = (string)hash!;
            }
        }

        return run;
    }
}
