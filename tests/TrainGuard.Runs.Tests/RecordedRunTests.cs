using System.Text.Json;
using TrainGuard.Checkpoints.Runs;
using TrainGuard.Findings;
using TrainGuard.Runs.Analysis;
using TrainGuard.Runs.Detectors;
using TrainGuard.Runs.Model;
using TrainGuard.Runs.Readers;

namespace TrainGuard.Runs.Tests;

/// <summary>
/// The real PyTorch runs <c>scripts/record-runs.sh</c> recorded (tests/fixtures/runs: torch 1.13; torch2/: torch 2.x
/// in the root of scripts/torch2-root.sh): the reference attack, a seed change and a data-order change are each caught
/// at the step they began, and the clean rerun raises nothing.
/// </summary>
public sealed class RecordedRunTests
{
    public static TheoryData<string> Sets => new() { ".", "torch2" };

    private static RunManifest Manifest => RunManifestParser.Load(Fixtures.Path_("run.yaml"));

    private static RunLog Load(string set, string name) => RunFile.Load(Fixtures.Path_(Path.Combine(set, name + ".jsonl")));

    private static List<RunAnomaly> Inspect(RunLog run, RunLog? reference = null, bool live = false)
    {
        var manifest = Manifest;
        var detectors = new RunDetectors(new RunDetectorOptions { Manifest = _ => manifest, Reference = reference, LiveDirection = live });
        var found = new List<RunAnomaly>();
        foreach (var e in run.Events)
        {
            detectors.Observe(e, found);
        }

        detectors.Flush(found);
        return found;
    }

    [Theory]
    [MemberData(nameof(Sets))]
    public void The_clean_run_and_its_rerun_raise_nothing_and_agree_step_by_step(string set)
    {
        var clean = Load(set, "clean");
        var rerun = Load(set, "clean-rerun");

        Assert.DoesNotContain(Inspect(clean), a => !a.Lead);
        Assert.DoesNotContain(Inspect(rerun, reference: clean), a => !a.Lead);
        Assert.DoesNotContain(Inspect(rerun, reference: clean, live: true), a => !a.Lead);
        var comparison = RunComparison.Compare(clean, rerun, 1e-9);
        Assert.Null(comparison.First);
        Assert.Equal(300, comparison.CommonSteps);
    }

    [Theory]
    [MemberData(nameof(Sets))]
    public void The_reference_attack_is_caught_at_exactly_the_steps_it_flipped(string set)
    {
        using var truth = JsonDocument.Parse(File.ReadAllText(Fixtures.Path_(Path.Combine(set, "sabotaged.truth.json"))));
        var flipped = truth.RootElement.GetProperty("flipped").EnumerateArray().Select(e => e.GetInt64()).ToList();
        var run = Load(set, "sabotaged");

        // Every flipped step, and no other, moved against the gradient by the moment cosine the detectors read.
        var negative = run.Steps.Where(e => (e.Step!.MomentCosine ?? e.Step.Cosine) < 0).Select(e => e.Step!.Step).ToList();
        Assert.Equal(flipped, negative);

        var found = Inspect(run);
        var direction = found.Where(a => a.Kind == RunAnomalyKinds.Direction).OrderBy(a => a.FirstStep).ToList();
        Assert.Equal(flipped[0], direction[0].FirstStep);
        Assert.Equal(flipped.Count, direction.Sum(a => a.Steps));
        Assert.All(direction, a => Assert.Equal(Severity.Critical, a.Severity));
        Assert.Contains(found, a => a.Kind == RunAnomalyKinds.AttestationFailed && a.Severity == Severity.Critical && a.FirstStep == 0);

        // Live, the server reports the first flipped step when it arrives.
        var live = Inspect(run, live: true).Where(a => a.Kind == RunAnomalyKinds.Direction).OrderBy(a => a.FirstStep).First();
        Assert.Equal((flipped[0], flipped[0]), (live.FirstStep, live.LastStep));

        // Forensics: the rerun of the clean run first diverges by loss right after the first flip.
        var comparison = RunComparison.Compare(Load(set, "clean"), run, 1e-9);
        Assert.Equal((RunComparison.Loss, flipped[0] + 1), (comparison.First!.Criterion, comparison.First.Step));
    }

    [Theory]
    [MemberData(nameof(Sets))]
    public void A_seed_change_is_caught_at_the_start_against_the_manifest(string set)
    {
        // Optimizer-time spikes of a busy machine may show up too, backed by the mismatch: not what is asserted here.
        var seed = Assert.Single(Inspect(Load(set, "seed-changed")), a => !a.Lead && !RunAnomalyKinds.IsSlowness(a.Kind));

        Assert.Equal((RunAnomalyKinds.SeedMismatch, 0L), (seed.Kind, seed.FirstStep));
        Assert.Contains("rank 0 started with seed 43;", seed.Detail, StringComparison.Ordinal);
        Assert.Contains("run.yaml:4 (seed) declares 42", seed.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Sets))]
    public void A_data_order_change_is_caught_at_the_first_step_against_the_clean_run(string set)
    {
        var order = Assert.Single(Inspect(Load(set, "data-order-changed"), reference: Load(set, "clean")), a => !a.Lead && !RunAnomalyKinds.IsSlowness(a.Kind));

        Assert.Equal((RunAnomalyKinds.DataOrderMismatch, 1L), (order.Kind, order.FirstStep));
        var first = RunComparison.Compare(Load(set, "clean"), Load(set, "data-order-changed"), 1e-9).First!;
        Assert.Equal((RunComparison.BatchHash, 1L), (first.Criterion, first.Step));
    }

    [Fact]
    public void Both_sets_were_recorded_with_the_torch_they_claim()
    {
        foreach (var (set, version) in new[] { (".", "1.13"), ("torch2", "2.") })
        {
            using var started = JsonDocument.Parse(File.ReadLines(Fixtures.Path_(Path.Combine(set, "clean.jsonl"))).First());
            var run = started.RootElement.GetProperty("trainguard").GetProperty("run");
            Assert.StartsWith(version, run.GetProperty("torch_version").GetString(), StringComparison.Ordinal);
        }
    }
}
