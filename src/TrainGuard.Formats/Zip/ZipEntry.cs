namespace TrainGuard.Formats.Zip;

/// <summary>
/// One member as the central directory declares it (or, for <see cref="IsHidden"/> entries, as a local header
/// not referenced by the central directory declares it). All offsets are absolute in the file, after
/// correcting for prefix data.
/// </summary>
public sealed record ZipEntry
{
    /// <summary>Position in the central directory (0-based), or in <see cref="ZipReader.HiddenEntries"/> for hidden entries.</summary>
    public required int Index { get; init; }

    /// <summary>Name from the central directory (UTF-8 when flag bit 11 is set or the bytes are valid UTF-8, else Latin-1).</summary>
    public required string Name { get; init; }

    /// <summary>Name as stored in the local header (compare with <see cref="Name"/>; see <see cref="ZipReader.Discrepancies"/>).</summary>
    public required string LocalName { get; init; }

    public required ushort Flags { get; init; }

    /// <summary>0 stored, 8 deflate; anything else cannot be opened.</summary>
    public required ushort Method { get; init; }

    public required uint Crc32 { get; init; }

    public required long CompressedSize { get; init; }

    /// <summary>Declared uncompressed size. Reading never produces more than this (it is an error).</summary>
    public required long UncompressedSize { get; init; }

    public required long LocalHeaderOffset { get; init; }

    /// <summary>Where the member's (compressed) bytes start: a stored member can be read by seeking here.</summary>
    public required long DataOffset { get; init; }

    /// <summary>Offset of the central directory record (-1 for hidden entries).</summary>
    public required long CentralHeaderOffset { get; init; }

    public required uint ExternalAttributes { get; init; }

    public required bool IsZip64 { get; init; }

    /// <summary>True for a local header found in a gap that the central directory does not reference.</summary>
    public bool IsHidden { get; init; }

    /// <summary>Why the member cannot be read at all (its local header or data is missing), or null.</summary>
    public string? Problem { get; init; }

    /// <summary>The name exactly as the central directory (or, for hidden entries, the local header) stores it.</summary>
    public byte[] RawName { get; init; } = [];

    public bool IsEncrypted => (Flags & 0x0001) != 0 || Method == ZipReader.MethodAes;

    public bool HasDataDescriptor => (Flags & 0x0008) != 0;

    public bool IsDirectory => Name.EndsWith('/') || Name.EndsWith('\\');

    public bool IsStored => Method == ZipReader.MethodStored;

    public bool IsSupportedMethod => Method is ZipReader.MethodStored or ZipReader.MethodDeflate;

    internal ZipReader? Owner { get; init; }
}

/// <summary>A field on which the central directory and the local header (or data descriptor) of one entry disagree: readers that trust different copies see different files.</summary>
/// <param name="EntryName">The entry, by its central directory name.</param>
/// <param name="Field">Which field: <c>name</c>, <c>method</c>, <c>flags</c>, <c>crc32</c>, <c>compressed size</c>, <c>uncompressed size</c>, <c>descriptor crc32</c>, <c>unicode path</c> ...</param>
/// <param name="CentralValue">The central directory's value, rendered.</param>
/// <param name="LocalValue">The local header's value, rendered.</param>
/// <param name="Offset">Offset of the local header.</param>
public sealed record ZipDiscrepancy(string EntryName, string Field, string CentralValue, string LocalValue, long Offset);

/// <summary>Kinds of structural anomalies in a zip.</summary>
public enum ZipIssueKind
{
    DuplicateName,
    OverlappingEntries,
    OverlapsCentralDirectory,
    HiddenLocalEntry,
    Encrypted,
    UnsupportedMethod,
    UnsafePath,
    PrefixData,
    TrailingData,
    DataBeforeEndRecord,
    EntryCountMismatch,

    /// <summary>A central directory entry whose local header or data cannot be found: no loader can read that member.</summary>
    UnreadableEntry,
}

/// <summary>A structural anomaly: what, which entry, where, in words.</summary>
/// <summary>What kind of integrity failure a lenient read went past.</summary>
public enum ZipDamageKind
{
    /// <summary>The data's CRC-32 is not the one the central directory declares.</summary>
    BadCrc,

    /// <summary>The data is shorter or longer than the declared uncompressed size (a stored member's two sizes differ).</summary>
    SizeMismatch,

    /// <summary>The deflate stream is corrupt part-way; the bytes before the damage were kept.</summary>
    CorruptData,
}

/// <summary>An integrity failure in one member that a loader ignores or only notices after it has used the data.</summary>
public sealed record ZipDamage(ZipDamageKind Kind, string EntryName, long Offset, string Message);

/// <summary>A member read the way a loader reads it (see <see cref="ZipReader.ReadEntryAsLoader"/>), with the damage it went past.</summary>
public sealed record ZipLoaderRead(byte[] Data, IReadOnlyList<ZipDamage> Damage);

public sealed record ZipIssue(ZipIssueKind Kind, string? EntryName, long Offset, string Message);
