namespace TrainGuard.Formats.Zip;

/// <summary>CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) as zip uses it, slicing by 8.</summary>
public static class Crc32
{
    private const uint Polynomial = 0xEDB88320u;
    private static readonly uint[] Table = BuildTable();

    /// <summary>CRC-32 of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);

    /// <summary>Continues a CRC-32 (pass the previous result, 0 to start).</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        var table = Table.AsSpan();
        crc = ~crc;
        while (data.Length >= 8)
        {
            var one = crc ^ (uint)(data[0] | (data[1] << 8) | (data[2] << 16) | (data[3] << 24));
            var two = (uint)(data[4] | (data[5] << 8) | (data[6] << 16) | (data[7] << 24));
            crc = table[(7 * 256) + (int)(one & 0xff)]
                ^ table[(6 * 256) + (int)((one >> 8) & 0xff)]
                ^ table[(5 * 256) + (int)((one >> 16) & 0xff)]
                ^ table[(4 * 256) + (int)(one >> 24)]
                ^ table[(3 * 256) + (int)(two & 0xff)]
                ^ table[(2 * 256) + (int)((two >> 8) & 0xff)]
                ^ table[256 + (int)((two >> 16) & 0xff)]
                ^ table[(int)(two >> 24)];
            data = data[8..];
        }

        foreach (var b in data)
        {
            crc = table[(int)((crc ^ b) & 0xff)] ^ (crc >> 8);
        }

        return ~crc;
    }

    private static uint[] BuildTable()
    {
        var table = new uint[8 * 256];
        for (uint i = 0; i < 256; i++)
        {
            var c = i;
            for (var k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? Polynomial ^ (c >> 1) : c >> 1;
            }

            table[i] = c;
        }

        for (var i = 0; i < 256; i++)
        {
            for (var slice = 1; slice < 8; slice++)
            {
                var previous = table[((slice - 1) * 256) + i];
                table[(slice * 256) + i] = (previous >> 8) ^ table[(int)(previous & 0xff)];
            }
        }

        return table;
    }
}
