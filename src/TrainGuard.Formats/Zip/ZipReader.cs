using System.Buffers.Binary;
using System.Text;
using System.Text.Unicode;
using TrainGuard.Parsing;

namespace TrainGuard.Formats.Zip;

/// <summary>
/// Reads a zip's structure without trusting any single copy of it: the end record (ZIP64 too), every central
/// directory entry, and every local header, recording where they disagree (<see cref="Discrepancies"/>) and
/// what else is odd (<see cref="Issues"/>: duplicates, overlaps, hidden local entries, encryption, unsafe
/// names, prefix and trailing data). Members are opened as bounded streams that enforce
/// <see cref="ZipLimits"/> on the bytes actually produced and check the CRC-32 at the end.
/// Structure that cannot be read at all (no end record, a central entry pointing outside the file or at no
/// local header, data running past the end) throws <see cref="MalformedInputException"/>.
/// </summary>
public sealed class ZipReader : IDisposable
{
    public const ushort MethodStored = 0;
    public const ushort MethodDeflate = 8;
    public const ushort MethodAes = 99;

    /// <summary>How far back from the end the end-of-central-directory record is searched (largest comment plus the record).</summary>
    public const int MaxEndRecordSearch = ushort.MaxValue + EndRecordSize;

    private const uint LocalSignature = 0x04034b50;
    private const uint CentralSignature = 0x02014b50;
    private const uint EndSignature = 0x06054b50;
    private const uint Zip64LocatorSignature = 0x07064b50;
    private const uint Zip64EndSignature = 0x06064b50;
    private const uint DescriptorSignature = 0x08074b50;
    private const int EndRecordSize = 22;
    private const int CentralHeaderSize = 46;
    private const int LocalHeaderSize = 30;
    private const int Zip64LocatorSize = 20;
    private const int Zip64EndRecordSize = 56;
    private const uint Sentinel32 = 0xFFFFFFFF;
    private const ushort Sentinel16 = 0xFFFF;
    private const ushort Zip64ExtraId = 0x0001;
    private const ushort UnicodePathExtraId = 0x7075;
    private const int GapScanChunk = 64 * 1024;

    private readonly Stream _stream;
    private readonly object _gate = new();
    private readonly bool _leaveOpen;
    private readonly List<ZipEntry> _entries = [];
    private readonly List<ZipEntry> _hidden = [];
    private readonly List<ZipDiscrepancy> _discrepancies = [];
    private readonly List<ZipIssue> _issues = [];
    private long _totalInflated;

    private ZipReader(Stream stream, ZipLimits limits, bool leaveOpen)
    {
        _stream = stream;
        Limits = limits;
        _leaveOpen = leaveOpen;
        Length = stream.Length;
    }

    public ZipLimits Limits { get; }

    /// <summary>Length of the whole input.</summary>
    public long Length { get; }

    /// <summary>Central directory entries, in directory order.</summary>
    public IReadOnlyList<ZipEntry> Entries => _entries;

    /// <summary>Local headers in gaps that the central directory does not reference, when their sizes are known (they can be opened).</summary>
    public IReadOnlyList<ZipEntry> HiddenEntries => _hidden;

    /// <summary>Fields on which a central directory entry and its local header (or data descriptor) disagree.</summary>
    public IReadOnlyList<ZipDiscrepancy> Discrepancies => _discrepancies;

    /// <summary>Structural anomalies (duplicates, overlaps, hidden entries, encryption, unsafe names, prefix data ...).</summary>
    public IReadOnlyList<ZipIssue> Issues => _issues;

    /// <summary>Bytes in front of the zip proper (the amount added to every declared offset), 0 for a plain zip.</summary>
    public long PrefixLength { get; private set; }

    /// <summary>Absolute offset of the central directory.</summary>
    public long CentralDirectoryOffset { get; private set; }

    public long CentralDirectorySize { get; private set; }

    /// <summary>Absolute offset of the end-of-central-directory record.</summary>
    public long EndRecordOffset { get; private set; }

    public bool IsZip64 { get; private set; }

    /// <summary>The archive comment (Latin-1 / UTF-8 decoded).</summary>
    public string Comment { get; private set; } = string.Empty;

    /// <summary>Bytes produced so far by all members opened through this reader.</summary>
    public long TotalInflatedBytes => Interlocked.Read(ref _totalInflated);

