using System.Text;
using TrainGuard.Formats.Detection;
using TrainGuard.Formats.Numpy;
using TrainGuard.Formats.Tests.Support;
using TrainGuard.Parsing;

namespace TrainGuard.Formats.Tests.Numpy;

public class NpyHeaderTests
{
    [Fact]
    public void Benign_float_array_header_gives_dtype_shape_and_data_length()
    {
        var bytes = Fixture.Bytes("npy/benign_f4.npy");
        var header = NpyHeader.Parse(bytes);

        Assert.Equal(1, header.MajorVersion);
        Assert.Equal("<f4", header.Descr);
        Assert.False(header.FortranOrder);
        Assert.Equal([2L, 3L], header.Shape);
        Assert.False(header.IsObjectDtype);
        Assert.Equal(4, header.ItemSize);
        Assert.Equal(24, header.DataByteLength);
        Assert.Equal(bytes.Length, header.DataOffset + header.DataByteLength);
        Assert.Equal(header.DataOffset, NpyHeader.GetDataOffset(bytes));
        header.CheckDataLength(bytes.Length);
        Assert.Equal(DetectedFormat.Npy, FormatDetector.Detect(bytes, bytes.Length));
    }

    [Fact]
    public void Fortran_order_is_read()
    {
        var header = NpyHeader.Parse(Fixture.Bytes("npy/fortran_f8.npy"));

        Assert.True(header.FortranOrder);
        Assert.Equal([3L, 4L], header.Shape);
        Assert.Equal(96, header.DataByteLength);
    }

    [Fact]
    public void Object_array_means_a_pickle_follows_the_header()
    {
        var bytes = Fixture.Bytes("npy/object.npy");
        var header = NpyHeader.Parse(bytes);

        Assert.True(header.IsObjectDtype);
        Assert.Null(header.DataByteLength);
        Assert.Equal(DetectedFormat.Pickle, FormatDetector.Detect(bytes.AsSpan((int)header.DataOffset), bytes.Length - header.DataOffset));
    }

    [Fact]
    public void Structured_dtype_with_an_object_field_is_object()
    {
        var header = NpyHeader.Parse(Fixture.Bytes("npy/structured_object.npy"));

        Assert.True(header.IsStructured);
        Assert.True(header.IsObjectDtype);
        Assert.Equal(["a", "b"], header.Fields.Select(f => f.Name));
        Assert.True(header.Fields[1].IsObject);
        Assert.False(header.Fields[0].IsObject);
    }

    [Fact]
    public void Structured_dtype_without_objects_sums_field_sizes_and_subarray_shapes()
    {
        var bytes = Fixture.Bytes("npy/structured.npy");
        var header = NpyHeader.Parse(bytes);

        Assert.True(header.IsStructured);
        Assert.False(header.IsObjectDtype);
        Assert.Equal(4 + (2 * 2) + 5, header.ItemSize);
        Assert.Equal([2L], header.Fields[1].Shape);
        header.CheckDataLength(bytes.Length);
    }

    [Theory]
    [InlineData("npy/v2.npy", 2)]
    [InlineData("npy/v3.npy", 3)]
    [InlineData("npy/unicode_u3.npy", 1)]
    [InlineData("npy/scalar_i8.npy", 1)]
    public void Every_format_version_and_dtype_kind_parses_with_consistent_length(string fixture, int version)
    {
        var bytes = Fixture.Bytes(fixture);
        var header = NpyHeader.Parse(bytes);

        Assert.Equal(version, header.MajorVersion);
        header.CheckDataLength(bytes.Length);
    }

    [Fact]
    public void Scalar_has_empty_shape_and_unicode_counts_four_bytes_per_character()
    {
        Assert.Empty(NpyHeader.Parse(Fixture.Bytes("npy/scalar_i8.npy")).Shape);
        Assert.Equal(12, NpyHeader.Parse(Fixture.Bytes("npy/unicode_u3.npy")).ItemSize);
    }

    private static byte[] Npy(string dict, byte major = 1)
    {
        var text = Encoding.Latin1.GetBytes(dict + "\n");
        var lengthSize = major == 1 ? 2 : 4;
        var result = new byte[8 + lengthSize + text.Length];
        new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', major, 0 }.CopyTo(result, 0);
        if (major == 1)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(result.AsSpan(8), (ushort)text.Length);
        }
        else
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(result.AsSpan(8), (uint)text.Length);
        }

        text.CopyTo(result, 8 + lengthSize);
        return result;
    }

    [Theory]
    [InlineData("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }")]
    [InlineData("{'descr': '<O8', 'fortran_order': False, 'shape': (2,)}")]
    [InlineData("{'descr': [('a', '<i4'), ('nested', [('x', '|O')])], 'fortran_order': False, 'shape': (1,)}")]
    [InlineData("{'descr': [(('title', 'b'), '|O', (2,))], 'fortran_order': False, 'shape': ()}")]
    public void Object_types_anywhere_in_descr_are_found(string dict) => Assert.True(NpyHeader.Parse(Npy(dict)).IsObjectDtype);

    [Fact]
    public void Python2_long_suffixes_and_double_quotes_are_accepted()
    {
        var header = NpyHeader.Parse(Npy("{\"descr\": \"<i8\", \"fortran_order\": True, \"shape\": (3L, 2L)}"));

        Assert.Equal([3L, 2L], header.Shape);
        Assert.Equal(48, header.DataByteLength);
    }

    [Theory]
    [InlineData("{'descr': '<f4', 'fortran_order': False}", "lacks")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", "unexpected")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", "non-negative")]
    [InlineData("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", "fortran_order")]
    [InlineData("{'descr': '<q7', 'fortran_order': False, 'shape': (1,)}", "not understood")]
    [InlineData("{'descr': __import__('os').system('id'), 'fortran_order': False, 'shape': (1,)}", "unexpected character")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (1.5,)}", "plain integers")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", "out of range")]
    [InlineData("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4)}", "overflows")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", "unterminated")]
    [InlineData("['descr']", "not a dict")]
    public void Malformed_headers_are_refused_with_an_offset(string dict, string expected)
    {
        var ex = Assert.Throws<MalformedInputException>(() => NpyHeader.Parse(Npy(dict)));

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.NotNull(ex.Offset);
    }

    [Fact]
    public void Deep_nesting_is_refused()
    {
        var dict = "{'descr': " + new string('[', 200) + new string(']', 200) + ", 'fortran_order': False, 'shape': ()}";

        Assert.Throws<MalformedInputException>(() => NpyHeader.Parse(Npy(dict)));
    }

    [Fact]
    public void Unsupported_version_and_oversized_header_are_refused()
    {
        var bytes = Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}");
        bytes[6] = 4;
        Assert.Contains("version", Assert.Throws<MalformedInputException>(() => NpyHeader.Parse(bytes)).Message, StringComparison.Ordinal);

        var ex = Assert.Throws<MalformedInputException>(() => NpyHeader.Parse(Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}" + new string(' ', 500), 2), maxHeaderBytes: 100));
        Assert.True(ex.LimitExceeded);
    }

    [Fact]
    public void Data_shorter_or_longer_than_the_shape_promises_is_refused()
    {
        var bytes = Fixture.Bytes("npy/benign_f4.npy");
        var header = NpyHeader.Parse(bytes);

        Assert.Throws<MalformedInputException>(() => header.CheckDataLength(bytes.Length - 1));
        Assert.Throws<MalformedInputException>(() => header.CheckDataLength(bytes.Length + 1));
    }
}
