using TrainGuard.Checkpoints.Contents;
using TrainGuard.Checkpoints.Runs;
using TrainGuard.Checkpoints.Tests.Contents;
using TrainGuard.Findings;

namespace TrainGuard.Checkpoints.Tests.Runs;

/// <summary>Each tampered fixture variant is reported by exactly the finding it deserves, and the clean checkpoint by none.</summary>
public sealed class RunCheckerTests
{
    private static readonly RunManifest Manifest = RunManifestParser.Load(CkptFixtures.RunManifest);

    private static List<Finding> Check(string folder, RunManifest? manifest = null)
    {
        var contents = CheckpointReader.Read(folder);
        return [.. contents.Problems, .. RunChecker.Check(contents, manifest ?? Manifest)];
    }

    [Fact]
    public void Clean_checkpoint_satisfies_its_run_manifest()
    {
        Assert.Empty(Check(CkptFixtures.Clean));
    }

    [Fact]
    public void Maximize_flipped_is_one_critical_finding_on_optimizer_pt()
    {
        var finding = Assert.Single(Check(CkptFixtures.Variant("maximize")));
        Assert.Equal("TG-CKP-020", finding.RuleId);
        Assert.Equal(Severity.Critical, finding.Severity);
        Assert.Equal(Verdict.Malicious, finding.Verdict);
        Assert.Equal("optimizer.pt: param_groups[0].maximize is True: every update of its 5 parameter tensor(s) goes uphill", finding.Message);
        Assert.EndsWith("optimizer.pt", finding.Location.File, StringComparison.Ordinal);
        Assert.Equal("optimizer/data.pkl", finding.Location.Member);
    }

    [Fact]
    public void Maximize_byte_patch_is_found_at_the_patched_byte()
    {
        var finding = Assert.Single(Check(CkptFixtures.Variant("maximize-bytepatch")));
        Assert.Equal("TG-CKP-020", finding.RuleId);
        var pickle = ReadMember(CkptFixtures.Variant("maximize-bytepatch"), "optimizer.pt", "optimizer/data.pkl");
        Assert.Equal(0x88, pickle[(int)finding.Location.Offset!.Value]);
    }

    [Fact]
    public void Maximize_is_critical_even_without_a_manifest()
    {
        var finding = Assert.Single(Check(CkptFixtures.Variant("maximize"), new RunManifest { Source = "none" }));
        Assert.Equal("TG-CKP-020", finding.RuleId);
    }

    [Fact]
    public void Changed_learning_rate_is_reported_against_the_manifest_and_the_schedule()
    {
        var findings = Check(CkptFixtures.Variant("lr"));
        Assert.All(findings, f => Assert.Equal("TG-CKP-021", f.RuleId));
        Assert.Equal(
            [
                "optimizer.pt: param_groups[0].initial_lr is 0.01; the run declares lr 0.001",
                "optimizer.pt: param_groups[0].lr is 0.005; the declared linear schedule gives 0.0005 at step 6 (lr 0.001 × 0.5)",
            ],
            findings.Select(f => f.Message));
        Assert.Equal("run.yaml", Path.GetFileName(findings[0].Evidence!["declared_at"].Split(':')[0]));
    }

    [Fact]
    public void Changed_learning_rate_without_a_manifest_shows_as_files_disagreeing()
    {
        var findings = Check(CkptFixtures.Variant("lr"), new RunManifest { Source = "none" });
        Assert.Equal(
            [
                "optimizer.pt: param_groups[0].initial_lr is 0.01 but scheduler.pt base_lrs[0] is 0.001: one of the two files was edited",
                "optimizer.pt: param_groups[0].lr is 0.005; scheduler.pt _last_lr[0] is 0.0005",
            ],
            findings.Select(f => f.Message));
    }

    [Fact]
    public void Rng_state_from_seed_7_is_reported_for_each_generator()
    {
        var findings = Check(CkptFixtures.Variant("rng-seed7"));
        Assert.All(findings, f => Assert.Equal("TG-CKP-024", f.RuleId));
        Assert.Equal(["cpu", "numpy", "python"], findings.Select(f => f.Message.Split(' ')[1]).Order());
        Assert.All(findings, f => Assert.Contains("is seed 7's stream after", f.Message, StringComparison.Ordinal));
        Assert.All(findings, f => Assert.EndsWith("not seed 42's", f.Message, StringComparison.Ordinal));
    }

    [Fact]
    public void A_bare_torch_generator_state_in_a_single_file_checkpoint_is_traced_to_its_seed()
    {
        var contents = CheckpointReader.Read(Path.Combine(CkptFixtures.Root, "single", "checkpoint.pt"));
        var rng = Assert.Single(contents.Rng);
        Assert.Equal("torch_rng_state", rng.TreePath);
        var cpu = Assert.Single(rng.Generators);
        Assert.True(cpu.Origin.Found);
        Assert.Equal(42, (long)cpu.Origin.Seed);
        Assert.Empty(contents.Problems);
        Assert.DoesNotContain(Check(Path.Combine(CkptFixtures.Root, "single", "checkpoint.pt")), f => f.RuleId == "TG-CKP-024");
    }

