using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using TrainGuard.Agent.Common;
using TrainGuard.Findings;
using TrainGuard.Parsing;

namespace TrainGuard.Agent.Spool;

/// <summary>
/// The on-disk layout of the spool: segment files <c>seg-&lt;first seq, 20 digits&gt;.jsonl</c> of records
/// <c>{"seq":N,"prev":"&lt;hex SHA-256 of the previous record line&gt;","event":{...}}</c>, one per line, and
/// <c>cursor.json</c> holding the acknowledged sequence and the trim anchor (the last trimmed record's
/// sequence and hash, so the first remaining record still chains to something).
/// </summary>
public static class SpoolFormat
{
    public const string SegmentPrefix = "seg-";
    public const string SegmentSuffix = ".jsonl";
    public const string CursorFile = "cursor.json";
    public const string LockFile = "spool.lock";
    public const string DeadLetterFile = "dead-letter.jsonl";

    /// <summary>The <c>prev</c> of the very first record.</summary>
    public static readonly string GenesisHash = new('0', 64);

    /// <summary>Largest record line accepted (an event line plus the envelope).</summary>
    public const int MaxRecordBytes = 4 * 1024 * 1024 + 256;

    private const int MaxFindings = 100;

    public static string SegmentName(long firstSeq) => SegmentPrefix + firstSeq.ToString("D20", CultureInfo.InvariantCulture) + SegmentSuffix;

    public static string HashLine(ReadOnlySpan<byte> line) => Convert.ToHexStringLower(SHA256.HashData(line));

    /// <summary>Builds one record line (without its line feed).</summary>
    public static string FormatRecord(long seq, string prev, string eventJson) =>
        string.Concat("{\"seq\":", seq.ToString(CultureInfo.InvariantCulture), ",\"prev\":\"", prev, "\",\"event\":", eventJson, "}");

