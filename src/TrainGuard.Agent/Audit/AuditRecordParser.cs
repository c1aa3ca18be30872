using System.Text;

namespace TrainGuard.Agent.Audit;

/// <summary>
/// Parses one audit log line, raw or enriched:
/// <c>[node=NAME ]type=TYPE msg=audit(SECONDS.MILLIS:SERIAL): name=value ... [0x1D NAME="text" ...]</c>.
/// Span-based, no regular expressions; one allocation for the copy of the line, one for the field
/// table. Invalid input is reported through the <c>error</c> out parameter, never thrown.
/// </summary>
public sealed class AuditRecordParser
{
    /// <summary>Fields per record accepted; a kernel record has about 40, EXECVE of a long command line a few hundred.</summary>
    public const int MaxFields = 2048;

    private const byte GroupSeparator = 0x1D;

    private static readonly Dictionary<string, string> KnownTypes = BuildKnownTypes();
    private static readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> TypeLookup =
        KnownTypes.GetAlternateLookup<ReadOnlySpan<char>>();

    private AuditField[] _scratch = new AuditField[64];
    private int _count;
    private string? _lastNode;

    /// <summary>Parses <paramref name="line"/> (without its line feed).</summary>
    /// <returns>True with a record, or false with a one-line reason in <paramref name="error"/>.</returns>
    public bool TryParse(ReadOnlySpan<byte> line, long lineNumber, out AuditRecord? record, out string? error)
    {
        record = null;
        _count = 0;
        var gs = line.IndexOf(GroupSeparator);
        var kernel = gs < 0 ? line : line[..gs];
        var pos = 0;

        string? node = null;
        if (kernel.StartsWith("node="u8))
        {
            var end = kernel.IndexOf((byte)' ');
            if (end < 0)
            {
                error = "node= prefix without a record after it";
                return false;
            }

            node = InternNode(kernel[5..end]);
            pos = end + 1;
        }

        if (!kernel[pos..].StartsWith("type="u8))
        {
            error = "not an audit record: expected 'type=' at the start of the line";
            return false;
        }

        pos += 5;
        var typeEnd = kernel[pos..].IndexOf((byte)' ');
        if (typeEnd <= 0)
        {
            error = "record type is empty or not followed by msg=audit(...)";
            return false;
        }

        var type = InternType(kernel.Slice(pos, typeEnd));
        if (type is null)
        {
            error = "record type contains bytes other than letters, digits, '_', '[' and ']'";
            return false;
        }

        pos += typeEnd + 1;
        if (!kernel[pos..].StartsWith("msg=audit("u8))
        {
            error = "expected msg=audit(<seconds>.<millis>:<serial>) after the type";
            return false;
        }

        pos += 10;
        if (!TryParseStamp(kernel, ref pos, out var seconds, out var millis, out var serial, out error))
        {
            return false;
        }

        if (!ParseFields(kernel, pos, kernel.Length, AuditFieldFlags.None, out error))
        {
            return false;
        }

        if (gs >= 0 && !ParseFields(line, gs + 1, line.Length, AuditFieldFlags.Enriched, out error))
        {
            return false;
        }

        var raw = line.ToArray();
        var fields = _scratch.AsSpan(0, _count).ToArray();
        record = new AuditRecord(raw, fields, type, node, seconds, millis, serial, lineNumber);
        error = null;
        return true;
    }

    /// <summary>
    /// Fuzz target: parses every line of <paramref name="data"/> and decodes every field of every
    /// record, then feeds the lines to a collector. Must never throw.
    /// </summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        var parser = new AuditRecordParser();
        var collector = new AuditCollector(new AuditCollectorOptions { HostName = "fuzz" }, static _ => { });
        long number = 0;
        while (!data.IsEmpty)
        {
            var nl = data.IndexOf((byte)'\n');
            var line = nl < 0 ? data : data[..nl];
            data = nl < 0 ? [] : data[(nl + 1)..];
            number++;
            if (parser.TryParse(line, number, out var record, out _) && record is not null)
            {
                foreach (var field in record.Fields)
                {
                    var name = Encoding.ASCII.GetString(record.Raw.AsSpan(field.NameStart, field.NameLength));
                    _ = (field.Flags & AuditFieldFlags.Enriched) != 0 ? record.GetEnriched(name) : record.GetText(name);
                    _ = record.TryGetInt64(name, out _);
                    _ = record.TryGetHex(name, out _);
                }
            }

            collector.ProcessLine(line, number, terminated: nl >= 0);
        }