    /// <summary>Reads the structure of the zip in <paramref name="seekable"/>. The stream is not disposed with the reader unless <paramref name="leaveOpen"/> is false.</summary>
    public static ZipReader Open(Stream seekable, ZipLimits limits, bool leaveOpen = true)
    {
        ArgumentNullException.ThrowIfNull(seekable);
        ArgumentNullException.ThrowIfNull(limits);
        if (!seekable.CanSeek || !seekable.CanRead)
        {
            throw new ArgumentException("the zip reader needs a readable, seekable stream", nameof(seekable));
        }

        var reader = new ZipReader(seekable, limits, leaveOpen);
        try
        {
            reader.ReadStructure();
            return reader;
        }
        catch
        {
            reader.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Looks for an end-of-central-directory record in the last <see cref="MaxEndRecordSearch"/> bytes (a zip,
    /// possibly with prefix data such as a pickle or a script in front). Never throws on bad content.
    /// </summary>
    public static bool TryFindEndOfCentralDirectory(Stream stream, out long offset)
    {
        offset = -1;
        if (!stream.CanSeek || stream.Length < EndRecordSize)
        {
            return false;
        }

        var saved = stream.Position;
        try
        {
            var tailLength = (int)Math.Min(stream.Length, MaxEndRecordSearch);
            var tail = new byte[tailLength];
            var tailStart = stream.Length - tailLength;
            stream.Position = tailStart;
            if (stream.ReadAtLeast(tail, tailLength, throwOnEndOfStream: false) < tailLength)
            {
                return false;
            }

            var index = FindEndRecord(tail, out _, out _);
            if (index < 0)
            {
                return false;
            }

            offset = tailStart + index;
            return true;
        }
        finally
        {
            stream.Position = saved;
        }
    }

    /// <summary>
    /// Finds the end record in <paramref name="tail"/> (the last bytes of the input): the last signature whose
    /// comment ends exactly at the end of the input; failing that the last one whose comment fits.
    /// </summary>
    internal static int FindEndRecord(ReadOnlySpan<byte> tail, out bool exact, out int otherCandidates)
    {
        exact = false;
        otherCandidates = 0;
        var fallback = -1;
        var later = 0;
        for (var p = tail.Length - EndRecordSize; p >= 0; p--)
        {
            if (tail[p] != 0x50 || BinaryPrimitives.ReadUInt32LittleEndian(tail[p..]) != EndSignature)
            {
                continue;
            }

            var commentLength = BinaryPrimitives.ReadUInt16LittleEndian(tail[(p + 20)..]);
            var end = p + EndRecordSize + commentLength;
            if (end == tail.Length)
            {
                // Signatures after this one (inside its comment) are what a last-signature reader would pick instead.
                exact = true;
                otherCandidates = later;
                return p;
            }

            if (end <= tail.Length)
            {
                later++;
                if (fallback < 0)
                {
                    fallback = p;
                }
            }
        }

        return fallback;
    }

    /// <summary>Opens a member as a read-only stream that stores or inflates, enforces the limits and checks size and CRC-32 at the end.</summary>
    public Stream OpenEntry(ZipEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        CheckReadable(entry);
        var raw = new SubStream(_stream, _gate, entry.DataOffset, entry.CompressedSize);
        return new ZipEntryStream(this, entry, raw);
    }

    /// <summary>Throws for members no reader can open: another archive's, unreadable, encrypted, or compressed with an unsupported method.</summary>
    private void CheckReadable(ZipEntry entry)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!ReferenceEquals(entry.Owner, this))
        {
            throw new ArgumentException("the entry does not belong to this archive", nameof(entry));
        }

        if (entry.Problem is { } problem)
        {
            MalformedInputException.Throw(InputErrorKind.Corrupt, $"member cannot be read: {problem}", entry.LocalHeaderOffset, entry.Name);
        }

        if (entry.IsEncrypted)
        {
            MalformedInputException.Throw(InputErrorKind.Encrypted, "the member is encrypted; encrypted members cannot be inspected, treat the archive as unsafe", entry.LocalHeaderOffset, entry.Name);
        }

        if (!entry.IsSupportedMethod)
        {
            MalformedInputException.Throw(InputErrorKind.Unsupported, $"compression method {entry.Method} is not supported (only stored and deflate)", entry.LocalHeaderOffset, entry.Name);
        }
    }

    /// <summary>
    /// Reads a member the way a loader that skips integrity checks does: the declared uncompressed size from the
    /// data the local header points at, stored or inflated, whatever its CRC-32 says (torch's miniz is built
    /// without CRC checks; Python's zipfile checks it only after the last byte, when an unpickler streaming the
    /// member has already run what it read). A bad CRC, sizes that disagree and deflate data corrupt part-way are
    /// returned as <see cref="ZipLoaderRead.Damage"/> with the bytes read up to them. Limits still throw.
    /// </summary>
    public ZipLoaderRead ReadEntryAsLoader(ZipEntry entry, int maxBytes)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        CheckReadable(entry);
        if (entry.UncompressedSize > maxBytes)
        {
            MalformedInputException.ThrowLimit($"member size {entry.UncompressedSize:N0}", maxBytes, entry.LocalHeaderOffset, entry.Name);
        }

        if (entry.UncompressedSize > Limits.RatioCheckFloorBytes && entry.UncompressedSize / Math.Max(1, entry.CompressedSize) > Limits.MaxCompressionRatio)
        {
            MalformedInputException.ThrowLimit($"declared compression ratio (over {entry.UncompressedSize / Math.Max(1, entry.CompressedSize):N0}:1)", Limits.MaxCompressionRatio, entry.LocalHeaderOffset, entry.Name);
        }

        var raw = new SubStream(_stream, _gate, entry.DataOffset, Math.Min(Math.Max(entry.CompressedSize, entry.IsStored ? entry.UncompressedSize : 0), Length - entry.DataOffset));
        using var stream = new ZipEntryStream(this, entry, raw, lenient: true);
        var buffer = new byte[(int)Math.Min(entry.UncompressedSize, Math.Max(0, entry.IsStored ? Length - entry.DataOffset : long.MaxValue))];
        var filled = 0;
        while (filled < buffer.Length)
        {
            var read = stream.Read(buffer, filled, Math.Min(buffer.Length - filled, 1024 * 1024));
            if (read == 0)
            {
                break;
            }

            filled += read;
        }

        _ = stream.Read(new byte[1], 0, 1); // reach the end so the size and CRC are compared
        return new ZipLoaderRead(filled == buffer.Length ? buffer : buffer[..filled], stream.Damage);
    }

