using System.Buffers.Binary;
using System.Numerics;

namespace TrainGuard.Runs.Readers;

/// <summary>CRC-32C (Castagnoli), as TFRecord framing uses it, and its TensorFlow "masked" form.</summary>
public static class Crc32C
{
    private const uint MaskDelta = 0xa282ead8;

    public static uint Compute(ReadOnlySpan<byte> data)
    {
        var crc = uint.MaxValue;
        while (data.Length >= sizeof(ulong))
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[sizeof(ulong)..];
        }

        foreach (var b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return ~crc;
    }

    /// <summary>TensorFlow's masked CRC: rotate right by 15 and add a constant (so a CRC of CRCs is not trivially zero).</summary>
    public static uint Mask(uint crc) => unchecked(((crc >> 15) | (crc << 17)) + MaskDelta);

    public static uint Masked(ReadOnlySpan<byte> data) => Mask(Compute(data));
}
