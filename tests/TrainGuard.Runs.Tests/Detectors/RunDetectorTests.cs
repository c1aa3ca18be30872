using TrainGuard.Checkpoints.Runs;
using TrainGuard.Findings;
using TrainGuard.Runs.Detectors;
using TrainGuard.Runs.Model;
using TrainGuard.Runs.Tests.Support;

namespace TrainGuard.Runs.Tests.Detectors;

public sealed class RunDetectorTests
{
    private static readonly RunManifest Manifest = RunManifestParser.Parse(SyntheticRun.Manifest, "run.yaml");

    private static List<RunAnomaly> Inspect(RunManifest? manifest, params RunLog[] runs) => Inspect(new RunDetectorOptions { Manifest = manifest is null ? null : _ => manifest }, runs);

    private static List<RunAnomaly> Inspect(RunDetectorOptions options, params RunLog[] runs)
    {
        var detectors = new RunDetectors(options);
        var found = new List<RunAnomaly>();
        foreach (var e in runs.SelectMany(r => r.Events))
        {
            detectors.Observe(e, found);
        }

        detectors.Flush(found);
        return found;
    }

    [Fact]
    public void A_clean_run_raises_nothing_not_even_a_lead()
    {
        Assert.Empty(Inspect(Manifest, new SyntheticRun().Read()));
    }

    [Fact]
    public void Flipped_updates_are_critical_from_the_first_flipped_step()
    {
        var found = Inspect(Manifest, new SyntheticRun { FlipFrom = 150 }.Read());

        var direction = found.Where(a => a.Kind == RunAnomalyKinds.Direction).OrderBy(a => a.FirstStep).ToList();
        Assert.NotEmpty(direction);
        Assert.Equal(150, direction[0].FirstStep);
        Assert.All(direction, a => Assert.Equal(Severity.Critical, a.Severity));
        Assert.Equal(0.5, direction[0].Fraction);
        Assert.Equal("TG-RUN-101", direction[0].RuleId);
        Assert.Equal("lena", direction[0].User);
        Assert.Equal("gpu-node-2", direction[0].Host);
    }

    [Fact]
    public void One_flipped_step_in_a_window_is_an_alert_and_not_critical()
    {
        var steps = Enumerable.Range(0, 200).Select(i => Step(i, rank: 0, worldSize: 1, cosine: i == 123 ? -0.5 : 0.8)).ToList();

        var direction = Assert.Single(Inspect((RunManifest?)null, Log(steps)));

        Assert.Equal(RunAnomalyKinds.Direction, direction.Kind);
        Assert.Equal(Severity.High, direction.Severity);
        Assert.Equal(123, direction.FirstStep);
        Assert.Equal(0, direction.Rank);
        Assert.Equal(0.01, direction.Fraction);
        Assert.False(direction.Lead);
    }

    [Fact]
    public void Live_a_flipped_step_is_reported_when_it_arrives_and_not_again_when_its_window_ends()
    {
        var detectors = new RunDetectors(new RunDetectorOptions { LiveDirection = true });
        var found = new List<RunAnomaly>();
        for (var i = 0; i < 123; i++)
        {
            detectors.Observe(Step(i, rank: 0, worldSize: 1, cosine: 0.8), found);
        }

        Assert.Empty(found);
        detectors.Observe(Step(123, rank: 0, worldSize: 1, cosine: -0.5), found);
        var now = Assert.Single(found);
        Assert.Equal((RunAnomalyKinds.Direction, Severity.High, 123L, 123L, 0), (now.Kind, now.Severity, now.FirstStep, now.LastStep, now.Rank ?? -1));
        Assert.Contains("rank 0 at step 123 moved against the gradient (cos -0.5 < 0)", now.Detail, StringComparison.Ordinal);

        for (var i = 124; i < 260; i++)
        {
            detectors.Observe(Step(i, rank: 0, worldSize: 1, cosine: 0.8), found);
        }

        detectors.Flush(found);
        Assert.Single(found);
    }

    [Theory]
    [InlineData(1, 4, 5)] // every step sampled on 4 ranks: a 100-step window holds 400 samples, so the 5th negative is over 1%
    [InlineData(20, 4, 1)] // every 20th step on average: 20 samples, so the first negative is already 5%
    public void Live_a_window_is_critical_as_soon_as_its_negatives_exceed_the_share_it_can_hold(int sampleEvery, int worldSize, int criticalAt)
    {
        var detectors = new RunDetectors(new RunDetectorOptions { LiveDirection = true });
        var found = new List<RunAnomaly>();
        for (var rank = 0; rank < worldSize; rank++)
        {
            detectors.Observe(new RunEvent { Kind = RunEventKind.Started, RunId = "r1", Rank = rank, WorldSize = worldSize, SampleEvery = sampleEvery }, found);
        }

        var negatives = 0;
        for (var step = 200; step < 300 && !found.Any(a => a.Severity == Severity.Critical); step++)
        {
            for (var rank = 0; rank < worldSize; rank++)
            {
                var flipped = step >= 210 && rank == 1;
                negatives += flipped ? 1 : 0;
                detectors.Observe(Step(step, rank, worldSize, flipped ? -0.9 : 0.7), found);
            }
        }

        var critical = Assert.Single(found, a => a.Severity == Severity.Critical);
        Assert.Equal(criticalAt, negatives);
        Assert.Equal((210L, 209L + criticalAt, (long)criticalAt, 1), (critical.FirstStep, critical.LastStep, critical.Steps, critical.Rank ?? -1));
        Assert.Contains("before it ends", critical.Detail, StringComparison.Ordinal);
        Assert.Equal(criticalAt == 1 ? 0 : 1, found.Count(a => a.Severity == Severity.High));
    }

