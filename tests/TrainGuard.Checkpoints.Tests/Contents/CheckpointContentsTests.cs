using System.Text.Json;
using TrainGuard.Checkpoints.Contents;
using TrainGuard.Checkpoints.Rng;
using TrainGuard.Findings;

namespace TrainGuard.Checkpoints.Tests.Contents;

public sealed class CheckpointContentsTests
{
    private static readonly Lazy<JsonDocument> Expected = new(() => JsonDocument.Parse(File.ReadAllText(Path.Combine(CkptFixtures.Root, "expected.json"))));

    private static JsonElement ExpectedFile(string path) => Expected.Value.RootElement.GetProperty("files").GetProperty(path);

    [Fact]
    public void Clean_folder_is_read_with_every_role_and_no_problem()
    {
        var contents = CheckpointReader.Read(CkptFixtures.Clean);
        Assert.Empty(contents.Problems);
        Assert.True(contents.IsFolder);
        Assert.Equal(6, contents.FolderStep);
        Assert.Equal(["model"], contents.Files.Single(f => f.Name == "pytorch_model.bin").Roles);
        Assert.Equal(["optimizer"], contents.Files.Single(f => f.Name == "optimizer.pt").Roles);
        Assert.Equal(["scheduler"], contents.Files.Single(f => f.Name == "scheduler.pt").Roles);
        Assert.Equal(["rng"], contents.Files.Single(f => f.Name == "rng_state.pth").Roles);
        Assert.Equal(1, contents.RevealedWorldSize);
    }

