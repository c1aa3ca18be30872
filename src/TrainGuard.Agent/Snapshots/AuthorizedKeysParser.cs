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
}

/// <summary>A parsed authorized_keys file: keys, and lines that are not keys (with the reason).</summary>
public sealed record AuthorizedKeysFile(IReadOnlyList<AuthorizedKey> Keys, IReadOnlyList<(int Line, string Reason)> Errors);

/// <summary>
/// Parses <c>~/.ssh/authorized_keys</c> as sshd reads it (sshd(8) AUTHORIZED_KEYS FILE FORMAT): optional
/// comma-separated options (values in double quotes may contain commas, spaces and <c>\"</c>), the key type,
/// the base64 key blob, an optional comment. The blob's embedded type name must match the line's key type.
/// </summary>
public static class AuthorizedKeysParser
{
    public const int MaxLineLength = 64 * 1024;
    public const int MaxFileLength = 1024 * 1024;
    private const int MaxOptions = 64;

    public static readonly IReadOnlySet<string> KeyTypes = new HashSet<string>(StringComparer.Ordinal)
    {
        "ssh-rsa", "ssh-dss", "ssh-ed25519", "ssh-ed448", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
        "sk-ecdsa-sha2-nistp256@openssh.com", "sk-ssh-ed25519@openssh.com",
        "ssh-rsa-cert-v01@openssh.com", "ssh-dss-cert-v01@openssh.com", "ssh-ed25519-cert-v01@openssh.com",
        "ecdsa-sha2-nistp256-cert-v01@openssh.com", "ecdsa-sha2-nistp384-cert-v01@openssh.com", "ecdsa-sha2-nistp521-cert-v01@openssh.com",
        "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com", "sk-ssh-ed25519-cert-v01@openssh.com",
    };

    /// <summary>Parses a whole file; bad lines become errors, never exceptions.</summary>
    public static AuthorizedKeysFile Parse(ReadOnlySpan<byte> content)
    {
        if (content.Length > MaxFileLength)
        {
            MalformedInputException.ThrowLimit("authorized_keys size", MaxFileLength, 0);
        }

        var keys = new List<AuthorizedKey>();
        var errors = new List<(int, string)>();
        var text = Encoding.UTF8.GetString(content);
        var lineNumber = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNumber++;
            var line = raw.TrimEnd('\r').Trim(' ', '\t');
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            try
            {
                keys.Add(ParseLine(line, lineNumber));
            }
            catch (MalformedInputException ex)
            {
                errors.Add((lineNumber, ex.Message));
            }
        }

        return new AuthorizedKeysFile(keys, errors);
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
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        if (data.Length <= MaxFileLength)
        {
            _ = Parse(data);
        }
    }

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
