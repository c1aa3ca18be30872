using System.Security.Cryptography;
using System.Text.Json;
using TrainGuard.Checkpoints.Conversion;
using TrainGuard.Checkpoints.Tests.Torch;
using TrainGuard.Findings;
using TrainGuard.Formats.Safetensors;
using TrainGuard.Parsing;
using static TrainGuard.Checkpoints.Tests.Torch.TinyTorch;

namespace TrainGuard.Checkpoints.Tests.Conversion;

public sealed class SafetensorsConverterTests : IDisposable
{
    private static readonly Dictionary<string, string> TorchToSafetensors = new(StringComparer.Ordinal)
    {
        ["float32"] = "F32", ["float16"] = "F16", ["bfloat16"] = "BF16", ["float64"] = "F64", ["int64"] = "I64",
        ["int32"] = "I32", ["int8"] = "I8", ["uint8"] = "U8", ["bool"] = "BOOL", ["int16"] = "I16",
    };

    private readonly string _dir = Directory.CreateTempSubdirectory("tg-convert-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

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
    public void Converted_tensors_equal_what_pytorch_read_from_the_original(string relative)
    {
        var output = Path.Combine(_dir, "out.safetensors");
        var result = SafetensorsConverter.Convert(CkptFixtures.PathOf(relative), output);
        Assert.True(result.Succeeded, result.Message);

        var file = File.ReadAllBytes(output);
        var header = SafetensorsReader.Validate(file, SafetensorsLimits.Default);
        Assert.Equal("pt", header.Metadata["format"]);
        var expected = CkptFixtures.Entry(relative).GetProperty("tensors").EnumerateArray().ToDictionary(t => t.GetProperty("name").GetString()!);
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), header.Tensors.Select(t => t.Name).Order(StringComparer.Ordinal));
        foreach (var t in header.Tensors)
        {
            var want = expected[t.Name];
            Assert.Equal(TorchToSafetensors[want.GetProperty("dtype").GetString()!], t.Dtype);
            Assert.Equal(want.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()), t.Shape);
            var bytes = file.AsSpan((int)(header.DataOffset + t.Begin), (int)t.ByteLength);
            Assert.Equal(want.GetProperty("sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(bytes)));
        }
    }

    [Fact]
    public void The_header_is_laid_out_as_the_safetensors_library_lays_it_out()
    {
        var output = Path.Combine(_dir, "views.safetensors");
        Assert.True(SafetensorsConverter.Convert(CkptFixtures.PathOf("tensors/dtypes-views.pt"), output).Succeeded);
        var file = File.ReadAllBytes(output);
        var n = (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(file);
        Assert.Equal(0, n % 8);
        var json = System.Text.Encoding.UTF8.GetString(file, 8, n);
        using var doc = JsonDocument.Parse(json);
        var names = doc.RootElement.EnumerateObject().Select(p => p.Name).ToList();
        Assert.Equal("__metadata__", names[0]);
        var dtypes = names.Skip(1).Select(name => doc.RootElement.GetProperty(name).GetProperty("dtype").GetString()).ToList();
        // Descending dtype (I64, F64, F32, I32, BF16, F16, I8, U8, BOOL), then name; offsets follow that order.
        Assert.Equal(["I64", "F64", "F32"], dtypes.Take(3));
        Assert.Equal("BOOL", dtypes[^1]);
        var f32 = names.Skip(1).Where(x => doc.RootElement.GetProperty(x).GetProperty("dtype").GetString() == "F32").ToList();
        Assert.Equal(f32.Order(StringComparer.Ordinal), f32);
        long previous = 0;
        foreach (var name in names.Skip(1))
        {
            var offsets = doc.RootElement.GetProperty(name).GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()).ToArray();
            Assert.Equal(previous, offsets[0]);
            previous = offsets[1];
        }

        Assert.Equal(file.Length - 8 - n, previous);
    }

