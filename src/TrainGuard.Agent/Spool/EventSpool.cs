using System.Text;
using TrainGuard.Agent.Common;
using TrainGuard.Events;
using TrainGuard.Parsing;

namespace TrainGuard.Agent.Spool;

/// <summary>Limits of a spool.</summary>
public sealed record SpoolOptions
{
    /// <summary>A new segment starts when the active one reaches this size.</summary>
    public long MaxSegmentBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>fsync after every append batch (turn off only in tests that measure something else).</summary>
    public bool Fsync { get; init; } = true;
}

/// <summary>One record read back for shipping.</summary>
public sealed record SpoolRecord(long Seq, string EventId, string EventJson, string Line);

/// <summary>
/// The agent's local durable spool: events are appended here first (hash-chained, fsynced per batch)
/// and leave only when the server acknowledged them. Segments are deleted only when every record in
/// them is acknowledged. One process at a time (an exclusive lock on <c>spool.lock</c>).
/// Thread-safe: producers append while the shipper reads and acknowledges.
/// </summary>
public sealed class EventSpool : IDisposable
{
    private readonly object _gate = new();
    private readonly SpoolOptions _options;
    private readonly FileStream _lockStream;
    private readonly List<SegmentInfo> _segments;
    private FileStream _active;
    private long _lastSeq;
    private string _lastHash;
    private long _acked;
    private long _anchorSeq;
    private string _anchorHash;
    private string? _lastEventJson;
    private (int Segment, long Offset, long Seq) _readCursor = (-1, 0, 0);
    private bool _disposed;

    private EventSpool(string directory, SpoolOptions options, FileStream lockStream, SpoolState state)
    {
        Directory = directory;
        _options = options;
        _lockStream = lockStream;
        OpenReport = state.Report;
        _segments = state.Segments;
        _lastSeq = state.LastSeq;
        _lastHash = state.LastHash;
        _acked = state.Acked;
        _anchorSeq = state.AnchorSeq;
        _anchorHash = state.AnchorHash;
        _lastEventJson = state.LastEventJson;
        if (state.SealedHeadHash is { } sealedHash && state.SealedHeadSeq > _lastSeq)
        {
            // Records were cut from the end: number on from the sealed head, so the gap stays visible to every later verify.
            _lastSeq = state.SealedHeadSeq;
            _lastHash = sealedHash;
        }

        if (_segments.Count == 0)
        {
            _segments.Add(CreateSegment(_lastSeq + 1));
        }

        _active = OpenActive(_segments[^1]);
    }

    public string Directory { get; }

    /// <summary>What the open found: tampering, a truncated torn tail, a damaged cursor (see <see cref="SpoolVerification.ToEvents"/>).</summary>
    public SpoolVerification OpenReport { get; }

    public long LastSeq
    {
        get
        {
            lock (_gate)
            {
                return _lastSeq;
            }
        }
    }

    public long AckedSeq
    {
        get
        {
            lock (_gate)
            {
                return _acked;
            }
        }
    }

    /// <summary>Records appended but not yet acknowledged by the server.</summary>
    public long Pending
    {
        get
        {
            lock (_gate)
            {
                return _lastSeq - _acked;
            }
        }
    }

    /// <summary>The sealed head: the newest record's sequence number and the SHA-256 of its line (also in the cursor and every heartbeat).</summary>
    public (long Seq, string Hash) Head
    {
        get
        {
            lock (_gate)
            {
                return (_lastSeq, _lastHash);
            }
        }
    }

    public int SegmentCount
    {
        get
        {
            lock (_gate)
            {
                return _segments.Count;
            }
        }
    }

    /// <summary>The newest event in the spool (acknowledged or not), or null when it never held one.</summary>
    public EventRecord? LastEvent
    {
        get
        {
            lock (_gate)
            {
                return _lastEventJson is null ? null : EventRecord.Parse(_lastEventJson);
            }
        }
    }

    /// <summary>Opens (creating when needed) the spool in <paramref name="directory"/>, verifying the chain and truncating a torn tail.</summary>
    /// <exception cref="IOException">Another process holds the spool, or the folder cannot be written.</exception>
    public static EventSpool Open(string directory, SpoolOptions? options = null)
    {
        directory = Path.GetFullPath(directory);
        System.IO.Directory.CreateDirectory(directory);
        FileStream lockStream;
        try
        {
            lockStream = new FileStream(Path.Combine(directory, SpoolFormat.LockFile), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex)
        {
            throw new IOException($"spool {directory} is in use by another trainguard agent process ({ex.Message})", ex);
        }

        try
        {
            var state = SpoolScanner.Scan(directory, repair: true);
            return new EventSpool(directory, options ?? new SpoolOptions(), lockStream, state);
        }
        catch
        {
            lockStream.Dispose();
            throw;
        }
    }

    /// <summary>Checks a spool without changing it (safe while an agent runs; its last line may then show as torn).</summary>
    public static SpoolVerification Verify(string directory)
    {
        if (!System.IO.Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"spool folder {directory} does not exist");
        }

        return SpoolScanner.Scan(Path.GetFullPath(directory), repair: false).Report;
    }

