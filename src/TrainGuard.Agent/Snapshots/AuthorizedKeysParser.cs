using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using TrainGuard.Parsing;

namespace TrainGuard.Agent.Snapshots;

/// <summary>One option of an authorized_keys line (<c>command="..."</c>, <c>from="..."</c>, <c>no-pty</c>, <c>restrict</c>...).</summary>
public sealed record KeyOption(string Name, string? Value)
{
    public override string ToString() => Value is null ? Name : $"{Name}=\"{Value.Replace("\"", "\\\"", StringComparison.Ordinal)}\"";
}

/// <summary>One key of an authorized_keys file.</summary>
/// <param name="Fingerprint">As <c>ssh-keygen -lf</c> prints it: <c>SHA256:</c> + unpadded base64 of the SHA-256 of the key blob.</param>
public sealed record AuthorizedKey(int Line, string KeyType, string Fingerprint, IReadOnlyList<KeyOption> Options, string? Comment)
{
    public string? OptionValue(string name) => Options.FirstOrDefault(o => string.Equals(o.Name, name, StringComparison.OrdinalIgnoreCase))?.Value;

    /// <summary>The options as written, comma-joined (empty when none).</summary>
    public string OptionsText => string.Join(',', Options);

    /// <summary>Set for a line longer than <see cref="AuthorizedKeysParser.MaxLineLength"/>: its length in bytes (the key was read from its start, the comment is cut).</summary>
    public long? LineBytes { get; init; }

    /// <summary>Hex SHA-256 of the whole line, for a line longer than <see cref="AuthorizedKeysParser.MaxLineLength"/>.</summary>
    public string? LineSha256 { get; init; }
}

/// <summary>
/// A non-comment line that is not a key the parser understands, kept as a fact (sshd may still accept it: a key
/// type the parser does not know, or a line too long to parse whole): its number, length, hash and first bytes.
/// </summary>
public sealed record UnparsedLine(int Line, long Bytes, string Sha256, string Prefix, string Reason);

/// <summary>A parsed authorized_keys file: keys, lines that are not keys (with the reason), and those lines as facts.</summary>
public sealed record AuthorizedKeysFile(IReadOnlyList<AuthorizedKey> Keys, IReadOnlyList<(int Line, string Reason)> Errors)
{
    public IReadOnlyList<UnparsedLine> Unparsed { get; init; } = [];
}

/// <summary>
/// Parses <c>~/.ssh/authorized_keys</c> as sshd reads it (sshd(8) AUTHORIZED_KEYS FILE FORMAT): optional
/// comma-separated options (values in double quotes may contain commas, spaces and <c>\"</c>), the key type,
/// the base64 key blob, an optional comment. The blob's embedded type name must match the line's key type.
/// Files are streamed line by line with no size limit (sshd has none): a line longer than
/// <see cref="MaxLineLength"/> keeps its first 64 KiB and the hash of the whole line, and is still parsed when
/// its key ends within them; every line that is not a key is an <see cref="UnparsedLine"/>, never dropped.
/// </summary>
public static class AuthorizedKeysParser
{
    public const int MaxLineLength = 64 * 1024;

    /// <summary>Keys parsed per file at most; the lines after them are one <see cref="UnparsedLine"/> with their combined hash.</summary>
    public const int MaxKeysPerFile = 10_000;

    private const int MaxOptions = 64;
    private const int PrefixChars = 200;

    public static readonly IReadOnlySet<string> KeyTypes = new HashSet<string>(StringComparer.Ordinal)
    {
        "ssh-rsa", "ssh-dss", "ssh-ed25519", "ssh-ed448", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
        "sk-ecdsa-sha2-nistp256@openssh.com", "sk-ssh-ed25519@openssh.com",
        "ssh-rsa-cert-v01@openssh.com", "ssh-dss-cert-v01@openssh.com", "ssh-ed25519-cert-v01@openssh.com",
        "ecdsa-sha2-nistp256-cert-v01@openssh.com", "ecdsa-sha2-nistp384-cert-v01@openssh.com", "ecdsa-sha2-nistp521-cert-v01@openssh.com",
        "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com", "sk-ssh-ed25519-cert-v01@openssh.com",
    };

    /// <summary>Parses a whole file held in memory; bad lines become errors, never exceptions.</summary>
    public static AuthorizedKeysFile Parse(ReadOnlySpan<byte> content) => Parse(new MemoryStream(content.ToArray(), writable: false));