    [Fact]
    public void The_moment_cosine_decides_when_the_client_sends_one()
    {
        var steps = Enumerable.Range(0, 200).Select(i => new RunEvent
        {
            Kind = RunEventKind.Step,
            RunId = "r1",
            Step = new RunStep
            {
                Step = i,
                // Step 40: flipped, the update's cosine hidden by momentum; step 41: clean, the update still carries step 40.
                Cosine = i == 41 ? -0.2 : 0.1,
                MomentCosine = i == 40 ? -1.0 : 1.0,
            },
        }).ToList();

        var direction = Assert.Single(Inspect((RunManifest?)null, Log(steps)));

        Assert.Equal((40L, 40L, 1L), (direction.FirstStep, direction.LastStep, direction.Steps));
    }

    [Fact]
    public void Two_flipped_steps_in_a_hundred_are_critical()
    {
        var steps = Enumerable.Range(0, 100).Select(i => Step(i, rank: 0, worldSize: 1, cosine: i is 10 or 90 ? -0.5 : 0.8)).ToList();

        Assert.Equal(Severity.Critical, Assert.Single(Inspect((RunManifest?)null, Log(steps))).Severity);
    }

    [Fact]
    public void A_failed_attestation_is_critical_at_its_step()
    {
        var found = Inspect(Manifest, new SyntheticRun { AttestationFailsAt = 60 }.Read());

        var attestation = Assert.Single(found);
        Assert.Equal(RunAnomalyKinds.AttestationFailed, attestation.Kind);
        Assert.Equal(Severity.Critical, attestation.Severity);
        Assert.Equal(60, attestation.FirstStep);
        Assert.Contains("step-code", attestation.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_seed_other_than_the_manifest_is_a_seed_mismatch_at_the_start()
    {
        var found = Inspect(Manifest, new SyntheticRun { Seed = 43 }.Read());

        var seed = Assert.Single(found);
        Assert.Equal(RunAnomalyKinds.SeedMismatch, seed.Kind);
        Assert.Contains("run.yaml:", seed.Detail, StringComparison.Ordinal);
        Assert.Contains("43", seed.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_learning_rate_off_the_declared_schedule_is_found_at_its_first_step()
    {
        var found = Inspect(Manifest, new SyntheticRun { LrScale = 0.5 }.Read());

        var lr = Assert.Single(found);
        Assert.Equal(RunAnomalyKinds.LrMismatch, lr.Kind);
        Assert.Equal(100, lr.FirstStep);
    }

    [Fact]
    public void Batches_that_differ_from_the_reference_run_are_a_data_order_mismatch()
    {
        var found = Inspect(new RunDetectorOptions { Manifest = _ => Manifest, Reference = new SyntheticRun().Read() }, new SyntheticRun { RunId = "job-2", DataOrderFrom = 77 }.Read());

        var order = Assert.Single(found);
        Assert.Equal(RunAnomalyKinds.DataOrderMismatch, order.Kind);
        Assert.Equal(77, order.FirstStep);
    }

    [Fact]
    public void A_straggler_alone_is_a_lead_not_an_anomaly()
    {
        var found = Inspect(Manifest, new SyntheticRun { WorldSize = 4, SlowRank = 2 }.Read());

        var straggler = Assert.Single(found);
        Assert.Equal(RunAnomalyKinds.Straggler, straggler.Kind);
        Assert.True(straggler.Lead);
        Assert.Equal(Severity.Low, straggler.Severity);
        Assert.Equal(2, straggler.Rank);
    }

    [Fact]
    public void A_straggler_with_flipped_updates_in_the_same_run_is_backed()
    {
        var found = Inspect(Manifest, new SyntheticRun { WorldSize = 4, SlowRank = 2, FlipFrom = 200 }.Read());

        Assert.Contains(found, a => a.Kind == RunAnomalyKinds.Straggler && a.Lead);
        var backed = Assert.Single(found, a => a.Kind == RunAnomalyKinds.Straggler && !a.Lead);
        Assert.Equal(Severity.High, backed.Severity);
        Assert.Contains("backed by direction", backed.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Sleeping_flipped_steps_are_optimizer_spikes_backed_by_direction()
    {
        var found = Inspect(Manifest, new SyntheticRun { FlipFrom = 120, FlipChance = 0.05, SleepMs = 400 }.Read());

        Assert.Contains(found, a => a.Kind == RunAnomalyKinds.Direction && a.Severity == Severity.Critical);
        Assert.Contains(found, a => a.Kind == RunAnomalyKinds.OptimizerSpike && !a.Lead);
    }

    [Fact]
    public void A_sustained_slowdown_is_a_lead_from_its_change_point()
    {
        var found = Inspect(Manifest, new SyntheticRun { RunSlowdown = 1.3, SlowFrom = 120 }.Read());

        var slowdown = Assert.Single(found);
        Assert.Equal(RunAnomalyKinds.Slowdown, slowdown.Kind);
        Assert.True(slowdown.Lead);
        Assert.InRange(slowdown.FirstStep, 110, 130);
        Assert.InRange(slowdown.Score!.Value, 1.25, 1.35);
    }

    [Fact]
    public void A_slowdown_under_ten_percent_is_not_reported()
    {
        Assert.Empty(Inspect(Manifest, new SyntheticRun { RunSlowdown = 1.05, SlowFrom = 120 }.Read()));
    }

    [Fact]
    public void Slowness_only_in_the_large_job_is_a_size_confined_slowdown()
    {
        var small1 = new SyntheticRun { RunId = "small-1", WorldSize = 2 }.Read();
        var small2 = new SyntheticRun { RunId = "small-2", WorldSize = 2, Seed = 7 }.Read();
        var large = new SyntheticRun { RunId = "large-1", WorldSize = 8, RunSlowdown = 1.3, SlowFrom = 120 }.Read();

        var found = Inspect((RunManifest?)null, small1, small2, large);

        var confined = Assert.Single(found, a => a.Kind == RunAnomalyKinds.SizeConfinedSlowdown);
        Assert.Equal("large-1", confined.RunId);
        Assert.False(confined.Lead);
        Assert.Equal(Severity.High, confined.Severity);
        Assert.Contains("none of 2 run(s) of at most 2 ranks", confined.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Slowness_in_small_and_large_jobs_alike_is_not_size_confined()
    {
        var small1 = new SyntheticRun { RunId = "small-1", WorldSize = 2, RunSlowdown = 1.3, SlowFrom = 120 }.Read();
        var small2 = new SyntheticRun { RunId = "small-2", WorldSize = 2, Seed = 7 }.Read();
        var large = new SyntheticRun { RunId = "large-1", WorldSize = 8, RunSlowdown = 1.3, SlowFrom = 120 }.Read();

        var found = Inspect((RunManifest?)null, small1, small2, large);

        Assert.DoesNotContain(found, a => a.Kind == RunAnomalyKinds.SizeConfinedSlowdown);
        Assert.All(found, a => Assert.True(a.Lead));
    }

    [Fact]
    public void The_detectors_hold_at_most_the_configured_number_of_runs()
    {
        var detectors = new RunDetectors(new RunDetectorOptions { MaxRuns = 3 });
        var found = new List<RunAnomaly>();
        for (var i = 0; i < 10; i++)
        {
            detectors.Observe(Step(0, 0, 1, 0.5, runId: $"run-{i}"), found);
        }

        Assert.Equal(3, detectors.Runs.Count);
        Assert.Equal(["run-7", "run-8", "run-9"], detectors.Runs.Select(r => r.RunId).Order());
    }

    [Fact]
    public void The_anomaly_event_names_the_run_user_and_host_with_a_stable_id()
    {
        var anomaly = Inspect(Manifest, new SyntheticRun { AttestationFailsAt = 60 }.Read()).Single();

        var record = RunAnomalyEvents.ToEvent(anomaly, DateTimeOffset.UnixEpoch);
        var again = RunAnomalyEvents.ToEvent(anomaly, DateTimeOffset.UnixEpoch);

        Assert.Equal("run-anomaly", record.Action);
        Assert.Equal("alert", record.GetString("event.kind"));
        Assert.Equal("lena", record.GetString("user.name"));
        Assert.Equal("gpu-node-2", record.GetString("host.name"));
        Assert.Equal("attestation-failed", record.GetString("trainguard.anomaly.kind"));
        Assert.Equal("TG-RUN-102", record.GetString("trainguard.finding.rule"));
        Assert.Equal("job-1001", record.GetString("trainguard.run.id"));
        Assert.Equal(record.ToJsonLine(), again.ToJsonLine());
    }

    private static RunEvent Step(long step, int rank, int worldSize, double cosine, string runId = "r1") => new()
    {
        Kind = RunEventKind.Step,
        RunId = runId,
        Rank = rank,
        WorldSize = worldSize,
        Step = new RunStep { Step = step, Cosine = cosine },
    };

    private static RunLog Log(List<RunEvent> events) => new() { Source = "test", Format = RunFormat.TrainGuardJsonl, Events = events };
}
