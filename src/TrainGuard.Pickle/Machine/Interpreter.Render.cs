using System.Globalization;
using System.Numerics;
using System.Text;
using TrainGuard.Pickle.Opcodes;
using Op = TrainGuard.Pickle.Opcodes.PickleOp;

namespace TrainGuard.Pickle.Machine;

/// <summary>Python-like rendering of symbolic values, shortened: at most a few elements, short strings, bounded depth.</summary>
internal sealed partial class Interpreter
{
    private const int MaxElements = 8;
    private const int MaxStringChars = 80;
    private const int MaxRenderDepth = 4;

    private StringBuilder? _spareBuilder;

    private string Render(ReadOnlySpan<byte> data, ulong v, int max)
    {
        if (V.Kind(v) == ValKind.Global)
        {
            return _globalRendered[V.Node(v)];
        }

        var sb = RentBuilder();
        RenderInto(data, sb, v, 0, max);
        return ReturnBuilder(sb);
    }

    private StringBuilder RentBuilder()
    {
        var sb = _spareBuilder ?? new StringBuilder(256);
        _spareBuilder = null;
        sb.Clear();
        return sb;
    }

    private string ReturnBuilder(StringBuilder sb)
    {
        var s = sb.ToString();
        if (sb.Capacity <= 4096)
        {
            _spareBuilder = sb;
        }

        return s;
    }

    private string RenderCall(ReadOnlySpan<byte> data, CallInfo info)
    {
        var sb = RentBuilder();
        RenderInto(data, sb, info.Callable, 1, 160);
        sb.Append('(');
        const int max = 400;
        var first = true;
        if (V.Kind(info.Args) == ValKind.Tuple)
        {
            RenderElements(data, sb, V.Node(info.Args), pairs: false, 1, max, ref first);
        }
        else if (info.Args != 0)
        {
            sb.Append('*');
            RenderInto(data, sb, info.Args, 1, max);
            first = false;
        }

        if (info.Kwargs != 0)
        {
            if (!first)
            {
                sb.Append(", ");
            }

            if (V.Kind(info.Kwargs) == ValKind.Dict)
            {
                RenderKeywords(data, sb, V.Node(info.Kwargs), max);
            }
            else
            {
                sb.Append("**");
                RenderInto(data, sb, info.Kwargs, 1, max);
            }
        }

        sb.Append(')');
        return ReturnBuilder(sb);
    }

    private void RenderKeywords(ReadOnlySpan<byte> data, StringBuilder sb, int id, int max)
    {
        Span<ulong> kids = stackalloc ulong[ObjectStore.MaxKept];
        var n = _store.CopyKept(id, kids);
        for (var i = 0; i + 1 < n; i += 2)
        {
            if (i > 0)
            {
                sb.Append(", ");
            }

            if (V.Kind(kids[i]) == ValKind.Str)
            {
                sb.Append(Findings.TextSanitizer.Escape(DecodeStr(data, V.Offset(kids[i]), MaxStringChars)));
                sb.Append('=');
            }
            else
            {
                sb.Append("**{");
                RenderInto(data, sb, kids[i], 2, max);
                sb.Append(": ");
                RenderInto(data, sb, kids[i + 1], 2, max);
                sb.Append('}');
                continue;
            }

            RenderInto(data, sb, kids[i + 1], 2, max);
        }

        if (_store.ChildCount(id) * 1L > n || _store.IsTruncated(id))
        {
            sb.Append(n > 0 ? ", …" : "…");
        }
    }

