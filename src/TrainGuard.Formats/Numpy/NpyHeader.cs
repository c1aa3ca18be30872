using System.Buffers.Binary;
using System.Text;
using TrainGuard.Parsing;
using TrainGuard.Pickle.Objects;

namespace TrainGuard.Formats.Numpy;

/// <summary>One field of a structured dtype (<c>descr</c> given as a list).</summary>
/// <param name="Name">Field name (the name part when a (title, name) pair is given).</param>
/// <param name="Descr">The field's dtype string, or the rendered nested list for a nested structure.</param>
/// <param name="Shape">Sub-array shape (empty for a scalar field).</param>
/// <param name="IsObject">True when the field (or a nested field) is an object ('O') type.</param>
public sealed record NpyField(string Name, string Descr, IReadOnlyList<long> Shape, bool IsObject);

/// <summary>
/// The header of a numpy <c>.npy</c> file (format versions 1.0, 2.0 and 3.0), its dict literal parsed without
/// evaluation. An object dtype anywhere (<see cref="IsObjectDtype"/>) means the data after the header is a pickle.
/// </summary>
public sealed record NpyHeader
{
    /// <summary>Default bound on the header dict's length (numpy itself refuses more than 10,000 bytes from untrusted files).</summary>
    public const int DefaultMaxHeaderBytes = 1024 * 1024;

    /// <summary>Length of the fixed preamble before the length field: magic (6) and version (2).</summary>
    public const int PreambleSize = 8;

    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    public required int MajorVersion { get; init; }

    public required int MinorVersion { get; init; }

    /// <summary>Length of the dict literal (with its padding).</summary>
    public required int HeaderLength { get; init; }

    /// <summary>Offset of the array data (or of the pickle, for object dtypes).</summary>
    public required long DataOffset { get; init; }

    /// <summary>The descr: the dtype string, or a rendering of the structured list.</summary>
    public required string Descr { get; init; }

    /// <summary>True when descr is a list (structured dtype); see <see cref="Fields"/>.</summary>
    public required bool IsStructured { get; init; }

    public required IReadOnlyList<NpyField> Fields { get; init; }

    public required bool FortranOrder { get; init; }

    public required IReadOnlyList<long> Shape { get; init; }

    /// <summary>An object ('O') type anywhere in descr: the data is a pickle, to be analysed as one.</summary>
    public required bool IsObjectDtype { get; init; }

    /// <summary>Bytes per element, null for object dtypes.</summary>
    public required long? ItemSize { get; init; }

    /// <summary>product(shape) × itemsize: the data length a well-formed file has after the header (null for object dtypes).</summary>
    public required long? DataByteLength { get; init; }

    /// <summary>
    /// From the first 12 bytes, the total size of magic, version, length and header (where data starts), so a
    /// caller knows how many bytes to pass to <see cref="Parse"/>.
    /// </summary>
    public static long GetDataOffset(ReadOnlySpan<byte> prefix)
    {
        var (_, _, lengthSize) = ReadVersion(prefix);
        if (prefix.Length < PreambleSize + lengthSize)
        {
            MalformedInputException.ThrowTruncated("npy header length", prefix.Length);
        }

        long length = lengthSize == 2 ? BinaryPrimitives.ReadUInt16LittleEndian(prefix[PreambleSize..]) : BinaryPrimitives.ReadUInt32LittleEndian(prefix[PreambleSize..]);
        return PreambleSize + lengthSize + length;
    }

    /// <summary>Parses the header at the start of <paramref name="data"/> (which must hold at least the whole header).</summary>
    public static NpyHeader Parse(ReadOnlySpan<byte> data) => Parse(data, DefaultMaxHeaderBytes);

    public static NpyHeader Parse(ReadOnlySpan<byte> data, int maxHeaderBytes)
    {
        var (major, minor, lengthSize) = ReadVersion(data);
        if (data.Length < PreambleSize + lengthSize)
        {
            MalformedInputException.ThrowTruncated("npy header length", data.Length);
        }

        var declared = lengthSize == 2 ? BinaryPrimitives.ReadUInt16LittleEndian(data[PreambleSize..]) : BinaryPrimitives.ReadUInt32LittleEndian(data[PreambleSize..]);
        if (declared > (uint)maxHeaderBytes)
        {
            MalformedInputException.ThrowLimit($"npy header length {declared:N0}", maxHeaderBytes, PreambleSize);
        }

        var headerStart = PreambleSize + lengthSize;
        if (declared > (uint)(data.Length - headerStart))
        {
            MalformedInputException.ThrowTruncated($"npy header of {declared:N0} bytes", data.Length);
        }

        var raw = data.Slice(headerStart, (int)declared);
        string text;
        if (major == 3)
        {
            if (!System.Text.Unicode.Utf8.IsValid(raw))
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, "npy 3.0 header is not valid UTF-8", headerStart);
            }

