using System.Buffers.Text;
using System.Text;
using TrainGuard.Integrity.Hashing;
using TrainGuard.Parsing;

namespace TrainGuard.Integrity.Environments;

/// <summary>One well-formed line of a <c>*.dist-info/RECORD</c>: <c>path,algo=urlsafe-b64-nopad,size</c>.</summary>
public sealed record RecordEntry(string Path, DigestAlgorithm? Algorithm, byte[]? Digest, long? Size, int Line);

/// <summary>A RECORD line that could not be used, with the reason in words.</summary>
public sealed record RecordProblem(int Line, string Reason, string RawLine);

/// <summary>The parsed RECORD: good entries plus every malformed line (a malformed line is a finding, not a crash).</summary>
public sealed record RecordFile(IReadOnlyList<RecordEntry> Entries, IReadOnlyList<RecordProblem> Problems)
{
    /// <summary>RECORD files above this size are refused (torch's RECORD is about 2 MB).</summary>
    public const int MaxSize = 64 << 20;

    public const int MaxLines = 2_000_000;

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static RecordFile Parse(ReadOnlySpan<byte> data)
    {
        if (data.Length > MaxSize)
        {
            MalformedInputException.ThrowLimit("RECORD size", MaxSize, 0);
        }

        var entries = new List<RecordEntry>();
        var problems = new List<RecordProblem>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var text = DecodeUtf8(data, problems);
        var lineNumber = 0;
        var position = 0;
        while (position < text.Length)
        {
            var end = text.IndexOf('\n', position);
            if (end < 0)
            {
                end = text.Length;
            }

            var line = text.AsSpan(position, end - position).TrimEnd('\r');
            position = end + 1;
            lineNumber++;
            if (lineNumber > MaxLines)
            {
                MalformedInputException.ThrowLimit("RECORD line count", MaxLines, position);
            }

            if (line.IsWhiteSpace())
            {
                continue;
            }

            if (TryParseLine(line, lineNumber, out var entry, out var reason))
            {
                if (!seen.Add(entry.Path))
                {
                    problems.Add(new RecordProblem(lineNumber, $"duplicate entry for '{entry.Path}'", line.ToString()));
                    continue;
                }

                entries.Add(entry);
            }
            else
            {
                problems.Add(new RecordProblem(lineNumber, reason, line.ToString()));
            }
        }

        return new RecordFile(entries, problems);
    }

    /// <summary>Parses one CSV line (Python <c>csv</c> dialect: optional double quotes, doubled quotes inside).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static bool TryParseLine(ReadOnlySpan<char> line, int lineNumber, out RecordEntry entry, out string reason)
    {
        entry = null!;
        if (line.Contains('"'))
        {
            return TryParseLineWithCsvSplitter(line, lineNumber, out entry, out reason);
        }

        // The common case (no quotes): fields are the comma-separated spans, exactly what the splitter yields.
        var count = line.Count(',') + 1;
        if (count > MaxFields)
        {
            reason = "too many fields";
            return false;
        }

        if (count != 3)
        {
            reason = $"expected 3 comma-separated fields (path,hash,size), found {count}";
            return false;
        }

        var first = line.IndexOf(',');
        var rest = line[(first + 1)..];
        var second = rest.IndexOf(',');
        return TryParseFields(line[..first], rest[..second], rest[(second + 1)..], lineNumber, out entry, out reason);
    }

    /// <summary>The general path (quoted fields allowed); for quote-free lines it gives what the fast path gives.</summary>
    internal static bool TryParseLineWithCsvSplitter(ReadOnlySpan<char> line, int lineNumber, out RecordEntry entry, out string reason)
    {
        entry = null!;
        if (!TrySplitCsv(line, out var fields, out reason))
        {
            return false;
        }

        if (fields.Count != 3)
        {
            reason = $"expected 3 comma-separated fields (path,hash,size), found {fields.Count}";
            return false;
        }

        return TryParseFields(fields[0], fields[1], fields[2], lineNumber, out entry, out reason);
    }

    private const int MaxFields = 16;

