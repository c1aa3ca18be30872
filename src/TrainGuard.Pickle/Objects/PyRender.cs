using System.Globalization;
using System.Text;
using TrainGuard.Pickle.Machine;

namespace TrainGuard.Pickle.Objects;

/// <summary>
/// Renders a <see cref="PyValue"/> as short Python-ish text for reports: <c>repr</c>-like for data,
/// <c>module.name(args)</c> for calls, <c>persistent_load(id)</c> for persistent ids. Depth, item count
/// and length are bounded (cycles render as <c>...</c>); control and non-ASCII-printable characters are escaped.
/// </summary>
public static class PyRender
{
    /// <summary>Renders with the given bounds: nesting <paramref name="maxDepth"/>, <paramref name="maxItems"/> per container, <paramref name="maxLength"/> characters in all.</summary>
    public static string ToText(PyValue value, int maxDepth = 4, int maxItems = 8, int maxLength = 240)
    {
        ArgumentNullException.ThrowIfNull(value);
        var sb = new StringBuilder();
        var w = new Writer(sb, Math.Max(maxItems, 1), Math.Max(maxLength, 8));
        w.Value(value, Math.Max(maxDepth, 0));
        if (sb.Length > w.MaxLength)
        {
            sb.Length = w.MaxLength - 1;
            sb.Append('…');
        }

        return sb.ToString();
    }

    private sealed class Writer(StringBuilder sb, int maxItems, int maxLength)
    {
        public int MaxLength { get; } = maxLength;

        private bool Full => sb.Length > MaxLength;

        public void Value(PyValue v, int depth)
        {
            if (Full)
            {
                return;
            }

            switch (v)
            {
                case PyNone:
                    sb.Append("None");
                    break;
                case PyBool b:
                    sb.Append(b.Value ? "True" : "False");
                    break;
                case PyInt i:
                    sb.Append(i.Value.ToString(CultureInfo.InvariantCulture));
                    break;
                case PyFloat f:
                    sb.Append(TextCodecs.FormatFloat(f.Value));
                    break;
                case PyStr s:
                    Str(s.Value);
                    break;
                case PyBytes b:
                    if (b.IsByteArray)
                    {
                        sb.Append("bytearray(");
                    }

                    Bytes(b.Value);
                    if (b.IsByteArray)
                    {
                        sb.Append(')');
                    }

                    break;
                case PyTuple t:
                    Seq("(", t.Items, t.Count == 1 ? ",)" : ")", depth);
                    break;
                case PyList l:
                    Seq("[", l.Items, "]", depth);
                    break;
                case PySet s:
                    if (s.Items.Count == 0)
                    {
                        sb.Append(s.IsFrozen ? "frozenset()" : "set()");
                    }
                    else
                    {
                        Seq(s.IsFrozen ? "frozenset({" : "{", s.Items, s.IsFrozen ? "})" : "}", depth);
                    }

                    break;
                case PyDict d:
                    Dict(d, depth);
                    break;
                case PyGlobal g:
                    Name(g.FullName);
                    break;
                case PyObject o:
                    Object(o, depth);
                    break;
                case PyPersistentRef p:
                    sb.Append("persistent_load(");
                    Child(p.Id, depth);
                    sb.Append(')');
                    break;
                case PyBuffer buf:
                    sb.Append("pickle.PickleBuffer(<out-of-band #").Append(buf.Index).Append(buf.IsReadOnly ? ", read-only>)" : ">)");
                    break;
                case PyExtension e:
                    sb.Append("copyreg.extension(").Append(e.Code).Append(')');
                    break;
                default:
                    sb.Append('?');
                    break;
            }
        }

        private void Child(PyValue v, int depth)
        {
            if (depth <= 0)
            {
                sb.Append("...");
                return;
            }

            Value(v, depth - 1);
        }