    [Theory]
    [InlineData("malicious/torch-zip-data-pkl-replaced.pt", Verdict.Malicious)]
    [InlineData("malicious/torch-legacy-payload-after-storages.pt", Verdict.Malicious)]
    [InlineData("suspicious/torch-zip-custom-class.pt", Verdict.Suspicious)]
    public void A_file_the_scanner_does_not_find_clean_is_refused_and_nothing_is_written(string fixture, Verdict verdict)
    {
        var output = Path.Combine(_dir, "x.safetensors");
        var result = SafetensorsConverter.Convert(Path.Combine(CkptFixtures.ScanRoot, fixture), output);
        Assert.Equal(ConvertOutcome.NotClean, result.Outcome);
        Assert.Equal(verdict, result.Scan!.Verdict);
        Assert.Contains("not clean", result.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Fact]
    public void An_existing_output_is_kept_unless_forced()
    {
        var output = Path.Combine(_dir, "exists.safetensors");
        File.WriteAllText(output, "keep me");
        var refused = SafetensorsConverter.Convert(CkptFixtures.PathOf("checkpoint-6/pytorch_model.bin"), output);
        Assert.Equal(ConvertOutcome.OutputExists, refused.Outcome);
        Assert.Contains("--force", refused.Message, StringComparison.Ordinal);
        Assert.Equal("keep me", File.ReadAllText(output));

        var forced = SafetensorsConverter.Convert(CkptFixtures.PathOf("checkpoint-6/pytorch_model.bin"), output, new ConvertOptions { Force = true });
        Assert.True(forced.Succeeded, forced.Message);
        SafetensorsReader.Validate(File.ReadAllBytes(output), SafetensorsLimits.Default);
    }

    [Fact]
    public void Non_tensor_values_are_refused_unless_skipped_and_then_listed()
    {
        var input = Path.Combine(CkptFixtures.ScanRoot, "benign/nested-structure.pt");
        var output = Path.Combine(_dir, "nested.safetensors");
        var refused = SafetensorsConverter.Convert(input, output);
        Assert.Equal(ConvertOutcome.NonTensorValues, refused.Outcome);
        Assert.Contains("--skip-non-tensors", refused.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(output));

        var skipped = SafetensorsConverter.Convert(input, output, new ConvertOptions { SkipNonTensors = true });
        Assert.True(skipped.Succeeded, skipped.Message);
        Assert.Equal(["inner.deep.deeper.0", "layers.0.w"], skipped.Tensors.Select(t => t.Name).Order(StringComparer.Ordinal));
        Assert.Contains(skipped.Skipped, s => s.Path == "layers.0.meta.0");
        Assert.Contains(skipped.Skipped, s => s.Path == "size");
    }

    [Fact]
    public void An_optimizer_is_not_a_state_dict_of_tensors()
    {
        var result = SafetensorsConverter.Convert(CkptFixtures.PathOf("checkpoint-6/optimizer.pt"), Path.Combine(_dir, "o.safetensors"));
        Assert.Equal(ConvertOutcome.NonTensorValues, result.Outcome);
        Assert.Contains(result.Skipped, s => s.Path == "param_groups.0.lr");
    }

    [Fact]
    public void A_state_dict_under_model_is_converted_and_its_siblings_are_listed()
    {
        var sd = StateDictPickle([new("layer.weight", "FloatStorage", "0", 4, 0, [2, 2], [2, 1]), new("layer.t", "FloatStorage", "0", 4, 0, [2, 2], [1, 2])]);
        var p = new List<byte> { 0x80, 2, (byte)'}', (byte)'(' };
        Str(p, "model");
        p.AddRange(sd[2..^1]);
        Str(p, "epoch");
        Int(p, 3);
        p.AddRange([(byte)'u', (byte)'.']);
        var input = Path.Combine(_dir, "train.pt");
        File.WriteAllBytes(input, Zip([.. p], new Dictionary<string, byte[]> { ["0"] = Floats(1, 2, 3, 4) }));
        var output = Path.Combine(_dir, "train.safetensors");

        Assert.Equal(ConvertOutcome.NonTensorValues, SafetensorsConverter.Convert(input, output).Outcome);
        var result = SafetensorsConverter.Convert(input, output, new ConvertOptions { SkipNonTensors = true });
        Assert.True(result.Succeeded, result.Message);
        Assert.Equal("model", result.StateDictKey);
        Assert.Equal("epoch", Assert.Single(result.Skipped).Path);

        var file = File.ReadAllBytes(output);
        var header = SafetensorsReader.Validate(file, SafetensorsLimits.Default);
        var t = header.Tensors.Single(x => x.Name == "layer.t");
        Assert.Equal(Floats(1, 3, 2, 4), file.AsSpan((int)(header.DataOffset + t.Begin), 16).ToArray());
        var w = header.Tensors.Single(x => x.Name == "layer.weight");
        Assert.Equal(Floats(1, 2, 3, 4), file.AsSpan((int)(header.DataOffset + w.Begin), 16).ToArray());
    }

    [Fact]
    public void A_dtype_safetensors_lacks_is_refused()
    {
        var input = Path.Combine(_dir, "complex.pt");
        File.WriteAllBytes(input, Zip(StateDictPickle([new("z", "ComplexDoubleStorage", "0", 1, 0, [1], [1])]), new Dictionary<string, byte[]> { ["0"] = new byte[16] }));
        var result = SafetensorsConverter.Convert(input, Path.Combine(_dir, "z.safetensors"));
        Assert.Equal(ConvertOutcome.Unsupported, result.Outcome);
        Assert.Contains("complex128", result.Message, StringComparison.Ordinal);
        Assert.Single(Directory.GetFiles(_dir));
    }

    [Fact]
    public void A_malformed_checkpoint_leaves_no_temporary_file()
    {
        var input = Path.Combine(_dir, "bad.pt");
        File.WriteAllBytes(input, Zip(StateDictPickle([new("w", "FloatStorage", "0", 4, 0, [8], [1])]), new Dictionary<string, byte[]> { ["0"] = Floats(1, 2, 3, 4) }));
        var output = Path.Combine(_dir, "bad.safetensors");
        // The scan that comes first already finds the tensor reading past its storage (TG-FMT-012): refused, no file.
        var result = SafetensorsConverter.Convert(input, output);
        Assert.Equal(ConvertOutcome.NotClean, result.Outcome);
        Assert.Contains(result.Scan!.Findings, f => f.RuleId == "TG-FMT-012");
        Assert.Equal([input], Directory.GetFiles(_dir));
    }
}