    /// <summary>Streams a file line by line (memory bounded by <see cref="MaxLineLength"/> per line and <see cref="MaxKeysPerFile"/>).</summary>
    public static AuthorizedKeysFile Parse(Stream stream, int maxKeys = MaxKeysPerFile)
    {
        var state = new FileState(maxKeys);
        var chunk = new byte[64 * 1024];
        var line = new byte[MaxLineLength];
        var filled = 0;
        long length = 0;
        IncrementalHash? longHash = null;
        int read;
        while ((read = stream.Read(chunk)) > 0)
        {
            var data = chunk.AsSpan(0, read);
            while (!data.IsEmpty)
            {
                var nl = data.IndexOf((byte)'\n');
                var part = nl < 0 ? data : data[..nl];
                Append(part, line, ref filled, ref length, ref longHash);
                if (nl < 0)
                {
                    break;
                }

                state.Line(line.AsSpan(0, filled), length, longHash);
                filled = 0;
                length = 0;
                longHash?.Dispose();
                longHash = null;
                data = data[(nl + 1)..];
            }
        }

        if (length > 0)
        {
            state.Line(line.AsSpan(0, filled), length, longHash);
        }

        longHash?.Dispose();
        return state.Finish();
    }

    /// <summary>Adds bytes to the current line: the first <see cref="MaxLineLength"/> are kept, a longer line is hashed as it goes.</summary>
    private static void Append(ReadOnlySpan<byte> part, byte[] line, ref int filled, ref long length, ref IncrementalHash? longHash)
    {
        length += part.Length;
        var room = Math.Min(part.Length, line.Length - filled);
        part[..room].CopyTo(line.AsSpan(filled));
        filled += room;
        if (length > MaxLineLength)
        {
            if (longHash is null)
            {
                // The line just outgrew the buffer: hash what is kept, then everything after it.
                longHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                longHash.AppendData(line, 0, filled);
            }

            longHash.AppendData(part[room..]);
        }
    }

    private sealed class FileState(int maxKeys)
    {
        private readonly List<AuthorizedKey> _keys = [];
        private readonly List<(int, string)> _errors = [];
        private readonly List<UnparsedLine> _unparsed = [];
        private IncrementalHash? _rest;
        private int _restFirstLine;
        private int _restLines;
        private long _restBytes;
        private int _number;

        public void Line(ReadOnlySpan<byte> kept, long length, IncrementalHash? longHash)
        {
            _number++;
            var overlong = longHash is not null;
            if (kept.Length > 0 && kept[^1] == (byte)'\r' && !overlong)
            {
                kept = kept[..^1];
            }

            var text = Encoding.UTF8.GetString(kept);
            var trimmed = text.Trim(' ', '\t', '\r');
            if (trimmed.Length == 0 || trimmed[0] == '#')
            {
                return;
            }

            var sha = overlong ? Convert.ToHexStringLower(longHash!.GetHashAndReset()) : Convert.ToHexStringLower(SHA256.HashData(kept));
            if (_keys.Count >= maxKeys)
            {
                _rest ??= IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                _restFirstLine = _restLines == 0 ? _number : _restFirstLine;
                _restLines++;
                _restBytes += length;
                _rest.AppendData(Encoding.ASCII.GetBytes(sha + "\n"));
                return;
            }

            var candidate = trimmed;
            if (overlong)
            {
                // Only the start is kept: parse up to its last blank, so no token (the key blob above all) is cut short.
                var blank = trimmed.LastIndexOfAny([' ', '\t']);
                candidate = blank > 0 ? trimmed[..blank].TrimEnd(' ', '\t') : string.Empty;
            }

            try
            {
                if (candidate.Length == 0)
                {
                    MalformedInputException.Throw(InputErrorKind.OverLimit, $"line {_number}: {length} bytes with no complete key in its first {MaxLineLength} bytes", 0);
                }

                var key = ParseLine(candidate, _number);
                _keys.Add(overlong ? key with { LineBytes = length, LineSha256 = sha } : key);
            }
            catch (MalformedInputException ex)
            {
                var reason = overlong ? $"line of {length} bytes, longer than {MaxLineLength}: {ex.Message}" : ex.Message;
                _errors.Add((_number, reason));
                _unparsed.Add(new UnparsedLine(_number, length, sha, Findings.TextSanitizer.Escape(trimmed, PrefixChars), Findings.TextSanitizer.Escape(reason, 300)));
            }
        }

        public AuthorizedKeysFile Finish()
        {
            if (_rest is not null)
            {
                var sha = Convert.ToHexStringLower(_rest.GetHashAndReset());
                _rest.Dispose();
                var reason = $"{_restLines} more lines after {maxKeys} keys were not parsed";
                _errors.Add((_restFirstLine, reason));
                _unparsed.Add(new UnparsedLine(_restFirstLine, _restBytes, sha, string.Empty, reason));
            }

            return new AuthorizedKeysFile(_keys, _errors) { Unparsed = _unparsed };
        }
    }

