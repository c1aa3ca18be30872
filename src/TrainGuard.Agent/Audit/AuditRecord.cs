using System.Globalization;
using System.Text;

namespace TrainGuard.Agent.Audit;

/// <summary>Where a field came from inside an audit record.</summary>
[Flags]
public enum AuditFieldFlags : byte
{
    None = 0,

    /// <summary>The value was in double quotes (a plain string, never hex).</summary>
    Quoted = 1,

    /// <summary>The field sits inside a user-space record's <c>msg='...'</c>.</summary>
    InMessage = 2,

    /// <summary>The field follows the 0x1D separator (auditd <c>log_format = ENRICHED</c>: names for ids).</summary>
    Enriched = 4,
}

/// <summary>Offsets of one <c>name=value</c> field inside <see cref="AuditRecord.Raw"/>.</summary>
public readonly record struct AuditField(int NameStart, int NameLength, int ValueStart, int ValueLength, AuditFieldFlags Flags);

/// <summary>
/// One parsed audit record (one line of <c>audit.log</c>): its type, the event's timestamp and serial,
/// and its fields as offsets into a private copy of the line. Values are decoded on demand: quoted
/// strings unquoted, hex-encoded untrusted strings (comm, exe, name, proctitle, EXECVE arguments...)
/// decoded, so parsing stays cheap for the many records no rule looks at.
/// </summary>
public sealed class AuditRecord
{
    /// <summary>The login uid value meaning "not set" (the kernel's <c>(uid_t)-1</c>).</summary>
    public const long UnsetId = 4294967295;

    private readonly AuditField[] _fields;

    internal AuditRecord(byte[] raw, AuditField[] fields, string type, string? node, long seconds, int milliseconds, ulong serial, long line)
    {
        Raw = raw;
        _fields = fields;
        Type = type;
        Node = node;
        Seconds = seconds;
        Milliseconds = milliseconds;
        Serial = serial;
        Line = line;
    }

    /// <summary>The line's bytes (the parser's copy).</summary>
    public byte[] Raw { get; }

    /// <summary>The record type, e.g. <c>SYSCALL</c>, <c>OBJ_PID</c>, <c>USER_LOGIN</c>.</summary>
    public string Type { get; }

    /// <summary>The <c>node=</c> prefix (multi-host logs), or null.</summary>
    public string? Node { get; }

    public long Seconds { get; }

    public int Milliseconds { get; }

    public ulong Serial { get; }

    /// <summary>1-based line number in the input.</summary>
    public long Line { get; }

    public DateTimeOffset Timestamp => DateTimeOffset.FromUnixTimeSeconds(Seconds).AddMilliseconds(Milliseconds);

    /// <summary>Milliseconds since the Unix epoch.</summary>
    public long TimestampMs => (Seconds * 1000) + Milliseconds;

    public IReadOnlyList<AuditField> Fields => _fields;

    /// <summary>The undecoded bytes of the <paramref name="occurrence"/>-th kernel or <c>msg='...'</c> field called <paramref name="name"/>.</summary>
    public bool TryGetRaw(string name, out ReadOnlySpan<byte> value, int occurrence = 0) =>
        TryFind(name, enriched: false, occurrence, out value, out _);

    /// <summary>
    /// The text of a field: quoted strings without quotes, hex-encoded untrusted strings decoded
    /// (UTF-8, invalid bytes replaced), and <c>(null)</c>, <c>(none)</c>, <c>?</c> as null.
    /// </summary>
    public string? GetText(string name, int occurrence = 0)
    {
        if (!TryFind(name, enriched: false, occurrence, out var value, out var flags))
        {
            return null;
        }

        if ((flags & AuditFieldFlags.Quoted) != 0)
        {
            return Encoding.UTF8.GetString(value);
        }

        if (IsPlaceholder(value))
        {
            return null;
        }

        if (AuditValues.IsEncodedField(Type, name) && AuditValues.TryDecodeHex(value, out var decoded))
        {
            return Encoding.UTF8.GetString(decoded);
        }

        return Encoding.UTF8.GetString(value);
    }

    /// <summary>The enriched (after 0x1D) value of <paramref name="name"/>, e.g. <c>AUID</c> -> <c>alice</c>.</summary>
    public string? GetEnriched(string name)
    {
        if (!TryFind(name, enriched: true, 0, out var value, out _))
        {
            return null;
        }

        return IsPlaceholder(value) ? null : Encoding.UTF8.GetString(value);
    }

    /// <summary>A decimal field as a signed 64-bit number (<c>auid=4294967295</c>, <c>oauid=-1</c>).</summary>
    public bool TryGetInt64(string name, out long number, int occurrence = 0)
    {
        number = 0;
        return TryFind(name, enriched: false, occurrence, out var value, out _) && AuditValues.TryParseDecimal(value, out number);
    }

    public long? GetInt64(string name, int occurrence = 0) => TryGetInt64(name, out var n, occurrence) ? n : null;

    /// <summary>A hexadecimal field (<c>arch=c000003e</c>, syscall arguments <c>a0</c>..<c>a3</c>).</summary>
    public bool TryGetHex(string name, out ulong number)
    {
        number = 0;
        return TryFind(name, enriched: false, 0, out var value, out _) && AuditValues.TryParseHex(value, out number);
    }

    public bool Has(string name) => TryFind(name, enriched: false, 0, out _, out _);

    /// <summary>The line as text (for messages and <c>event.original</c>).</summary>
    public override string ToString() => Encoding.UTF8.GetString(Raw);

    internal string FormatTime() =>
        string.Create(CultureInfo.InvariantCulture, $"{Seconds}.{Milliseconds:D3}:{Serial}");

    private static bool IsPlaceholder(ReadOnlySpan<byte> value) =>
        value.SequenceEqual("(null)"u8) || value.SequenceEqual("(none)"u8) || value.SequenceEqual("?"u8);

    private bool TryFind(string name, bool enriched, int occurrence, out ReadOnlySpan<byte> value, out AuditFieldFlags flags)
    {
        var raw = Raw.AsSpan();
        foreach (var field in _fields)
        {
            if (((field.Flags & AuditFieldFlags.Enriched) != 0) != enriched || field.NameLength != name.Length)
            {
                continue;
            }

            if (!AsciiEquals(raw.Slice(field.NameStart, field.NameLength), name))
            {
                continue;
            }

            if (occurrence-- > 0)
            {
                continue;
            }

            value = raw.Slice(field.ValueStart, field.ValueLength);
            flags = field.Flags;
            return true;
        }

        value = default;
        flags = AuditFieldFlags.None;
        return false;
    }

    private static bool AsciiEquals(ReadOnlySpan<byte> bytes, string text)
    {
        for (var i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] != text[i])
            {
                return false;
            }
        }

        return true;
    }
}
