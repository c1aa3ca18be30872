using TrainGuard.Formats.Detection;
using TrainGuard.Formats.Safetensors;
using TrainGuard.Formats.Tests.Support;
using TrainGuard.Parsing;

namespace TrainGuard.Formats.Tests.Safetensors;

public class SafetensorsReaderTests
{
    private static SafetensorsHeader Validate(byte[] bytes) => SafetensorsReader.Validate(new MemoryStream(bytes), bytes.Length, SafetensorsLimits.Default);

    [Fact]
    public void Valid_file_gives_tensors_metadata_and_data_offset()
    {
        var bytes = Fixture.Bytes("safetensors/valid.safetensors");
        var header = Validate(bytes);

        Assert.Equal(["weight", "bias", "empty"], header.Tensors.Select(t => t.Name));
        Assert.Equal("pt", header.Metadata["format"]);
        var weight = header.Tensors[0];
        Assert.Equal("F32", weight.Dtype);
        Assert.Equal([2L, 3L], weight.Shape);
        Assert.Equal((0L, 24L), (weight.Begin, weight.End));
        Assert.Equal(40, header.DataLength);
        Assert.Equal(bytes.Length - 40, header.DataOffset);
        Assert.Equal(DetectedFormat.Safetensors, FormatDetector.Detect(bytes, bytes.Length));
    }

    [Theory]
    [InlineData("safetensors/valid_padded.safetensors", 1)]
    [InlineData("safetensors/valid_no_tensors.safetensors", 0)]
    [InlineData("safetensors/valid_f4.safetensors", 1)]
    public void Padded_empty_and_sub_byte_files_are_valid(string fixture, int tensors)
    {
        var bytes = Fixture.Bytes(fixture);

        Assert.Equal(tensors, Validate(bytes).Tensors.Count);
        Assert.Equal(tensors, SafetensorsReader.Validate(bytes, SafetensorsLimits.Default).Tensors.Count);
    }

    [Theory]
    [InlineData("header_too_large", "HeaderTooLarge")]
    [InlineData("header_past_end", "runs past the end")]
    [InlineData("bad_json", "not valid JSON")]
    [InlineData("trailing_comma", "not valid JSON")]
    [InlineData("unknown_dtype", "unknown dtype 'F128'")]
    [InlineData("length_mismatch", "tensor 't': data_offsets span 8 bytes but shape [3] of F32 needs 12")]
    [InlineData("overlap", "tensor 'b'")]
    [InlineData("gap", "gap of 2")]
    [InlineData("out_of_bounds", "run past the data buffer")]
    [InlineData("trailing_data", "MetadataIncompleteBuffer")]
    [InlineData("duplicate_key", "duplicate key 't'")]
    [InlineData("non_string_metadata", "__metadata__ value of 'epoch'")]
    [InlineData("negative_shape", "tensor 't': shape")]
    [InlineData("end_before_begin", "before begin")]
    [InlineData("not_an_object", "InvalidHeaderStart")]
    [InlineData("invalid_utf8", "UTF-8")]
    [InlineData("float_offset", "tensor 't': data_offsets")]
    [InlineData("missing_field", "missing field 'data_offsets'")]
    public void Every_invalid_class_is_refused_naming_the_problem_with_an_offset(string name, string expected)
    {
        var bytes = Fixture.Bytes($"safetensors/invalid/{name}.safetensors");

        var ex = Assert.Throws<MalformedInputException>(() => Validate(bytes));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.NotNull(ex.Offset);
        var inMemory = Assert.Throws<MalformedInputException>(() => SafetensorsReader.Validate(bytes, SafetensorsLimits.Default));
        Assert.Equal(ex.Message, inMemory.Message);
    }

    [Fact]
    public void Every_invalid_fixture_has_a_test_case()
    {
        var covered = typeof(SafetensorsReaderTests).GetMethod(nameof(Every_invalid_class_is_refused_naming_the_problem_with_an_offset))!
            .GetCustomAttributes(typeof(InlineDataAttribute), false).Cast<InlineDataAttribute>()
            .Select(a => (string)a.GetData(null!).Single()[0]).ToHashSet();

        Assert.All(Fixture.Files("safetensors/invalid"), f => Assert.Contains(System.IO.Path.GetFileNameWithoutExtension(f), covered));
    }

    [Fact]
    public void Overlap_message_names_both_tensors()
    {
        var ex = Assert.Throws<MalformedInputException>(() => Validate(Fixture.Bytes("safetensors/invalid/overlap.safetensors")));

        Assert.Contains("overlap tensor 'a'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Configured_header_limit_below_the_format_ceiling_is_a_limit_not_a_format_error()
    {
        var ex = Assert.Throws<MalformedInputException>(() => SafetensorsReader.Validate(Fixture.Bytes("safetensors/valid.safetensors"), new SafetensorsLimits { MaxHeaderBytes = 16 }));

        Assert.True(ex.LimitExceeded);
    }

    [Fact]
    public void Tensor_count_limit_applies()
    {
        var ex = Assert.Throws<MalformedInputException>(() => SafetensorsReader.Validate(Fixture.Bytes("safetensors/valid.safetensors"), new SafetensorsLimits { MaxTensors = 2 }));

        Assert.True(ex.LimitExceeded);
    }

    [Fact]
    public void Shape_whose_element_count_overflows_is_refused()
    {
        var json = "{\"t\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,0]}}"u8.ToArray();
        var bytes = new byte[8 + json.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);

        Assert.Contains("overflows", Assert.Throws<MalformedInputException>(() => Validate(bytes)).Message, StringComparison.Ordinal);
    }
}
