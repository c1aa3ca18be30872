using System.Globalization;
using System.Text;
using System.Text.Json;
using TrainGuard.Agent.Common;
using TrainGuard.Agent.Spool;
using TrainGuard.Findings;
using TrainGuard.Parsing;

namespace TrainGuard.Agent.Shipping;

/// <summary>One event the server refused, as kept in <c>dead-letter.jsonl</c>.</summary>
/// <param name="Attempts">Times it was sent on its own since (0 right after the batch was refused).</param>
public sealed record DeadLetter(string RejectedAt, int Status, string Reason, SpoolRecord Record, int Attempts = 0, int? LastStatus = null)
{
    /// <summary>One line of the file: the rejection, then the spool record as it was.</summary>
    public string ToLine()
    {
        var sb = new StringBuilder(Record.Line.Length + 200);
        sb.Append("{\"rejected_at\":").Append(JsonSerializer.Serialize(RejectedAt))
          .Append(",\"status\":").Append(Status.ToString(CultureInfo.InvariantCulture))
          .Append(",\"reason\":").Append(JsonSerializer.Serialize(Reason))
          .Append(",\"record\":").Append(Record.Line);
        if (Attempts > 0)
        {
            sb.Append(",\"attempts\":").Append(Attempts.ToString(CultureInfo.InvariantCulture));
        }

        if (LastStatus is { } last)
        {
            sb.Append(",\"last_status\":").Append(last.ToString(CultureInfo.InvariantCulture));
        }

        return sb.Append('}').ToString();
    }
}

/// <summary>
/// The dead-letter file of a spool (<c>dead-letter.jsonl</c>): events of batches the server refused with a 4xx
/// that says something about the events (400, 409, 413, 422...). They are not lost and not forgotten: the
/// count is in every heartbeat, and the shipper sends each one again on its own (one bad or contested event no
/// longer takes the rest of its batch with it); an event the server accepts leaves the file.
/// </summary>
public sealed class DeadLetterQueue
{
    private readonly object _gate = new();
    private int _count;
    private long _unreadable;

    public DeadLetterQueue(string spoolDirectory)
    {
        Path = System.IO.Path.Combine(spoolDirectory, SpoolFormat.DeadLetterFile);
        _count = ReadAll().Count;
    }

    public string Path { get; }

    /// <summary>Events waiting in the file (refused, not yet accepted on their own).</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _count;
            }
        }
    }

    /// <summary>Lines of the file that are not dead letters (counted, kept in the file).</summary>
    public long Unreadable
    {
        get
        {
            lock (_gate)
            {
                return _unreadable;
            }
        }
    }

    /// <summary>Appends a refused batch (fsynced before the batch is acknowledged in the spool).</summary>
    public void Add(IReadOnlyList<SpoolRecord> batch, int status, string reason) =>
        Add([.. batch.Select(r => (r, reason))], status);

    /// <summary>Appends events the server did not store, each with its own reason (fsynced before their batch is acknowledged).</summary>
    public void Add(IReadOnlyList<(SpoolRecord Record, string Reason)> refused, int status)
    {
        var now = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);
        var sb = new StringBuilder();
        foreach (var (record, reason) in refused)
        {
            sb.Append(new DeadLetter(now, status, TextSanitizer.Escape(reason, 1000), record).ToLine()).Append('\n');
        }

        lock (_gate)
        {
            using (var stream = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read))
            {
                stream.Write(Encoding.UTF8.GetBytes(sb.ToString()));
                stream.Flush(flushToDisk: true);
            }

            DurableFile.SyncDirectory(System.IO.Path.GetDirectoryName(Path)!);
            _count += refused.Count;
        }
    }

    /// <summary>Every dead letter in the file, oldest first (lines that cannot be read are counted in <see cref="Unreadable"/> and skipped).</summary>
    public IReadOnlyList<DeadLetter> ReadAll()
    {
        lock (_gate)
        {
            var letters = new List<DeadLetter>();
            _unreadable = 0;
            if (!File.Exists(Path))
            {
                return letters;
            }

            using var stream = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            new LineReader(SpoolFormat.MaxRecordBytes + 4096) { OverlongHandler = _ => _unreadable++ }.Read(stream, (line, _, _) =>
            {
                if (TryParse(line) is { } letter)
                {
                    letters.Add(letter);
                }
                else if (!line.IsEmpty)
                {
                    _unreadable++;
                }
            });
            return letters;
        }
    }

    /// <summary>Replaces the file with <paramref name="remaining"/> (atomically; lines that could not be read are kept at its start).</summary>
    public void Rewrite(IReadOnlyList<DeadLetter> remaining)
    {
        lock (_gate)
        {
            var kept = new StringBuilder();
            if (_unreadable > 0 && File.Exists(Path))
            {
                using var stream = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                new LineReader(SpoolFormat.MaxRecordBytes + 4096).Read(stream, (line, _, _) =>
                {
                    if (!line.IsEmpty && TryParse(line) is null)
                    {
                        kept.Append(Encoding.UTF8.GetString(line)).Append('\n');
                    }
                });
            }

            foreach (var letter in remaining)
            {
                kept.Append(letter.ToLine()).Append('\n');
            }

            DurableFile.WriteAllText(Path, kept.ToString());
            _count = remaining.Count;
        }
    }

    private static DeadLetter? TryParse(ReadOnlySpan<byte> line)
    {
        try
        {
            using var doc = JsonDocument.Parse(line.ToArray(), new JsonDocumentOptions { MaxDepth = 72 });
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("record", out var recordElement) || recordElement.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            var raw = recordElement.GetRawText();
            var (seq, _, eventJson, eventId) = SpoolFormat.ParseRecord(Encoding.UTF8.GetBytes(raw));
            return new DeadLetter(
                root.TryGetProperty("rejected_at", out var at) && at.ValueKind == JsonValueKind.String ? at.GetString()! : string.Empty,
                root.TryGetProperty("status", out var status) && status.TryGetInt32(out var s) ? s : 0,
                root.TryGetProperty("reason", out var reason) && reason.ValueKind == JsonValueKind.String ? reason.GetString()! : string.Empty,
                new SpoolRecord(seq, eventId ?? string.Empty, eventJson, raw),
                root.TryGetProperty("attempts", out var attempts) && attempts.TryGetInt32(out var a) ? a : 0,
                root.TryGetProperty("last_status", out var last) && last.TryGetInt32(out var l) ? l : null);
        }
        catch (Exception ex) when (ex is JsonException or MalformedInputException)
        {
            return null;
        }
    }
}
