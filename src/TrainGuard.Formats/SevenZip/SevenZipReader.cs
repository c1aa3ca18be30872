using SharpCompress.Archives;
using SharpCompress.Archives.SevenZip;
using SharpCompress.Readers;
using TrainGuard.Formats.Zip;
using TrainGuard.Parsing;

namespace TrainGuard.Formats.SevenZip;

/// <summary>One 7z member.</summary>
public sealed record SevenZipEntry(int Index, string Name, long Size, long CompressedSize, bool IsDirectory, bool IsEncrypted, uint Crc32)
{
    internal IArchiveEntry? Inner { get; init; }

    internal SevenZipReader? Owner { get; init; }
}

/// <summary>
/// Lists and opens 7z members through SharpCompress, with the zip limits enforced on the bytes actually
/// produced (per member, per archive, and as a ratio to the archive's size, since solid archives have no
/// per-member compressed size). Any failure inside SharpCompress becomes a <see cref="MalformedInputException"/>.
/// Not thread-safe: open members one after another.
/// </summary>
public sealed class SevenZipReader : IDisposable
{
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly IArchive _archive;
    private readonly List<SevenZipEntry> _entries = [];
    private long _totalInflated;

    private SevenZipReader(Stream stream, IArchive archive, ZipLimits limits, bool leaveOpen)
    {
        _stream = stream;
        _archive = archive;
        Limits = limits;
        _leaveOpen = leaveOpen;
        Length = stream.Length;
    }

    public ZipLimits Limits { get; }

    public long Length { get; }

    public IReadOnlyList<SevenZipEntry> Entries => _entries;

    public long TotalInflatedBytes => _totalInflated;

    public static SevenZipReader Open(Stream seekable, ZipLimits limits, bool leaveOpen = true)
    {
        ArgumentNullException.ThrowIfNull(seekable);
        ArgumentNullException.ThrowIfNull(limits);
        if (!seekable.CanSeek || !seekable.CanRead)
        {
            throw new ArgumentException("the 7z reader needs a readable, seekable stream", nameof(seekable));
        }

        IArchive archive;
        try
        {
            seekable.Position = 0;
            archive = SevenZipArchive.OpenArchive(seekable, new ReaderOptions { LeaveStreamOpen = true });
        }
        catch (Exception ex) when (ex is not MalformedInputException)
        {
            throw MalformedInputException.Wrap(ex, InputErrorKind.Syntax, "unreadable 7z archive", 0, null);
        }

        var reader = new SevenZipReader(seekable, archive, limits, leaveOpen);
        try
        {
            reader.List();
            return reader;
        }
        catch (Exception ex)
        {
            reader.Dispose();
            if (ex is MalformedInputException)
            {
                throw;
            }

            throw MalformedInputException.Wrap(ex, InputErrorKind.Syntax, "unreadable 7z archive", 0, null);
        }
    }

    private void List()
    {
        foreach (var inner in _archive.Entries)
        {
            if (_entries.Count >= Limits.MaxEntries)
            {
                MalformedInputException.ThrowLimit("entry count", Limits.MaxEntries, 0);
            }

            var name = inner.Key ?? string.Empty;
            if (inner.Size < 0 || inner.CompressedSize < 0)
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, "7z member declares a negative size", 0, name);
            }