    /// <summary>Reads a whole member into memory, refusing members whose declared or actual size exceeds <paramref name="maxBytes"/>.</summary>
    public byte[] ReadEntry(ZipEntry entry, int maxBytes)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        if (entry.UncompressedSize > maxBytes)
        {
            MalformedInputException.ThrowLimit($"member size {entry.UncompressedSize:N0}", maxBytes, entry.LocalHeaderOffset, entry.Name);
        }

        // Never allocate on the strength of a declared size alone: it must be reachable from bytes present in the file.
        if (entry.IsStored && entry.UncompressedSize != entry.CompressedSize)
        {
            MalformedInputException.Throw(InputErrorKind.Corrupt, $"stored member declares {entry.UncompressedSize:N0} bytes but holds {entry.CompressedSize:N0}", entry.LocalHeaderOffset, entry.Name);
        }

        if (entry.UncompressedSize > Limits.RatioCheckFloorBytes && entry.UncompressedSize / Math.Max(1, entry.CompressedSize) > Limits.MaxCompressionRatio)
        {
            MalformedInputException.ThrowLimit($"declared compression ratio (over {entry.UncompressedSize / Math.Max(1, entry.CompressedSize):N0}:1)", Limits.MaxCompressionRatio, entry.LocalHeaderOffset, entry.Name);
        }

        var size = (int)entry.UncompressedSize;
        var buffer = new byte[size];
        using var stream = OpenEntry(entry);
        var filled = 0;
        while (filled < size)
        {
            var read = stream.Read(buffer, filled, Math.Min(size - filled, 1024 * 1024));
            if (read == 0)
            {
                break;
            }

            filled += read;
        }

        // Reach end of stream so the size and CRC checks run.
        Span<byte> probe = stackalloc byte[1];
        if (stream.Read(probe) != 0)
        {
            MalformedInputException.Throw(InputErrorKind.Corrupt, "member produces more bytes than declared", entry.DataOffset, entry.Name);
        }

