using System.Text;
using TrainGuard.Checkpoints.Contents;
using TrainGuard.Checkpoints.Tests.Rng;
using TrainGuard.Parsing;

namespace TrainGuard.Checkpoints.Tests.Contents;

public sealed class TrainerStateTests
{
    [Fact]
    public void Fixture_trainer_state_gives_step_epoch_and_log_history()
    {
        var state = TrainerState.Load(Path.Combine(RngVectors.FindRepoRoot(), "tests", "fixtures", "ckpt", "checkpoint-6", "trainer_state.json"));
        Assert.Equal(6, state.GlobalStep);
        Assert.Equal(1.0, state.Epoch);
        Assert.Equal(10, state.MaxSteps);
        Assert.Equal([2L, 4L, 6L], state.LogHistory.Select(e => e.Step!.Value));
        Assert.All(state.LogHistory, e => Assert.NotNull(e.Loss));
        Assert.All(state.LogHistory, e => Assert.NotNull(e.LearningRate));
    }

    [Fact]
    public void Unknown_fields_are_ignored_and_bare_nan_loss_is_read()
    {
        var state = TrainerState.Parse("{\"global_step\": 8, \"new_field\": {\"x\": [1]}, \"log_history\": [{\"step\": 8, \"loss\": NaN, \"grad_norm\": Infinity, \"note\": \"NaN\"}]}"u8);
        Assert.Equal(8, state.GlobalStep);
        Assert.True(double.IsNaN(state.LogHistory[0].Loss!.Value));
        Assert.True(double.IsPositiveInfinity(state.LogHistory[0].GradNorm!.Value));
    }

    [Theory]
    [InlineData("{\"global_step\": 6,\n \"epoch\": }", "not valid JSON (line 2")]
    [InlineData("[1, 2]", "must hold a JSON object")]
    [InlineData("{\"global_step\": \"six\"}", "'global_step' must be an integer, not the string \"six\"")]
    [InlineData("{\"log_history\": [{\"loss\": [1]}]}", "'log_history[0].loss' must be a number, not a list")]
    [InlineData("{\"log_history\": {}}", "'log_history' must be a list")]
    public void Malformed_trainer_state_says_what_and_where(string json, string expected)
    {
        var error = Assert.Throws<MalformedInputException>(() => TrainerState.Parse(Encoding.UTF8.GetBytes(json)));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Fuzzing_trainer_state_throws_only_malformed_input()
    {
        var seed = File.ReadAllBytes(Path.Combine(RngVectors.FindRepoRoot(), "tests", "fixtures", "ckpt", "checkpoint-6", "trainer_state.json"));
        FuzzHarness.Run(TrainerState.Fuzz, [seed], 400, 77, "{}[]\",:0-.eNaI \n"u8.ToArray());
    }
}
