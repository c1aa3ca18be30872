using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using TrainGuard.Formats.Zip;

namespace TrainGuard.Formats.Tests.Support;

/// <summary>
/// Test-only zip writer that can produce every inconsistency the reader must notice: local and central
/// headers that disagree, entries the central directory does not reference, overlapping entries, lying sizes,
/// ZIP64, data descriptors, encryption flags, prefix and trailing data.
/// </summary>
internal sealed class ZipBuilder
{
    private readonly List<Item> _items = [];

    public byte[] Prefix { get; set; } = [];

    /// <summary>True: declared offsets count from the start of the file (prefix is "glued on"); false: from the zip start (self-extractor style).</summary>
    public bool OffsetsIncludePrefix { get; set; } = true;

    public bool Zip64EndRecord { get; set; }

    public byte[] Trailer { get; set; } = [];

    public string Comment { get; set; } = string.Empty;

    public int? DeclaredEntryCount { get; set; }

    public Item Add(string name, byte[] data, ushort method = ZipReader.MethodStored)
    {
        var item = new Item { Name = name, Data = data, Method = method };
        _items.Add(item);
        return item;
    }

    public Item Add(string name, string text, ushort method = ZipReader.MethodStored) => Add(name, Encoding.UTF8.GetBytes(text), method);

    public sealed class Item
    {
        public required string Name { get; set; }

        public required byte[] Data { get; set; }

        public ushort Method { get; set; }

        public ushort Flags { get; set; }

        public string? LocalName { get; set; }

        public ushort? LocalMethod { get; set; }

        public ushort? LocalFlags { get; set; }

        public uint? LocalCrc { get; set; }

        public uint? CentralCrc { get; set; }

        public long? LocalCompressedSize { get; set; }

        public long? CentralUncompressedSize { get; set; }

        public long? LocalUncompressedSize { get; set; }

        public bool DataDescriptor { get; set; }

        public uint? DescriptorCrc { get; set; }

        public bool Zip64 { get; set; }

        public bool InCentralDirectory { get; set; } = true;

        /// <summary>Write a second central record for this entry under another name pointing at the same local header.</summary>
        public string? AliasName { get; set; }

        public byte[] CentralExtra { get; set; } = [];

        internal long LocalOffset { get; set; }

        internal byte[] Compressed { get; set; } = [];

        internal uint Crc { get; set; }
    }

    public byte[] Build()
    {
        using var output = new MemoryStream();
        output.Write(Prefix);
        var zipStart = OffsetsIncludePrefix ? 0 : Prefix.Length;
        foreach (var item in _items)
        {
            item.Crc = Crc32.Compute(item.Data);
            item.Compressed = item.Method == ZipReader.MethodDeflate ? Deflate(item.Data) : item.Data;
            item.LocalOffset = output.Position - zipStart;
            WriteLocal(output, item);
        }

        var centralStart = output.Position;
        var count = 0;
        foreach (var item in _items.Where(i => i.InCentralDirectory))
        {
            WriteCentral(output, item, item.Name);
            count++;
            if (item.AliasName is not null)
            {
                WriteCentral(output, item, item.AliasName);
                count++;
            }
        }

        var centralSize = output.Position - centralStart;
        var declaredCount = DeclaredEntryCount ?? count;
        if (Zip64EndRecord)
        {
            var zip64Offset = output.Position - zipStart;
            Span<byte> record = stackalloc byte[56];
            BinaryPrimitives.WriteUInt32LittleEndian(record, 0x06064b50);
            BinaryPrimitives.WriteUInt64LittleEndian(record[4..], 44);
            BinaryPrimitives.WriteUInt16LittleEndian(record[12..], 45);
            BinaryPrimitives.WriteUInt16LittleEndian(record[14..], 45);
            BinaryPrimitives.WriteUInt64LittleEndian(record[24..], (ulong)declaredCount);
            BinaryPrimitives.WriteUInt64LittleEndian(record[32..], (ulong)declaredCount);
            BinaryPrimitives.WriteUInt64LittleEndian(record[40..], (ulong)centralSize);
            BinaryPrimitives.WriteUInt64LittleEndian(record[48..], (ulong)(centralStart - zipStart));
            output.Write(record);
            Span<byte> locator = stackalloc byte[20];
            BinaryPrimitives.WriteUInt32LittleEndian(locator, 0x07064b50);
            BinaryPrimitives.WriteUInt64LittleEndian(locator[8..], (ulong)zip64Offset);
            BinaryPrimitives.WriteUInt32LittleEndian(locator[16..], 1);
            output.Write(locator);
        }

        var comment = Encoding.UTF8.GetBytes(Comment);
        Span<byte> end = stackalloc byte[22];
        BinaryPrimitives.WriteUInt32LittleEndian(end, 0x06054b50);
        BinaryPrimitives.WriteUInt16LittleEndian(end[8..], Zip64EndRecord ? (ushort)0xFFFF : (ushort)declaredCount);
        BinaryPrimitives.WriteUInt16LittleEndian(end[10..], Zip64EndRecord ? (ushort)0xFFFF : (ushort)declaredCount);
        BinaryPrimitives.WriteUInt32LittleEndian(end[12..], Zip64EndRecord ? 0xFFFFFFFF : (uint)centralSize);
        BinaryPrimitives.WriteUInt32LittleEndian(end[16..], Zip64EndRecord ? 0xFFFFFFFF : (uint)(centralStart - zipStart));
        BinaryPrimitives.WriteUInt16LittleEndian(end[20..], (ushort)comment.Length);
        output.Write(end);
        output.Write(comment);
        output.Write(Trailer);
        return output.ToArray();
    }