    /// <summary>Reads the envelope of one record line.</summary>
    /// <exception cref="MalformedInputException">Not a spool record.</exception>
    public static (long Seq, string Prev, string EventJson, string? EventId) ParseRecord(ReadOnlySpan<byte> line)
    {
        if (line.Length > MaxRecordBytes)
        {
            MalformedInputException.ThrowLimit("spool record length", MaxRecordBytes, 0);
        }

        try
        {
            var reader = new Utf8JsonReader(line, new JsonReaderOptions { MaxDepth = 70 });
            using var doc = JsonDocument.ParseValue(ref reader);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("seq", out var seqElement) || seqElement.ValueKind != JsonValueKind.Number || !seqElement.TryGetInt64(out var seq) || seq < 1
                || !root.TryGetProperty("prev", out var prevElement) || prevElement.ValueKind != JsonValueKind.String
                || !root.TryGetProperty("event", out var eventElement) || eventElement.ValueKind != JsonValueKind.Object)
            {
                throw MalformedInputException.Create(InputErrorKind.Syntax, "not a spool record: expected {\"seq\":N,\"prev\":\"...\",\"event\":{...}}", 0);
            }

            var prev = prevElement.GetString() ?? string.Empty;
            if (prev.Length != 64 || !prev.All(char.IsAsciiHexDigitLower))
            {
                throw MalformedInputException.Create(InputErrorKind.Syntax, "spool record 'prev' is not 64 lowercase hex digits", 0);
            }

            var id = eventElement.TryGetProperty("id", out var idElement) && idElement.ValueKind == JsonValueKind.String ? idElement.GetString() : null;
            return (seq, prev, eventElement.GetRawText(), id);
        }
        catch (JsonException ex)
        {
            throw MalformedInputException.Create(InputErrorKind.Syntax, $"spool record is not valid JSON: {ex.Message}", ex.BytePositionInLine ?? 0);
        }
        catch (InvalidOperationException ex)
        {
            throw MalformedInputException.Create(InputErrorKind.Syntax, $"spool record is not valid UTF-8 JSON: {ex.Message}", 0);
        }
    }

    /// <summary>Fuzz target: reading a record envelope must throw nothing but <see cref="MalformedInputException"/>.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data) => _ = ParseRecord(data);

    /// <summary>
    /// The cursor: what the server acknowledged, the trim anchor, and the sealed head: the sequence number and
    /// line hash of the newest record, rewritten after every append. It lives outside the segment files, so
    /// records cut from the spool's end (which leave the chain itself intact) no longer match it.
    /// </summary>
    internal sealed record Cursor(long Acked, long AnchorSeq, string AnchorHash, long HeadSeq = 0, string? HeadHash = null);

    internal static string FormatCursor(Cursor cursor)
    {
        var text = $"{{\"acked\":{cursor.Acked.ToString(CultureInfo.InvariantCulture)},\"anchor_seq\":{cursor.AnchorSeq.ToString(CultureInfo.InvariantCulture)},\"anchor_hash\":\"{cursor.AnchorHash}\"";
        if (cursor.HeadHash is not null)
        {
            text += $",\"head_seq\":{cursor.HeadSeq.ToString(CultureInfo.InvariantCulture)},\"head_hash\":\"{cursor.HeadHash}\"";
        }

        return text + "}\n";
    }

    internal static Cursor? ReadCursor(string directory, List<Finding> findings)
    {
        var path = Path.Combine(directory, CursorFile);
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            var bytes = File.ReadAllBytes(path);
            if (bytes.Length > 4096)
            {
                throw new JsonException("cursor larger than 4 KiB");
            }

            using var doc = JsonDocument.Parse(bytes);
            var root = doc.RootElement;
            var acked = root.GetProperty("acked").GetInt64();
            var anchorSeq = root.GetProperty("anchor_seq").GetInt64();
            var anchorHash = root.GetProperty("anchor_hash").GetString() ?? string.Empty;
            if (acked < 0 || anchorSeq < 0 || anchorSeq > acked || !IsHash(anchorHash))
            {
                throw new JsonException("values out of range");
            }

            // Cursors written before the sealed head existed have no head: nothing to compare the end with.
            if (!root.TryGetProperty("head_seq", out var headSeqElement))
            {
                return new Cursor(acked, anchorSeq, anchorHash);
            }

            var headSeq = headSeqElement.GetInt64();
            var headHash = root.GetProperty("head_hash").GetString() ?? string.Empty;
            if (headSeq < acked || !IsHash(headHash))
            {
                throw new JsonException("sealed head out of range");
            }

            return new Cursor(acked, anchorSeq, anchorHash, headSeq, headHash);
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            AddFinding(findings, AgentRules.SpoolCursorDamaged, $"spool cursor is unreadable ({TextSanitizer.Escape(ex.Message, 200)}); records still in the spool will be sent again", path, null);
            return null;
        }
    }

    private static bool IsHash(string text) => text.Length == 64 && text.All(char.IsAsciiHexDigitLower);

    internal static void AddFinding(List<Finding> findings, string rule, string message, string file, int? line)
    {
        var definition = AgentRules.Family.Get(rule);
        if (findings.Count == MaxFindings)
        {
            findings.Add(definition.Finding("more problems not listed", new Location(file), verdict: Verdict.Error) with { Why = null, Guidance = null });
        }

        if (findings.Count > MaxFindings)
        {
            return;
        }

        findings.Add(definition.Finding(message, new Location(file, Line: line)));
    }

    internal static IEnumerable<(long FirstSeq, string Path)> ListSegments(string directory)
    {
        var list = new List<(long, string)>();
        foreach (var path in Directory.EnumerateFiles(directory, SegmentPrefix + "*" + SegmentSuffix))
        {
            var name = Path.GetFileName(path);
            var digits = name[SegmentPrefix.Length..^SegmentSuffix.Length];
            if (digits.Length == 20 && long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var first) && first >= 1)
            {
                list.Add((first, path));
            }
        }

        return list.OrderBy(s => s.Item1);
    }

    internal static void WriteCursor(string directory, Cursor cursor, bool durable = true) =>
        DurableFile.WriteAllText(Path.Combine(directory, CursorFile), FormatCursor(cursor), durable);

    internal static string Utf8(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);
}
