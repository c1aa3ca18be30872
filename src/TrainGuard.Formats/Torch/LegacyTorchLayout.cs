using System.Buffers.Binary;
using System.Numerics;
using TrainGuard.Findings;
using TrainGuard.Parsing;

namespace TrainGuard.Formats.Torch;

/// <summary>A storage's record in a legacy torch file: its element count and where its elements start and end.</summary>
/// <param name="ElementCount">The element count the record declares.</param>
/// <param name="DataOffset">Offset of the first element.</param>
/// <param name="End">Offset just past the last element, where the next record starts.</param>
public readonly record struct LegacyStorageRecord(long ElementCount, long DataOffset, long End);

/// <summary>A tensor's record in a legacy torch tar's <c>tensors</c> member: its shape, strides and offset into its storage.</summary>
/// <param name="End">Offset just past the record, where the next tensor's pickle starts.</param>
public sealed record LegacyTensorRecord(long[] Sizes, long[] Strides, long StorageOffset, long End);

/// <summary>
/// The binary records of torch's legacy (pre-zip) serialization, <c>torch/serialization.py</c> <c>_legacy_save</c>
/// and <c>legacy_load</c>. A legacy file is <see cref="PickleCount"/> pickles (the magic number, the protocol
/// version, sys_info, the object, the storage keys) followed by each storage as an 8-byte element count and the
/// elements. A legacy tar (torch before 0.4) has a <c>storages</c> member (a pickled count, then per storage a
/// pickled <c>(key, location, storage_type)</c>, the 8-byte element count and the elements, then a pickled list of
/// views) and a <c>tensors</c> member (a pickled count, then per tensor a pickled <c>(key, storage_key, type)</c>,
/// an int32 rank, 4 padding bytes, the sizes, the strides and the storage offset as int64).
/// The pickles are the caller's to read (a scanner analyses them, a checkpoint reader builds values); this reads the
/// binary records between them, each count checked against what the stream still holds and each rank against a limit.
/// Offsets in errors are relative to the span or stream read; <c>what</c> texts are escaped before they reach a message.
/// </summary>
public static class LegacyTorchLayout
{
    /// <summary>Pickles at the start of a legacy file.</summary>
    public const int PickleCount = 5;

    /// <summary>The protocol version the second pickle holds.</summary>
    public const int ProtocolVersion = 1001;

    /// <summary>The rank limit torch readers use unless configured otherwise.</summary>
    public const int DefaultMaxRank = 64;

    /// <summary>Bytes of the element count in front of a storage's elements.</summary>
    public const int StorageCountSize = 8;

    /// <summary>Bytes of the rank and its padding in front of a tensor's sizes.</summary>
    public const int TensorRankSize = 8;

    /// <summary>Largest rank whose sizes and strides fit one buffer, whatever limit is configured.</summary>
    private const int MaxRepresentableRank = (int.MaxValue - 8) / 16;

    /// <summary>The magic number the first pickle holds (<c>0x1950a86a20f9469cfc6c</c>).</summary>
    public static BigInteger MagicNumber { get; } = (new BigInteger(0x1950a86a20f9469c) << 16) | 0xfc6c;

    /// <summary>Reads the storage record at the start of <paramref name="rest"/>.</summary>
    /// <param name="rest">The bytes from the record to the end of the member or file.</param>
    /// <param name="offset">Where <paramref name="rest"/> starts (for the offsets returned and in errors).</param>
    /// <param name="elementSize">Bytes per element of the storage's dtype.</param>
    /// <param name="bigEndian">Whether the count is big-endian (sys_info says the file was written on a big-endian machine).</param>
    /// <param name="what">The storage, for messages: <c>storage '3'</c>.</param>
    /// <param name="expectedElements">The element count the object pickle declares for the storage, when the reader knows it: another count is an error.</param>
    public static LegacyStorageRecord ReadStorage(ReadOnlySpan<byte> rest, long offset, int elementSize, bool bigEndian, string what, long? expectedElements = null) =>
        Storage(rest[..Math.Min(rest.Length, StorageCountSize)], rest.Length - StorageCountSize, offset, elementSize, bigEndian, what, expectedElements);

    /// <summary>Reads the storage record at the stream's position and leaves the stream after its elements.</summary>
    /// <inheritdoc cref="ReadStorage(ReadOnlySpan{byte}, long, int, bool, string, long?)"/>
    public static LegacyStorageRecord ReadStorage(Stream stream, int elementSize, bool bigEndian, string what, long? expectedElements = null)
    {
        var at = stream.Position;
        Span<byte> count = stackalloc byte[StorageCountSize];
        var read = Fill(stream, count);
        var record = Storage(count[..read], stream.Length - at - StorageCountSize, at, elementSize, bigEndian, what, expectedElements);
        stream.Position = record.End;
        return record;
    }

    /// <summary>Reads the tensor record at the start of <paramref name="rest"/>.</summary>
    /// <param name="rest">The bytes from the record to the end of the member.</param>
    /// <param name="offset">Where <paramref name="rest"/> starts (for the offsets returned and in errors).</param>
    /// <param name="maxRank">Most dimensions accepted; more is a limit error.</param>
    /// <param name="what">The tensor, for messages: <c>tensor '7'</c>.</param>
    public static LegacyTensorRecord ReadTensor(ReadOnlySpan<byte> rest, long offset, int maxRank, string what)
    {
        var rank = Rank(rest[..Math.Min(rest.Length, TensorRankSize)], rest.Length, offset, maxRank, what);
        return Shape(rest.Slice(TensorRankSize, ShapeSize(rank)), rank, offset);
    }

