using System.IO.Compression;
using TrainGuard.Parsing;

namespace TrainGuard.Formats.Zip;

/// <summary>
/// Read-only stream over one member: stores or inflates, and enforces on the bytes actually produced the
/// declared size, <see cref="ZipLimits.MaxEntryBytes"/>, <see cref="ZipLimits.MaxTotalInflatedBytes"/> and
/// <see cref="ZipLimits.MaxCompressionRatio"/>; at the end checks the size and CRC-32. A lenient stream (what
/// loaders that skip integrity checks read: torch's miniz is built without CRC checks, Python's zipfile checks the
/// CRC only after the last byte, once an unpickler has already run what it read) records a bad CRC, a size that
/// disagrees and corrupt deflate data in <see cref="Damage"/> instead of throwing, and stops at the declared size.
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
    private readonly bool _lenient;
    private List<ZipDamage>? _damage;

    public ZipEntryStream(ZipReader owner, ZipEntry entry, Stream raw, bool lenient = false)
    {
        _owner = owner;
        _entry = entry;
        _raw = raw;
        _lenient = lenient;
        _source = entry.Method == ZipReader.MethodDeflate ? new DeflateStream(raw, CompressionMode.Decompress, leaveOpen: true) : raw;
    }

    /// <summary>Integrity failures a lenient stream read past (empty for a strict one: it throws instead).</summary>
    public IReadOnlyList<ZipDamage> Damage => _damage ?? (IReadOnlyList<ZipDamage>)[];

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

        if (_lenient)
        {
            // A loader stops at the declared size: never hand out more than that.
            var left = _entry.UncompressedSize - _produced;
            if (left <= 0)
            {
                if (_source.Read(stackalloc byte[1]) > 0)
                {
                    AddDamage(ZipDamageKind.SizeMismatch, $"member holds more than its declared {_entry.UncompressedSize:N0} bytes; a loader reads only the declared size", _entry.DataOffset);
                }

                Finish();
                return 0;
            }

            if (buffer.Length > left)
            {
                buffer = buffer[..(int)left];
            }
        }

        int read;
        try
        {
            read = _source.Read(buffer);
        }
        catch (InvalidDataException ex)
        {
            if (!_lenient)
            {
                throw MalformedInputException.Create(InputErrorKind.Corrupt, $"corrupt deflate data: {ex.Message}", _entry.DataOffset + _raw.Position, _entry.Name, inner: ex);
            }

            AddDamage(ZipDamageKind.CorruptData, $"corrupt deflate data after {_produced:N0} inflated bytes ({ex.Message}); a streaming loader has already run what came before", _entry.DataOffset + _raw.Position);
            Finish();
            return 0;
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
        if (_finished)
        {
            return;
        }

        _finished = true;
        if (_produced != _entry.UncompressedSize)
        {
            var message = $"member ends after {_produced:N0} bytes but declares {_entry.UncompressedSize:N0}";
            if (!_lenient)
            {
                MalformedInputException.Throw(InputErrorKind.Truncated, message, _entry.DataOffset, _entry.Name);
            }

            AddDamage(ZipDamageKind.SizeMismatch, message, _entry.DataOffset);
        }

        if (_crc != _entry.Crc32 && (_damage is null || _damage.All(d => d.Kind != ZipDamageKind.CorruptData)))
        {
            var message = $"CRC-32 mismatch: data has 0x{_crc:x8}, the entry declares 0x{_entry.Crc32:x8}";
            if (!_lenient)
            {
                MalformedInputException.Throw(InputErrorKind.Corrupt, message, _entry.DataOffset, _entry.Name);
            }

            AddDamage(ZipDamageKind.BadCrc, message, _entry.DataOffset);
        }
    }

    private void AddDamage(ZipDamageKind kind, string message, long offset) =>
        (_damage ??= []).Add(new ZipDamage(kind, _entry.Name, offset, message));

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
