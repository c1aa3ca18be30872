using System.Text.Json;
using TrainGuard.Agent.Common;

namespace TrainGuard.Agent.Runtime;

/// <summary>
/// Follows a log file across rotation, like <c>tail -F</c>: each <see cref="Poll"/> delivers the complete
/// lines appended since the last one. A rotation (the path now names another file) is recognised by
/// the first bytes of the file changing; the old file is read to its end first. A truncated file is
/// read again from the start. The position survives restarts (<see cref="StatePath"/>); re-read
/// lines yield the same event ids, which the server drops as duplicates.
/// </summary>
public sealed class LogFollower : IDisposable
{
    private const int FingerprintBytes = 512;
    private const int ChunkBytes = 1 << 16;

    private readonly string _path;
    private readonly LineReader _splitter;
    private readonly int _maxLineLength;
    private FileStream? _stream;
    private byte[] _fingerprint = [];
    private long _offset;
    private long _lineNumber;
    private byte[] _partial = [];
    private readonly byte[] _buffer = new byte[ChunkBytes];
    private readonly byte[] _headBuffer = new byte[FingerprintBytes];

    public LogFollower(string path, string? statePath = null, int maxLineLength = LineReader.DefaultMaxLineLength)
    {
        _path = path;
        StatePath = statePath;
        _splitter = new LineReader(maxLineLength);
        _maxLineLength = maxLineLength;
        LoadState();
    }

    public string? StatePath { get; }

    /// <summary>Rotations noticed so far.</summary>
    public int Rotations { get; private set; }

    /// <summary>Reads what was appended; returns the number of lines delivered.</summary>
    public long Poll(LineHandler handler)
    {
        long delivered = 0;
        if (_stream is null && !TryOpen(resume: true))
        {
            return 0;
        }

        delivered += Drain(handler);

        // Rotated or truncated? Compare the path's current first bytes with the file we hold.
        if (IsReplaced())
        {
            delivered += Drain(handler);
            FlushPartial(handler, ref delivered);
            _stream?.Dispose();
            _stream = null;
            Rotations++;
            _offset = 0;
            _lineNumber = 0;
            _fingerprint = [];
            if (TryOpen(resume: false))
            {
                delivered += Drain(handler);
            }
        }

        SaveState();
        return delivered;
    }

    public void Dispose() => _stream?.Dispose();

    private bool TryOpen(bool resume)
    {
        try
        {
            _stream = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.SequentialScan);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }

        var head = ReadHead(_stream, _fingerprint.Length > 0 ? _fingerprint.Length : FingerprintBytes);
        if (resume && _fingerprint.Length > 0 && head.AsSpan().SequenceEqual(_fingerprint) && _offset <= _stream.Length)
        {
            _stream.Position = _offset;
            return true;
        }

        _offset = 0;
        _lineNumber = 0;
        _partial = [];
        _fingerprint = [];
        _stream.Position = 0;
        return true;
    }

    private long Drain(LineHandler handler)
    {
        if (_stream is null)
        {
            return 0;
        }

        if (_stream.Length < _offset)
        {
            // Truncated in place (copytruncate): start over.
            _offset = 0;
            _lineNumber = 0;
            _partial = [];
            _fingerprint = [];
        }

        if (_stream.Length == _offset)
        {
            return 0;
        }

        _stream.Position = _offset;
        long delivered = 0;
        int read;
        while ((read = _stream.Read(_buffer)) > 0)
        {
            var data = _partial.Length == 0 ? _buffer.AsSpan(0, read).ToArray() : [.. _partial, .. _buffer.AsSpan(0, read)];
            var lastNl = Array.LastIndexOf(data, (byte)'\n');
            if (lastNl < 0)
            {
                _partial = data.Length > _maxLineLength ? [] : data;
                _offset += read;
                continue;
            }

            var complete = data.AsMemory(0, lastNl + 1);
            _partial = data[(lastNl + 1)..];
            var baseLine = _lineNumber;
            var count = _splitter.Read(new MemoryStream(complete.ToArray()), (line, n, terminated) => handler(line, baseLine + n, terminated));
            _lineNumber += count;
            delivered += count;
            _offset += read;
        }

        if (_fingerprint.Length < FingerprintBytes && _offset > _fingerprint.Length)
        {
            _fingerprint = ReadHead(_stream, FingerprintBytes);
            _stream.Position = _offset;
        }

        return delivered;
    }

    private void FlushPartial(LineHandler handler, ref long delivered)
    {
        if (_partial.Length > 0)
        {
            _lineNumber++;
            handler(_partial, _lineNumber, terminated: false);
            delivered++;
            _partial = [];
        }
    }

    private bool IsReplaced()
    {
        if (_fingerprint.Length == 0)
        {
            return _stream is not null && !File.Exists(_path);
        }

        try
        {
            using var current = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1);
            var total = 0;
            int read;
            while (total < _fingerprint.Length && (read = current.Read(_headBuffer, total, _fingerprint.Length - total)) > 0)
            {
                total += read;
            }

            return total != _fingerprint.Length || !_headBuffer.AsSpan(0, total).SequenceEqual(_fingerprint);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Between the rename and the creation of the new file: look again next time.
            return false;
        }
    }

    private static byte[] ReadHead(FileStream s, int length)
    {
        var position = s.Position;
        s.Position = 0;
        var head = new byte[length];
        var total = 0;
        int read;
        while (total < length && (read = s.Read(head, total, length - total)) > 0)
        {
            total += read;
        }

        s.Position = position;
        return head[..total];
    }

    private sealed record State(string Path, long Offset, long Line, string Fingerprint);

    private void LoadState()
    {
        if (StatePath is null || !File.Exists(StatePath))
        {
            return;
        }

        try
        {
            if (JsonSerializer.Deserialize<State>(File.ReadAllText(StatePath)) is { } state && state.Path == _path && state.Offset >= 0)
            {
                _offset = state.Offset;
                _lineNumber = state.Line;
                _fingerprint = Convert.FromHexString(state.Fingerprint);
            }
        }
        catch (Exception ex) when (ex is JsonException or FormatException)
        {
            // Start over; re-read lines produce the same ids.
        }
    }

    private long _savedPosition = -1;
    private int _savedFingerprintLength = -1;

    private void SaveState()
    {
        if (StatePath is null)
        {
            return;
        }

        var position = _offset - _partial.Length;
        if (position == _savedPosition && _fingerprint.Length == _savedFingerprintLength)
        {
            return;
        }

        DurableFile.WriteAllText(StatePath, JsonSerializer.Serialize(new State(_path, position, _lineNumber, Convert.ToHexString(_fingerprint))));
        _savedPosition = position;
        _savedFingerprintLength = _fingerprint.Length;
    }
}