    private static void WriteLocal(Stream output, Item item)
    {
        var name = Encoding.UTF8.GetBytes(item.LocalName ?? item.Name);
        var extra = item.Zip64 ? Zip64Extra(item.LocalUncompressedSize ?? item.Data.Length, item.LocalCompressedSize ?? item.Compressed.Length, null) : [];
        Span<byte> header = stackalloc byte[30];
        BinaryPrimitives.WriteUInt32LittleEndian(header, 0x04034b50);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], 20);
        var flags = (ushort)(item.LocalFlags ?? (ushort)(item.Flags | (item.DataDescriptor ? 0x0008 : 0)));
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], flags);
        BinaryPrimitives.WriteUInt16LittleEndian(header[8..], item.LocalMethod ?? item.Method);
        if (!item.DataDescriptor)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(header[14..], item.LocalCrc ?? item.Crc);
            BinaryPrimitives.WriteUInt32LittleEndian(header[18..], item.Zip64 ? 0xFFFFFFFF : (uint)(item.LocalCompressedSize ?? item.Compressed.Length));
            BinaryPrimitives.WriteUInt32LittleEndian(header[22..], item.Zip64 ? 0xFFFFFFFF : (uint)(item.LocalUncompressedSize ?? item.Data.Length));
        }

        BinaryPrimitives.WriteUInt16LittleEndian(header[26..], (ushort)name.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(header[28..], (ushort)extra.Length);
        output.Write(header);
        output.Write(name);
        output.Write(extra);
        output.Write(item.Compressed);
        if (item.DataDescriptor)
        {
            Span<byte> descriptor = stackalloc byte[16];
            BinaryPrimitives.WriteUInt32LittleEndian(descriptor, 0x08074b50);
            BinaryPrimitives.WriteUInt32LittleEndian(descriptor[4..], item.DescriptorCrc ?? item.Crc);
            BinaryPrimitives.WriteUInt32LittleEndian(descriptor[8..], (uint)item.Compressed.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(descriptor[12..], (uint)item.Data.Length);
            output.Write(descriptor);
        }
    }

    private static void WriteCentral(Stream output, Item item, string entryName)
    {
        var name = Encoding.UTF8.GetBytes(entryName);
        var extra = item.Zip64 ? Zip64Extra(item.CentralUncompressedSize ?? item.Data.Length, item.Compressed.Length, item.LocalOffset) : [];
        extra = [.. extra, .. item.CentralExtra];
        Span<byte> header = stackalloc byte[46];
        BinaryPrimitives.WriteUInt32LittleEndian(header, 0x02014b50);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], 0x031e);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 20);
        BinaryPrimitives.WriteUInt16LittleEndian(header[8..], (ushort)(item.Flags | (item.DataDescriptor ? 0x0008 : 0)));
        BinaryPrimitives.WriteUInt16LittleEndian(header[10..], item.Method);
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], item.CentralCrc ?? item.Crc);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], item.Zip64 ? 0xFFFFFFFF : (uint)item.Compressed.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[24..], item.Zip64 ? 0xFFFFFFFF : (uint)(item.CentralUncompressedSize ?? item.Data.Length));
        BinaryPrimitives.WriteUInt16LittleEndian(header[28..], (ushort)name.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(header[30..], (ushort)extra.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[38..], 0x81a40000);
        BinaryPrimitives.WriteUInt32LittleEndian(header[42..], item.Zip64 ? 0xFFFFFFFF : (uint)item.LocalOffset);
        output.Write(header);
        output.Write(name);
        output.Write(extra);
    }

    private static byte[] Zip64Extra(long uncompressed, long compressed, long? offset)
    {
        var size = offset is null ? 16 : 24;
        var extra = new byte[4 + size];
        BinaryPrimitives.WriteUInt16LittleEndian(extra, 0x0001);
        BinaryPrimitives.WriteUInt16LittleEndian(extra.AsSpan(2), (ushort)size);
        BinaryPrimitives.WriteUInt64LittleEndian(extra.AsSpan(4), (ulong)uncompressed);
        BinaryPrimitives.WriteUInt64LittleEndian(extra.AsSpan(12), (ulong)compressed);
        if (offset is { } value)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(extra.AsSpan(20), (ulong)value);
        }

        return extra;
    }

    public static byte[] Deflate(byte[] data)
    {
        using var output = new MemoryStream();
        using (var deflate = new DeflateStream(output, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            deflate.Write(data);
        }

        return output.ToArray();
    }

    /// <summary>A benign zip written by System.IO.Compression (one stored, one deflated entry).</summary>
    public static byte[] SystemZip(params (string Name, byte[] Data, CompressionLevel Level)[] entries)
    {
        using var output = new MemoryStream();
        using (var archive = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, data, level) in entries)
            {
                var entry = archive.CreateEntry(name, level);
                using var stream = entry.Open();
                stream.Write(data);
            }
        }

        return output.ToArray();
    }
}
