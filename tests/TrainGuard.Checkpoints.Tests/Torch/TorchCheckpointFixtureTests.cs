using System.Security.Cryptography;
using TrainGuard.Checkpoints.Torch;
using TrainGuard.Formats.Torch;
using TrainGuard.Pickle.Objects;

namespace TrainGuard.Checkpoints.Tests.Torch;

/// <summary>Differential: what TorchCheckpoint reads from real-PyTorch files equals what PyTorch read (expected.json).</summary>
public class TorchCheckpointFixtureTests
{
    public static TheoryData<string> StateDicts()
    {
        var data = new TheoryData<string>();
        foreach (var f in CkptFixtures.StateDictFiles())
        {
            data.Add(f);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(StateDicts))]
    public void Every_tensor_matches_what_pytorch_read(string relative)
    {
        var expected = CkptFixtures.Entry(relative);
        using var ckpt = TorchCheckpoint.Open(CkptFixtures.PathOf(relative));
        Assert.Equal(expected.GetProperty("format").GetString() == "torch-zip" ? TorchFormat.Zip : TorchFormat.Legacy, ckpt.Format);
        var want = expected.GetProperty("tensors").EnumerateArray().ToList();
        Assert.Equal(want.Select(t => t.GetProperty("name").GetString()), ckpt.Tensors.Select(t => t.Path));
        foreach (var (w, t) in want.Zip(ckpt.Tensors))
        {
            Assert.Equal(w.GetProperty("dtype").GetString(), t.Dtype.Name);
            Assert.Equal(w.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()), t.Shape);
            Assert.Equal(w.GetProperty("stride").EnumerateArray().Select(x => x.GetInt64()), t.Stride);
            Assert.Equal(w.GetProperty("storage_offset").GetInt64(), t.StorageOffset);
            Assert.Equal(w.GetProperty("storage_numel").GetInt64(), t.Storage.ElementCount);
            Assert.Equal(w.GetProperty("numel").GetInt64(), t.ElementCount);
            Assert.Equal(w.GetProperty("nbytes").GetInt64(), t.ByteSize);
            var bytes = ckpt.ReadTensorBytes(t);
            Assert.Equal(w.GetProperty("sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(bytes)));
        }
    }

    [Fact]
    public void Views_report_their_contiguity()
    {
        using var ckpt = TorchCheckpoint.Open(CkptFixtures.PathOf("tensors/dtypes-views.pt"));
        var byName = ckpt.Tensors.ToDictionary(t => t.Path);
        Assert.True(byName["base"].IsContiguous);
        Assert.True(byName["rows_1_3"].IsContiguous);
        Assert.False(byName["col_2"].IsContiguous);
        Assert.False(byName["transposed"].IsContiguous);
        Assert.False(byName["every_other"].IsContiguous);
        Assert.Same(byName["base"].Storage, byName["transposed"].Storage);
        Assert.Empty(byName["scalar"].Shape);
    }

    [Fact]
    public void An_optimizer_lists_its_state_tensors_by_dotted_path()
    {
        using var ckpt = TorchCheckpoint.Open(CkptFixtures.PathOf("checkpoint-6/optimizer.pt"));
        var paths = ckpt.Tensors.Select(t => t.Path).ToList();
        Assert.Contains("state.0.exp_avg", paths);
        Assert.Contains("state.0.exp_avg_sq", paths);
        Assert.Contains("state.0.step", paths);
        var group = ckpt.Root.Get("param_groups")!.AsSequence()![0];
        Assert.False(group.Get("maximize")!.AsBool());
        var step = ckpt.TensorOf(ckpt.Root.Get("state")!.Get(0)!.Get("step")!)!;
        Assert.Equal(TorchDtype.Float32, step.Dtype);
        Assert.Equal(6f, BitConverterLe(ckpt.ReadTensorBytes(step)));
    }

    [Fact]
    public void The_zip_root_of_a_file_saved_to_a_path_is_its_stem()
    {
        using var ckpt = TorchCheckpoint.Open(CkptFixtures.PathOf("checkpoint-6/pytorch_model.bin"));
        Assert.Equal("pytorch_model", ckpt.ArchiveRoot);
        Assert.Equal("pytorch_model/data.pkl", ckpt.PickleMember);
        Assert.False(ckpt.IsBigEndian);
        Assert.All(ckpt.Storages.Values, s => Assert.StartsWith("pytorch_model/data/", s.Member, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("benign/parameter.pt", "w", true)]
    [InlineData("benign/parameter-legacy.pt", "w", true)]
    [InlineData("benign/tensors-all-dtypes.pt", "bfloat16", false)]
    [InlineData("benign/nested-structure.pt", "layers.0.w", false)]
    [InlineData("benign/nested-structure.pt", "inner.deep.deeper.0", false)]
    [InlineData("benign/legacy-tar.pth", "weight", false)]
    public void Scan_fixtures_resolve_parameters_nested_paths_and_legacy_tars(string fixture, string path, bool parameter)
    {
        using var ckpt = TorchCheckpoint.Open(Path.Combine(CkptFixtures.ScanRoot, fixture));
        var t = Assert.Single(ckpt.Tensors, t => t.Path == path);
        Assert.Equal(parameter, t.IsParameter);
        Assert.Equal(t.ByteSize, ckpt.ReadTensorBytes(t).Length);
    }

    [Fact]
    public void A_legacy_tar_tensor_reads_its_values()
    {
        using var ckpt = TorchCheckpoint.Open(Path.Combine(CkptFixtures.ScanRoot, "benign/legacy-tar.pth"));
        Assert.Equal(TorchFormat.LegacyTar, ckpt.Format);
        var t = Assert.Single(ckpt.Tensors);
        Assert.Equal([2L, 3L], t.Shape);
        var bytes = ckpt.ReadTensorBytes(t);
        Assert.Equal(5f, BitConverterLe(bytes.AsSpan(20, 4).ToArray()));
    }

    [Fact]
    public void Non_tensor_leaves_are_walked_with_their_paths()
    {
        using var ckpt = TorchCheckpoint.Open(Path.Combine(CkptFixtures.ScanRoot, "benign/nested-structure.pt"));
        var leaves = ckpt.Walk().Where(e => !e.IsTensor).ToDictionary(e => e.Path, e => e.Value);
        Assert.Equal("a", leaves["layers.0.meta.0"].AsString());
        Assert.Equal(3, leaves["ids.2"].AsInt64());
        Assert.Equal(PyKind.Object, leaves["size"].Kind);
    }

    private static float BitConverterLe(byte[] four) => System.Buffers.Binary.BinaryPrimitives.ReadSingleLittleEndian(four);
}
