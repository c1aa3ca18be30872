using System.IO.Compression;
using TrainGuard.Parsing;

namespace TrainGuard.Formats.Zip;

/// <summary>
/// Read-only stream over one member: stores or inflates, and enforces on the bytes actually produced the
/// declared size, <see cref="ZipLimits.MaxEntryBytes"/>, <see cref="ZipLimits.MaxTotalInflatedBytes"/> and
/// <see cref="ZipLimits.MaxCompressionRatio"/>; at the end checks the size and CRC-32.
/// </summary>
internal sealed class ZipEntryStream : Stream
{
    private readonly ZipReader _owner;
    private readonly ZipEntry _entry;
    private readonly Stream _raw;
    private readonly Stream _source;
    private long _produced;
    private uint _crc;
    private bool _finished;

    public ZipEntryStream(ZipReader owner, ZipEntry entry, Stream raw)
    {
        _owner = owner;
        _entry = entry;
        _raw = raw;
        _source = entry.Method == ZipReader.MethodDeflate ? new DeflateStream(raw, CompressionMode.Decompress, leaveOpen: true) : raw;
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    /// <summary>The declared uncompressed size.</summary>
    public override long Length => _entry.UncompressedSize;

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
            read = _source.Read(buffer);
        }
        catch (InvalidDataException ex)
        {
            throw MalformedInputException.Create(InputErrorKind.Corrupt, $"corrupt deflate data: {ex.Message}", _entry.DataOffset + _raw.Position, _entry.Name, inner: ex);
        }

        if (read == 0)
        {
            Finish();
            return 0;
        }

        Account(read);
        _crc = Crc32.Append(_crc, buffer[..read]);
        return read;
    }

    private void Account(int read)
    {
        var limits = _owner.Limits;
        _produced += read;
        if (_produced > _entry.UncompressedSize)
        {
            MalformedInputException.Throw(InputErrorKind.Corrupt, $"member inflates to more than its declared size of {_entry.UncompressedSize:N0} bytes", _entry.DataOffset, _entry.Name);
        }

        if (_produced > limits.MaxEntryBytes)
        {
            MalformedInputException.ThrowLimit("member size", limits.MaxEntryBytes, _entry.DataOffset, _entry.Name);
        }

        if (_entry.Method == ZipReader.MethodDeflate && _produced > limits.RatioCheckFloorBytes && _produced / Math.Max(1, _entry.CompressedSize) > limits.MaxCompressionRatio)
        {
            MalformedInputException.ThrowLimit($"compression ratio (over {_produced / Math.Max(1, _entry.CompressedSize):N0}:1)", limits.MaxCompressionRatio, _entry.DataOffset, _entry.Name);
        }

        _owner.AddInflated(read, _entry);
    }

    private void Finish()
    {
        _finished = true;
        if (_produced != _entry.UncompressedSize)
        {
            MalformedInputException.Throw(InputErrorKind.Truncated, $"member ends after {_produced:N0} bytes but declares {_entry.UncompressedSize:N0}", _entry.DataOffset, _entry.Name);
        }

        if (_crc != _entry.Crc32)
        {
            MalformedInputException.Throw(InputErrorKind.Corrupt, $"CRC-32 mismatch: data has 0x{_crc:x8}, the entry declares 0x{_entry.Crc32:x8}", _entry.DataOffset, _entry.Name);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            if (!ReferenceEquals(_source, _raw))
            {
                _source.Dispose();
            }

            _raw.Dispose();
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