            text = Encoding.UTF8.GetString(raw);
        }
        else
        {
            text = Encoding.Latin1.GetString(raw);
        }

        var literal = PythonLiteral.Parse(text, headerStart);
        if (literal is not PyDict dict)
        {
            return MalformedInputException.Throw<NpyHeader>(InputErrorKind.Syntax, "npy header is not a dict literal", headerStart);
        }

        PyValue? descr = null;
        PyValue? fortran = null;
        PyValue? shape = null;
        foreach (var (key, value) in dict.Items)
        {
            switch (key)
            {
                case PyStr { Value: "descr" } when descr is null:
                    descr = value;
                    break;
                case PyStr { Value: "fortran_order" } when fortran is null:
                    fortran = value;
                    break;
                case PyStr { Value: "shape" } when shape is null:
                    shape = value;
                    break;
                default:
                    MalformedInputException.Throw(InputErrorKind.Syntax, $"npy header has an unexpected or repeated key {Render(key)} (only descr, fortran_order, shape)", headerStart);
                    break;
            }
        }

        if (descr is null || fortran is null || shape is null)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "npy header lacks one of descr, fortran_order, shape", headerStart);
        }

        if (fortran is not PyBool fortranOrder)
        {
            return MalformedInputException.Throw<NpyHeader>(InputErrorKind.Syntax, "npy fortran_order is not True/False", headerStart);
        }

        var dims = ReadShape(shape, "shape", headerStart);
        var fields = new List<NpyField>();
        string descrText;
        bool isObject;
        long? itemSize;
        var structured = false;
        switch (descr)
        {
            case PyStr s:
                descrText = s.Value;
                (isObject, itemSize) = SimpleDtype(s.Value, headerStart);
                break;
            case PyList list:
                structured = true;
                descrText = Render(list);
                (isObject, itemSize) = StructuredDtype(list, fields, headerStart, 0);
                break;
            default:
                return MalformedInputException.Throw<NpyHeader>(InputErrorKind.Syntax, $"npy descr {Render(descr)} is neither a dtype string nor a field list", headerStart);
        }

        long? dataLength = null;
        if (!isObject)
        {
            dataLength = CheckedProduct(dims, itemSize!.Value, headerStart);
        }

        return new NpyHeader
        {
            MajorVersion = major,
            MinorVersion = minor,
            HeaderLength = (int)declared,
            DataOffset = headerStart + declared,
            Descr = descrText,
            IsStructured = structured,
            Fields = fields,
            FortranOrder = fortranOrder.Value,
            Shape = dims,
            IsObjectDtype = isObject,
            ItemSize = isObject ? null : itemSize,
            DataByteLength = dataLength,
        };
    }

    /// <summary>
    /// Checks that a file of <paramref name="totalLength"/> bytes holds all the data the header promises (non-object
    /// dtypes); more bytes than promised is also refused, since they would be hidden from numpy.
    /// </summary>
    public void CheckDataLength(long totalLength)
    {
        if (DataByteLength is not { } expected)
        {
            return;
        }

        var actual = totalLength - DataOffset;
        if (actual < expected)
        {
            MalformedInputException.ThrowTruncated($"npy data of {expected:N0} bytes (only {Math.Max(0, actual):N0} present)", Math.Max(DataOffset, totalLength));
        }

        if (actual > expected)
        {
            MalformedInputException.Throw(InputErrorKind.Corrupt, $"{actual - expected:N0} bytes after the npy data that numpy never reads", DataOffset + expected);
        }
    }

    /// <summary>Fuzz target: only <see cref="Parsing.MalformedInputException"/> may escape.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        if (data.Length >= 12)
        {
            _ = GetDataOffset(data);
        }

        var header = Parse(data, 64 * 1024);
        header.CheckDataLength(data.Length);
    }

    private static (int Major, int Minor, int LengthSize) ReadVersion(ReadOnlySpan<byte> data)
    {
        if (data.Length < PreambleSize)
        {
            MalformedInputException.ThrowTruncated("npy magic and version", data.Length);
        }

        if (!data.StartsWith(Magic))
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "not an npy file (no \\x93NUMPY magic)", 0);
        }

        int major = data[6];
        int minor = data[7];
        if (major is < 1 or > 3 || minor != 0)
        {
            MalformedInputException.Throw(InputErrorKind.Unsupported, $"unsupported npy format version {major}.{minor}", 6);
        }

        return (major, minor, major == 1 ? 2 : 4);
    }

    private static List<long> ReadShape(PyValue value, string what, long offset)
    {
        var items = value switch
        {
            PyTuple t => t.Items,
            PyInt i => [i],
            _ => MalformedInputException.Throw<IReadOnlyList<PyValue>>(InputErrorKind.Syntax, $"npy {what} is not a tuple of integers", offset),
        };
        var dims = new List<long>(items.Count);
        foreach (var item in items)
        {
            if (item is not PyInt || item.AsInt64() is not (>= 0 and var dim))
            {
                return MalformedInputException.Throw<List<long>>(InputErrorKind.Syntax, $"npy {what} holds {Render(item)}, not a non-negative integer", offset);
            }

            dims.Add(dim);
        }

        return dims;
    }

    private static long CheckedProduct(IReadOnlyList<long> dims, long itemSize, long offset)
    {
        try
        {
            var total = itemSize;
            foreach (var dim in dims)
            {
                total = checked(total * dim);
            }

            return total;
        }
        catch (OverflowException)
        {
            return MalformedInputException.Throw<long>(InputErrorKind.Syntax, "npy shape × itemsize overflows", offset);
        }
    }

    /// <summary>Object-ness and item size of a dtype string like <c>&lt;f8</c>, <c>|O</c>, <c>&lt;U10</c>, <c>&lt;M8[ns]</c>.</summary>
    internal static (bool IsObject, long ItemSize) SimpleDtype(string descr, long offset)
    {
        var text = descr.AsSpan();
        if (!text.IsEmpty && text[0] is '<' or '>' or '|' or '=')
        {
            text = text[1..];
        }

        if (text.IsEmpty)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"npy dtype '{descr}' is empty", offset);
        }

        var kind = text[0];
        var rest = text[1..];
        var bracket = rest.IndexOf('[');
        if (bracket >= 0)
        {
            if (kind is not ('M' or 'm') || !rest.EndsWith("]"))
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, $"npy dtype '{descr}' is not understood", offset);
            }

            rest = rest[..bracket];
        }

        long count = 0;
        if (!rest.IsEmpty && (!long.TryParse(rest, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out count) || count < 0))
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"npy dtype '{descr}' has a bad size", offset);
        }

        switch (kind)
        {
            case 'O':
                return (true, 8);
            case '?':
                return (false, 1);
            case 'b' or 'i' or 'u' or 'f' or 'c' when !rest.IsEmpty && count > 0:
            case 'M' or 'm' when !rest.IsEmpty && count > 0:
            case 'S' or 'a' or 'V' when !rest.IsEmpty:
                return (false, count);
            case 'U' when !rest.IsEmpty:
                if (count > long.MaxValue / 4)
                {
                    MalformedInputException.Throw(InputErrorKind.Syntax, $"npy dtype '{descr}' is too large", offset);
                }

                return (false, count * 4);
            default:
                return MalformedInputException.Throw<(bool, long)>(InputErrorKind.Syntax, $"npy dtype '{descr}' is not understood", offset);
        }
    }

    private static (bool IsObject, long ItemSize) StructuredDtype(PyList list, List<NpyField>? fields, long offset, int depth)
    {
        if (depth > PythonLiteral.MaxDepth)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "npy structured dtype nests too deeply", offset);
        }

        var anyObject = false;
        long size = 0;
        foreach (var item in list.Items)
        {
            if (item is not PyTuple { Items.Count: 2 or 3 } field)
            {
                return MalformedInputException.Throw<(bool, long)>(InputErrorKind.Syntax, $"npy structured descr item {Render(item)} is not (name, dtype[, shape])", offset);
            }

            var name = field.Items[0] switch
            {
                PyStr s => s.Value,
                PyTuple { Items: [PyStr, PyStr n] } => n.Value,
                _ => MalformedInputException.Throw<string>(InputErrorKind.Syntax, $"npy structured field name {Render(field.Items[0])} is not a string", offset),
            };
            var subShape = field.Items.Count == 3 ? ReadShape(field.Items[2], $"field '{name}' shape", offset) : [];
            bool isObject;
            long itemSize;
            string fieldDescr;
            switch (field.Items[1])
            {
                case PyStr s:
                    fieldDescr = s.Value;
                    (isObject, itemSize) = SimpleDtype(s.Value, offset);
                    break;
                case PyList nested:
                    fieldDescr = Render(nested);
                    (isObject, itemSize) = StructuredDtype(nested, null, offset, depth + 1);
                    break;
                default:
                    return MalformedInputException.Throw<(bool, long)>(InputErrorKind.Syntax, $"npy structured field '{name}' dtype {Render(field.Items[1])} is not understood", offset);
            }

            fields?.Add(new NpyField(name, fieldDescr, subShape, isObject));
            anyObject |= isObject;
            var fieldSize = CheckedProduct(subShape, itemSize, offset);
            if (fieldSize > long.MaxValue - size)
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, "npy structured dtype size overflows", offset);
            }

            size += fieldSize;
        }

        return (anyObject, size);
    }

    /// <summary>Renders a literal back as Python source (for messages and <see cref="Descr"/>).</summary>
    public static string Render(PyValue value) => value switch
    {
        PyStr s => "'" + s.Value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'",
        PyInt i => i.Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
        PyBool b => b.Value ? "True" : "False",
        PyNone => "None",
        PyTuple t => "(" + string.Join(", ", t.Items.Select(Render)) + (t.Items.Count == 1 ? ",)" : ")"),
        PyList l => "[" + string.Join(", ", l.Items.Select(Render)) + "]",
        PyDict d => "{" + string.Join(", ", d.Items.Select(kv => Render(kv.Key) + ": " + Render(kv.Value))) + "}",
        _ => "?",
    };
}