            _entries.Add(new SevenZipEntry(_entries.Count, name, inner.Size, inner.CompressedSize, inner.IsDirectory, inner.IsEncrypted, unchecked((uint)inner.Crc))
            {
                Inner = inner,
                Owner = this,
            });
        }
    }

    /// <summary>Opens a member as a read-only stream that enforces the limits and checks the CRC-32 (when the archive records one) at the end.</summary>
    public Stream OpenEntry(SevenZipEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (!ReferenceEquals(entry.Owner, this) || entry.Inner is null)
        {
            throw new ArgumentException("the entry does not belong to this archive", nameof(entry));
        }

        if (entry.IsEncrypted)
        {
            MalformedInputException.Throw(InputErrorKind.Encrypted, "the member is encrypted; encrypted members cannot be inspected, treat the archive as unsafe", 0, entry.Name);
        }

        try
        {
            return new LimitedStream(this, entry, entry.Inner.OpenEntryStream());
        }
        catch (Exception ex)
        {
            throw MalformedInputException.Wrap(ex, InputErrorKind.Syntax, "unreadable 7z member", 0, entry.Name);
        }
    }

    public byte[] ReadEntry(SevenZipEntry entry, int maxBytes)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (entry.Size > maxBytes)
        {
            MalformedInputException.ThrowLimit($"member size {entry.Size:N0}", maxBytes, 0, entry.Name);
        }

        if (entry.Size > Limits.RatioCheckFloorBytes && entry.Size / Math.Max(1, Length) > Limits.MaxCompressionRatio)
        {
            MalformedInputException.ThrowLimit($"declared member size {entry.Size:N0} against an archive of {Length:N0} bytes (ratio)", Limits.MaxCompressionRatio, 0, entry.Name);
        }

        using var stream = OpenEntry(entry);
        var buffer = new byte[entry.Size];
        var read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        Span<byte> probe = stackalloc byte[1];
        if (read < buffer.Length || stream.Read(probe) != 0)
        {
            MalformedInputException.Throw(InputErrorKind.Corrupt, $"member produced {read:N0} bytes, declared {entry.Size:N0}", 0, entry.Name);
        }

        return buffer;
    }

    public byte[] ReadHead(SevenZipEntry entry, int count)
    {
        ArgumentNullException.ThrowIfNull(entry);
        using var stream = OpenEntry(entry);
        var buffer = new byte[(int)Math.Min(count, entry.Size)];
        var read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        return read == buffer.Length ? buffer : buffer[..read];
    }

    public void Dispose()
    {
        _archive.Dispose();
        if (!_leaveOpen)
        {
            _stream.Dispose();
        }
    }

    /// <summary>Fuzz target: only <see cref="MalformedInputException"/> may escape.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        var limits = new ZipLimits { MaxEntries = 256, MaxEntryBytes = 1024 * 1024, MaxTotalInflatedBytes = 4 * 1024 * 1024 };
        using var reader = Open(new MemoryStream(data.ToArray(), writable: false), limits, leaveOpen: false);
        foreach (var entry in reader.Entries)
        {
            if (!entry.IsDirectory && !entry.IsEncrypted && entry.Size <= 1024 * 1024)
            {
                _ = reader.ReadEntry(entry, 1024 * 1024);
            }
        }
    }

    private void Account(SevenZipEntry entry, long produced, int read)
    {
        if (produced > entry.Size)
        {
            MalformedInputException.Throw(InputErrorKind.Corrupt, $"member produces more than its declared size of {entry.Size:N0} bytes", 0, entry.Name);
        }

        if (produced > Limits.MaxEntryBytes)
        {
            MalformedInputException.ThrowLimit("member size", Limits.MaxEntryBytes, 0, entry.Name);
        }

        _totalInflated += read;
        if (_totalInflated > Limits.MaxTotalInflatedBytes)
        {
            MalformedInputException.ThrowLimit("total bytes inflated from this archive", Limits.MaxTotalInflatedBytes, 0, entry.Name);
        }

        if (_totalInflated > Limits.RatioCheckFloorBytes && _totalInflated / Math.Max(1, Length) > Limits.MaxCompressionRatio)
        {
            MalformedInputException.ThrowLimit($"ratio of bytes inflated to archive size (over {_totalInflated / Math.Max(1, Length):N0}:1)", Limits.MaxCompressionRatio, 0, entry.Name);
        }
    }

    private sealed class LimitedStream(SevenZipReader owner, SevenZipEntry entry, Stream inner) : Stream
    {
        private long _produced;
        private uint _crc;
        private bool _finished;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => entry.Size;

        public override long Position
        {
            get => _produced;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (buffer.IsEmpty || _finished)
            {
                return 0;
            }

            int read;
            try
            {
                read = inner.Read(buffer);
            }
            catch (Exception ex)
            {
                throw MalformedInputException.Wrap(ex, InputErrorKind.Corrupt, "corrupt 7z member data", 0, entry.Name);
            }

            if (read == 0)
            {
                _finished = true;
                if (_produced != entry.Size)
                {
                    MalformedInputException.Throw(InputErrorKind.Truncated, $"member ends after {_produced:N0} bytes but declares {entry.Size:N0}", 0, entry.Name);
                }

                if (entry.Crc32 != 0 && _crc != entry.Crc32)
                {
                    MalformedInputException.Throw(InputErrorKind.Corrupt, $"CRC-32 mismatch: data has 0x{_crc:x8}, the archive declares 0x{entry.Crc32:x8}", 0, entry.Name);
                }

                return 0;
            }

            _produced += read;
            owner.Account(entry, _produced, read);
            _crc = Crc32.Append(_crc, buffer[..read]);
            return read;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                try
                {
                    inner.Dispose();
                }
                catch (Exception ex)
                {
                    throw MalformedInputException.Wrap(ex, InputErrorKind.Corrupt, "corrupt 7z member data", 0, entry.Name);
                }
            }

            base.Dispose(disposing);
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