        collector.Flush();
    }

    private static bool TryParseStamp(ReadOnlySpan<byte> s, ref int pos, out long seconds, out int millis, out ulong serial, out string? error)
    {
        seconds = 0;
        millis = 0;
        serial = 0;
        var start = pos;
        while (pos < s.Length && (uint)(s[pos] - '0') <= 9)
        {
            if (pos - start >= 12)
            {
                error = "audit timestamp seconds have too many digits";
                return false;
            }

            seconds = checked((seconds * 10) + (s[pos] - '0'));
            pos++;
        }

        if (pos == start || pos >= s.Length || s[pos] != (byte)'.')
        {
            error = "malformed audit timestamp: expected <seconds>.<millis>";
            return false;
        }

        pos++;
        var fracStart = pos;
        var scale = 100;
        while (pos < s.Length && (uint)(s[pos] - '0') <= 9)
        {
            if (pos - fracStart >= 9)
            {
                error = "audit timestamp fraction has too many digits";
                return false;
            }

            millis += (s[pos] - '0') * scale;
            scale /= 10;
            pos++;
        }

        if (pos == fracStart || pos >= s.Length || s[pos] != (byte)':')
        {
            error = "malformed audit timestamp: expected ':' and a serial after the fraction";
            return false;
        }

        pos++;
        var serialStart = pos;
        while (pos < s.Length && (uint)(s[pos] - '0') <= 9)
        {
            if (pos - serialStart >= 19)
            {
                error = "audit serial has too many digits";
                return false;
            }

            serial = checked((serial * 10) + (uint)(s[pos] - '0'));
            pos++;
        }

        if (pos == serialStart || pos >= s.Length || s[pos] != (byte)')')
        {
            error = "malformed msg=audit(...): expected ')' after the serial";
            return false;
        }

        pos++;
        if (pos >= s.Length || s[pos] != (byte)':')
        {
            error = "malformed msg=audit(...): expected ':' after ')'";
            return false;
        }

        pos++;
        if (seconds > 253402300799)
        {
            error = "audit timestamp is after the year 9999";
            return false;
        }

        error = null;
        return true;
    }

    private bool ParseFields(ReadOnlySpan<byte> s, int pos, int end, AuditFieldFlags flags, out string? error)
    {
        var lastUnquoted = -1;
        while (true)
        {
            while (pos < end && s[pos] == (byte)' ')
            {
                pos++;
            }

            if (pos >= end)
            {
                error = null;
                return true;
            }

            var tokenStart = pos;
            while (pos < end && s[pos] != (byte)'=' && s[pos] != (byte)' ')
            {
                pos++;
            }

            if (pos >= end || s[pos] == (byte)' ')
            {
                // A bare word: AVC text ("avc:  denied  { read }"), or the rest of an unquoted
                // user-space value such as op=adding user. Joined to the previous value when it
                // directly continues it, otherwise ignored.
                if (lastUnquoted >= 0 && (flags & AuditFieldFlags.InMessage) != 0)
                {
                    var prev = _scratch[lastUnquoted];
                    if (prev.ValueStart + prev.ValueLength + 1 == tokenStart)
                    {
                        _scratch[lastUnquoted] = prev with { ValueLength = pos - prev.ValueStart };
                    }
                }

                continue;
            }

            var nameLength = pos - tokenStart;
            if (nameLength == 0 || !IsName(s.Slice(tokenStart, nameLength)))
            {
                if ((flags & AuditFieldFlags.InMessage) == 0)
                {
                    error = "field name is empty or contains unexpected bytes";
                    return false;
                }

                // Free text inside a user-space msg='...' (SELinux notices): skip the word.
                while (pos < end && s[pos] != (byte)' ')
                {
                    pos++;
                }

                lastUnquoted = -1;
                continue;
            }

            pos++;
            int valueStart;
            int valueLength;
            var fieldFlags = flags;
            if (pos < end && s[pos] == (byte)'"')
            {
                var close = s[(pos + 1)..end].IndexOf((byte)'"');
                if (close < 0)
                {
                    error = "unterminated quoted value (line cut short?)";
                    return false;
                }

                valueStart = pos + 1;
                valueLength = close;
                pos = valueStart + close + 1;
                fieldFlags |= AuditFieldFlags.Quoted;
                lastUnquoted = -1;
            }
            else if (pos < end && s[pos] == (byte)'\'' && (flags & AuditFieldFlags.InMessage) == 0 && (flags & AuditFieldFlags.Enriched) == 0)
            {
                var close = s[(pos + 1)..end].LastIndexOf((byte)'\'');
                if (close < 0)
                {
                    error = "unterminated msg='...' (line cut short?)";
                    return false;
                }

                var innerStart = pos + 1;
                var innerEnd = innerStart + close;
                if (!ParseFields(s, innerStart, innerEnd, flags | AuditFieldFlags.InMessage, out error))
                {
                    return false;
                }

                pos = innerEnd + 1;
                lastUnquoted = -1;
                continue;
            }
            else
            {
                valueStart = pos;
                while (pos < end && s[pos] != (byte)' ')
                {
                    pos++;
                }

                valueLength = pos - valueStart;
                lastUnquoted = _count;
            }

            if (_count == MaxFields)
            {
                error = $"record has more than {MaxFields} fields";
                return false;
            }

            if (_count == _scratch.Length)
            {
                Array.Resize(ref _scratch, _scratch.Length * 2);
            }

            _scratch[_count++] = new AuditField(tokenStart, nameLength, valueStart, valueLength, fieldFlags);
        }
    }

    private static bool IsName(ReadOnlySpan<byte> name)
    {
        foreach (var b in name)
        {
            var ok = (uint)((b | 0x20) - 'a') <= 'z' - 'a' || (uint)(b - '0') <= 9 || b is (byte)'_' or (byte)'-' or (byte)'[' or (byte)']' or (byte)'.' or (byte)':' or (byte)'/';
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    private static string? InternType(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > 64)
        {
            return null;
        }

        Span<char> chars = stackalloc char[bytes.Length];
        for (var i = 0; i < bytes.Length; i++)
        {
            var b = bytes[i];
            var ok = (uint)(b - 'A') <= 'Z' - 'A' || (uint)(b - 'a') <= 'z' - 'a' || (uint)(b - '0') <= 9 || b is (byte)'_' or (byte)'[' or (byte)']';
            if (!ok)
            {
                return null;
            }

            chars[i] = (char)b;
        }

        return TypeLookup.TryGetValue(chars, out var known) ? known : new string(chars);
    }

    private string InternNode(ReadOnlySpan<byte> bytes)
    {
        if (_lastNode is not null && _lastNode.Length == bytes.Length)
        {
            var same = true;
            for (var i = 0; i < bytes.Length && same; i++)
            {
                same = bytes[i] < 0x80 && bytes[i] == _lastNode[i];
            }

            if (same)
            {
                return _lastNode;
            }
        }

        _lastNode = Encoding.UTF8.GetString(bytes);
        return _lastNode;
    }

    private static Dictionary<string, string> BuildKnownTypes()
    {
        string[] names =
        [
            "SYSCALL", "PATH", "CWD", "PROCTITLE", "EXECVE", "OBJ_PID", "EOE", "LOGIN", "BPRM_FCAPS", "SOCKADDR",
            "USER_AUTH", "USER_ACCT", "USER_MGMT", "CRED_ACQ", "CRED_DISP", "CRED_REFR", "USER_START", "USER_END",
            "USER_LOGIN", "USER_LOGOUT", "USER_CHAUTHTOK", "USER_ERR", "USER_CMD", "ADD_USER", "DEL_USER",
            "ADD_GROUP", "DEL_GROUP", "GRP_MGMT", "GRP_CHAUTHTOK", "CONFIG_CHANGE", "DAEMON_START", "DAEMON_END",
            "DAEMON_ABORT", "DAEMON_CONFIG", "DAEMON_ROTATE", "SERVICE_START", "SERVICE_STOP", "AVC", "USER_AVC",
            "ANOM_ABEND", "ANOM_PROMISCUOUS", "NETFILTER_CFG", "MMAP", "FD_PAIR", "IPC", "KERNEL", "SECCOMP",
            "TTY", "USER_TTY", "CAPSET", "ANOM_LOGIN_FAILURES", "ANOM_ADD_ACCT", "ANOM_DEL_ACCT", "ANOM_MOD_ACCT",
        ];
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in names)
        {
            map[name] = name;
        }

        return map;
    }
}
