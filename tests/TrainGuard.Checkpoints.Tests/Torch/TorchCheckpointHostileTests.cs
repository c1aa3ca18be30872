using TrainGuard.Checkpoints.Torch;
using TrainGuard.Parsing;
using static TrainGuard.Checkpoints.Tests.Torch.TinyTorch;

namespace TrainGuard.Checkpoints.Tests.Torch;

public class TorchCheckpointHostileTests
{
    private static readonly byte[] FourFloats = Floats(1, 2, 3, 4);

    private static TorchCheckpoint Open(byte[] file) => TorchCheckpoint.Open(new MemoryStream(file));

    private static MalformedInputException Fails(params Tensor[] tensors) =>
        Assert.Throws<MalformedInputException>(() => Open(Zip(StateDictPickle(tensors), new Dictionary<string, byte[]> { ["0"] = FourFloats })));

    [Fact]
    public void A_well_formed_tiny_checkpoint_opens_and_copies_a_transposed_view()
    {
        using var ckpt = Open(Zip(StateDictPickle([new("w", "FloatStorage", "0", 4, 0, [2, 2], [1, 2])]), new Dictionary<string, byte[]> { ["0"] = FourFloats }));
        var t = Assert.Single(ckpt.Tensors);
        Assert.False(t.IsContiguous);
        Assert.Equal(Floats(1, 3, 2, 4), ckpt.ReadTensorBytes(t));
    }

    [Fact]
    public void A_missing_storage_member_names_the_key_and_the_pickle_member()
    {
        var e = Assert.Throws<MalformedInputException>(() => Open(Zip(StateDictPickle([new("w", "FloatStorage", "7", 4, 0, [4], [1])]), new Dictionary<string, byte[]> { ["0"] = FourFloats })));
        Assert.Contains("storage '7'", e.Message, StringComparison.Ordinal);
        Assert.Contains("archive/data/7", e.Message, StringComparison.Ordinal);
        Assert.Equal("archive/data.pkl", e.Member);
        Assert.NotNull(e.Offset);
    }