    [Fact]
    public void Tensor_inventory_matches_what_pytorch_reads()
    {
        var contents = CheckpointReader.Read(CkptFixtures.Clean, new CheckpointReadOptions { HashTensors = true });
        var model = contents.Tensors.Where(t => t.File == "pytorch_model.bin").ToList();
        var expected = ExpectedFile("checkpoint-6/pytorch_model.bin").GetProperty("tensors").EnumerateArray().ToList();
        Assert.Equal(expected.Select(e => e.GetProperty("name").GetString()), model.Select(t => t.Name));
        foreach (var (e, t) in expected.Zip(model))
        {
            Assert.Equal(e.GetProperty("dtype").GetString(), t.Dtype);
            Assert.Equal(e.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()), t.Shape);
            Assert.Equal(e.GetProperty("nbytes").GetInt64(), t.Bytes);
            Assert.Equal(e.GetProperty("sha256").GetString(), t.Sha256);
        }
    }

    [Fact]
    public void Optimizer_param_groups_and_step_tensors_are_read()
    {
        var contents = CheckpointReader.Read(CkptFixtures.Clean);
        var optimizer = Assert.Single(contents.Optimizers);
        var group = Assert.Single(optimizer.ParamGroups);
        Assert.Equal(0.0005, group.Lr);
        Assert.Equal(0.001, group.InitialLr);
        Assert.Equal([0.9, 0.999], group.Betas!);
        Assert.Equal(1e-8, group.Eps);
        Assert.Equal(0.01, group.WeightDecay);
        Assert.False(group.Amsgrad);
        Assert.False(group.Maximize);
        Assert.Null(group.Foreach);
        Assert.False(group.Capturable);
        Assert.Equal(5, group.ParamsCount);
        Assert.Equal(["Adam", "AdamW"], optimizer.ClassCandidates);
        Assert.Equal(5, optimizer.States.Count);
        Assert.All(optimizer.States, s => Assert.Equal(6.0, s.Step));
        Assert.All(optimizer.States, s => Assert.Equal(["exp_avg", "exp_avg_sq"], s.Buffers));
    }

    [Fact]
    public void Scheduler_state_is_read_with_its_kind()
    {
        var scheduler = Assert.Single(CheckpointReader.Read(CkptFixtures.Clean).Schedulers);
        Assert.Equal(6, scheduler.LastEpoch);
        Assert.Equal(7, scheduler.StepCount);
        Assert.Equal([0.001], scheduler.BaseLrs!);
        Assert.Equal([0.0005], scheduler.LastLr!);
        Assert.Contains("LambdaLR", scheduler.ClassCandidates);
        Assert.True(scheduler.Fields.ContainsKey("lr_lambdas"));
    }

    [Fact]
    public void Rng_states_give_seed_42_and_positions_pytorch_saved()
    {
        var rng = Assert.Single(CheckpointReader.Read(CkptFixtures.Clean).Rng);
        var expected = ExpectedFile("checkpoint-6/rng_state.pth");
        var cpu = rng.Generators.Single(g => g.Name == "cpu");
        Assert.Equal(42UL, cpu.DeclaredSeedField);
        Assert.Equal(expected.GetProperty("cpu").GetProperty("next").GetInt32(), cpu.Position);
        var numpy = rng.Generators.Single(g => g.Name == "numpy");
        Assert.Equal(expected.GetProperty("numpy").GetProperty("pos").GetInt32(), numpy.Position);
        Assert.Equal(expected.GetProperty("numpy").GetProperty("first_words").EnumerateArray().Select(e => e.GetUInt32()), numpy.Words.Take(4));
        var python = rng.Generators.Single(g => g.Name == "python");
        Assert.Equal(expected.GetProperty("python").GetProperty("index").GetInt32(), python.Position);
        Assert.All(rng.Generators, g => Assert.True(g.Origin.Found));
        Assert.All(rng.Generators, g => Assert.True(SeedFinder.SameStream(g.Kind, g.Origin.Seed, 42)));
    }

    [Fact]
    public void Trainer_state_is_part_of_the_contents()
    {
        var contents = CheckpointReader.Read(CkptFixtures.Clean);
        Assert.Equal(6, contents.TrainerState!.GlobalStep);
    }

    [Fact]
    public void Single_legacy_file_is_read_as_a_model()
    {
        var contents = CheckpointReader.Read(Path.Combine(CkptFixtures.Root, "legacy", "pytorch_model.bin"), new CheckpointReadOptions { HashTensors = true });
        Assert.False(contents.IsFolder);
        Assert.Equal("torch-legacy", Assert.Single(contents.Files).Format);
        var clean = CheckpointReader.Read(CkptFixtures.Clean, new CheckpointReadOptions { HashTensors = true }).Tensors.Where(t => t.File == "pytorch_model.bin");
        Assert.Equal(clean.Select(t => (t.Name, t.Sha256)), contents.Tensors.Select(t => (t.Name, t.Sha256)));
    }

    [Fact]
    public void Malicious_pickle_in_optimizer_pt_is_refused_and_never_interpreted()
    {
        using var copy = CkptFixtures.Copy();
        File.WriteAllBytes(copy.File("optimizer.pt"), HostilePickles.OsSystem);
        var contents = CheckpointReader.Read(copy.Folder);
        Assert.Empty(contents.Optimizers);
        var file = contents.Files.Single(f => f.Name == "optimizer.pt");
        Assert.False(file.Interpreted);
        Assert.Equal(Verdict.Malicious, file.ScanVerdict);
        var refusal = contents.Problems.Single(p => p.RuleId == CheckpointRules.Refused.Id);
        Assert.Contains("trainguard scan", refusal.Message, StringComparison.Ordinal);
        Assert.Contains(contents.Problems, p => p.RuleId.StartsWith("TG-PKL-", StringComparison.Ordinal));

        // What is not flagged is still read.
        Assert.Single(contents.Schedulers);
        Assert.Single(contents.Rng);
    }

    [Fact]
    public void Truncated_optimizer_pt_is_unreadable_not_clean()
    {
        using var copy = CkptFixtures.Copy();
        var bytes = File.ReadAllBytes(copy.File("optimizer.pt"));
        File.WriteAllBytes(copy.File("optimizer.pt"), bytes[..(bytes.Length / 2)]);
        var contents = CheckpointReader.Read(copy.Folder, new CheckpointReadOptions { ScanFirst = false });
        var problem = Assert.Single(contents.Problems);
        Assert.Equal(CheckpointRules.Unreadable.Id, problem.RuleId);
        Assert.Equal(Verdict.Error, problem.Verdict);
    }
}

/// <summary>Hostile pickles built as bytes (never loaded): inert payloads.</summary>
internal static class HostilePickles
{
    /// <summary>Protocol 0: <c>os.system('echo pwned')</c> via REDUCE.</summary>
    public static byte[] OsSystem { get; } = "cos\nsystem\n(S'echo pwned'\ntR."u8.ToArray();
}