    /// <summary>Appends one event; see <see cref="Append(IReadOnlyList{EventRecord})"/>.</summary>
    public long Append(EventRecord record) => Append([record])[0];

    /// <summary>
    /// Appends events as one batch and fsyncs: when this returns, the events survive a crash. Returns
    /// their sequence numbers. Nothing is written when an event is too large.
    /// </summary>
    /// <exception cref="ArgumentException">An event serialises to more than <see cref="SpoolFormat.MaxRecordBytes"/>.</exception>
    public IReadOnlyList<long> Append(IReadOnlyList<EventRecord> records)
    {
        if (records.Count == 0)
        {
            return [];
        }

        var jsons = new string[records.Count];
        for (var i = 0; i < records.Count; i++)
        {
            jsons[i] = records[i].ToJsonLine();
            if (Encoding.UTF8.GetByteCount(jsons[i]) > SpoolFormat.MaxRecordBytes - 256)
            {
                throw new ArgumentException($"event {records[i].Id} is larger than {SpoolFormat.MaxRecordBytes - 256} bytes and cannot be spooled", nameof(records));
            }
        }

        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var seqs = new long[records.Count];
            var seq = _lastSeq;
            var hash = _lastHash;
            var buffer = new MemoryStream();
            for (var i = 0; i < jsons.Length; i++)
            {
                if ((_segments[^1].Count > 0 || buffer.Length > 0) && _active.Length + buffer.Length >= _options.MaxSegmentBytes)
                {
                    Commit(buffer, seq, hash, jsons[Math.Max(0, i - 1)]);
                    Roll(seq + 1, hash);
                }

                if (_segments[^1].Count == 0 && buffer.Length == 0)
                {
                    _segments[^1].FirstPrev = hash;
                }

                seq++;
                var line = Encoding.UTF8.GetBytes(SpoolFormat.FormatRecord(seq, hash, jsons[i]));
                buffer.Write(line);
                buffer.WriteByte((byte)'\n');
                hash = SpoolFormat.HashLine(line);
                seqs[i] = seq;
            }

            Commit(buffer, seq, hash, jsons[^1]);
            return seqs;
        }
    }

    /// <summary>
    /// Unacknowledged records in order, starting after the acknowledged sequence: at most
    /// <paramref name="maxRecords"/> and about <paramref name="maxBytes"/> (always at least one).
    /// Reading twice without an acknowledgement returns the same records.
    /// </summary>
    public IReadOnlyList<SpoolRecord> ReadPending(int maxRecords, long maxBytes = 4 * 1024 * 1024)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var start = _acked + 1;
            var result = new List<SpoolRecord>();
            if (start > _lastSeq || maxRecords <= 0)
            {
                return result;
            }

            int segIndex;
            long offset;
            if (_readCursor.Seq == start && _readCursor.Segment >= 0 && _readCursor.Segment < _segments.Count)
            {
                (segIndex, offset, _) = _readCursor;
            }
            else
            {
                segIndex = FindSegment(start);
                offset = 0;
            }

            long bytes = 0;
            while (segIndex < _segments.Count && result.Count < maxRecords && (bytes < maxBytes || result.Count == 0))
            {
                var segment = _segments[segIndex];
                using (var stream = new FileStream(segment.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16))
                {
                    stream.Seek(offset, SeekOrigin.Begin);
                    var buffered = new BufferedStream(stream, 1 << 16);
                    var line = new MemoryStream();
                    while (offset < segment.Length && result.Count < maxRecords && (bytes < maxBytes || result.Count == 0))
                    {
                        line.SetLength(0);
                        int b;
                        while ((b = buffered.ReadByte()) >= 0 && b != '\n')
                        {
                            if (line.Length < SpoolFormat.MaxRecordBytes + 1)
                            {
                                line.WriteByte((byte)b);
                            }
                        }

                        offset += line.Length + (b == '\n' ? 1 : 0);
                        if (b < 0 && line.Length == 0)
                        {
                            break;
                        }

                        try
                        {
                            var span = line.GetBuffer().AsSpan(0, (int)line.Length);
                            var (seq, _, eventJson, eventId) = SpoolFormat.ParseRecord(span);
                            if (seq < start)
                            {
                                continue;
                            }

                            var text = SpoolFormat.Utf8(span);
                            result.Add(new SpoolRecord(seq, eventId ?? string.Empty, eventJson, text));
                            bytes += line.Length;
                        }
                        catch (MalformedInputException)
                        {
                            // Reported by the open's verification; an unreadable record cannot be shipped.
                        }
                    }
                }

                if (offset < segment.Length)
                {
                    continue;
                }

                if (segIndex == _segments.Count - 1)
                {
                    // Stay at the end of the active segment: later appends may land here before the next roll.
                    break;
                }

                segIndex++;
                offset = 0;
            }

            if (result.Count > 0)
            {
                _readCursor = (segIndex, offset, result[^1].Seq + 1);
            }

            return result;
        }
    }

    /// <summary>
    /// Records that the server acknowledged everything up to <paramref name="seq"/> (cursor written
    /// atomically), then deletes segments whose records are all acknowledged (never the active one).
    /// </summary>
    public void Acknowledge(long seq)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            seq = Math.Min(seq, _lastSeq);
            if (seq <= _acked)
            {
                return;
            }

            _acked = seq;
            var trimmed = 0;
            while (trimmed + 1 < _segments.Count && _segments[trimmed + 1].FirstSeq - 1 <= _acked && _segments[trimmed + 1].FirstPrev is { } prev)
            {
                _anchorSeq = _segments[trimmed + 1].FirstSeq - 1;
                _anchorHash = prev;
                trimmed++;
            }

            WriteCursor();
            if (trimmed > 0)
            {
                for (var i = 0; i < trimmed; i++)
                {
                    File.Delete(_segments[i].Path);
                }

                _segments.RemoveRange(0, trimmed);
                _readCursor = _readCursor.Segment >= trimmed ? (_readCursor.Segment - trimmed, _readCursor.Offset, _readCursor.Seq) : (-1, 0, 0);
                DurableFile.SyncDirectory(Directory);
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _active.Dispose();
            _lockStream.Dispose();
        }
    }

    private void Commit(MemoryStream buffer, long seq, string hash, string lastJson)
    {
        if (buffer.Length == 0)
        {
            return;
        }

        var before = _active.Length;
        try
        {
            _active.Write(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
            if (_options.Fsync)
            {
                _active.Flush(flushToDisk: true);
            }
            else
            {
                _active.Flush();
            }
        }
        catch (IOException)
        {
            // Disk full or failing: leave the segment as it was so the chain stays intact.
            try
            {
                _active.SetLength(before);
            }
            catch (IOException)
            {
                // The next open truncates a torn tail.
            }

            throw;
        }

        var segment = _segments[^1];
        segment.Count += seq - _lastSeq;
        segment.Length = _active.Length;
        _lastSeq = seq;
        _lastHash = hash;
        _lastEventJson = lastJson;
        buffer.SetLength(0);

        // Sealed after the records are on disk: a crash in between leaves a head that is older, never newer, than the spool.
        try
        {
            WriteCursor();
        }
        catch (IOException)
        {
            // The records are committed; an older head is safe and the next append seals again.
        }
    }

    private void WriteCursor() =>
        SpoolFormat.WriteCursor(Directory, new SpoolFormat.Cursor(_acked, _anchorSeq, _anchorHash, _lastSeq, _lastHash), _options.Fsync);

    private void Roll(long firstSeq, string prevHash)
    {
        _active.Dispose();
        var segment = CreateSegment(firstSeq);
        segment.FirstPrev = prevHash;
        _segments.Add(segment);
        _active = OpenActive(segment);
    }

    private SegmentInfo CreateSegment(long firstSeq)
    {
        var path = Path.Combine(Directory, SpoolFormat.SegmentName(firstSeq));
        using (new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.ReadWrite))
        {
        }

        DurableFile.SyncDirectory(Directory);
        return new SegmentInfo(firstSeq, path);
    }

    private static FileStream OpenActive(SegmentInfo segment) =>
        new(segment.Path, FileMode.Append, FileAccess.Write, FileShare.Read | FileShare.Delete, 1);

    private int FindSegment(long seq)
    {
        for (var i = _segments.Count - 1; i >= 0; i--)
        {
            if (_segments[i].FirstSeq <= seq)
            {
                return i;
            }
        }

        return 0;
    }
}
