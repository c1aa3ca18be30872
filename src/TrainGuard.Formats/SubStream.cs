namespace TrainGuard.Formats;

/// <summary>
/// A read-only window <c>[start, start+length)</c> on a seekable stream. Each read seeks the shared base stream
/// under a lock, so several windows on one file can be read one after another (or from several threads).
/// </summary>
internal sealed class SubStream : Stream
{
    private readonly Stream _base;
    private readonly object _gate;
    private readonly long _start;
    private readonly long _length;
    private long _position;

    public SubStream(Stream baseStream, object gate, long start, long length)
    {
        _base = baseStream;
        _gate = gate;
        _start = start;
        _length = length;
    }

    public override bool CanRead => true;

    public override bool CanSeek => true;

    public override bool CanWrite => false;

    public override long Length => _length;

    public override long Position
    {
        get => _position;
        set => _position = value is >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value));
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var remaining = _length - _position;
        if (remaining <= 0 || buffer.IsEmpty)
        {
            return 0;
        }

        if (buffer.Length > remaining)
        {
            buffer = buffer[..(int)remaining];
        }

        int read;
        lock (_gate)
        {
            _base.Position = _start + _position;
            read = _base.Read(buffer);
        }

        _position += read;
        return read;
    }

    public override long Seek(long offset, SeekOrigin origin)
    {
        Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => checked(_position + offset),
            _ => checked(_length + offset),
        };
        return _position;
    }

    public override void Flush()
    {
    }

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