    [Fact]
    public void A_view_past_the_end_of_its_storage_is_refused()
    {
        var e = Fails(new Tensor("w", "FloatStorage", "0", 4, 2, [3], [1]));
        Assert.Contains("tensor 'w'", e.Message, StringComparison.Ordinal);
        Assert.Contains("beyond storage '0'", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new long[] { -1 }, new long[] { 1 }, 0, "size[0] is -1")]
    [InlineData(new long[] { 2 }, new long[] { -1 }, 0, "stride[0] is -1")]
    [InlineData(new long[] { 2 }, new long[] { 1 }, -1, "storage_offset -1 is negative")]
    [InlineData(new long[] { long.MaxValue, 4 }, new long[] { 1, 1 }, 0, "overflows")]
    [InlineData(new long[] { 2, 2 }, new long[] { long.MaxValue, 1 }, 0, "overflows")]
    [InlineData(new long[] { 2, 2 }, new long[] { 1 }, 0, "stride has 1")]
    public void Negative_or_overflowing_shapes_and_strides_are_refused(long[] size, long[] stride, long offset, string expected)
    {
        var e = Fails(new Tensor("w", "FloatStorage", "0", 4, offset, size, stride));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_storage_type_is_refused_naming_it()
    {
        var e = Fails(new Tensor("w", "EvilStorage", "0", 4, 0, [4], [1]));
        Assert.Contains("torch.EvilStorage", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_storage_whose_member_size_disagrees_with_its_element_count_is_refused()
    {
        var e = Fails(new Tensor("w", "DoubleStorage", "0", 4, 0, [4], [1]));
        Assert.Contains("holds 16 bytes", e.Message, StringComparison.Ordinal);
        Assert.Equal("archive/data/0", e.Member);
    }

    [Fact]
    public void One_storage_referenced_with_two_dtypes_is_refused()
    {
        var e = Assert.Throws<MalformedInputException>(() => Open(Zip(
            StateDictPickle([new("a", "FloatStorage", "0", 4, 0, [4], [1]), new("b", "IntStorage", "0", 4, 0, [4], [1])]),
            new Dictionary<string, byte[]> { ["0"] = FourFloats })));
        Assert.Contains("referenced as int32", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("../0")]
    [InlineData("a/b")]
    public void Storage_keys_that_are_paths_are_refused(string key)
    {
        var e = Fails(new Tensor("w", "FloatStorage", key, 4, 0, [4], [1]));
        Assert.Contains("not a plain member name", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_truncated_data_pkl_names_its_member()
    {
        var pkl = StateDictPickle([new("w", "FloatStorage", "0", 4, 0, [4], [1])]);
        var e = Assert.Throws<MalformedInputException>(() => Open(Zip(pkl[..^3], new Dictionary<string, byte[]> { ["0"] = FourFloats })));
        Assert.Equal("archive/data.pkl", e.Member);
    }

    [Fact]
    public void A_big_endian_checkpoint_is_copied_little_endian()
    {
        var be = new byte[16];
        for (var i = 0; i < 4; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteSingleBigEndian(be.AsSpan(i * 4), i + 1);
        }

        using var ckpt = Open(Zip(StateDictPickle([new("w", "FloatStorage", "0", 4, 0, [4], [1])]), new Dictionary<string, byte[]> { ["0"] = be }, byteorder: "big"));
        Assert.True(ckpt.IsBigEndian);
        Assert.Equal(FourFloats, ckpt.ReadTensorBytes(ckpt.Tensors[0]));
    }

    [Fact]
    public void A_legacy_file_whose_storage_count_disagrees_is_refused()
    {
        var pkl = StateDictPickle([new("w", "FloatStorage", "0", 4, 0, [4], [1])]);
        using (var ok = Open(Legacy(pkl, [("0", 4, FourFloats)])))
        {
            Assert.Equal(TorchFormat.Legacy, ok.Format);
            Assert.Equal(FourFloats, ok.ReadTensorBytes(ok.Tensors[0]));
        }

        var e = Assert.Throws<MalformedInputException>(() => Open(Legacy(pkl, [("0", 5, FourFloats)])));
        Assert.Contains("holds 5 elements", e.Message, StringComparison.Ordinal);
        var t = Assert.Throws<MalformedInputException>(() => Open(Legacy(pkl, [("0", 4, FourFloats[..8])])));
        Assert.Contains("truncated", t.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Content_that_is_not_a_checkpoint_is_refused_by_content()
    {
        var e = Assert.Throws<MalformedInputException>(() => Open("just some text, not a model\n"u8.ToArray()));
        Assert.Contains("not a torch checkpoint", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_self_referencing_tree_is_walked_without_looping()
    {
        var pkl = StateDictPickle([new("w", "FloatStorage", "0", 4, 0, [4], [1])], p =>
        {
            Str(p, "loop");
            p.AddRange([(byte)']', (byte)'q', 9, (byte)'h', 9, (byte)'a']);
        });
        using var ckpt = Open(Zip(pkl, new Dictionary<string, byte[]> { ["0"] = FourFloats }));
        Assert.Single(ckpt.Tensors);
    }

    [Fact]
    public void Mutated_checkpoints_throw_nothing_but_malformed_input()
    {
        var seeds = new[]
        {
            Zip(StateDictPickle([new("w", "FloatStorage", "0", 4, 0, [2, 2], [1, 2])]), new Dictionary<string, byte[]> { ["0"] = FourFloats }),
            Legacy(StateDictPickle([new("w", "FloatStorage", "0", 4, 1, [3], [1])]), [("0", 4, FourFloats)]),
            File.ReadAllBytes(CkptFixtures.PathOf("tensors/dtypes-views-legacy.pt")),
        };
        FuzzHarness.Run(TorchCheckpoint.Fuzz, seeds, 1500, 5);
    }
}
