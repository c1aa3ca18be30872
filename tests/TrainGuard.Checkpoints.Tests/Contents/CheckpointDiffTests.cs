using TrainGuard.Checkpoints.Contents;

namespace TrainGuard.Checkpoints.Tests.Contents;

/// <summary>Diff of each tampered fixture against the clean checkpoint shows exactly what was changed.</summary>
public sealed class CheckpointDiffTests
{
    private static CheckpointDiffResult Diff(string variant) => CheckpointDiff.Compare(CkptFixtures.Clean, CkptFixtures.Variant(variant));

    private static string Line(CheckpointDifference d) => $"{d.Area} {d.Subject} {d.Change} {d.A} -> {d.B}";

    [Fact]
    public void Clean_checkpoint_is_identical_to_itself()
    {
        var result = CheckpointDiff.Compare(CkptFixtures.Clean, CkptFixtures.Clean);
        Assert.True(result.Identical);
        Assert.True(result.TensorsCompared > 10);
    }

    [Theory]
    [InlineData("maximize")]
    [InlineData("maximize-bytepatch")]
    public void Maximize_flip_is_the_only_difference(string variant)
    {
        var d = Assert.Single(Diff(variant).Differences);
        Assert.Equal("optimizer optimizer.pt param_groups[0].maximize changed false -> true", Line(d));
    }

    [Fact]
    public void Learning_rate_edit_shows_lr_and_initial_lr()
    {
        Assert.Equal(
            ["optimizer optimizer.pt param_groups[0].initial_lr changed 0.001 -> 0.01", "optimizer optimizer.pt param_groups[0].lr changed 0.0005 -> 0.005"],
            Diff("lr").Differences.Select(Line));
    }

    [Fact]
    public void Edited_weight_is_the_one_tensor_whose_bytes_differ()
    {
        var d = Assert.Single(Diff("weight").Differences);
        Assert.Equal(("tensor", "pytorch_model.bin:encoder.weight", "changed"), (d.Area, d.Subject, d.Change));
    }

    [Fact]
    public void Scheduler_step_edit_shows_last_epoch()
    {
        Assert.Equal(["scheduler scheduler.pt last_epoch changed 6 -> 4"], Diff("scheduler-step").Differences.Select(Line));
    }

    [Fact]
    public void Deleted_optimizer_removes_the_file_its_tensors_and_its_fields()
    {
        var diffs = Diff("optimizer-deleted").Differences;
        Assert.Contains(diffs, d => Line(d) == "file optimizer.pt removed 4826 bytes -> ");
        Assert.All(diffs, d => Assert.Equal("removed", d.Change));
        Assert.All(diffs.Where(d => d.Area == "tensor"), d => Assert.StartsWith("optimizer.pt:state.", d.Subject, StringComparison.Ordinal));
        Assert.Equal(["file", "optimizer", "tensor"], diffs.Select(d => d.Area).Distinct().Order());
    }

    [Fact]
    public void Rng_from_seed_7_changes_every_generator_seed()
    {
        var diffs = Diff("rng-seed7").Differences;
        Assert.All(diffs, d => Assert.True(d.Area is "rng" or "tensor", Line(d)));
        foreach (var generator in new[] { "cpu", "numpy", "python" })
        {
            Assert.Contains(diffs, d => Line(d) == $"rng rng_state.pth {generator}.seed changed 42 -> 7");
        }

        Assert.Contains(diffs, d => Line(d) == "rng rng_state.pth cpu.seed_field changed 42 -> 7");
        Assert.Contains(diffs, d => d.Subject == "rng_state.pth:cpu" && d.Change == "changed");
    }
}
