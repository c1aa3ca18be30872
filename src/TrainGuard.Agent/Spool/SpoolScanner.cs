using TrainGuard.Findings;
using TrainGuard.Parsing;

namespace TrainGuard.Agent.Spool;

/// <summary>One segment file as found on disk.</summary>
internal sealed class SegmentInfo(long firstSeq, string path)
{
    public long FirstSeq { get; } = firstSeq;

    public string Path { get; } = path;

    /// <summary>Committed length in bytes (what readers may read).</summary>
    public long Length { get; set; }

    /// <summary>Records in the segment (0 for a segment just created).</summary>
    public long Count { get; set; }

    /// <summary>The <c>prev</c> of the segment's first record: the trim anchor once the segments before it are gone.</summary>
    public string? FirstPrev { get; set; }
}

/// <summary>The result of walking the whole spool once.</summary>
internal sealed record SpoolState(
    SpoolVerification Report,
    List<SegmentInfo> Segments,
    long LastSeq,
    string LastHash,
    long Acked,
    long AnchorSeq,
    string AnchorHash,
    string? LastEventJson,
    long SealedHeadSeq,
    string? SealedHeadHash);

/// <summary>
/// Walks every segment in order and checks the chain: each record's <c>seq</c> follows the previous one
/// and its <c>prev</c> is the SHA-256 of the previous line (the first remaining record chains to the
/// cursor's trim anchor). A cut-short final line is a torn write (truncated on open, kept aside);
/// anything else that does not fit is tampering.
/// </summary>
internal static class SpoolScanner
{
    public static SpoolState Scan(string directory, bool repair)
    {
        var findings = new List<Finding>();
        var cursor = SpoolFormat.ReadCursor(directory, findings);
        var anchorSeq = cursor?.AnchorSeq ?? 0;
        var anchorHash = cursor?.AnchorHash ?? SpoolFormat.GenesisHash;
        var acked = cursor?.Acked ?? 0;
        var chainAnchorKnown = cursor is not null || !findings.Any();

        var all = SpoolFormat.ListSegments(directory).Select(s => new SegmentInfo(s.FirstSeq, s.Path)).ToList();

        // Segments wholly at or below the anchor were trimmed; a crash between the cursor write and the delete leaves them.
        var segments = new List<SegmentInfo>();
        for (var i = 0; i < all.Count; i++)
        {
            if (i + 1 < all.Count && all[i + 1].FirstSeq - 1 <= anchorSeq && cursor is not null)
            {
                if (repair)
                {
                    File.Delete(all[i].Path);
                }

                continue;
            }

            segments.Add(all[i]);
        }

        var expected = anchorSeq + 1;
        var prevHash = anchorHash;
        var firstChecked = false;
        long records = 0;
        long firstSeq = 0;
        long tornBytes = 0;
        string? tornSaved = null;
        string? lastEventJson = null;
        var headSeq = cursor?.HeadHash is null ? 0 : cursor.HeadSeq;
        string? hashAtHead = null;
        for (var si = 0; si < segments.Count; si++)
        {
            var segment = segments[si];
            var isLastSegment = si == segments.Count - 1;
            var bytes = File.ReadAllBytes(segment.Path);
            var pos = 0;
            var lineNumber = 0;
            var name = System.IO.Path.GetFileName(segment.Path);
            while (pos < bytes.Length)
            {
                var rel = bytes.AsSpan(pos).IndexOf((byte)'\n');
                var end = rel < 0 ? bytes.Length : pos + rel;
                var line = bytes.AsSpan(pos, end - pos);
                lineNumber++;
                var isFinalLine = isLastSegment && (rel < 0 || end == bytes.Length - 1);
                (long Seq, string Prev, string EventJson, string? EventId) record;
                try
                {
                    if (rel < 0)
                    {
                        throw MalformedInputException.Create(InputErrorKind.Truncated, "no line feed", 0);
                    }

                    record = SpoolFormat.ParseRecord(line);
                }
                catch (MalformedInputException ex)
                {
                    if (isFinalLine)
                    {
                        // A crash mid-append: this record was never acknowledged to its producer.
                        tornBytes = bytes.Length - pos;
                        SpoolFormat.AddFinding(findings, AgentRules.SpoolTornTail, $"last record of {name} (line {lineNumber}, {tornBytes} bytes) is incomplete ({ex.Message}); {(repair ? "truncated" : "an open truncates it")}", segment.Path, lineNumber);
                        if (repair)
                        {
                            tornSaved = SaveTorn(directory, bytes.AsSpan(pos));
                            using var stream = new FileStream(segment.Path, FileMode.Open, FileAccess.Write, FileShare.Read);
                            stream.SetLength(pos);
                            stream.Flush(flushToDisk: true);
                        }

                        break;
                    }

                    SpoolFormat.AddFinding(findings, AgentRules.SpoolTampered, $"{name} line {lineNumber} is not a valid spool record ({ex.Message}): the file was edited", segment.Path, lineNumber);
                    prevHash = SpoolFormat.HashLine(line);
                    pos = end + 1;
                    continue;
                }

                if (lineNumber == 1 && record.Seq != segment.FirstSeq)
                {
                    SpoolFormat.AddFinding(findings, AgentRules.SpoolTampered, $"{name} starts with record {record.Seq}, not {segment.FirstSeq}: segments were renamed or records removed", segment.Path, lineNumber);
                }

                if (record.Seq != expected && (firstChecked || chainAnchorKnown))
                {
                    var what = record.Seq > expected
                        ? $"records {expected}..{record.Seq - 1} are missing before record {record.Seq}: records were deleted"
                        : $"record {record.Seq} follows record {expected - 1}: records were duplicated or reordered";
                    SpoolFormat.AddFinding(findings, AgentRules.SpoolTampered, what, segment.Path, lineNumber);
                }
                else if (record.Prev != prevHash && (firstChecked || chainAnchorKnown))
                {
                    var what = !firstChecked
                        ? $"record {record.Seq} does not chain to the trim anchor (record {anchorSeq}): the spool start was altered"
                        : $"record {record.Seq} does not chain to record {record.Seq - 1}: record {record.Seq - 1} was edited or replaced";
                    SpoolFormat.AddFinding(findings, AgentRules.SpoolTampered, what, segment.Path, lineNumber);
                }

                if (lineNumber == 1)
                {
                    segment.FirstPrev = record.Prev;
                }

                firstChecked = true;
                if (firstSeq == 0)
                {
                    firstSeq = record.Seq;
                }

                records++;
                segment.Count++;
                prevHash = SpoolFormat.HashLine(line);
                if (record.Seq == headSeq)
                {
                    hashAtHead = prevHash;
                }

                expected = Math.Max(expected, record.Seq) + 1;
                lastEventJson = record.EventJson;
                pos = end + 1;
            }

            segment.Length = Math.Min(pos, bytes.Length);
        }

        var lastSeq = expected - 1;
        if (headSeq > 0 && lastSeq < headSeq)
        {
            // The chain that is left is intact: only the seal kept outside the segments shows what is gone.
            SpoolFormat.AddFinding(findings, AgentRules.SpoolTampered, $"the spool ends at record {lastSeq} but its sealed head says record {headSeq} was written: records {lastSeq + 1}..{headSeq} were cut from its end", System.IO.Path.Combine(directory, SpoolFormat.CursorFile), null);
        }
        else if (headSeq > 0 && hashAtHead is not null && hashAtHead != cursor!.HeadHash)
        {
            SpoolFormat.AddFinding(findings, AgentRules.SpoolTampered, $"record {headSeq} is not the record that was sealed as the spool's head: the end of the spool was rewritten", System.IO.Path.Combine(directory, SpoolFormat.CursorFile), null);
        }

        if (acked > lastSeq)
        {
            SpoolFormat.AddFinding(findings, AgentRules.SpoolTampered, $"cursor says record {acked} was acknowledged but the spool ends at record {lastSeq}: records were deleted", System.IO.Path.Combine(directory, SpoolFormat.CursorFile), null);
            acked = lastSeq;
        }

        var report = new SpoolVerification
        {
            Directory = directory,
            Segments = segments.Count,
            Records = records,
            FirstSeq = firstSeq,
            LastSeq = lastSeq,
            AckedSeq = acked,
            Findings = findings,
            TornBytes = tornBytes,
            TornBytesSavedTo = tornSaved,
            SealedHeadSeq = headSeq > 0 ? headSeq : null,
            SealedHeadHash = headSeq > 0 ? cursor!.HeadHash : null,
        };
        return new SpoolState(report, segments, lastSeq, prevHash, acked, anchorSeq, anchorHash, lastEventJson, headSeq, headSeq > 0 ? cursor!.HeadHash : null);
    }

    private static string SaveTorn(string directory, ReadOnlySpan<byte> bytes)
    {
        var path = System.IO.Path.Combine(directory, $"torn-{DateTimeOffset.UtcNow:yyyyMMddTHHmmssfffZ}.bin");
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        stream.Write(bytes);
        stream.Flush(flushToDisk: true);
        return path;
    }
}