    /// <summary>Parses one non-comment line.</summary>
    /// <exception cref="MalformedInputException">Not a key line (offset = character position).</exception>
    public static AuthorizedKey ParseLine(string line, int lineNumber)
    {
        if (line.Length > MaxLineLength)
        {
            MalformedInputException.ThrowLimit("authorized_keys line length", MaxLineLength, 0);
        }

        var pos = 0;
        var options = new List<KeyOption>();
        var first = NextToken(line, ref pos);
        if (!KeyTypes.Contains(first))
        {
            pos = 0;
            options = ParseOptions(line, ref pos);
            SkipSpace(line, ref pos);
            first = NextToken(line, ref pos);
            if (!KeyTypes.Contains(first))
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, $"line {lineNumber}: unknown key type '{Trunc(first)}'", pos);
            }
        }

        SkipSpace(line, ref pos);
        var blobStart = pos;
        var base64 = NextToken(line, ref pos);
        if (base64.Length == 0)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"line {lineNumber}: key type {first} without a key", pos);
        }

        var blob = new byte[base64.Length / 4 * 3 + 3];
        if (!Convert.TryFromBase64String(base64, blob, out var written))
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"line {lineNumber}: key data is not valid base64", blobStart);
        }

        var key = blob.AsSpan(0, written);
        var embedded = ReadEmbeddedType(key, lineNumber, blobStart);
        if (embedded != first)
        {
            MalformedInputException.Throw(InputErrorKind.Corrupt, $"line {lineNumber}: key type {first} does not match the key data ({Trunc(embedded)})", blobStart);
        }

        SkipSpace(line, ref pos);
        var comment = pos < line.Length ? line[pos..].TrimEnd() : null;
        return new AuthorizedKey(lineNumber, first, Fingerprint(key), options, string.IsNullOrEmpty(comment) ? null : comment);
    }

    /// <summary><c>SHA256:</c> + base64 without padding of SHA-256(blob), as <c>ssh-keygen -lf</c>.</summary>
    public static string Fingerprint(ReadOnlySpan<byte> blob) => "SHA256:" + Convert.ToBase64String(SHA256.HashData(blob)).TrimEnd('=');

    /// <summary>Fuzz target: never throws anything but <see cref="MalformedInputException"/>.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data) => _ = Parse(data);

    private static string ReadEmbeddedType(ReadOnlySpan<byte> blob, int lineNumber, int offset)
    {
        if (blob.Length < 4)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"line {lineNumber}: key data shorter than its type field", offset);
        }

        var length = BinaryPrimitives.ReadUInt32BigEndian(blob);
        if (length == 0 || length > 64 || length > (uint)(blob.Length - 4))
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"line {lineNumber}: key data declares a type name of {length} bytes ({blob.Length - 4} remain)", offset);
        }

        var name = blob.Slice(4, checked((int)length));
        foreach (var b in name)
        {
            if (b is < 0x21 or > 0x7e)
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, $"line {lineNumber}: key data type name is not printable ASCII", offset);
            }
        }

        return Encoding.ASCII.GetString(name);
    }

    private static List<KeyOption> ParseOptions(string line, ref int pos)
    {
        var options = new List<KeyOption>();
        while (pos < line.Length && line[pos] is not (' ' or '\t'))
        {
            var nameStart = pos;
            while (pos < line.Length && line[pos] is not ('=' or ',' or ' ' or '\t' or '"'))
            {
                pos++;
            }

            var name = line[nameStart..pos];
            if (name.Length == 0 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '@' or '.'))
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, $"bad option name '{Trunc(name)}'", nameStart);
            }

            string? value = null;
            if (pos < line.Length && line[pos] == '=')
            {
                pos++;
                if (pos >= line.Length || line[pos] != '"')
                {
                    MalformedInputException.Throw(InputErrorKind.Syntax, $"option {name} value must be in double quotes", pos);
                }

                pos++;
                var sb = new StringBuilder();
                var closed = false;
                while (pos < line.Length)
                {
                    var c = line[pos++];
                    if (c == '\\' && pos < line.Length && line[pos] == '"')
                    {
                        sb.Append('"');
                        pos++;
                    }
                    else if (c == '"')
                    {
                        closed = true;
                        break;
                    }
                    else
                    {
                        sb.Append(c);
                    }
                }

                if (!closed)
                {
                    MalformedInputException.Throw(InputErrorKind.Syntax, $"option {name} has an unterminated quoted value", pos);
                }

                value = sb.ToString();
            }

            options.Add(new KeyOption(name, value));
            if (options.Count > MaxOptions)
            {
                MalformedInputException.ThrowLimit("authorized_keys options per line", MaxOptions, pos);
            }

            if (pos < line.Length && line[pos] == ',')
            {
                pos++;
                continue;
            }

            if (pos < line.Length && line[pos] is not (' ' or '\t'))
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, $"unexpected character '{Trunc(line[pos].ToString())}' after option {name}", pos);
            }
        }

        return options;
    }

    private static string NextToken(string line, ref int pos)
    {
        var start = pos;
        while (pos < line.Length && line[pos] is not (' ' or '\t'))
        {
            pos++;
        }

        return line[start..pos];
    }

    private static void SkipSpace(string line, ref int pos)
    {
        while (pos < line.Length && line[pos] is ' ' or '\t')
        {
            pos++;
        }
    }

    private static string Trunc(string text) => Findings.TextSanitizer.Escape(text, 60);
}
