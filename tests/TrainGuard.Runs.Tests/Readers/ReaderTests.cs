using System.Text;
using TrainGuard.Parsing;
using TrainGuard.Runs.Model;
using TrainGuard.Runs.Readers;
using TrainGuard.Runs.Tests.Support;

namespace TrainGuard.Runs.Tests.Readers;

public sealed class ReaderTests
{
    [Theory]
    [InlineData("", 0x00000000u)]
    [InlineData("123456789", 0xE3069283u)]
    public void Crc32C_matches_the_published_check_values(string text, uint expected) =>
        Assert.Equal(expected, Crc32C.Compute(Encoding.ASCII.GetBytes(text)));

    [Fact]
    public void Crc32C_matches_the_rfc3720_vectors()
    {
        Assert.Equal(0x8A9136AAu, Crc32C.Compute(new byte[32]));
        Assert.Equal(0x62A8AB43u, Crc32C.Compute(Enumerable.Repeat((byte)0xFF, 32).ToArray()));
        Assert.Equal(0x46DD794Eu, Crc32C.Compute(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray()));
    }

    [Fact]
    public void Masked_crc_rotates_and_adds_tensorflows_constant()
    {
        // masked = ((crc >> 15) | (crc << 17)) + 0xa282ead8, as tensorflow/core/lib/hash/crc32c.h
        Assert.Equal(0xa282ead8u, Crc32C.Mask(0));
        Assert.Equal(unchecked(((0xE3069283u >> 15) | (0xE3069283u << 17)) + 0xa282ead8u), Crc32C.Masked(Encoding.ASCII.GetBytes("123456789")));
    }

    [Fact]
    public void TensorBoard_reads_scalars_in_simple_value_float_val_and_tensor_content()
    {
        var run = RunFile.Load(Fixtures.Path_("tensorboard"));

        Assert.Equal(RunFormat.TensorBoard, run.Format);
        var steps = run.Steps.Select(e => e.Step!).ToList();
        Assert.Equal(FormatFixtures.Steps, steps.Count);
        for (var i = 0; i < steps.Count; i++)
        {
            Assert.Equal(i, steps[i].Step);
            Assert.Equal((float)FormatFixtures.Loss(i), (float)steps[i].Loss!.Value);
            Assert.Equal((float)FormatFixtures.Lr(i), (float)steps[i].Lr![0]);
            Assert.Equal(FormatFixtures.GradNorm(i), steps[i].GradNorm);
        }

        Assert.Equal(1500, steps[5].TimeMs!.Value, 3);
    }

