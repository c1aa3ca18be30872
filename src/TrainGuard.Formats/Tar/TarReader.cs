using System.Globalization;
using System.Text;
using TrainGuard.Formats.Zip;
using TrainGuard.Parsing;

namespace TrainGuard.Formats.Tar;

/// <summary>
/// Reads a tar archive's member headers (POSIX ustar with PAX extended headers, GNU with long names, and v7),
/// validating every header checksum and numeric field and requiring the end-of-archive marker. Member data is
/// not read until asked for. Hostile input (bad octal, negative or huge sizes, truncation, malformed PAX
/// records) is a <see cref="MalformedInputException"/> with the offset of the bad header.
/// </summary>
public sealed class TarReader : IDisposable
{
    private const int Block = TarHeaderFields.BlockSize;

    private readonly Stream _stream;
    private readonly object _gate = new();
    private readonly bool _leaveOpen;
    private readonly List<TarEntry> _entries = [];
    private readonly List<TarIssue> _issues = [];

    private TarReader(Stream stream, TarLimits limits, bool leaveOpen)
    {
        _stream = stream;
        Limits = limits;
        _leaveOpen = leaveOpen;
        Length = stream.Length;
    }

    public TarLimits Limits { get; }

    public long Length { get; }

    public IReadOnlyList<TarEntry> Entries => _entries;

    public IReadOnlyList<TarIssue> Issues => _issues;

    /// <summary>Offset just past the end-of-archive marker (two zero blocks).</summary>
    public long EndOffset { get; private set; }

    public static TarReader Open(Stream seekable, TarLimits limits, bool leaveOpen = true)
    {
        ArgumentNullException.ThrowIfNull(seekable);
        ArgumentNullException.ThrowIfNull(limits);
        if (!seekable.CanSeek || !seekable.CanRead)
        {
            throw new ArgumentException("the tar reader needs a readable, seekable stream", nameof(seekable));
        }

        var reader = new TarReader(seekable, limits, leaveOpen);
        try
        {
            reader.ReadHeaders();
            return reader;
        }
        catch
        {
            reader.Dispose();
            throw;
        }
    }

    /// <summary>A read-only stream over a member's data.</summary>
    public Stream OpenEntry(TarEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (entry.Index >= _entries.Count || !ReferenceEquals(_entries[entry.Index], entry))
        {
            throw new ArgumentException("the entry does not belong to this archive", nameof(entry));
        }

        return new SubStream(_stream, _gate, entry.DataOffset, entry.Size);
    }

    /// <summary>Reads a whole member, refusing members larger than <paramref name="maxBytes"/>.</summary>
    public byte[] ReadEntry(TarEntry entry, int maxBytes)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (entry.Size > maxBytes)
        {
            MalformedInputException.ThrowLimit($"member size {entry.Size:N0}", maxBytes, entry.HeaderOffset, entry.Name);
        }

