using System.Buffers.Binary;
using TrainGuard.Parsing;

namespace TrainGuard.Ledger.Tiles;

/// <summary>C2SP tlog-tiles entry bundles: each entry prefixed with its length as a big-endian u16.</summary>
public static class EntryBundle
{
    /// <summary>Largest entry: each is prefixed with its length as a big-endian u16.</summary>
    public const int MaxEntryBytes = ushort.MaxValue;

    private const int LengthPrefixSize = sizeof(ushort);

    /// <summary>Concatenates length-prefixed entries.</summary>
    public static byte[] Encode(IReadOnlyList<byte[]> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var total = 0L;
        foreach (var entry in entries)
        {
            if (entry.Length > MaxEntryBytes)
            {
                throw new ArgumentException("an entry bundle holds entries of at most 65,535 bytes", nameof(entries));
            }

            total += LengthPrefixSize + entry.Length;
        }

        var bundle = new byte[checked((int)total)];
        var position = 0;
        foreach (var entry in entries)
        {
            BinaryPrimitives.WriteUInt16BigEndian(bundle.AsSpan(position), (ushort)entry.Length);
            entry.CopyTo(bundle, position + LengthPrefixSize);
            position += LengthPrefixSize + entry.Length;
        }

        return bundle;
    }

    /// <summary>Splits a bundle into its entries; truncation or more than <paramref name="maxEntries"/> throws <see cref="MalformedInputException"/>.</summary>
    public static IReadOnlyList<byte[]> Parse(ReadOnlySpan<byte> bundle, int maxEntries = TileAddress.FullWidth)
    {
        var entries = new List<byte[]>();
        var position = 0;
        while (position < bundle.Length)
        {
            if (entries.Count == maxEntries)
            {
                MalformedInputException.ThrowLimit("entries in a bundle", maxEntries, position);
            }

            if (bundle.Length - position < LengthPrefixSize)
            {
                MalformedInputException.ThrowTruncated("entry length prefix", position);
            }

            var length = BinaryPrimitives.ReadUInt16BigEndian(bundle[position..]);
            var start = position + LengthPrefixSize;
            if (length > bundle.Length - start)
            {
                MalformedInputException.ThrowTruncated($"entry {entries.Count} ({length} bytes)", position);
            }

            entries.Add(bundle.Slice(start, length).ToArray());
            position = start + length;
        }

        return entries;
    }

    /// <summary>Fuzz target: must never throw anything but <see cref="MalformedInputException"/>.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        var entries = Parse(data);
        if (!Encode(entries).AsSpan().SequenceEqual(data))
        {
            throw new InvalidOperationException("entry bundle does not round-trip");
        }
    }
}