    [Theory]
    [InlineData("bad/data-crc.tfevents", "record at offset 0: the data's CRC", InputErrorKind.Corrupt, 0)]
    [InlineData("bad/length-crc.tfevents", "the length's CRC", InputErrorKind.Corrupt, -1)]
    [InlineData("bad/truncated.tfevents", "file ends", InputErrorKind.Truncated, -1)]
    public void TensorBoard_refuses_a_bad_record_naming_file_and_offset(string fixture, string message, InputErrorKind kind, long offset)
    {
        var ex = Assert.Throws<MalformedInputException>(() => RunFile.Load(Fixtures.Path_(fixture)));

        Assert.Equal(kind, ex.Kind);
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
        Assert.Contains("events.out.tfevents.1.bad", ex.Message, StringComparison.Ordinal);
        Assert.NotNull(ex.Offset);
        if (offset >= 0)
        {
            Assert.Equal(offset, ex.Offset);
        }
        else
        {
            Assert.True(ex.Offset > 0);
            Assert.Contains($"offset {ex.Offset}", ex.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void TensorBoard_fuzz_target_throws_only_malformed_input()
    {
        var seed = FormatFixtures.TensorBoard()[..600];
        FuzzHarness.Run(TensorBoardReader.Fuzz, [seed, TfRecordReader.Frame(FormatFixtures.Message(w => w.Bytes(5, [0x0a, 0x05, 0x0a, 0x01, 0x41, 0x15, 0x00])))], iterations: 3000);
    }

    [Fact]
    public void Mlflow_reads_the_metric_files_of_a_run_folder()
    {
        var run = RunFile.Load(Fixtures.Path_("mlruns/0/4f1c2ab9"));

        Assert.Equal(RunFormat.Mlflow, run.Format);
        Assert.Equal("4f1c2ab9", run.Steps.First().RunId);
        var steps = run.Steps.Select(e => e.Step!).ToList();
        Assert.Equal(FormatFixtures.Steps, steps.Count);
        Assert.Equal(FormatFixtures.Loss(7), steps[7].Loss);
        Assert.Equal(FormatFixtures.Lr(7), steps[7].Lr![0]);
        Assert.Null(steps[7].GradNorm);
    }

    [Fact]
    public void Mlflow_refuses_a_bad_line_naming_file_and_line()
    {
        var ex = Assert.Throws<MalformedInputException>(() => RunFile.Load(Fixtures.Path_("bad/mlruns/0/run")));

        Assert.Equal(2, ex.Line);
        Assert.Contains("metrics/loss:2:", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'two' is not a number", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Mlflow_fuzz_target_throws_only_malformed_input() =>
        FuzzHarness.Run(MlflowReader.Fuzz, [Encoding.UTF8.GetBytes("1765069200000 2.0 0\n1765069201000 nan 1\n")], iterations: 2000, alphabet: Encoding.ASCII.GetBytes(" \n-+.eE0123456789naif"));

    [Fact]
    public void Trainer_state_reads_bare_nan_and_infinity()
    {
        var run = RunFile.Load(Fixtures.Path_("trainer"));

        Assert.Equal(RunFormat.TrainerState, run.Format);
        var steps = run.Steps.Select(e => e.Step!).ToList();
        Assert.Equal(FormatFixtures.Steps, steps.Count);
        Assert.True(double.IsNaN(steps.Single(s => s.Step == 17).Loss!.Value));
        Assert.Equal(double.PositiveInfinity, steps.Single(s => s.Step == 18).GradNorm);
        Assert.Equal(FormatFixtures.Loss(3), steps.Single(s => s.Step == 3).Loss);
    }

    [Fact]
    public void Trainer_state_refuses_bad_json_naming_the_file()
    {
        var ex = Assert.Throws<MalformedInputException>(() => TrainerStateReader.Read(Encoding.UTF8.GetBytes("{\"log_history\": [ {\"step\": 1, \"loss\": 2.0},\n ]"), "out/trainer_state.json"));

        Assert.StartsWith("out/trainer_state.json", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Trainer_state_fuzz_target_throws_only_malformed_input() =>
        FuzzHarness.Run(TrainerStateReader.Fuzz, [Encoding.UTF8.GetBytes(FormatFixtures.TrainerState()[..400] + "]}")], iterations: 1500);

    [Fact]
    public void Jsonl_reads_the_contract_events_nested_or_dotted()
    {
        var nested = RunFile.Load(Fixtures.Path_("synthetic/clean.jsonl"));
        var dotted = RunJsonlReader.Read(new MemoryStream(Encoding.UTF8.GetBytes(
            "{\"event.action\":\"run-step\",\"trainguard.run.id\":\"j1\",\"trainguard.run.rank\":1,\"trainguard.run.world_size\":2,\"trainguard.step.step\":3,\"trainguard.step.loss\":null,\"trainguard.step.nonfinite\":[\"loss\"],\"trainguard.step.seed\":18446744073709551615}\n")), "dotted.jsonl");

        Assert.Equal(2 * 40, nested.Steps.Count());
        Assert.Equal(2, nested.Events.Count(e => e.Kind == RunEventKind.Started));
        var step = nested.Steps.First().Step!;
        Assert.NotNull(step.Cosine);
        Assert.Equal(2, step.Lr!.Count);
        Assert.Equal("42", nested.Events.First().InitialSeed);
        var d = dotted.Steps.Single();
        Assert.Equal(1, d.Rank);
        Assert.True(double.IsNaN(d.Step!.Loss!.Value));
        Assert.Equal("18446744073709551615", d.Step.Seed);
    }

    [Fact]
    public void Jsonl_refuses_a_field_of_the_wrong_type_naming_file_line_and_field()
    {
        var ex = Assert.Throws<MalformedInputException>(() => RunFile.Load(Fixtures.Path_("bad/events.jsonl")));

        Assert.Equal(2, ex.Line);
        Assert.Equal("trainguard.step.step", ex.Field);
        Assert.Contains("events.jsonl:2:", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Jsonl_without_run_events_is_an_error_not_a_clean_run()
    {
        var ex = Assert.Throws<MalformedInputException>(() => RunJsonlReader.Read(new MemoryStream("{\"event\":{\"action\":\"user-login\"}}\n"u8.ToArray()), "other.jsonl"));

        Assert.Contains("no run-started, run-step or run-attestation event", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Jsonl_fuzz_target_throws_only_malformed_input() =>
        FuzzHarness.Run(RunJsonlReader.Fuzz, [Encoding.UTF8.GetBytes(new SyntheticRun { Steps = 1, WorldSize = 1 }.Text())], iterations: 1500);

    [Fact]
    public void A_folder_with_no_known_run_is_an_error() =>
        Assert.Throws<MalformedInputException>(() => RunFile.Load(Fixtures.Repo("docs")));
}
