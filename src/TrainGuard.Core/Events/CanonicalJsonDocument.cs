using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using TrainGuard.Parsing;

namespace TrainGuard.Events;

/// <summary>
/// One JSON value read straight from UTF-8 (a <see cref="Utf8JsonReader"/>) into a flat, reusable tree whose object
/// members are sorted the RFC 8785 way as each object closes, then written as canonical JSON. It produces the same
/// bytes as <see cref="CanonicalJson.Serialize"/> without building <c>JsonNode</c> objects: the server's event ingest
/// loads every event of a batch into one instance. Duplicate member names are refused (<see cref="MalformedInputException"/>)
/// while loading; a string that is not valid UTF-8 or holds a lone surrogate escape is refused when it is read or written
/// (so a member replaced with <see cref="SetString"/> before writing does not matter). Not thread-safe: reuse one instance.
/// </summary>
public sealed class CanonicalJsonDocument
{
    /// <summary>The loaded value's node.</summary>
    public const int Root = 0;

    /// <summary>"No such node".</summary>
    public const int None = -1;

    /// <summary>Below this many members an object is sorted by insertion, above it by merging.</summary>
    private const int InsertionSortLimit = 16;

    private static readonly byte[] HexDigits = "0123456789abcdef"u8.ToArray();

    private Node[] _nodes = new Node[64];
    private int _count;
    private byte[] _text = new byte[1024];
    private int _textLength;
    private int[] _stack = new int[16];
    private int[] _sort = new int[32];
    private byte[] _output = new byte[1024];
    private int _outputLength;
    private bool _hasLongIntegers;

    /// <summary>True when the loaded value holds a string (or name) that is not valid UTF-8 or has a lone surrogate escape.</summary>
    public bool HasUnreadableStrings { get; private set; }

