using System.Buffers.Binary;
using TrainGuard.Formats.Torch;
using TrainGuard.Parsing;

namespace TrainGuard.Formats.Tests.Torch;

public class LegacyTorchLayoutTests
{
    private static byte[] Storage(long count, int dataBytes, bool bigEndian = false)
    {
        var bytes = new byte[8 + dataBytes];
        if (bigEndian)
        {
            BinaryPrimitives.WriteInt64BigEndian(bytes, count);
        }
        else
        {
            BinaryPrimitives.WriteInt64LittleEndian(bytes, count);
        }

        return bytes;
    }

    private static byte[] Tensor(long[] sizes, long[] strides, long storageOffset, int? rank = null)
    {
        var bytes = new byte[8 + (16 * sizes.Length) + 8];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, rank ?? sizes.Length);
        for (var d = 0; d < sizes.Length; d++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(8 + (8 * d)), sizes[d]);
            BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(8 + (8 * (sizes.Length + d))), strides[d]);
        }

        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(8 + (16 * sizes.Length)), storageOffset);
        return bytes;
    }

    [Fact]
    public void A_storage_record_reads_alike_from_bytes_and_from_a_stream()
    {
        var bytes = Storage(3, 12 + 5);
        var fromSpan = LegacyTorchLayout.ReadStorage(bytes, 100, elementSize: 4, bigEndian: false, "storage '0'");
        using var stream = new MemoryStream(bytes);
        var fromStream = LegacyTorchLayout.ReadStorage(stream, elementSize: 4, bigEndian: false, "storage '0'");

        Assert.Equal(new LegacyStorageRecord(3, 108, 120), fromSpan);
        Assert.Equal(new LegacyStorageRecord(3, 8, 20), fromStream);
        Assert.Equal(20, stream.Position);
    }

    [Fact]
    public void A_big_endian_file_has_a_big_endian_element_count()
    {
        var record = LegacyTorchLayout.ReadStorage(Storage(2, 4, bigEndian: true), 0, elementSize: 2, bigEndian: true, "storage '0'");
        Assert.Equal(2, record.ElementCount);
    }

    [Theory]
    [InlineData(3L, 11, "truncated: storage '0' declares 3 elements of 4 bytes but only 11 bytes remain")]
    [InlineData(-1L, 0, "storage '0' declares a negative element count")]
    [InlineData(long.MaxValue, 16, "truncated: storage '0' declares")]
    public void A_storage_count_the_bytes_cannot_hold_is_an_error_at_the_record(long count, int dataBytes, string message)
    {
        var e = Assert.Throws<MalformedInputException>(() => LegacyTorchLayout.ReadStorage(Storage(count, dataBytes), 40, 4, false, "storage '0'"));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.Equal(40, e.Offset);
    }

    [Fact]
    public void A_storage_whose_count_is_not_the_one_the_object_pickle_declares_is_refused()
    {
        var e = Assert.Throws<MalformedInputException>(() => LegacyTorchLayout.ReadStorage(Storage(3, 12), 0, 4, false, "storage '0'", expectedElements: 4));
        Assert.Contains("holds 3 elements but the object pickle declares 4", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_element_count_is_a_truncation()
    {
        using var stream = new MemoryStream(new byte[5]);
        var e = Assert.Throws<MalformedInputException>(() => LegacyTorchLayout.ReadStorage(stream, 4, false, "storage '0'"));
        Assert.StartsWith("truncated: the element count of storage '0'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tensor_record_gives_sizes_strides_and_storage_offset_from_bytes_and_from_a_stream()
    {
        var bytes = Tensor([2, 3], [3, 1], 6);
        var fromSpan = LegacyTorchLayout.ReadTensor(bytes, 0, maxRank: 64, "tensor '1'");
        using var stream = new MemoryStream([.. bytes, 0x80]);
        var fromStream = LegacyTorchLayout.ReadTensor(stream, maxRank: 64, "tensor '1'");

        foreach (var record in new[] { fromSpan, fromStream })
        {
            Assert.Equal([2L, 3L], record.Sizes);
            Assert.Equal([3L, 1L], record.Strides);
            Assert.Equal(6, record.StorageOffset);
            Assert.Equal(bytes.Length, record.End);
        }

        Assert.Equal(bytes.Length, stream.Position);
    }

    [Fact]
    public void A_rank_above_the_configured_limit_is_a_limit_error_and_a_negative_rank_is_malformed()
    {
        var bytes = Tensor([1, 1, 1], [1, 1, 1], 0);
        var limit = Assert.Throws<MalformedInputException>(() => LegacyTorchLayout.ReadTensor(bytes, 0, maxRank: 2, "tensor '1'"));
        Assert.True(limit.LimitExceeded);
        Assert.Contains("tensor '1' rank (3 dimensions) exceeds the limit of 2", limit.Message, StringComparison.Ordinal);
        Assert.Equal(3, LegacyTorchLayout.ReadTensor(bytes, 0, maxRank: 3, "tensor '1'").Sizes.Length);

        var negative = Assert.Throws<MalformedInputException>(() => LegacyTorchLayout.ReadTensor(Tensor([], [], 0, rank: -1), 0, 64, "tensor '1'"));
        Assert.False(negative.LimitExceeded);
    }

    [Fact]
    public void Sizes_and_strides_past_the_end_are_a_truncation_and_hostile_names_are_escaped()
    {
        var bytes = Tensor([1, 1], [1, 1], 0)[..20];
        var e = Assert.Throws<MalformedInputException>(() => LegacyTorchLayout.ReadTensor(bytes, 0, 64, "tensor '\u001b[31mx'"));
        Assert.StartsWith("truncated: the sizes and strides of tensor", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', e.Message);
    }

    [Fact]
    public void The_magic_number_is_torchs()
    {
        Assert.Equal("1950a86a20f9469cfc6c", LegacyTorchLayout.MagicNumber.ToString("x", System.Globalization.CultureInfo.InvariantCulture));
    }
}