    private void RenderInto(ReadOnlySpan<byte> data, StringBuilder sb, ulong v, int depth, int max)
    {
        if (sb.Length >= max)
        {
            if (sb.Length == 0 || sb[^1] != '…')
            {
                sb.Append('…');
            }

            return;
        }

        switch (V.Kind(v))
        {
            case ValKind.None:
                sb.Append("None");
                return;
            case ValKind.Bool:
                sb.Append(V.Node(v) != 0 ? "True" : "False");
                return;
            case ValKind.Int:
                sb.Append(V.IntValue(v).ToString(CultureInfo.InvariantCulture));
                return;
            case ValKind.BigInt:
                sb.Append(RenderBigInt(data, V.Offset(v)));
                return;
            case ValKind.Float:
                sb.Append(RenderFloat(data, V.Offset(v)));
                return;
            case ValKind.Str:
                AppendStr(data, sb, V.Offset(v));
                return;
            case ValKind.Bytes:
                AppendBytes(data, sb, V.Offset(v));
                return;
            case ValKind.ByteArray:
                sb.Append("bytearray(");
                AppendBytes(data, sb, V.Offset(v));
                sb.Append(')');
                return;
            case ValKind.Tuple:
                RenderContainer(data, sb, v, "(", ")", depth, max);
                return;
            case ValKind.List:
                RenderContainer(data, sb, v, "[", "]", depth, max);
                return;
            case ValKind.Dict:
                RenderContainer(data, sb, v, "{", "}", depth, max);
                return;
            case ValKind.Set:
                RenderContainer(data, sb, v, "{", "}", depth, max);
                return;
            case ValKind.FrozenSet:
                RenderContainer(data, sb, v, "frozenset({", "})", depth, max);
                return;
            case ValKind.Global:
                sb.Append(_globalRendered[V.Node(v)]);
                return;

            case ValKind.Call:
                {
                    var info = CallOf(v)!;
                    AppendBounded(sb, info.Rendered ?? RenderCall(data, info), max);
                    return;
                }

            case ValKind.PersistentLoad:
                sb.Append("persistent_load(");
                RenderInto(data, sb, _persistentIds[V.Node(v)], depth + 1, max);
                sb.Append(')');
                return;
            case ValKind.Buffer:
                sb.Append("<out-of-band buffer #").Append(V.Node(v).ToString(CultureInfo.InvariantCulture)).Append('>');
                return;
            case ValKind.Opaque:
                sb.Append("<numpy array read by joblib>");
                return;
            default:
                sb.Append("<?>");
                return;
        }
    }

    private static void AppendBounded(StringBuilder sb, string s, int max)
    {
        var room = Math.Max(max - sb.Length, 16);
        if (s.Length <= room)
        {
            sb.Append(s);
        }
        else
        {
            sb.Append(s.AsSpan(0, room)).Append('…');
        }
    }

    private void RenderContainer(ReadOnlySpan<byte> data, StringBuilder sb, ulong v, string open, string close, int depth, int max)
    {
        var kind = V.Kind(v);
        var id = V.Node(v);
        var count = _store.ChildCount(id);
        if (count == 0 && !_store.IsTruncated(id))
        {
            sb.Append(kind switch { ValKind.Set => "set()", ValKind.FrozenSet => "frozenset()", _ => open + close });
            return;
        }

        sb.Append(open);
        if (depth >= MaxRenderDepth)
        {
            sb.Append('…');
        }
        else
        {
            var first = true;
            RenderElements(data, sb, id, kind == ValKind.Dict, depth + 1, max, ref first);
            if (kind == ValKind.Tuple && count == 1)
            {
                sb.Append(',');
            }
        }

        sb.Append(close);
    }

    private void RenderElements(ReadOnlySpan<byte> data, StringBuilder sb, int id, bool pairs, int depth, int max, ref bool first)
    {
        Span<ulong> kids = stackalloc ulong[ObjectStore.MaxKept];
        var n = _store.CopyKept(id, kids);
        var step = pairs ? 2 : 1;
        var shown = 0;
        var elided = _store.IsTruncated(id) || _store.ChildCount(id) > n;
        for (var i = 0; i + step - 1 < n; i += step)
        {
            if (shown == MaxElements || sb.Length >= max)
            {
                elided = true;
                break;
            }

            if (!first)
            {
                sb.Append(", ");
            }

            first = false;
            RenderInto(data, sb, kids[i], depth, max);
            if (pairs)
            {
                sb.Append(": ");
                RenderInto(data, sb, kids[i + 1], depth, max);
            }

            shown++;
        }

        if (elided)
        {
            sb.Append(first ? "…" : ", …");
            first = false;
        }
    }