    [Fact]
    public void A_bare_torch_generator_state_from_another_seed_is_reported()
    {
        var finding = Assert.Single(Check(Path.Combine(CkptFixtures.Root, "single", "checkpoint-seed7-rng.pt")), f => f.RuleId == "TG-CKP-024");
        Assert.Contains("is seed 7's stream after", finding.Message, StringComparison.Ordinal);
        Assert.Contains("torch_rng_state", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Scheduler_step_disagreeing_is_one_finding_naming_the_odd_file()
    {
        var findings = Check(CkptFixtures.Variant("scheduler-step"));
        var finding = Assert.Single(findings);
        Assert.Equal("TG-CKP-027", finding.RuleId);
        Assert.Equal("scheduler.pt last_epoch is 4; optimizer.pt state step, trainer_state.json global_step, checkpoint-6 say 6", finding.Message);
        Assert.EndsWith("scheduler.pt", finding.Location.File, StringComparison.Ordinal);
    }

    [Fact]
    public void Deleted_optimizer_is_a_missing_required_file()
    {
        var finding = Assert.Single(Check(CkptFixtures.Variant("optimizer-deleted")));
        Assert.Equal("TG-CKP-029", finding.RuleId);
        Assert.StartsWith("optimizer.pt is missing: the run declares an optimizer", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Edited_weight_is_invisible_to_check_and_left_to_diff_and_verify()
    {
        Assert.Empty(Check(CkptFixtures.Variant("weight")));
    }

    [Fact]
    public void Declared_hyperparameters_that_differ_are_each_reported()
    {
        var manifest = RunManifestParser.Parse("version: 1\noptimizer:\n  name: SGD\n  betas: [0.9, 0.95]\n  eps: 1.0e-6\n  amsgrad: true\nscheduler:\n  name: StepLR\n", "run.yaml");
        var findings = Check(CkptFixtures.Clean, manifest);
        Assert.Equal(
            [
                "TG-CKP-023 optimizer.pt: the optimizer state has the keys of Adam or AdamW; the run declares SGD",
                "TG-CKP-022 optimizer.pt: param_groups[0].betas is (0.9, 0.999); the run declares (0.9, 0.95)",
                "TG-CKP-022 optimizer.pt: param_groups[0].eps is 1E-08; the run declares 1E-06",
                "TG-CKP-022 optimizer.pt: param_groups[0].amsgrad is False; the run declares True",
                "TG-CKP-030 scheduler.pt: the scheduler state has the keys of LambdaLR or MultiplicativeLR; the run declares StepLR",
            ],
            findings.Select(f => f.RuleId + " " + f.Message));
    }

    [Fact]
    public void World_size_the_checkpoint_reveals_is_compared_with_the_declared_one()
    {
        using var copy = CkptFixtures.Copy();
        File.Move(copy.File("rng_state.pth"), copy.File("rng_state_0.pth"));
        File.Copy(copy.File("rng_state_0.pth"), copy.File("rng_state_1.pth"));
        var finding = Assert.Single(Check(copy.Folder));
        Assert.Equal("TG-CKP-028", finding.RuleId);
        Assert.Equal("the checkpoint was written by 2 process(es) (rng_state_0.pth, rng_state_1.pth); the run declares world_size 1", finding.Message);
    }

    [Fact]
    public void Forged_torch_seed_field_contradicting_its_state_is_critical()
    {
        using var copy = CkptFixtures.Copy();

        // Overwrite the u64 seed field (42 -> 7) inside the stored 5056-byte state: the state words still rewind to 42.
        var path = copy.File("rng_state.pth");
        File.WriteAllBytes(path, PatchSeedField(File.ReadAllBytes(path), 7));
        var findings = Check(copy.Folder);
        var forged = Assert.Single(findings, f => f.RuleId == "TG-CKP-025");
        Assert.Contains("its seed field says 7 but its state words are seed 42's stream", forged.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Schedule_factor_follows_hugging_face_schedules()
    {
        Assert.Equal(0.5, RunChecker.ScheduleFactor("linear", 1, 2, 10));
        Assert.Equal(0.5, RunChecker.ScheduleFactor("linear", 6, 2, 10));
        Assert.Equal(1.0, RunChecker.ScheduleFactor("constant", 6, 2, 10));
        Assert.Equal(0.5, RunChecker.ScheduleFactor("cosine", 6, 2, 10)!.Value, 12);
        Assert.Null(RunChecker.ScheduleFactor("linear", 6, 2, null));
    }

    internal static byte[] ReadMember(string folder, string file, string member)
    {
        using var zip = System.IO.Compression.ZipFile.OpenRead(Path.Combine(folder, file));
        using var stream = zip.GetEntry(member)!.Open();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>
    /// Patches the stored torch CPU generator state (found by its first 24 bytes: seed 42, left, seeded, next) and
    /// fixes the member's CRC-32 in its data descriptor and central-directory record, as an attacker would.
    /// </summary>
    private static byte[] PatchSeedField(byte[] zip, byte newSeed)
    {
        var header = new byte[24];
        var cpu = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(CkptFixtures.Root, "expected.json")))
            .RootElement.GetProperty("files").GetProperty("checkpoint-6/rng_state.pth").GetProperty("cpu");
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(header, 42);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(8), cpu.GetProperty("left").GetInt32());
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(12), 1);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(16), cpu.GetProperty("next").GetUInt64());
        var data = zip.AsSpan().IndexOf(header);
        Assert.True(data > 0, "torch CPU generator state not found in rng_state.pth");
        var oldCrc = TrainGuard.Formats.Zip.Crc32.Compute(zip.AsSpan(data, 5056));
        zip[data] = newSeed;
        var newCrc = TrainGuard.Formats.Zip.Crc32.Compute(zip.AsSpan(data, 5056));
        Span<byte> old = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(old, oldCrc);
        var patched = 0;
        for (var at = zip.AsSpan().IndexOf(old); at >= 0; at = zip.AsSpan().IndexOf(old))
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(zip.AsSpan(at), newCrc);
            patched++;
        }

        Assert.True(patched >= 2, "CRC-32 of the state member not found in the descriptor and central directory");
        return zip;
    }
}
