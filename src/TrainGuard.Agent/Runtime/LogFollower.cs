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

    private readonly string path;
    private readonly LineReader splitter;
    private readonly int maxLineLength;
    private FileStream? stream;
    private byte[] fingerprint = [];
    private long offset;
    private long lineNumber;
    private byte[] partial = [];
    private readonly byte[] buffer = new byte[ChunkBytes];
    private readonly byte[] headBuffer = new byte[FingerprintBytes];

    public LogFollower(string path, string? statePath = null, int maxLineLength = LineReader.DefaultMaxLineLength)
    {
        this.path = path;
        StatePath = statePath;
        splitter = new LineReader(maxLineLength);
        this.maxLineLength = maxLineLength;
        LoadState();
    }

    public string? StatePath { get; }

    /// <summary>Rotations noticed so far.</summary>
    public int Rotations { get; private set; }

    /// <summary>Reads what was appended; returns the number of lines delivered.</summary>
    public long Poll(LineHandler handler)
    {
        long delivered = 0;
        if (stream is null && !TryOpen(resume: true))
        {
            return 0;
        }

        delivered += Drain(handler);

        // Rotated or truncated? Compare the path's current first bytes with the file we hold.
        if (IsReplaced())
        {
            delivered += Drain(handler);
            FlushPartial(handler, ref delivered);
            stream?.Dispose();
            stream = null;
            Rotations++;
            offset = 0;
            lineNumber = 0;
            fingerprint = [];
            if (TryOpen(resume: false))
            {
                delivered += Drain(handler);
            }
        }

        SaveState();
        return delivered;
    }

    public void Dispose() => stream?.Dispose();

    private bool TryOpen(bool resume)
    {
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.SequentialScan);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }

        var head = ReadHead(stream, fingerprint.Length > 0 ? fingerprint.Length : FingerprintBytes);
        if (resume && fingerprint.Length > 0 && head.AsSpan().SequenceEqual(fingerprint) && offset <= stream.Length)
        {
            stream.Position = offset;
            return true;
        }

        offset = 0;
        lineNumber = 0;
        partial = [];
        fingerprint = [];
        stream.Position = 0;
        return true;
    }

    private long Drain(LineHandler handler)
    {
        if (stream is null)
        {
            return 0;
        }

        if (stream.Length < offset)
        {
            // Truncated in place (copytruncate): start over.
            offset = 0;
            lineNumber = 0;
            partial = [];
            fingerprint = [];
        }

        if (stream.Length == offset)
        {
            return 0;
        }

        stream.Position = offset;
        long delivered = 0;
        int read;
        while ((read = stream.Read(buffer)) > 0)
        {
            var data = partial.Length == 0 ? buffer.AsSpan(0, read).ToArray() : [.. partial, .. buffer.AsSpan(0, read)];
            var lastNl = Array.LastIndexOf(data, (byte)'\n');
            if (lastNl < 0)
            {
                partial = data.Length > maxLineLength ? [] : data;
                offset += read;
                continue;
            }

            var complete = data.AsMemory(0, lastNl + 1);
            partial = data[(lastNl + 1)..];
            var baseLine = lineNumber;
            var count = splitter.Read(new MemoryStream(complete.ToArray()), (line, n, terminated) => handler(line, baseLine + n, terminated));
            lineNumber += count;
            delivered += count;
            offset += read;
        }

        if (fingerprint.Length < FingerprintBytes && offset > fingerprint.Length)
        {
            fingerprint = ReadHead(stream, FingerprintBytes);
            stream.Position = offset;
        }

        return delivered;
    }

    private void FlushPartial(LineHandler handler, ref long delivered)
    {
        if (partial.Length > 0)
        {
            lineNumber++;
            handler(partial, lineNumber, terminated: false);
            delivered++;
            partial = [];
        }
    }

    private bool IsReplaced()
    {
        if (fingerprint.Length == 0)
        {
            return stream is not null && !File.Exists(path);
        }

        try
        {
            using var current = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1);
            var total = 0;
            int read;
            while (total < fingerprint.Length && (read = current.Read(headBuffer, total, fingerprint.Length - total)) > 0)
            {
                total += read;
            }

            return total != fingerprint.Length || !headBuffer.AsSpan(0, total).SequenceEqual(fingerprint);
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
            if (JsonSerializer.Deserialize<State>(File.ReadAllText(StatePath)) is { } state && state.Path == path && state.Offset >= 0)
            {
                offset = state.Offset;
                lineNumber = state.Line;
                fingerprint = Convert.FromHexString(state.Fingerprint);
            }
        }
        catch (Exception ex) when (ex is JsonException or FormatException)
        {
            // Start over; re-read lines produce the same ids.
        }
    }

    private long savedPosition = -1;
    private int savedFingerprintLength = -1;

    private void SaveState()
    {
        if (StatePath is null)
        {
            return;
        }

        var position = offset - partial.Length;
        if (position == savedPosition && fingerprint.Length == savedFingerprintLength)
        {
            return;
        }

        DurableFile.WriteAllText(StatePath, JsonSerializer.Serialize(new State(path, position, lineNumber, Convert.ToHexString(fingerprint))));
        savedPosition = position;
        savedFingerprintLength = fingerprint.Length;
    }
}