    private static void AppendStr(ReadOnlySpan<byte> data, StringBuilder sb, int off)
    {
        // Fast path: short printable ASCII needs neither decoding nor escaping.
        if (TryPayload(data, off, out var rawStart, out var rawLength) && rawLength <= MaxStringChars)
        {
            var raw = data.Slice(rawStart, rawLength);
            var plain = true;
            foreach (var b in raw)
            {
                if (b is < 0x20 or >= 0x7f or (byte)'\\' or (byte)'\'')
                {
                    plain = false;
                    break;
                }
            }

            if (plain)
            {
                Span<char> chars = stackalloc char[MaxStringChars];
                for (var i = 0; i < raw.Length; i++)
                {
                    chars[i] = (char)raw[i];
                }

                sb.Append('\'').Append(chars[..raw.Length]).Append('\'');
                return;
            }
        }

        var text = DecodeStr(data, off, (MaxStringChars * 4) + 4);
        var cut = text.Length > MaxStringChars || (TryPayload(data, off, out _, out var length) && length > (MaxStringChars * 4) + 4);
        sb.Append('\'');
        var shown = Math.Min(text.Length, MaxStringChars);
        for (var i = 0; i < shown; i++)
        {
            var ch = text[i];
            switch (ch)
            {
                case '\\': sb.Append("\\\\"); break;
                case '\'': sb.Append("\\'"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (char.IsHighSurrogate(ch) && i + 1 < shown && char.IsLowSurrogate(text[i + 1]))
                    {
                        sb.Append(ch).Append(text[++i]);
                    }
                    else if (char.IsControl(ch) || ch is '\u2028' or '\u2029' or '\u202e' or '\u202d' or '\u2066' or '\u2067' or '\u2068' or '\u2069' or '\u200e' or '\u200f' || char.IsSurrogate(ch))
                    {
                        sb.Append(ch <= 0xff ? $"\\x{(int)ch:x2}" : $"\\u{(int)ch:x4}");
                    }
                    else
                    {
                        sb.Append(ch);
                    }

                    break;
            }
        }

        if (cut)
        {
            sb.Append('…');
        }

        sb.Append('\'');
    }

    private static void AppendBytes(ReadOnlySpan<byte> data, StringBuilder sb, int off)
    {
        TryPayload(data, off, out var start, out var length);
        sb.Append("b'").Append(Findings.TextSanitizer.EscapeBytes(data.Slice(start, Math.Min(length, 256)), MaxStringChars));
        if (length > 256 && sb[^1] != '…')
        {
            sb.Append('…');
        }

        sb.Append('\'');
    }

    private static string RenderBigInt(ReadOnlySpan<byte> data, int off)
    {
        var ins = new PickleOpcodeReader(data, off).Read();
        var arg = ins.Argument;
        if (ins.Opcode is Op.Long1 or Op.Long4)
        {
            return arg.Length <= 64
                ? new BigInteger(arg, isUnsigned: false, isBigEndian: false).ToString(CultureInfo.InvariantCulture)
                : $"<int of {arg.Length:N0} bytes>";
        }

        var text = Encoding.ASCII.GetString(arg[..Math.Min(arg.Length, 60)]).Trim().TrimEnd('L');
        return Findings.TextSanitizer.Escape(text, 60);
    }

    private static string RenderFloat(ReadOnlySpan<byte> data, int off)
    {
        var ins = new PickleOpcodeReader(data, off).Read();
        if (ins.Opcode == Op.BinFloat)
        {
            return TextCodecs.FormatFloat(TextCodecs.ReadBinFloat(ins.Argument));
        }

        return TextCodecs.TryParseFloat(ins.Argument, out var d) ? TextCodecs.FormatFloat(d) : "nan";
    }
}