    /// <summary>Reads the tensor record at the stream's position and leaves the stream after it.</summary>
    /// <inheritdoc cref="ReadTensor(ReadOnlySpan{byte}, long, int, string)"/>
    public static LegacyTensorRecord ReadTensor(Stream stream, int maxRank, string what)
    {
        var at = stream.Position;
        Span<byte> word = stackalloc byte[TensorRankSize];
        var rank = Rank(word[..Fill(stream, word)], stream.Length - at, at, maxRank, what);
        var shape = new byte[ShapeSize(rank)];
        stream.ReadExactly(shape);
        return Shape(shape, rank, at);
    }

    /// <summary>
    /// Fuzz target: reads arbitrary bytes as storage and tensor records, from a span and from a stream; only
    /// <see cref="MalformedInputException"/> may escape.
    /// </summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        foreach (var elementSize in (ReadOnlySpan<int>)[1, 4, 16])
        {
            try
            {
                _ = ReadStorage(data, 0, elementSize, bigEndian: elementSize == 4, "storage", expectedElements: elementSize == 16 ? 1 : null);
            }
            catch (MalformedInputException)
            {
            }
        }

        try
        {
            _ = ReadTensor(data, 0, DefaultMaxRank, "tensor");
        }
        catch (MalformedInputException)
        {
        }

        try
        {
            using var stream = new MemoryStream(data.ToArray(), writable: false);
            while (stream.Position < stream.Length)
            {
                _ = ReadTensor(stream, maxRank: 4, "tensor");
                _ = ReadStorage(stream, 2, bigEndian: false, "storage");
            }
        }
        catch (MalformedInputException)
        {
        }
    }

    private static LegacyStorageRecord Storage(ReadOnlySpan<byte> count, long left, long at, int elementSize, bool bigEndian, string what, long? expectedElements)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(elementSize);
        what = TextSanitizer.Escape(what, 200);
        if (count.Length < StorageCountSize)
        {
            MalformedInputException.ThrowTruncated($"the element count of {what}", at);
        }

        var elements = bigEndian ? BinaryPrimitives.ReadInt64BigEndian(count) : BinaryPrimitives.ReadInt64LittleEndian(count);
        if (expectedElements is { } expected && elements != expected)
        {
            MalformedInputException.Throw(InputErrorKind.Corrupt, $"{what} holds {elements:N0} elements but the object pickle declares {expected:N0}", at);
        }

        if (elements < 0)
        {
            MalformedInputException.Throw(InputErrorKind.Corrupt, $"{what} declares a negative element count ({elements:N0})", at);
        }

        if (elements > left / elementSize)
        {
            MalformedInputException.Throw(InputErrorKind.Truncated, $"truncated: {what} declares {elements:N0} elements of {elementSize} bytes but only {left:N0} bytes remain", at);
        }

        var data = at + StorageCountSize;
        return new LegacyStorageRecord(elements, data, data + (elements * elementSize));
    }

    /// <summary>The rank in the first word of a tensor record, checked against the limit and against the <paramref name="available"/> bytes.</summary>
    private static int Rank(ReadOnlySpan<byte> word, long available, long at, int maxRank, string what)
    {
        what = TextSanitizer.Escape(what, 200);
        if (word.Length < TensorRankSize)
        {
            MalformedInputException.ThrowTruncated($"the rank of {what}", at);
        }

        var rank = BinaryPrimitives.ReadInt32LittleEndian(word);
        if (rank < 0)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"{what} declares {rank} dimensions", at);
        }

        if (rank > maxRank || rank > MaxRepresentableRank)
        {
            MalformedInputException.ThrowLimit($"{what} rank ({rank:N0} dimensions)", maxRank, at);
        }

        if (available - TensorRankSize < (16L * rank) + 8)
        {
            MalformedInputException.ThrowTruncated($"the sizes and strides of {what}", at);
        }

        return rank;
    }

    /// <summary>Bytes of the sizes, strides and storage offset of a tensor of <paramref name="rank"/> dimensions (a rank <see cref="Rank"/> accepted).</summary>
    private static int ShapeSize(int rank) => (16 * rank) + 8;

    private static LegacyTensorRecord Shape(ReadOnlySpan<byte> shape, int rank, long at)
    {
        var sizes = new long[rank];
        var strides = new long[rank];
        for (var d = 0; d < rank; d++)
        {
            sizes[d] = BinaryPrimitives.ReadInt64LittleEndian(shape[(8 * d)..]);
            strides[d] = BinaryPrimitives.ReadInt64LittleEndian(shape[(8 * (rank + d))..]);
        }

        return new LegacyTensorRecord(sizes, strides, BinaryPrimitives.ReadInt64LittleEndian(shape[(16 * rank)..]), at + TensorRankSize + shape.Length);
    }

    /// <summary>Reads up to the buffer's length; fewer bytes only at the end of the stream.</summary>
    private static int Fill(Stream stream, Span<byte> buffer) => stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
}