        var buffer = new byte[entry.Size];
        StreamReads.ReadExactly(_stream, _gate, entry.DataOffset, buffer, "member data", entry.Name);
        return buffer;
    }

    /// <summary>Reads at most the first <paramref name="count"/> bytes of a member.</summary>
    public byte[] ReadHead(TarEntry entry, int count)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var buffer = new byte[(int)Math.Min(count, entry.Size)];
        StreamReads.ReadExactly(_stream, _gate, entry.DataOffset, buffer, "member data", entry.Name);
        return buffer;
    }

    public void Dispose()
    {
        if (!_leaveOpen)
        {
            _stream.Dispose();
        }
    }

    /// <summary>Fuzz target: only <see cref="MalformedInputException"/> may escape.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        var limits = new TarLimits { MaxEntries = 1_000, MaxMetadataBytes = 64 * 1024, MaxTrailingScanBytes = 64 * 1024 };
        using var reader = Open(new MemoryStream(data.ToArray(), writable: false), limits, leaveOpen: false);
        foreach (var entry in reader.Entries)
        {
            _ = reader.ReadHead(entry, 64);
        }
    }

    private void ReadHeaders()
    {
        var block = new byte[Block];
        long pos = 0;
        string? longName = null;
        string? longLink = null;
        Dictionary<string, string>? pax = null;
        var headers = 0;
        var names = new HashSet<string>(StringComparer.Ordinal);
        while (true)
        {
            if (Length - pos < Block)
            {
                MalformedInputException.ThrowTruncated(pos == Length ? "archive without its end-of-archive marker" : "tar header", pos);
            }

            StreamReads.ReadExactly(_stream, _gate, pos, block, "tar header");
            if (TarHeaderFields.IsAllZero(block))
            {
                if (longName is not null || longLink is not null || pax is not null)
                {
                    MalformedInputException.Throw(InputErrorKind.Syntax, "end-of-archive marker right after an extended header that describes no member", pos);
                }

                FinishAt(pos);
                return;
            }

            if (!TarHeaderFields.ChecksumValid(block))
            {
                MalformedInputException.Throw(InputErrorKind.Corrupt, "tar header checksum does not match (corrupt or not a tar header)", pos + TarHeaderFields.ChecksumOffset);
            }

            if (++headers > Limits.MaxEntries)
            {
                MalformedInputException.ThrowLimit("tar header count", Limits.MaxEntries, pos);
            }

            var type = block[TarHeaderFields.TypeFlagOffset];
            var size = ReadNumber(block.AsSpan(TarHeaderFields.SizeOffset, TarHeaderFields.SizeLength), "size", pos + TarHeaderFields.SizeOffset);
            if (pax is not null && pax.TryGetValue("size", out var paxSize))
            {
                if (!long.TryParse(paxSize, NumberStyles.None, CultureInfo.InvariantCulture, out size))
                {
                    MalformedInputException.Throw(InputErrorKind.Syntax, $"PAX size '{paxSize}' is not a non-negative integer", pos);
                }
            }

            var dataOffset = pos + Block;
            var isMetadata = type is (byte)'L' or (byte)'K' or (byte)'x' or (byte)'g';
            if (isMetadata && size > Limits.MaxMetadataBytes)
            {
                MalformedInputException.ThrowLimit($"extended header of {size:N0} bytes", Limits.MaxMetadataBytes, pos);
            }
            else if (size > Limits.MaxEntryBytes)
            {
                MalformedInputException.ThrowLimit($"member size {size:N0}", Limits.MaxEntryBytes, pos);
            }

            if (size > Length - dataOffset)
            {
                MalformedInputException.ThrowTruncated($"member data of {size:N0} bytes", dataOffset);
            }

            var next = dataOffset + (((size + Block - 1) / Block) * Block);
            if (next > Length)
            {
                MalformedInputException.ThrowTruncated("member data padding", Length);
            }

            switch (type)
            {
                case (byte)'L':
                    longName = ReadCString(dataOffset, (int)size, "GNU long name");
                    break;
                case (byte)'K':
                    longLink = ReadCString(dataOffset, (int)size, "GNU long link");
                    break;
                case (byte)'x':
                    pax = ParsePax(dataOffset, (int)size);
                    break;
                case (byte)'g':
                    _ = ParsePax(dataOffset, (int)size);
                    break;
                default:
                    var name = pax?.GetValueOrDefault("path") ?? longName ?? HeaderName(block);
                    var link = pax?.GetValueOrDefault("linkpath") ?? longLink ?? CString(block.AsSpan(TarHeaderFields.LinkNameOffset, TarHeaderFields.LinkNameLength));
                    var entry = new TarEntry(_entries.Count, name, link, type, size, pos, dataOffset);
                    _entries.Add(entry);
                    Inspect(entry, names);
                    longName = null;
                    longLink = null;
                    pax = null;
                    break;
            }

            pos = next;
        }
    }

    private void Inspect(TarEntry entry, HashSet<string> names)
    {
        if (!names.Add(entry.Name))
        {
            _issues.Add(new TarIssue(TarIssueKind.DuplicateName, entry.Name, entry.HeaderOffset, "two members have the same name: the later one silently replaces the earlier on extraction"));
        }

        if (ArchivePaths.IsUnsafe(entry.Name))
        {
            _issues.Add(new TarIssue(TarIssueKind.UnsafePath, entry.Name, entry.HeaderOffset, "member name is absolute, contains '..' or control characters (path traversal on extraction)"));
        }

        if (entry.IsLink)
        {
            _issues.Add(new TarIssue(TarIssueKind.Link, entry.Name, entry.HeaderOffset, $"member is a link to '{entry.LinkName}': extraction can write or read outside the target folder"));
        }
    }

    private void FinishAt(long firstZero)
    {
        if (Length - firstZero < 2 * Block)
        {
            MalformedInputException.ThrowTruncated("end-of-archive marker (two zero blocks)", firstZero + Block);
        }

        var second = new byte[Block];
        StreamReads.ReadExactly(_stream, _gate, firstZero + Block, second, "end-of-archive marker");
        EndOffset = firstZero + (2 * Block);
        if (!TarHeaderFields.IsAllZero(second))
        {
            // A lone zero block: readers that stop here and readers that skip zeros (tar -i) see different members.
            EndOffset = firstZero + Block;
        }

        var scan = (int)Math.Min(Length - EndOffset, Limits.MaxTrailingScanBytes);
        if (scan > 0)
        {
            var rest = new byte[scan];
            StreamReads.ReadExactly(_stream, _gate, EndOffset, rest, "data after the archive");
            var nonZero = rest.AsSpan().IndexOfAnyExcept((byte)0);
            if (nonZero >= 0)
            {
                _issues.Add(new TarIssue(TarIssueKind.TrailingData, null, EndOffset + nonZero, "non-zero data after the end-of-archive marker: hidden from readers that stop at the marker"));
            }
        }
    }

    private static string HeaderName(ReadOnlySpan<byte> block)
    {
        var name = CString(block.Slice(TarHeaderFields.NameOffset, TarHeaderFields.NameLength));
        if (TarHeaderFields.HasUstarMagic(block) && !TarHeaderFields.IsGnu(block))
        {
            var prefix = CString(block.Slice(TarHeaderFields.PrefixOffset, TarHeaderFields.PrefixLength));
            if (prefix.Length > 0)
            {
                return prefix + "/" + name;
            }
        }

        return name;
    }

    private static string CString(ReadOnlySpan<byte> field)
    {
        var nul = field.IndexOf((byte)0);
        return ZipReader.DecodeName(nul >= 0 ? field[..nul] : field);
    }

    private string ReadCString(long offset, int size, string what)
    {
        var data = new byte[size];
        StreamReads.ReadExactly(_stream, _gate, offset, data, what);
        return CString(data);
    }

    /// <summary>Parses PAX records <c>"%d %s=%s\n"</c>; the length counts the whole record.</summary>
    private Dictionary<string, string> ParsePax(long offset, int size)
    {
        var data = new byte[size];
        StreamReads.ReadExactly(_stream, _gate, offset, data, "PAX extended header");
        var records = new Dictionary<string, string>(StringComparer.Ordinal);
        var pos = 0;
        while (pos < data.Length)
        {
            if (data[pos] == 0)
            {
                break;
            }

            var space = data.AsSpan(pos, Math.Min(data.Length - pos, 20)).IndexOf((byte)' ');
            var length = 0;
            if (space <= 0 || !int.TryParse(data.AsSpan(pos, space), NumberStyles.None, CultureInfo.InvariantCulture, out length)
                || length <= space + 1 || length > data.Length - pos || data[pos + length - 1] != (byte)'\n')
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, "malformed PAX record (bad length or missing newline)", offset + pos);
            }

            var body = data.AsSpan(pos + space + 1, length - space - 2);
            var equals = body.IndexOf((byte)'=');
            if (equals <= 0)
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, "malformed PAX record (no key=value)", offset + pos);
            }

            var key = Encoding.UTF8.GetString(body[..equals]);
            records[key] = ZipReader.DecodeName(body[(equals + 1)..]);
            pos += length;
        }

        return records;
    }

    /// <summary>An octal field, or GNU base-256 (high bit set). Negative values are refused.</summary>
    private static long ReadNumber(ReadOnlySpan<byte> field, string what, long offset)
    {
        if ((field[0] & 0x80) != 0)
        {
            if (field[0] == 0xFF)
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, $"tar {what} is negative (base-256)", offset);
            }

            long value = field[0] & 0x7F;
            foreach (var b in field[1..])
            {
                if (value > (long.MaxValue >> 8))
                {
                    MalformedInputException.Throw(InputErrorKind.Syntax, $"tar {what} does not fit in 63 bits", offset);
                }

                value = (value << 8) | b;
            }

            return value;
        }

        if (field.IndexOfAnyExcept((byte)0, (byte)' ') < 0)
        {
            return 0;
        }

        if (!TarHeaderFields.TryParseOctal(field, out var octal))
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"tar {what} field is not an octal number: '{TrainGuard.Findings.TextSanitizer.EscapeBytes(field)}'", offset);
        }

        return octal;
    }
}
