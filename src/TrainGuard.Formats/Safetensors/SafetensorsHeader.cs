namespace TrainGuard.Formats.Safetensors;

/// <summary>One tensor's entry in the header.</summary>
/// <param name="Name">The JSON key.</param>
/// <param name="Dtype">The dtype string as written (<c>F32</c>, <c>BF16</c> ...).</param>
/// <param name="Shape">Dimensions (may be empty for a scalar).</param>
/// <param name="Begin">Start of the tensor's bytes, relative to the data buffer.</param>
/// <param name="End">End (exclusive), relative to the data buffer.</param>
/// <param name="HeaderOffset">Offset in the file of the tensor's key in the JSON header.</param>
public sealed record SafetensorsTensor(string Name, string Dtype, IReadOnlyList<long> Shape, long Begin, long End, long HeaderOffset)
{
    public long ByteLength => End - Begin;
}

/// <summary>A validated safetensors header.</summary>
public sealed record SafetensorsHeader
{
    /// <summary>Length of the JSON header (the u64 at offset 0).</summary>
    public required long HeaderLength { get; init; }

    /// <summary>Offset in the file where the data buffer starts (8 + header length).</summary>
    public long DataOffset => SafetensorsReader.LengthPrefixSize + HeaderLength;

    public required long DataLength { get; init; }

    /// <summary>Tensors in header order.</summary>
    public required IReadOnlyList<SafetensorsTensor> Tensors { get; init; }

    /// <summary>The <c>__metadata__</c> map (empty when absent).</summary>
    public required IReadOnlyDictionary<string, string> Metadata { get; init; }
}
