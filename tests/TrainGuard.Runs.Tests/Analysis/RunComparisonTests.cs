using TrainGuard.Runs.Analysis;
using TrainGuard.Runs.Tests.Support;

namespace TrainGuard.Runs.Tests.Analysis;

public sealed class RunComparisonTests
{
    [Fact]
    public void A_clean_rerun_does_not_diverge()
    {
        var result = RunComparison.Compare(new SyntheticRun().Read(), new SyntheticRun { RunId = "job-2" }.Read(), 1e-6);

        Assert.Null(result.First);
        Assert.Equal(2 * 240, result.CommonSteps);
        Assert.Equal([RunComparison.InitialSeed, RunComparison.Seed, RunComparison.RngHash, RunComparison.BatchHash, RunComparison.Loss], result.Compared);
    }

    [Fact]
    public void A_data_order_change_diverges_by_batch_hash_at_its_step()
    {
        var result = RunComparison.Compare(new SyntheticRun().Read(), new SyntheticRun { RunId = "job-2", DataOrderFrom = 77 }.Read(), 1e-6);

        Assert.Equal(RunComparison.BatchHash, result.First!.Criterion);
        Assert.Equal(77, result.First.Step);
        Assert.DoesNotContain(result.ByCriterion, d => d.Criterion == RunComparison.Seed);
    }

    [Fact]
    public void A_seed_change_diverges_at_the_start()
    {
        var result = RunComparison.Compare(new SyntheticRun().Read(), new SyntheticRun { RunId = "job-2", Seed = 43 }.Read(), 1e-6);

        Assert.Equal(RunComparison.InitialSeed, result.First!.Criterion);
        Assert.Null(result.First.Step);
        Assert.Contains(result.ByCriterion, d => d.Criterion == RunComparison.Seed && d.Step == 0);
    }

    [Fact]
    public void Flipped_updates_diverge_by_loss_after_the_first_flip_within_the_tolerance()
    {
        var result = RunComparison.Compare(new SyntheticRun().Read(), new SyntheticRun { RunId = "job-2", FlipFrom = 150 }.Read(), 1e-3);

        Assert.Equal(RunComparison.Loss, result.First!.Criterion);
        Assert.Equal(151, result.First.Step);
    }

    [Fact]
    public void The_loss_tolerance_is_relative_and_nan_equals_nan()
    {
        Assert.True(RunComparison.SameLoss(100, 100.0001, 1e-6 * 2));
        Assert.False(RunComparison.SameLoss(1, 1.0001, 1e-6));
        Assert.True(RunComparison.SameLoss(double.NaN, double.NaN, 0));
        Assert.False(RunComparison.SameLoss(double.NaN, 1, 0.5));
    }
}