    /// <summary>The canonical form of one complete JSON text.</summary>
    /// <exception cref="MalformedInputException">Not JSON, duplicate member names, unreadable strings, non-finite numbers or nesting over <see cref="CanonicalJson.MaxDepth"/>.</exception>
    public static byte[] Canonicalize(ReadOnlySpan<byte> json)
    {
        var document = new CanonicalJsonDocument();
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = CanonicalJson.MaxDepth });
        try
        {
            if (!reader.Read())
            {
                throw MalformedInputException.Create(InputErrorKind.Syntax, "not valid JSON: no value", 0);
            }

            document.Load(ref reader);
            if (reader.Read())
            {
                throw MalformedInputException.Create(InputErrorKind.Syntax, "not valid JSON: more than one value", reader.TokenStartIndex);
            }
        }
        catch (JsonException ex)
        {
            throw MalformedInputException.Create(InputErrorKind.Syntax, $"not valid JSON: {ex.Message}", ex.BytePositionInLine);
        }

        return document.Write().ToArray();
    }

    /// <summary>Fuzz target: canonicalising any bytes never throws anything but <see cref="MalformedInputException"/>.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data) => _ = Canonicalize(data);

    /// <summary>
    /// Loads the value whose first token <paramref name="reader"/> is on; the reader is left on the value's last token.
    /// Syntax errors surface as the reader's <see cref="JsonException"/>.
    /// </summary>
    /// <exception cref="MalformedInputException">An object repeats a member name.</exception>
    public void Load(ref Utf8JsonReader reader)
    {
        _count = 0;
        _textLength = 0;
        HasUnreadableStrings = false;
        _hasLongIntegers = false;
        var depth = 0;
        int nameStart = 0, nameLength = -1;
        bool nameEscaped = false, nameBroken = false;
        while (true)
        {
            var token = reader.TokenType;
            switch (token)
            {
                case JsonTokenType.PropertyName:
                    (nameStart, nameLength, nameEscaped, nameBroken) = AddText(ref reader);
                    break;
                case JsonTokenType.StartObject or JsonTokenType.StartArray:
                    var container = AddNode(token, depth == 0 ? None : _stack[depth - 1], nameStart, nameLength, nameEscaped, nameBroken, reader.TokenStartIndex);
                    nameLength = -1;
                    if (depth == _stack.Length)
                    {
                        Array.Resize(ref _stack, depth * 2);
                    }

                    _stack[depth++] = container;
                    break;
                case JsonTokenType.EndObject or JsonTokenType.EndArray:
                    var closed = _stack[--depth];
                    if (token == JsonTokenType.EndObject)
                    {
                        SortMembers(closed, reader.TokenStartIndex);
                    }

                    break;
                default:
                    var (start, length, escaped, broken) = token == JsonTokenType.String ? AddText(ref reader) : AddRaw(reader.ValueSpan);
                    if (token == JsonTokenType.Number && length > 15 && !_hasLongIntegers)
                    {
                        _hasLongIntegers = IsLongIntegerLiteral(_text.AsSpan(start, length));
                    }

                    var node = AddNode(token, depth == 0 ? None : _stack[depth - 1], nameStart, nameLength, nameEscaped, nameBroken, reader.TokenStartIndex);
                    ref var value = ref _nodes[node];
                    value.ValueStart = start;
                    value.ValueLength = length;
                    value.ValueEscaped = escaped;
                    value.ValueBroken = broken;
                    nameLength = -1;
                    break;
            }

            if (depth == 0)
            {
                return;
            }

            if (!reader.Read())
            {
                throw MalformedInputException.Create(InputErrorKind.Truncated, "the JSON value is truncated", reader.BytesConsumed);
            }
        }
    }

    /// <summary>The kind of <paramref name="node"/>: StartObject, StartArray, String, Number, True, False or Null.</summary>
    public JsonTokenType Kind(int node) => _nodes[node].Kind;

    /// <summary>The member of object <paramref name="obj"/> named <paramref name="name"/> (UTF-8, unescaped), or <see cref="None"/>.</summary>
    public int FindMember(int obj, ReadOnlySpan<byte> name)
    {
        if (obj == None || _nodes[obj].Kind != JsonTokenType.StartObject)
        {
            return None;
        }

        for (var child = _nodes[obj].FirstChild; child != None; child = _nodes[child].Next)
        {
            if (NameOf(child).SequenceEqual(name))
            {
                return child;
            }
        }

        return None;
    }

    /// <summary>The unescaped UTF-8 of a string node (of a number node: its text); false when it is neither or unreadable.</summary>
    public bool TryGetUtf8(int node, out ReadOnlySpan<byte> utf8)
    {
        ref var n = ref _nodes[node];
        if (n.Kind is not (JsonTokenType.String or JsonTokenType.Number) || n.ValueBroken)
        {
            utf8 = default;
            return false;
        }

        utf8 = _text.AsSpan(n.ValueStart, n.ValueLength);
        return true;
    }

    /// <summary>Sets member <paramref name="name"/> of object <paramref name="obj"/> to a string (UTF-8), replacing whatever it held.</summary>
    public void SetString(int obj, ReadOnlySpan<byte> name, ReadOnlySpan<byte> utf8Value)
    {
        var (valueStart, valueLength, _, _) = AddRaw(utf8Value);
        var node = SetMember(obj, name, JsonTokenType.String);
        ref var n = ref _nodes[node];
        n.ValueStart = valueStart;
        n.ValueLength = valueLength;
        n.ValueEscaped = true;
    }

    /// <summary>Sets member <paramref name="name"/> of object <paramref name="obj"/> to <c>true</c> or <c>false</c>, replacing whatever it held.</summary>
    public void SetBoolean(int obj, ReadOnlySpan<byte> name, bool value) =>
        SetMember(obj, name, value ? JsonTokenType.True : JsonTokenType.False);

    /// <summary>Sets member <paramref name="name"/> of object <paramref name="obj"/> to an empty object, replacing whatever it held; returns the new object's node.</summary>
    public int SetObject(int obj, ReadOnlySpan<byte> name) => SetMember(obj, name, JsonTokenType.StartObject);

    /// <summary>
    /// True when the loaded value holds an integer literal (digits, no fraction or exponent) that canonical JSON would
    /// write as another integer: beyond 2^53 RFC 8785 writes the nearest double's shortest digits instead.
    /// <paramref name="path"/> names where (dotted member names, <c>[i]</c> for array items), <paramref name="digits"/> the literal.
    /// </summary>
    public bool TryFindRoundedInteger([NotNullWhen(true)] out string? path, [NotNullWhen(true)] out string? digits)
    {
        path = null;
        digits = null;
        if (!_hasLongIntegers || _count == 0)
        {
            return false;
        }

        var found = Find(Root, string.Empty, out var node, out var where);
        if (found)
        {
            path = where;
            digits = Encoding.ASCII.GetString(_text.AsSpan(_nodes[node].ValueStart, _nodes[node].ValueLength));
        }

        return found;

        bool Find(int at, string prefix, out int hit, out string? hitPath)
        {
            ref var n = ref _nodes[at];
            if (n.Kind == JsonTokenType.Number)
            {
                hit = at;
                hitPath = prefix;
                return IsRoundedInteger(_text.AsSpan(n.ValueStart, n.ValueLength));
            }

            var item = 0;
            for (var child = n.FirstChild; child != None && n.Kind is JsonTokenType.StartObject or JsonTokenType.StartArray; child = _nodes[child].Next, item++)
            {
                var childPath = n.Kind == JsonTokenType.StartArray
                    ? $"{prefix}[{item}]"
                    : (prefix.Length == 0 ? string.Empty : prefix + ".") + Encoding.UTF8.GetString(NameOf(child));
                if (Find(child, childPath, out hit, out hitPath))
                {
                    return true;
                }
            }

            hit = None;
            hitPath = null;
            return false;
        }
    }

    /// <summary>
    /// An integer literal whose RFC 8785 form reads as another integer: ECMAScript writes the shortest digits that give
    /// back the same double and pads them with zeros, so 2^53 + 1 becomes 9007199254740992 and even 2^60, which a
    /// double holds exactly, becomes 1152921504606847000. Only a change of form (10^21 as <c>1e+21</c>) keeps the value.
    /// </summary>
    private static bool IsRoundedInteger(ReadOnlySpan<byte> text)
    {
        if (!IsLongIntegerLiteral(text)
            || !double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value)
            || !BigInteger.TryParse(Encoding.ASCII.GetString(text), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var exact))
        {
            // Beyond a double's range the canonical form refuses the number (Write throws); that is not a silent change.
            return false;
        }

        return IntegerOf(CanonicalJson.FormatNumber(value)) != exact;
    }

    /// <summary>The integer a canonical number of magnitude at least 1 and no fraction denotes: <c>-?digits</c> or <c>-?d[.ddd]e+N</c>.</summary>
    private static BigInteger IntegerOf(string canonical)
    {
        var e = canonical.IndexOf('e', StringComparison.Ordinal);
        if (e < 0)
        {
            return BigInteger.Parse(canonical, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        }

        var mantissa = canonical[..e];
        var exponent = int.Parse(canonical.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        var point = mantissa.IndexOf('.', StringComparison.Ordinal);
        var fraction = point < 0 ? 0 : mantissa.Length - point - 1;
        var digits = BigInteger.Parse(mantissa.Replace(".", string.Empty, StringComparison.Ordinal), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        return digits * BigInteger.Pow(10, exponent - fraction);
    }

    /// <summary>An integer literal of more than 15 digits (optionally negative): the only kind a double may not hold exactly.</summary>
    private static bool IsLongIntegerLiteral(ReadOnlySpan<byte> text)
    {
        var digits = text.Length > 0 && text[0] == '-' ? text[1..] : text;
        return digits.Length > 15 && !digits.ContainsAnyExceptInRange((byte)'0', (byte)'9');
    }

    /// <summary>Replaces member <paramref name="name"/> of <paramref name="obj"/> with an empty node of <paramref name="kind"/>, or inserts one at its sorted place.</summary>
    private int SetMember(int obj, ReadOnlySpan<byte> name, JsonTokenType kind)
    {
        if (_nodes[obj].Kind != JsonTokenType.StartObject)
        {
            throw new ArgumentException("not an object node", nameof(obj));
        }

        var existing = FindMember(obj, name);
        if (existing != None)
        {
            ref var n = ref _nodes[existing];
            n.Kind = kind;
            n.ValueStart = 0;
            n.ValueLength = 0;
            n.ValueEscaped = false;
            n.ValueBroken = false;
            n.FirstChild = None;
            n.LastChild = None;
            n.Count = 0;
            return existing;
        }

        var (nameStart, nameLength, _, _) = AddRaw(name);
        var node = NewNode(kind, nameStart, nameLength, nameEscaped: true, nameBroken: false, position: 0);

        // Insert at the sorted position.
        var previous = None;
        var current = _nodes[obj].FirstChild;
        while (current != None && CompareNames(NameOf(current), name) < 0)
        {
            previous = current;
            current = _nodes[current].Next;
        }

        _nodes[node].Next = current;
        if (previous == None)
        {
            _nodes[obj].FirstChild = node;
        }
        else
        {
            _nodes[previous].Next = node;
        }

        return node;
    }

    /// <summary>
    /// The canonical form of the loaded value, valid until the next <see cref="Load"/> or <see cref="Write"/>.
    /// </summary>
    /// <exception cref="MalformedInputException">The value holds a string that cannot be read or a number outside the range of a double.</exception>
    public ReadOnlySpan<byte> Write()
    {
        _outputLength = 0;
        if (_count > 0)
        {
            WriteNode(Root);
        }

        return _output.AsSpan(0, _outputLength);
    }

    /// <summary>Compares UTF-8 names in the order of their UTF-16 code units (RFC 8785 section 3.2.3).</summary>
    public static int CompareNames(ReadOnlySpan<byte> x, ReadOnlySpan<byte> y)
    {
        var i = x.CommonPrefixLength(y);
        if (i == x.Length || i == y.Length)
        {
            return x.Length - y.Length;
        }

        // UTF-8 byte order is code point order, which is UTF-16 order except that U+10000 and above
        // (lead bytes F0..F4, surrogates D800..DFFF in UTF-16) sort before U+E000..U+FFFF (lead bytes EE, EF).
        var a = x[i];
        var b = y[i];
        if (a >= 0xF0 && b is 0xEE or 0xEF)
        {
            return -1;
        }

        if (b >= 0xF0 && a is 0xEE or 0xEF)
        {
            return 1;
        }

        return a - b;
    }

    private ReadOnlySpan<byte> NameOf(int node) => _text.AsSpan(_nodes[node].NameStart, _nodes[node].NameLength);

    private int AddNode(JsonTokenType kind, int parent, int nameStart, int nameLength, bool nameEscaped, bool nameBroken, long position)
    {
        var node = NewNode(kind, nameStart, nameLength, nameEscaped, nameBroken, position);
        if (parent != None)
        {
            ref var p = ref _nodes[parent];
            if (p.FirstChild == None)
            {
                p.FirstChild = node;
            }
            else
            {
                _nodes[p.LastChild].Next = node;
            }

            p.LastChild = node;
            p.Count++;
        }

        return node;
    }

    private int NewNode(JsonTokenType kind, int nameStart, int nameLength, bool nameEscaped, bool nameBroken, long position)
    {
        if (_count == _nodes.Length)
        {
            Array.Resize(ref _nodes, _count * 2);
        }

        var node = _count++;
        _nodes[node] = new Node
        {
            Kind = kind,
            NameStart = nameStart,
            NameLength = nameLength,
            NameEscaped = nameEscaped,
            NameBroken = nameBroken,
            Position = position,
            FirstChild = None,
            LastChild = None,
            Next = None,
        };
        return node;
    }

    /// <summary>Copies a string token's unescaped UTF-8 into the text buffer; a bad one keeps its raw bytes and is marked broken.</summary>
    private (int Start, int Length, bool Escaped, bool Broken) AddText(ref Utf8JsonReader reader)
    {
        ReadOnlySpan<byte> raw = reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan;
        if (!reader.ValueIsEscaped)
        {
            if (Utf8.IsValid(raw))
            {
                return AddRaw(raw);
            }

            HasUnreadableStrings = true;
            return AddRaw(raw) with { Broken = true };
        }

        // Unescaping never makes a string longer.
        EnsureText(raw.Length);
        try
        {
            var written = reader.CopyString(_text.AsSpan(_textLength, raw.Length));
            var start = _textLength;
            _textLength += written;
            return (start, written, true, false);
        }
        catch (InvalidOperationException)
        {
            // An escape that is not valid UTF-16 (a lone surrogate) or bytes that are not UTF-8.
            HasUnreadableStrings = true;
            return AddRaw(raw) with { Broken = true };
        }
    }

    private (int Start, int Length, bool Escaped, bool Broken) AddRaw(ReadOnlySpan<byte> bytes)
    {
        EnsureText(bytes.Length);
        var start = _textLength;
        bytes.CopyTo(_text.AsSpan(start));
        _textLength += bytes.Length;
        return (start, bytes.Length, false, false);
    }

    private void EnsureText(int more)
    {
        if (_text.Length - _textLength < more)
        {
            Array.Resize(ref _text, Math.Max(_text.Length * 2, checked(_textLength + more)));
        }
    }

    private void SortMembers(int obj, long position)
    {
        var count = _nodes[obj].Count;
        if (count < 2)
        {
            return;
        }

        if (_sort.Length < 2 * count)
        {
            _sort = new int[Math.Max(_sort.Length * 2, 2 * count)];
        }

        var members = _sort.AsSpan(0, count);
        var i = 0;
        for (var child = _nodes[obj].FirstChild; child != None; child = _nodes[child].Next)
        {
            members[i++] = child;
        }

        if (count <= InsertionSortLimit)
        {
            InsertionSort(members);
        }
        else
        {
            MergeSort(members, _sort.AsSpan(count, count));
        }

        for (i = 1; i < count; i++)
        {
            if (NameOf(members[i - 1]).SequenceEqual(NameOf(members[i])))
            {
                var name = Encoding.UTF8.GetString(NameOf(members[i]));
                throw MalformedInputException.Create(
                    InputErrorKind.Corrupt,
                    $"the object ending at byte {position} repeats the member name \"{name}\"; canonical JSON (RFC 8785) has no meaning for duplicate names",
                    position);
            }
        }

        _nodes[obj].FirstChild = members[0];
        for (i = 1; i < count; i++)
        {
            _nodes[members[i - 1]].Next = members[i];
        }

        _nodes[members[count - 1]].Next = None;
        _nodes[obj].LastChild = members[count - 1];
    }

    private void InsertionSort(Span<int> members)
    {
        for (var i = 1; i < members.Length; i++)
        {
            var item = members[i];
            var j = i - 1;
            while (j >= 0 && CompareNames(NameOf(members[j]), NameOf(item)) > 0)
            {
                members[j + 1] = members[j];
                j--;
            }

            members[j + 1] = item;
        }
    }

    /// <summary>Bottom-up merge sort (stable, O(n log n) even for hostile objects with many members).</summary>
    private void MergeSort(Span<int> members, Span<int> scratch)
    {
        var source = members;
        var target = scratch;
        for (var width = 1; width < members.Length; width *= 2)
        {
            for (var left = 0; left < members.Length; left += 2 * width)
            {
                var middle = Math.Min(left + width, members.Length);
                var right = Math.Min(left + (2 * width), members.Length);
                int a = left, b = middle, k = left;
                while (a < middle && b < right)
                {
                    target[k++] = CompareNames(NameOf(source[a]), NameOf(source[b])) <= 0 ? source[a++] : source[b++];
                }

                while (a < middle)
                {
                    target[k++] = source[a++];
                }

                while (b < right)
                {
                    target[k++] = source[b++];
                }
            }

            var swap = source;
            source = target;
            target = swap;
        }

        if (source != members)
        {
            source.CopyTo(members);
        }
    }

    private void WriteNode(int node)
    {
        ref var n = ref _nodes[node];
        switch (n.Kind)
        {
            case JsonTokenType.StartObject:
                WriteByte((byte)'{');
                for (var child = n.FirstChild; child != None; child = _nodes[child].Next)
                {
                    if (child != n.FirstChild)
                    {
                        WriteByte((byte)',');
                    }

                    if (_nodes[child].NameBroken)
                    {
                        ThrowUnreadable(child);
                    }

                    WriteString(NameOf(child), _nodes[child].NameEscaped);
                    WriteByte((byte)':');
                    WriteNode(child);
                }

                WriteByte((byte)'}');
                break;
            case JsonTokenType.StartArray:
                WriteByte((byte)'[');
                for (var child = n.FirstChild; child != None; child = _nodes[child].Next)
                {
                    if (child != n.FirstChild)
                    {
                        WriteByte((byte)',');
                    }

                    WriteNode(child);
                }

                WriteByte((byte)']');
                break;
            case JsonTokenType.String:
                if (n.ValueBroken)
                {
                    ThrowUnreadable(node);
                }

                WriteString(_text.AsSpan(n.ValueStart, n.ValueLength), n.ValueEscaped);
                break;
            case JsonTokenType.Number:
                WriteNumber(_text.AsSpan(n.ValueStart, n.ValueLength));
                break;
            case JsonTokenType.True:
                WriteBytes("true"u8);
                break;
            case JsonTokenType.False:
                WriteBytes("false"u8);
                break;
            default:
                WriteBytes("null"u8);
                break;
        }
    }

    [DoesNotReturn]
    private void ThrowUnreadable(int node) =>
        throw MalformedInputException.Create(InputErrorKind.Syntax, $"the string at byte {_nodes[node].Position} cannot be read: it is not valid UTF-8 or holds a lone surrogate escape", _nodes[node].Position);

    /// <summary>Writes a string; <paramref name="mayNeedEscaping"/> is false for raw JSON string bytes that had no escapes (already canonical).</summary>
    private void WriteString(ReadOnlySpan<byte> utf8, bool mayNeedEscaping)
    {
        if (!mayNeedEscaping || utf8.IndexOfAny(EscapedBytes) < 0)
        {
            Ensure(utf8.Length + 2);
            _output[_outputLength++] = (byte)'"';
            utf8.CopyTo(_output.AsSpan(_outputLength));
            _outputLength += utf8.Length;
            _output[_outputLength++] = (byte)'"';
            return;
        }

        WriteByte((byte)'"');
        foreach (var b in utf8)
        {
            switch (b)
            {
                case (byte)'"': WriteBytes("\\\""u8); continue;
                case (byte)'\\': WriteBytes("\\\\"u8); continue;
                case (byte)'\b': WriteBytes("\\b"u8); continue;
                case (byte)'\f': WriteBytes("\\f"u8); continue;
                case (byte)'\n': WriteBytes("\\n"u8); continue;
                case (byte)'\r': WriteBytes("\\r"u8); continue;
                case (byte)'\t': WriteBytes("\\t"u8); continue;
            }

            if (b < 0x20)
            {
                WriteBytes("\\u00"u8);
                WriteByte(HexDigits[b >> 4]);
                WriteByte(HexDigits[b & 0xF]);
                continue;
            }

            WriteByte(b);
        }

        WriteByte((byte)'"');
    }

    private static readonly SearchValues<byte> EscapedBytes = SearchValues.Create(
        [(byte)'"', (byte)'\\', 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31]);

    private void WriteNumber(ReadOnlySpan<byte> text)
    {
        if (IsExactInteger(text))
        {
            WriteBytes(text);
            return;
        }

        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
        {
            throw MalformedInputException.Create(InputErrorKind.Syntax, $"unreadable JSON number {Encoding.UTF8.GetString(text)}", offset: null);
        }

        var formatted = CanonicalJson.FormatNumber(value);
        Ensure(formatted.Length);
        for (var i = 0; i < formatted.Length; i++)
        {
            _output[_outputLength++] = (byte)formatted[i];
        }
    }

    /// <summary>
    /// An integer of at most 15 digits other than <c>-0</c>: a double holds it exactly and ECMAScript prints it as written
    /// (JSON has no leading zeros), so the text is already canonical.
    /// </summary>
    private static bool IsExactInteger(ReadOnlySpan<byte> text)
    {
        var digits = text.Length > 0 && text[0] == '-' ? text[1..] : text;
        return digits.Length is > 0 and <= 15 && !digits.ContainsAnyExceptInRange((byte)'0', (byte)'9') &&
               !(digits.Length != text.Length && digits[0] == '0');
    }

    private void WriteByte(byte b)
    {
        Ensure(1);
        _output[_outputLength++] = b;
    }

    private void WriteBytes(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_output.AsSpan(_outputLength));
        _outputLength += bytes.Length;
    }

    private void Ensure(int more)
    {
        if (_output.Length - _outputLength < more)
        {
            Array.Resize(ref _output, Math.Max(_output.Length * 2, checked(_outputLength + more)));
        }
    }

    private struct Node
    {
        public JsonTokenType Kind;
        public bool NameEscaped;
        public bool NameBroken;
        public bool ValueEscaped;
        public bool ValueBroken;
        public long Position;
        public int NameStart;
        public int NameLength;
        public int ValueStart;
        public int ValueLength;
        public int FirstChild;
        public int LastChild;
        public int Next;
        public int Count;
    }
}