    private static bool TryParseFields(ReadOnlySpan<char> path, ReadOnlySpan<char> hash, ReadOnlySpan<char> sizeText, int lineNumber, out RecordEntry entry, out string reason)
    {
        entry = null!;
        if (path.Length == 0)
        {
            reason = "empty path";
            return false;
        }

        if (path.Contains('\0'))
        {
            reason = "path contains a NUL character";
            return false;
        }

        if (path.StartsWith('/') || path.Contains('\\'))
        {
            reason = "path must be relative and use '/' separators";
            return false;
        }

        DigestAlgorithm? algorithm = null;
        byte[]? digest = null;
        if (hash.Length > 0)
        {
            var equals = hash.IndexOf('=');
            if (equals <= 0)
            {
                reason = "hash is not of the form <algorithm>=<urlsafe-base64>";
                return false;
            }

            algorithm = hash[..equals] switch
            {
                "sha256" => DigestAlgorithm.Sha256,
                "sha384" => DigestAlgorithm.Sha384,
                "sha512" => DigestAlgorithm.Sha512,
                _ => null,
            };
            if (algorithm is null)
            {
                reason = $"hash algorithm '{hash[..equals]}' is not allowed (sha256 or stronger required)";
                return false;
            }

            digest = DecodeUrlSafeBase64(hash[(equals + 1)..]);
            if (digest is null || digest.Length != algorithm.Value.DigestLength())
            {
                // Some tools (Debian's dh-python, old flit) write hex digests; accept them when the length is exact.
                digest = DecodeHex(hash[(equals + 1)..], algorithm.Value.DigestLength());
            }

            if (digest is null || digest.Length != algorithm.Value.DigestLength())
            {
                reason = $"{algorithm.Value.WireName()} digest is not {algorithm.Value.DigestLength()} bytes of urlsafe base64 without padding";
                return false;
            }
        }

        long? size = null;
        if (sizeText.Length > 0)
        {
            if (!long.TryParse(sizeText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var parsed))
            {
                reason = $"size '{sizeText}' is not a non-negative integer";
                return false;
            }

            size = parsed;
        }

        if (digest is not null && size is null)
        {
            reason = "hash given without a size";
            return false;
        }

        entry = new RecordEntry(path.ToString(), algorithm, digest, size, lineNumber);
        reason = string.Empty;
        return true;
    }

    /// <summary>Fuzz target: must never throw anything but <see cref="MalformedInputException"/>.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data) => Parse(data);

    internal static byte[]? DecodeUrlSafeBase64(ReadOnlySpan<char> text)
    {
        if (text.Length is 0 or > 200)
        {
            return null;
        }

        Span<byte> buffer = stackalloc byte[160];
        var status = Base64Url.DecodeFromChars(text, buffer, out var consumed, out var written);
        if (status != System.Buffers.OperationStatus.Done || consumed != text.Length || text.Contains('='))
        {
            return null;
        }

        return buffer[..written].ToArray();
    }

    private static byte[]? DecodeHex(ReadOnlySpan<char> text, int length)
    {
        if (text.Length != length * 2)
        {
            return null;
        }

        var bytes = new byte[length];
        return Convert.FromHexString(text, bytes, out _, out var written) == System.Buffers.OperationStatus.Done && written == length ? bytes : null;
    }

    private static string DecodeUtf8(ReadOnlySpan<byte> data, List<RecordProblem> problems)
    {
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(data);
        }
        catch (DecoderFallbackException)
        {
            problems.Add(new RecordProblem(0, "RECORD is not valid UTF-8", string.Empty));
            return Encoding.UTF8.GetString(data);
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static bool TrySplitCsv(ReadOnlySpan<char> line, out List<string> fields, out string reason)
    {
        fields = [];
        reason = string.Empty;
        var current = new StringBuilder();
        var i = 0;
        while (true)
        {
            current.Clear();
            if (i < line.Length && line[i] == '"')
            {
                i++;
                while (true)
                {
                    if (i >= line.Length)
                    {
                        reason = "unterminated quoted field";
                        return false;
                    }

                    if (line[i] == '"')
                    {
                        if (i + 1 < line.Length && line[i + 1] == '"')
                        {
                            current.Append('"');
                            i += 2;
                            continue;
                        }

                        i++;
                        break;
                    }

                    current.Append(line[i++]);
                }

                if (i < line.Length && line[i] != ',')
                {
                    reason = "text after a closing quote";
                    return false;
                }
            }
            else
            {
                while (i < line.Length && line[i] != ',')
                {
                    if (line[i] == '"')
                    {
                        reason = "quote inside an unquoted field";
                        return false;
                    }

                    current.Append(line[i++]);
                }
            }

            fields.Add(current.ToString());
            if (fields.Count > MaxFields)
            {
                reason = "too many fields";
                return false;
            }

            if (i >= line.Length)
            {
                return true;
            }

            i++; // the comma
        }
    }
}