        return buffer;
    }

    /// <summary>Reads at most the first <paramref name="count"/> bytes of a member (content detection of a multi-GB tensor without reading it).</summary>
    public byte[] ReadHead(ZipEntry entry, int count)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var wanted = (int)Math.Min(count, entry.UncompressedSize);
        var buffer = new byte[wanted];
        CheckReadable(entry);

        // A peek never reaches the CRC; corrupt deflate data ends it early, as it ends a loader's read.
        using var stream = new ZipEntryStream(this, entry, new SubStream(_stream, _gate, entry.DataOffset, entry.CompressedSize), lenient: true);
        var read = stream.ReadAtLeast(buffer, wanted, throwOnEndOfStream: false);
        return read == wanted ? buffer : buffer[..read];
    }

    private bool _disposed;

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (!_leaveOpen)
        {
            _stream.Dispose();
        }
    }

    internal void AddInflated(long count, ZipEntry entry)
    {
        var total = Interlocked.Add(ref _totalInflated, count);
        if (total > Limits.MaxTotalInflatedBytes)
        {
            MalformedInputException.ThrowLimit("total bytes inflated from this archive", Limits.MaxTotalInflatedBytes, entry.DataOffset, entry.Name);
        }
    }

    /// <summary>Fuzz target: open with small limits, read every member; only <see cref="MalformedInputException"/> may escape.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        var limits = new ZipLimits
        {
            MaxEntries = 256,
            MaxEntryBytes = 1024 * 1024,
            MaxTotalInflatedBytes = 4 * 1024 * 1024,
            MaxCentralDirectoryBytes = 1024 * 1024,
            MaxGapScanBytes = 1024 * 1024,
            MaxHiddenEntries = 16,
        };
        using var reader = Open(new MemoryStream(data.ToArray(), writable: false), limits, leaveOpen: false);
        foreach (var entry in reader.Entries.Concat(reader.HiddenEntries))
        {
            if (entry.IsEncrypted || !entry.IsSupportedMethod)
            {
                continue;
            }

            _ = reader.ReadHead(entry, 16);
            if (entry.UncompressedSize <= 1024 * 1024)
            {
                _ = reader.ReadEntry(entry, 1024 * 1024);
            }
        }
    }

    private void ReadStructure()
    {
        if (Length < EndRecordSize)
        {
            MalformedInputException.Throw(InputErrorKind.Truncated, $"input of {Length} bytes is too short to be a zip (no end-of-central-directory record)", 0);
        }

        var tailLength = (int)Math.Min(Length, MaxEndRecordSearch);
        var tailStart = Length - tailLength;
        var tail = new byte[tailLength];
        StreamReads.ReadExactly(_stream, _gate, tailStart, tail, "end of archive");
        var endIndex = FindEndRecord(tail, out var exact, out var otherCandidates);
        if (endIndex < 0)
        {
            MalformedInputException.Throw(InputErrorKind.Truncated, "no end-of-central-directory record: not a zip, or truncated", Length);
        }

        EndRecordOffset = tailStart + endIndex;
        var end = tail.AsSpan(endIndex);
        var diskNumber = BinaryPrimitives.ReadUInt16LittleEndian(end[4..]);
        var centralDisk = BinaryPrimitives.ReadUInt16LittleEndian(end[6..]);
        long entriesOnDisk = BinaryPrimitives.ReadUInt16LittleEndian(end[8..]);
        long totalEntries = BinaryPrimitives.ReadUInt16LittleEndian(end[10..]);
        long centralSize = BinaryPrimitives.ReadUInt32LittleEndian(end[12..]);
        long centralOffset = BinaryPrimitives.ReadUInt32LittleEndian(end[16..]);
        var commentLength = BinaryPrimitives.ReadUInt16LittleEndian(end[20..]);
        Comment = DecodeName(end.Slice(EndRecordSize, commentLength));
        var endRecordsEnd = EndRecordOffset + EndRecordSize + commentLength;
        if (!exact)
        {
            AddIssue(ZipIssueKind.TrailingData, null, endRecordsEnd, $"{Length - endRecordsEnd:N0} bytes follow the end-of-central-directory record");
        }

        if (otherCandidates > 0)
        {
            AddIssue(ZipIssueKind.TrailingData, null, EndRecordOffset, $"{otherCandidates} other end-of-central-directory signature(s) near the end: readers that search differently see a different archive");
        }

        // ZIP64: a locator right before the end record points at the ZIP64 end record.
        var endRecordsStart = EndRecordOffset;
        var locatorOffset = EndRecordOffset - Zip64LocatorSize;
        Span<byte> locator = stackalloc byte[Zip64LocatorSize];
        if (locatorOffset >= 0 && StreamReads.ReadAtMost(_stream, _gate, locatorOffset, locator) == Zip64LocatorSize
            && BinaryPrimitives.ReadUInt32LittleEndian(locator) == Zip64LocatorSignature)
        {
            IsZip64 = true;
            var declared = ToLong(BinaryPrimitives.ReadUInt64LittleEndian(locator[8..]), "ZIP64 end record offset", locatorOffset + 8);
            var zip64End = ReadZip64EndRecord(declared, locatorOffset);
            endRecordsStart = zip64End.Offset;
            diskNumber = 0;
            centralDisk = 0;
            entriesOnDisk = zip64End.EntriesOnDisk;
            totalEntries = zip64End.TotalEntries;
            centralSize = zip64End.CentralSize;
            centralOffset = zip64End.CentralOffset;
        }
        else if (centralSize == Sentinel32 || centralOffset == Sentinel32 || totalEntries == Sentinel16)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "end record asks for ZIP64 values but there is no ZIP64 end-of-central-directory locator", EndRecordOffset);
        }

        if (diskNumber != 0 || centralDisk != 0 || entriesOnDisk != totalEntries)
        {
            MalformedInputException.Throw(InputErrorKind.Unsupported, "multi-disk (spanned) zips are not supported", EndRecordOffset);
        }

        if (totalEntries > Limits.MaxEntries)
        {
            MalformedInputException.ThrowLimit($"entry count {totalEntries:N0}", Limits.MaxEntries, EndRecordOffset);
        }

        if (centralSize > Limits.MaxCentralDirectoryBytes)
        {
            MalformedInputException.ThrowLimit($"central directory size {centralSize:N0}", Limits.MaxCentralDirectoryBytes, EndRecordOffset);
        }

        if (centralSize > endRecordsStart)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"central directory size {centralSize:N0} is larger than the bytes before the end record", EndRecordOffset);
        }

        // Where is the central directory really? At the declared offset, or (prefix data) right before the end records.
        var actualStart = endRecordsStart - centralSize;
        long delta;
        if (CentralDirectoryStartsAt(centralOffset, centralSize, endRecordsStart))
        {
            delta = 0;
        }
        else if (CentralDirectoryStartsAt(actualStart, centralSize, endRecordsStart))
        {
            delta = checked(actualStart - centralOffset);
        }
        else
        {
            delta = 0;
            MalformedInputException.Throw(InputErrorKind.Syntax, $"no central directory at declared offset {centralOffset:N0} nor right before the end record", centralOffset);
        }

        PrefixLength = Math.Max(0, delta);
        CentralDirectoryOffset = checked(centralOffset + delta);
        CentralDirectorySize = centralSize;
        var centralEnd = checked(CentralDirectoryOffset + centralSize);

        var central = new byte[centralSize];
        StreamReads.ReadExactly(_stream, _gate, CentralDirectoryOffset, central, "central directory");
        ParseCentralDirectory(central, delta, totalEntries);

        AnalyzeLayout(centralEnd, endRecordsStart);
    }

    private bool CentralDirectoryStartsAt(long offset, long size, long limit)
    {
        if (offset < 0 || offset > limit || size > limit - offset)
        {
            return false;
        }

        if (size == 0)
        {
            return offset + size == limit || offset == limit;
        }

        Span<byte> signature = stackalloc byte[4];
        return StreamReads.ReadAtMost(_stream, _gate, offset, signature) == 4 && BinaryPrimitives.ReadUInt32LittleEndian(signature) == CentralSignature;
    }

    private (long Offset, long EntriesOnDisk, long TotalEntries, long CentralSize, long CentralOffset) ReadZip64EndRecord(long declared, long locatorOffset)
    {
        Span<byte> record = stackalloc byte[Zip64EndRecordSize];
        foreach (var candidate in new[] { declared, locatorOffset - Zip64EndRecordSize })
        {
            if (candidate < 0 || candidate > locatorOffset - Zip64EndRecordSize)
            {
                continue;
            }

            StreamReads.ReadExactly(_stream, _gate, candidate, record, "ZIP64 end-of-central-directory record");
            if (BinaryPrimitives.ReadUInt32LittleEndian(record) != Zip64EndSignature)
            {
                continue;
            }

            if (BinaryPrimitives.ReadUInt32LittleEndian(record[16..]) != 0 || BinaryPrimitives.ReadUInt32LittleEndian(record[20..]) != 0)
            {
                MalformedInputException.Throw(InputErrorKind.Unsupported, "multi-disk (spanned) zips are not supported", candidate + 16);
            }

            return (
                candidate,
                ToLong(BinaryPrimitives.ReadUInt64LittleEndian(record[24..]), "ZIP64 entries on disk", candidate + 24),
                ToLong(BinaryPrimitives.ReadUInt64LittleEndian(record[32..]), "ZIP64 total entries", candidate + 32),
                ToLong(BinaryPrimitives.ReadUInt64LittleEndian(record[40..]), "ZIP64 central directory size", candidate + 40),
                ToLong(BinaryPrimitives.ReadUInt64LittleEndian(record[48..]), "ZIP64 central directory offset", candidate + 48));
        }

        return MalformedInputException.Throw<(long, long, long, long, long)>(InputErrorKind.Syntax, "ZIP64 locator points at no ZIP64 end-of-central-directory record", locatorOffset);
    }

    private void ParseCentralDirectory(ReadOnlySpan<byte> central, long delta, long declaredEntries)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var pos = 0;
        while (pos < central.Length)
        {
            var recordOffset = CentralDirectoryOffset + pos;
            if (central.Length - pos < CentralHeaderSize)
            {
                MalformedInputException.ThrowTruncated("central directory entry", recordOffset);
            }

            var header = central[pos..];
            if (BinaryPrimitives.ReadUInt32LittleEndian(header) != CentralSignature)
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, $"bad central directory signature after {_entries.Count} entries", recordOffset);
            }

            if (_entries.Count >= Limits.MaxEntries)
            {
                MalformedInputException.ThrowLimit("entry count", Limits.MaxEntries, recordOffset);
            }

            var flags = BinaryPrimitives.ReadUInt16LittleEndian(header[8..]);
            var method = BinaryPrimitives.ReadUInt16LittleEndian(header[10..]);
            var crc = BinaryPrimitives.ReadUInt32LittleEndian(header[16..]);
            long compressed = BinaryPrimitives.ReadUInt32LittleEndian(header[20..]);
            long uncompressed = BinaryPrimitives.ReadUInt32LittleEndian(header[24..]);
            var nameLength = BinaryPrimitives.ReadUInt16LittleEndian(header[28..]);
            var extraLength = BinaryPrimitives.ReadUInt16LittleEndian(header[30..]);
            var commentLength = BinaryPrimitives.ReadUInt16LittleEndian(header[32..]);
            var externalAttributes = BinaryPrimitives.ReadUInt32LittleEndian(header[38..]);
            long localOffset = BinaryPrimitives.ReadUInt32LittleEndian(header[42..]);
            var recordLength = CentralHeaderSize + nameLength + extraLength + commentLength;
            if (recordLength > central.Length - pos)
            {
                MalformedInputException.ThrowTruncated("central directory entry name/extra/comment", recordOffset);
            }

            var nameBytes = header.Slice(CentralHeaderSize, nameLength);
            var extra = header.Slice(CentralHeaderSize + nameLength, extraLength);
            var name = DecodeName(nameBytes);
            var zip64 = ResolveZip64(extra, ref uncompressed, ref compressed, ref localOffset, includeOffset: true, recordOffset, name);
            var absoluteLocal = checked(localOffset + delta);
            CheckUnicodePath(extra, nameBytes, name, recordOffset);

            var record = new CentralRecord(_entries.Count, name, nameBytes.ToArray(), flags, method, crc, compressed, uncompressed, absoluteLocal, recordOffset, externalAttributes, zip64);
            ZipEntry entry;
            try
            {
                entry = ReadLocalHeader(record);
            }
            catch (MalformedInputException ex) when (!ex.LimitExceeded)
            {
                // One member whose bytes cannot be found: no loader reads it, but the other members still load.
                AddIssue(ZipIssueKind.UnreadableEntry, name, ex.Offset ?? absoluteLocal, $"member cannot be read: {ex.Message}");
                entry = Unreadable(record, ex.Message);
            }

            _entries.Add(entry);

            if (!names.Add(name))
            {
                AddIssue(ZipIssueKind.DuplicateName, name, recordOffset, "two central directory entries have the same name: readers differ on which one they load");
            }

            if (entry.IsEncrypted)
            {
                AddIssue(ZipIssueKind.Encrypted, name, recordOffset, "member is encrypted and cannot be inspected");
            }
            else if (!entry.IsSupportedMethod)
            {
                AddIssue(ZipIssueKind.UnsupportedMethod, name, recordOffset, $"compression method {method} is not supported (only stored and deflate)");
            }

            if (ArchivePaths.IsUnsafe(name))
            {
                AddIssue(ZipIssueKind.UnsafePath, name, recordOffset, "member name is absolute, contains '..' or control characters (path traversal on extraction)");
            }

            pos += recordLength;
        }

        if (_entries.Count != declaredEntries)
        {
            AddIssue(ZipIssueKind.EntryCountMismatch, null, EndRecordOffset, $"end record declares {declaredEntries:N0} entries but the central directory holds {_entries.Count:N0}");
        }
    }

    private readonly record struct CentralRecord(int Index, string Name, byte[] NameBytes, ushort Flags, ushort Method, uint Crc, long Compressed, long Uncompressed, long LocalOffset, long RecordOffset, uint ExternalAttributes, bool Zip64);

    private ZipEntry Unreadable(CentralRecord c, string problem) => new()
    {
        Index = c.Index,
        Name = c.Name,
        LocalName = c.Name,
        RawName = c.NameBytes,
        Flags = c.Flags,
        Method = c.Method,
        Crc32 = c.Crc,
        CompressedSize = c.Compressed,
        UncompressedSize = c.Uncompressed,
        LocalHeaderOffset = c.LocalOffset,
        DataOffset = -1,
        CentralHeaderOffset = c.RecordOffset,
        ExternalAttributes = c.ExternalAttributes,
        IsZip64 = c.Zip64,
        Problem = problem,
        Owner = this,
    };

    private ZipEntry ReadLocalHeader(CentralRecord c)
    {
        var local = ParseLocal(c.LocalOffset, c.Name);
        var dataEnd = local.DataOffset + c.Compressed;
        if (c.Compressed > Length - local.DataOffset)
        {
            MalformedInputException.ThrowTruncated($"data of {c.Compressed:N0} bytes", local.DataOffset, c.Name);
        }

        if (!local.NameBytes.AsSpan().SequenceEqual(c.NameBytes))
        {
            AddDiscrepancy(c.Name, "name", c.Name, local.Name, c.LocalOffset);
        }

        if (local.Method != c.Method)
        {
            AddDiscrepancy(c.Name, "method", c.Method.ToString(), local.Method.ToString(), c.LocalOffset);
        }

        if (local.Flags != c.Flags)
        {
            AddDiscrepancy(c.Name, "flags", $"0x{c.Flags:x4}", $"0x{local.Flags:x4}", c.LocalOffset);
        }

        if ((local.Flags & 0x0008) == 0)
        {
            CompareSizes(c, "", local.Crc, local.Compressed, local.Uncompressed);
        }

        var spanEnd = dataEnd;
        if (((c.Flags | local.Flags) & 0x0008) != 0)
        {
            spanEnd = CheckDataDescriptor(c, dataEnd, c.Zip64 || local.Zip64);
        }

        _spans.Add(new EntrySpan(c.LocalOffset, spanEnd, c.Name));
        return new ZipEntry
        {
            Index = c.Index,
            Name = c.Name,
            LocalName = local.Name,
            RawName = c.NameBytes,
            Flags = c.Flags,
            Method = c.Method,
            Crc32 = c.Crc,
            CompressedSize = c.Compressed,
            UncompressedSize = c.Uncompressed,
            LocalHeaderOffset = c.LocalOffset,
            DataOffset = local.DataOffset,
            CentralHeaderOffset = c.RecordOffset,
            ExternalAttributes = c.ExternalAttributes,
            IsZip64 = c.Zip64 || local.Zip64,
            Owner = this,
        };
    }

    private void CompareSizes(CentralRecord c, string prefix, uint crc, long compressed, long uncompressed)
    {
        if (crc != c.Crc)
        {
            AddDiscrepancy(c.Name, prefix + "crc32", $"0x{c.Crc:x8}", $"0x{crc:x8}", c.LocalOffset);
        }

        if (compressed != c.Compressed)
        {
            AddDiscrepancy(c.Name, prefix + "compressed size", c.Compressed.ToString(), compressed.ToString(), c.LocalOffset);
        }

        if (uncompressed != c.Uncompressed)
        {
            AddDiscrepancy(c.Name, prefix + "uncompressed size", c.Uncompressed.ToString(), uncompressed.ToString(), c.LocalOffset);
        }
    }

    private long CheckDataDescriptor(CentralRecord c, long dataEnd, bool zip64)
    {
        Span<byte> descriptor = stackalloc byte[24];
        var available = StreamReads.ReadAtMost(_stream, _gate, dataEnd, descriptor);
        descriptor = descriptor[..available];
        var skip = descriptor.Length >= 4 && BinaryPrimitives.ReadUInt32LittleEndian(descriptor) == DescriptorSignature ? 4 : 0;
        var needed = skip + 4 + (zip64 ? 16 : 8);
        if (descriptor.Length < needed)
        {
            // Loaders take sizes and CRC from the central directory and never read the descriptor.
            AddDiscrepancy(c.Name, "data descriptor", "present (flag bit 3)", "missing or cut short", dataEnd);
            return dataEnd + descriptor.Length;
        }

        var body = descriptor[skip..];
        var crc = BinaryPrimitives.ReadUInt32LittleEndian(body);
        var compressed = zip64 ? ToLong(BinaryPrimitives.ReadUInt64LittleEndian(body[4..]), "descriptor size", dataEnd) : BinaryPrimitives.ReadUInt32LittleEndian(body[4..]);
        var uncompressed = zip64 ? ToLong(BinaryPrimitives.ReadUInt64LittleEndian(body[12..]), "descriptor size", dataEnd) : BinaryPrimitives.ReadUInt32LittleEndian(body[8..]);
        CompareSizes(c, "descriptor ", crc, compressed, uncompressed);
        return dataEnd + needed;
    }

    private readonly record struct LocalHeader(ushort Flags, ushort Method, uint Crc, long Compressed, long Uncompressed, byte[] NameBytes, string Name, long DataOffset, bool Zip64);

    private LocalHeader ParseLocal(long offset, string? member)
    {
        if (offset < 0 || offset > Length - LocalHeaderSize)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"local header offset {offset:N0} is outside the file", Math.Max(0, offset), member);
        }

        Span<byte> header = stackalloc byte[LocalHeaderSize];
        StreamReads.ReadExactly(_stream, _gate, offset, header, "local header", member);
        if (BinaryPrimitives.ReadUInt32LittleEndian(header) != LocalSignature)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "central directory points at no local header signature", offset, member);
        }

        var flags = BinaryPrimitives.ReadUInt16LittleEndian(header[6..]);
        var method = BinaryPrimitives.ReadUInt16LittleEndian(header[8..]);
        var crc = BinaryPrimitives.ReadUInt32LittleEndian(header[14..]);
        long compressed = BinaryPrimitives.ReadUInt32LittleEndian(header[18..]);
        long uncompressed = BinaryPrimitives.ReadUInt32LittleEndian(header[22..]);
        var nameLength = BinaryPrimitives.ReadUInt16LittleEndian(header[26..]);
        var extraLength = BinaryPrimitives.ReadUInt16LittleEndian(header[28..]);
        var variable = new byte[nameLength + extraLength];
        StreamReads.ReadExactly(_stream, _gate, offset + LocalHeaderSize, variable, "local header name/extra", member);
        var nameBytes = variable[..nameLength];
        var name = DecodeName(nameBytes);
        long ignored = 0;
        bool zip64;
        try
        {
            zip64 = ResolveZip64(variable.AsSpan(nameLength), ref uncompressed, ref compressed, ref ignored, includeOffset: false, offset, member ?? name);
        }
        catch (MalformedInputException) when (member is not null)
        {
            // Loaders take sizes from the central directory; the local copy is only compared with it.
            zip64 = false;
        }

        return new LocalHeader(flags, method, crc, compressed, uncompressed, nameBytes, name, offset + LocalHeaderSize + variable.Length, zip64);
    }

    /// <summary>Replaces 0xFFFFFFFF fields by their ZIP64 extra values (in spec order). Returns whether a ZIP64 extra was used.</summary>
    private static bool ResolveZip64(ReadOnlySpan<byte> extra, ref long uncompressed, ref long compressed, ref long offset, bool includeOffset, long errorOffset, string member)
    {
        var needUncompressed = uncompressed == Sentinel32;
        var needCompressed = compressed == Sentinel32;
        var needOffset = includeOffset && offset == Sentinel32;
        if (!needUncompressed && !needCompressed && !needOffset)
        {
            return false;
        }

        var block = FindExtra(extra, Zip64ExtraId);
        if (block.IsEmpty)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "size or offset is 0xFFFFFFFF but there is no ZIP64 extra field", errorOffset, member);
        }

        var pos = 0;
        if (needUncompressed)
        {
            uncompressed = ReadZip64Value(block, ref pos, errorOffset, member);
        }

        if (needCompressed)
        {
            compressed = ReadZip64Value(block, ref pos, errorOffset, member);
        }

        if (needOffset)
        {
            offset = ReadZip64Value(block, ref pos, errorOffset, member);
        }

        return true;
    }

    private static long ReadZip64Value(ReadOnlySpan<byte> block, ref int pos, long errorOffset, string member)
    {
        if (block.Length - pos < 8)
        {
            MalformedInputException.Throw(InputErrorKind.Truncated, "ZIP64 extra field is too short for the values it must hold", errorOffset, member);
        }

        var value = BinaryPrimitives.ReadUInt64LittleEndian(block[pos..]);
        pos += 8;
        return ToLong(value, "ZIP64 value", errorOffset, member);
    }

    /// <summary>Finds an extra block by id; malformed trailing blocks (padding) end the search.</summary>
    private static ReadOnlySpan<byte> FindExtra(ReadOnlySpan<byte> extra, ushort id)
    {
        while (extra.Length >= 4)
        {
            var blockId = BinaryPrimitives.ReadUInt16LittleEndian(extra);
            var size = BinaryPrimitives.ReadUInt16LittleEndian(extra[2..]);
            if (size > extra.Length - 4)
            {
                break;
            }

            if (blockId == id)
            {
                return extra.Slice(4, size);
            }

            extra = extra[(4 + size)..];
        }

        return [];
    }

    private void CheckUnicodePath(ReadOnlySpan<byte> extra, ReadOnlySpan<byte> nameBytes, string name, long recordOffset)
    {
        var block = FindExtra(extra, UnicodePathExtraId);
        if (block.Length < 5 || block[0] != 1)
        {
            return;
        }

        var unicodeName = DecodeName(block[5..]);
        if (BinaryPrimitives.ReadUInt32LittleEndian(block[1..]) == Crc32.Compute(nameBytes) && unicodeName != name)
        {
            AddDiscrepancy(name, "unicode path extra", name, unicodeName, recordOffset);
        }
    }

    private readonly List<EntrySpan> _spans = [];

    private readonly record struct EntrySpan(long Start, long End, string Name);

    private void AnalyzeLayout(long centralEnd, long endRecordsStart)
    {
        _spans.Sort((a, b) => a.Start != b.Start ? a.Start.CompareTo(b.Start) : a.End.CompareTo(b.End));
        var gaps = new List<(long Start, long End)>();
        long cursor = 0;
        var cursorName = (string?)null;
        foreach (var span in _spans)
        {
            if (span.Start < cursor)
            {
                AddIssue(ZipIssueKind.OverlappingEntries, span.Name, span.Start, $"entry overlaps '{cursorName}': the same bytes are read as two members (overlap zip bomb or member hiding)");
            }
            else if (span.Start > cursor)
            {
                gaps.Add((cursor, span.Start));
            }

            if (span.End > CentralDirectoryOffset && span.Start < centralEnd)
            {
                AddIssue(ZipIssueKind.OverlapsCentralDirectory, span.Name, span.Start, "entry data overlaps the central directory");
            }

            if (span.End > cursor)
            {
                cursor = span.End;
                cursorName = span.Name;
            }
        }

        var firstStart = _spans.Count > 0 ? Math.Min(_spans[0].Start, CentralDirectoryOffset) : CentralDirectoryOffset;
        if (firstStart > 0)
        {
            AddIssue(ZipIssueKind.PrefixData, null, 0, $"{firstStart:N0} bytes of prefix data before the first entry (self-extractor, or a file glued in front of the zip)");
        }

        if (CentralDirectoryOffset > cursor)
        {
            gaps.Add((cursor, CentralDirectoryOffset));
        }

        if (endRecordsStart > centralEnd)
        {
            AddIssue(ZipIssueKind.DataBeforeEndRecord, null, centralEnd, $"{endRecordsStart - centralEnd:N0} bytes between the central directory and the end record");
            gaps.Add((centralEnd, endRecordsStart));
        }

        ScanGaps(gaps);
    }

    private void ScanGaps(List<(long Start, long End)> gaps)
    {
        var budget = Limits.MaxGapScanBytes;
        var reported = 0;
        var buffer = new byte[GapScanChunk + 3];
        foreach (var (gapStart, gapEnd) in gaps)
        {
            var position = gapStart;
            while (position < gapEnd - 3 && budget > 0 && reported < Limits.MaxHiddenEntries)
            {
                var want = (int)Math.Min(Math.Min(buffer.Length, gapEnd - position), budget + 3);
                var read = StreamReads.ReadAtMost(_stream, _gate, position, buffer.AsSpan(0, want));
                if (read < 4)
                {
                    break;
                }

                var window = buffer.AsSpan(0, read);
                var index = window.IndexOf("PK\x03\x04"u8);
                if (index < 0)
                {
                    var advance = read - 3;
                    budget -= advance;
                    position += advance;
                    continue;
                }

                var hit = position + index;
                budget -= index + 4;
                reported++;
                position = ReportHiddenLocal(hit, gapEnd);
            }
        }
    }

    /// <summary>Records a local header found in a gap; returns where scanning continues.</summary>
    private long ReportHiddenLocal(long offset, long gapEnd)
    {
        LocalHeader local;
        try
        {
            local = ParseLocal(offset, null);
        }
        catch (MalformedInputException)
        {
            AddIssue(ZipIssueKind.HiddenLocalEntry, null, offset, "a local header signature that no central directory entry references (unreadable header)");
            return offset + 4;
        }

        var knownSize = (local.Flags & 0x0008) == 0 && local.Compressed <= Length - local.DataOffset;
        AddIssue(ZipIssueKind.HiddenLocalEntry, local.Name, offset, "a local entry that the central directory does not reference: streaming readers see a member that others do not");
        if (!knownSize)
        {
            return offset + 4;
        }

        _hidden.Add(new ZipEntry
        {
            Index = _hidden.Count,
            Name = local.Name,
            LocalName = local.Name,
            RawName = local.NameBytes,
            Flags = local.Flags,
            Method = local.Method,
            Crc32 = local.Crc,
            CompressedSize = local.Compressed,
            UncompressedSize = local.Uncompressed,
            LocalHeaderOffset = offset,
            DataOffset = local.DataOffset,
            CentralHeaderOffset = -1,
            ExternalAttributes = 0,
            IsZip64 = local.Zip64,
            IsHidden = true,
            Owner = this,
        });
        var next = local.DataOffset + local.Compressed;
        return next > offset && next <= gapEnd ? next : offset + 4;
    }

    private void AddIssue(ZipIssueKind kind, string? name, long offset, string message) => _issues.Add(new ZipIssue(kind, name, offset, message));

    private void AddDiscrepancy(string name, string field, string central, string local, long offset) =>
        _discrepancies.Add(new ZipDiscrepancy(name, field, central, local, offset));

    private static long ToLong(ulong value, string what, long offset, string? member = null)
    {
        if (value > long.MaxValue)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"{what} {value} is out of range", offset, member);
        }

        return (long)value;
    }

    internal static string DecodeName(ReadOnlySpan<byte> bytes) =>
        Utf8.IsValid(bytes) ? Encoding.UTF8.GetString(bytes) : Encoding.Latin1.GetString(bytes);
}