        private void Seq(string open, IReadOnlyList<PyValue> items, string close, int depth)
        {
            sb.Append(open);
            if (items.Count > 0 && depth <= 0)
            {
                sb.Append("...");
            }
            else
            {
                for (var i = 0; i < items.Count && !Full; i++)
                {
                    if (i > 0)
                    {
                        sb.Append(", ");
                    }

                    if (i >= maxItems)
                    {
                        sb.Append("... (").Append(items.Count).Append(" items)");
                        break;
                    }

                    Value(items[i], depth - 1);
                }
            }

            sb.Append(close);
        }

        private void Dict(PyDict d, int depth)
        {
            sb.Append('{');
            if (d.Count > 0 && depth <= 0)
            {
                sb.Append("...");
            }
            else
            {
                for (var i = 0; i < d.Count && !Full; i++)
                {
                    if (i > 0)
                    {
                        sb.Append(", ");
                    }

                    if (i >= maxItems)
                    {
                        sb.Append("... (").Append(d.Count).Append(" items)");
                        break;
                    }

                    Value(d.Items[i].Key, depth - 1);
                    sb.Append(": ");
                    Value(d.Items[i].Value, depth - 1);
                }
            }

            sb.Append('}');
        }

        private void Object(PyObject o, int depth)
        {
            if (o.Callable is PyGlobal g)
            {
                Name(g.FullName);
            }
            else
            {
                Child(o.Callable, depth);
            }

            if (o.How is PyCallKind.NewObj or PyCallKind.NewObjEx)
            {
                sb.Append(".__new__");
            }

            if (o.Args is PyTuple t)
            {
                Seq("(", t.Items, string.Empty, depth);
            }
            else
            {
                sb.Append("(*");
                Child(o.Args, depth);
            }

            if (o.Kwargs is PyDict kw && kw.Count > 0)
            {
                sb.Append(", **");
                Child(kw, depth);
            }

            sb.Append(')');
            if (o.Items is { Count: > 0 } items)
            {
                Dict(items, depth);
            }

            if (o.Appended.Count > 0)
            {
                Seq("[", o.Appended, "]", depth);
            }

            if (o.State is { } state)
            {
                sb.Append(".__setstate__(");
                Child(state, depth);
                sb.Append(')');
            }
        }

        private void Name(string name)
        {
            foreach (var c in name)
            {
                if (char.IsControl(c) || c > 0x7e)
                {
                    EscapeChar(c);
                }
                else
                {
                    sb.Append(c);
                }
            }
        }

        private void Str(string s)
        {
            var quote = s.Contains('\'', StringComparison.Ordinal) && !s.Contains('"', StringComparison.Ordinal) ? '"' : '\'';
            sb.Append(quote);
            foreach (var c in s)
            {
                if (Full)
                {
                    break;
                }

                switch (c)
                {
                    case '\\': sb.Append(@"\\"); break;
                    case '\n': sb.Append(@"\n"); break;
                    case '\r': sb.Append(@"\r"); break;
                    case '\t': sb.Append(@"\t"); break;
                    default:
                        if (c == quote)
                        {
                            sb.Append('\\').Append(c);
                        }
                        else if (char.IsControl(c) || char.IsSurrogate(c) || c is '\u2028' or '\u2029' or '\u200e' or '\u200f' or (>= '\u202a' and <= '\u202e') or (>= '\u2066' and <= '\u2069'))
                        {
                            EscapeChar(c);
                        }
                        else
                        {
                            sb.Append(c);
                        }

                        break;
                }
            }

            sb.Append(quote);
        }

        private void Bytes(byte[] bytes)
        {
            sb.Append("b'");
            foreach (var b in bytes)
            {
                if (Full)
                {
                    break;
                }

                if (b == (byte)'\\' || b == (byte)'\'')
                {
                    sb.Append('\\').Append((char)b);
                }
                else if (b is >= 0x20 and < 0x7f)
                {
                    sb.Append((char)b);
                }
                else
                {
                    sb.Append("\\x").Append(b.ToString("x2", CultureInfo.InvariantCulture));
                }
            }

            sb.Append('\'');
        }

        private void EscapeChar(char c) =>
            sb.Append(c <= 0xff ? "\\x" + ((int)c).ToString("x2", CultureInfo.InvariantCulture) : "\\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture));
    }
}
