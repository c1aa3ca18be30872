using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text;
using System.Text.Unicode;
using TrainGuard.Parsing;

namespace TrainGuard.Detections.Matching;

/// <summary>What a value read from an event is.</summary>
internal enum ValueKind : byte
{
    String,
    Number,
    True,
    False,
    Null,
    Object,
    Array,
}

/// <summary>
/// One value of a field: its kind, where its JSON text is, its text in the view's character buffer once a test has
/// asked for it (strings and numbers are decoded from UTF-8 on first use: most values no candidate rule reads are
/// never decoded), and the next value of the same field.
/// </summary>
internal struct EventValue
{
    public ValueKind Kind;

    /// <summary>The raw string holds escapes (decoded by <see cref="EventView"/>'s unescaper).</summary>
    public bool Escaped;

    /// <summary><see cref="Start"/> and <see cref="Length"/> hold the decoded text.</summary>
    public bool Decoded;

    /// <summary>The field's <see cref="InfixPrefilter"/> on this value: 0 not run yet, 1 found a value, 2 found none.</summary>
    public byte Infix;
    public int RawStart;
    public int RawLength;
    public int Start;
    public int Length;
    public int Next;

    /// <summary>Strings, numbers and booleans have a text; null, objects and arrays do not.</summary>
    public readonly bool IsScalar => Kind <= ValueKind.False;
}

/// <summary>
/// One event as the matchers see it: the values of the fields the rule set reads, found in the JSON in one pass
/// (nested ECS objects, flattened dotted names and arrays alike; members no rule reads are only scanned) and decoded
/// to text when a test first reads them. A field may have several values (an array, or a member given twice): a test
/// on a field passes when one of its values passes. The view also holds the per-event results of matchers several
/// rules share (<see cref="Matcher.CacheId"/>). It is reused from event to event; after warm-up reading an event
/// allocates nothing.
/// </summary>
/// <remarks>
/// The reader is TrainGuard's own strict RFC 8259 scanner (UTF-8 validated once, strings found with a vectorised
/// search, numbers checked against the JSON grammar, escapes and surrogate pairs checked, depth bounded): about twice
/// as fast as <see cref="Utf8JsonReader"/> on sensor events, which matters at hundreds of thousands of events a
/// second. A test compares it with System.Text.Json on valid and mutated input.
/// </remarks>
internal sealed class EventView
{
    /// <summary>Deepest nesting of objects and arrays read.</summary>
    public const int MaxDepth = 64;

    /// <summary>
    /// Bytes the event buffer holds past the event: a string scan reads a vector at a time and may look past the end
    /// (those bytes are never taken for the event's). Zeros, so a scan that runs past the end stops at once.
    /// </summary>
    private const int Padding = 32;

    /// <summary>1 for the bytes that end a run of plain string content: a quote, a backslash, a control character.</summary>
    private static ReadOnlySpan<byte> StopTable =>
    [
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];

    private readonly FieldNode _root;
    private readonly bool _collectStrings;
    private readonly int[] _head;
    private readonly int[] _tail;
    private readonly int[] _generation;
    private readonly int[] _cacheGeneration;
    private readonly bool[] _cacheResult;
    private byte[] _json = new byte[4096 + Padding];
    private char[] _chars = new char[4096];
    private EventValue[] _values = new EventValue[64];
    private int[] _strings = new int[64];
    private byte[] _name = new byte[256];
    private int _charCount;
    private int _valueCount;
    private int _stringCount;
    private int _current;
    private bool _timestampParsed;
    private long _timestampTicks;

    public EventView(FieldTable fields, bool collectStrings, int cachedMatchers = 0)
    {
        _root = fields.BuildTrie();
        _collectStrings = collectStrings;
        _head = new int[fields.Count];
        _tail = new int[fields.Count];
        _generation = new int[fields.Count];
        _cacheGeneration = new int[cachedMatchers];
        _cacheResult = new bool[cachedMatchers];
        TimestampSlot = fields.Timestamp;
    }

    private int TimestampSlot { get; }

    /// <summary>Regular-expression tests that ran out of time (counted as no match).</summary>
    public long RegexTimeouts { get; set; }

    /// <summary>Reads one event (a JSON object); on malformed input the view is left empty.</summary>
    /// <exception cref="MalformedInputException">Not one JSON object, not UTF-8, or nested deeper than <see cref="MaxDepth"/>.</exception>
    public void Load(ReadOnlySpan<byte> input)
    {
        Reset();

        // The event is kept (values are decoded from it on demand); decoded text never needs more UTF-16 code units
        // than the JSON has bytes, so the character buffer is sized once here and never moves while the event is read.
        if (_json.Length < input.Length + Padding)
        {
            _json = new byte[Math.Max(input.Length, _json.Length * 2) + Padding];
            _chars = new char[_json.Length];
        }

        input.CopyTo(_json);

        // A zero (a control character, a stop for the string scan) right after the event ends a scan that runs past it.
        _json.AsSpan(input.Length, Padding).Clear();
        var json = _json.AsSpan(0, input.Length);
        try
        {
            if (!Utf8.IsValid(json))
            {
                Fail("the event is not valid UTF-8", FirstInvalidUtf8(json));
            }

            var pos = SkipWhitespace(json, 0);
            if (pos >= json.Length || json[pos] != (byte)'{')
            {
                Fail("an event must be a JSON object", pos);
            }

            pos = ReadObject(json, pos + 1, _root, 1);
            pos = SkipWhitespace(json, pos);
            if (pos < json.Length)
            {
                Fail("text follows the event's JSON object", pos);
            }
        }
        catch (MalformedInputException)
        {
            Reset();
            throw;
        }
    }

    /// <summary>True when the field has at least one value (of any kind, null included).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Has(int slot) => _generation[slot] == _current;

    /// <summary>Index of the field's first value, or -1; follow <see cref="EventValue.Next"/> for the others.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int First(int slot) => _generation[slot] == _current ? _head[slot] : -1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref readonly EventValue Value(int index) => ref _values[index];

    /// <summary>
    /// The text of the scalar value at <paramref name="index"/> (<c>true</c>/<c>false</c> for booleans, the JSON text of
    /// a number, a string unescaped); empty for null, objects and arrays.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ReadOnlySpan<char> Text(int index)
    {
        ref var value = ref _values[index];
        if (value.Decoded)
        {
            return _chars.AsSpan(value.Start, value.Length);
        }

        return value.Kind switch
        {
            ValueKind.True => "true",
            ValueKind.False => "false",
            ValueKind.String or ValueKind.Number => Decode(ref value),
            _ => default,
        };
    }

    /// <summary>False when the value holds none of the <c>contains</c> values of its field's tests (searched once per event).</summary>
    public bool MayContain(int index, InfixPrefilter prefilter)
    {
        ref var value = ref _values[index];
        if (value.Infix == 0)
        {
            value.Infix = prefilter.MayContain(Text(index)) ? (byte)1 : (byte)2;
        }

        return value.Infix == 1;
    }

    /// <summary>The first scalar value of a field, or false.</summary>
    public bool TryGetFirstScalar(int slot, out ReadOnlySpan<char> text)
    {
        for (var i = First(slot); i >= 0; i = _values[i].Next)
        {
            if (_values[i].IsScalar)
            {
                text = Text(i);
                return true;
            }
        }

        text = default;
        return false;
    }

    /// <summary>Number of string values anywhere in the event (keyword search; only collected when a rule has keywords).</summary>
    public int StringCount => _stringCount;

    public ReadOnlySpan<char> StringAt(int index) => Text(_strings[index]);

    /// <summary>The result of the shared matcher <paramref name="matcher"/> on this event, evaluated once per event.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Cached(int cacheId, Matcher matcher)
    {
        if (_cacheGeneration[cacheId] == _current)
        {
            return _cacheResult[cacheId];
        }

        var result = matcher.Evaluate(this);
        _cacheResult[cacheId] = result;
        _cacheGeneration[cacheId] = _current;
        return result;
    }

    /// <summary>The event's <c>@timestamp</c> as UTC ticks, or false when it is absent or not RFC 3339.</summary>
    public bool TryGetTimestamp(out long ticks)
    {
        if (!_timestampParsed)
        {
            _timestampParsed = true;
            _timestampTicks = TryGetFirstScalar(TimestampSlot, out var text) && Timestamps.TryParse(text, out var parsed) ? parsed : long.MinValue;
        }

        ticks = _timestampTicks;
        return ticks != long.MinValue;
    }

    [DoesNotReturn]
    private static void Fail(string problem, long offset) => DetectionErrors.ThrowEvent($"event is not valid JSON: {problem} (byte {offset})", offset);

    private static int FirstInvalidUtf8(ReadOnlySpan<byte> json)
    {
        var pos = 0;
        while (pos < json.Length)
        {
            if (Rune.DecodeFromUtf8(json[pos..], out _, out var consumed) != OperationStatus.Done)
            {
                return pos;
            }

            pos += consumed;
        }

        return pos;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int SkipWhitespace(ReadOnlySpan<byte> json, int pos)
    {
        while (pos < json.Length && json[pos] is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t')
        {
            pos++;
        }

        return pos;
    }

    private void Reset()
    {
        _charCount = 0;
        _valueCount = 0;
        _stringCount = 0;
        _timestampParsed = false;
        if (++_current == int.MaxValue)
        {
            Array.Clear(_generation);
            Array.Clear(_cacheGeneration);
            _current = 1;
        }
    }

    /// <summary>Decodes a string (UTF-8, escapes) or a number (ASCII) into the character buffer, once per event.</summary>
    private ReadOnlySpan<char> Decode(ref EventValue value)
    {
        var raw = _json.AsSpan(value.RawStart, value.RawLength);
        var destination = _chars.AsSpan(_charCount);
        int length;
        if (value.Escaped)
        {
            length = Unescape(raw, destination, value.RawStart);
        }
        else if (System.Text.Unicode.Utf8.ToUtf16(raw, destination, out _, out length, replaceInvalidSequences: false) != OperationStatus.Done)
        {
            // The event was validated as UTF-8 when it was read.
            throw new InvalidOperationException("a validated string did not decode");
        }

        value.Start = _charCount;
        value.Length = length;
        value.Decoded = true;
        _charCount += length;
        return _chars.AsSpan(value.Start, length);
    }

    /// <summary>Reads the members of an object whose <c>{</c> has been consumed; returns the position after its <c>}</c>.</summary>
    private int ReadObject(ReadOnlySpan<byte> json, int pos, FieldNode? node, int depth)
    {
        pos = SkipWhitespace(json, pos);
        if (pos < json.Length && json[pos] == (byte)'}')
        {
            return pos + 1;
        }

        while (true)
        {
            if (pos >= json.Length || json[pos] != (byte)'"')
            {
                Fail("a member name (a string) was expected", pos);
            }

            var nameStart = pos + 1;
            var nameEnd = ScanString(json, nameStart, out var escaped);
            FieldNode? child = null;
            if (node is not null)
            {
                child = escaped ? node.Find(UnescapeName(json[nameStart..nameEnd], nameStart)) : node.Find(json[nameStart..nameEnd], PackedName(nameStart, nameEnd - nameStart));
            }

            pos = SkipWhitespace(json, nameEnd + 1);
            if (pos >= json.Length || json[pos] != (byte)':')
            {
                Fail("':' was expected after a member name", pos);
            }

            pos = ReadValue(json, SkipWhitespace(json, pos + 1), child, depth);
            pos = SkipWhitespace(json, pos);
            if (pos < json.Length && json[pos] == (byte)',')
            {
                pos = SkipWhitespace(json, pos + 1);
                continue;
            }

            if (pos < json.Length && json[pos] == (byte)'}')
            {
                return pos + 1;
            }

            Fail("',' or '}' was expected", pos);
        }
    }

    /// <summary>Reads one value at <paramref name="pos"/>; returns the position after it.</summary>
    private int ReadValue(ReadOnlySpan<byte> json, int pos, FieldNode? node, int depth)
    {
        if (pos >= json.Length)
        {
            Fail("a value was expected", pos);
        }

        var slot = node?.Slot ?? -1;
        switch (json[pos])
        {
            case (byte)'{':
                if (depth >= MaxDepth)
                {
                    Fail($"nested deeper than {MaxDepth} levels", pos);
                }

                if (slot >= 0)
                {
                    Add(slot, ValueKind.Object);
                }

                return ReadObject(json, pos + 1, node, depth + 1);
            case (byte)'[':
                if (depth >= MaxDepth)
                {
                    Fail($"nested deeper than {MaxDepth} levels", pos);
                }

                if (slot >= 0)
                {
                    Add(slot, ValueKind.Array);
                }

                return ReadArray(json, pos + 1, node, depth + 1);
            case (byte)'"':
                var end = ScanString(json, pos + 1, out var escaped);
                if (slot >= 0 || _collectStrings)
                {
                    AddString(pos + 1, end - pos - 1, escaped, slot);
                }

                return end + 1;
            case (byte)'t':
                return Literal(json, pos, "true"u8, slot, ValueKind.True);
            case (byte)'f':
                return Literal(json, pos, "false"u8, slot, ValueKind.False);
            case (byte)'n':
                return Literal(json, pos, "null"u8, slot, ValueKind.Null);
            default:
                var numberEnd = ScanNumber(json, pos);
                if (slot >= 0)
                {
                    var index = Add(slot, ValueKind.Number);
                    _values[index].RawStart = pos;
                    _values[index].RawLength = numberEnd - pos;
                }

                return numberEnd;
        }
    }

    private int ReadArray(ReadOnlySpan<byte> json, int pos, FieldNode? node, int depth)
    {
        pos = SkipWhitespace(json, pos);
        if (pos < json.Length && json[pos] == (byte)']')
        {
            return pos + 1;
        }

        while (true)
        {
            pos = SkipWhitespace(json, ReadValue(json, pos, node, depth));
            if (pos < json.Length && json[pos] == (byte)',')
            {
                pos = SkipWhitespace(json, pos + 1);
                continue;
            }

            if (pos < json.Length && json[pos] == (byte)']')
            {
                return pos + 1;
            }

            Fail("',' or ']' was expected", pos);
        }
    }

    private int Literal(ReadOnlySpan<byte> json, int pos, ReadOnlySpan<byte> literal, int slot, ValueKind kind)
    {
        if (!json[pos..].StartsWith(literal))
        {
            Fail("a value was expected", pos);
        }

        if (slot >= 0)
        {
            Add(slot, kind);
        }

        return pos + literal.Length;
    }

    /// <summary>
    /// Finds the closing quote of a string that starts at <paramref name="pos"/> (after its opening quote), checking its
    /// escapes; control characters are refused. Returns the index of the closing quote. Reads sixteen bytes at a time,
    /// up to <see cref="Padding"/> bytes past the event's end (the buffer holds them; a stop found there is no stop).
    /// </summary>
    private int ScanString(ReadOnlySpan<byte> json, int pos, out bool escaped)
    {
        escaped = false;
        ref var first = ref MemoryMarshal.GetArrayDataReference(_json);
        while (true)
        {
            pos = FindStop(ref first, pos);
            if (pos >= json.Length)
            {
                Fail("a string is not closed", json.Length);
            }

            switch (Unsafe.Add(ref first, pos))
            {
                case (byte)'"':
                    return pos;
                case (byte)'\\':
                    escaped = true;
                    pos = CheckEscape(json, pos);
                    break;
                default:
                    Fail("a control character must be escaped inside a string", pos);
                    break;
            }
        }
    }

    /// <summary>The first (up to) eight bytes of the name at <paramref name="start"/> as <see cref="FieldNode.Pack"/> gives them (read past the name, then masked).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong PackedName(int start, int length)
    {
        var bytes = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_json), start));
        if (!BitConverter.IsLittleEndian)
        {
            bytes = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(bytes);
        }

        return length >= 8 ? bytes : bytes & ((1UL << (length * 8)) - 1);
    }

    /// <summary>
    /// The first position at or after <paramref name="pos"/> (which is inside the event) holding a quote, a backslash
    /// or a control character; it may lie past the event's end, in the padding.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int FindStop(ref byte first, int pos)
    {
        if (Vector128.IsHardwareAccelerated)
        {
            var quote = Vector128.Create((byte)'"');
            var backslash = Vector128.Create((byte)'\\');
            var space = Vector128.Create((byte)0x20);
            while (true)
            {
                var bytes = Vector128.LoadUnsafe(ref first, (nuint)pos);
                var stops = Vector128.Equals(bytes, quote) | Vector128.Equals(bytes, backslash) | Vector128.LessThan(bytes, space);
                if (stops != Vector128<byte>.Zero)
                {
                    return pos + BitOperations.TrailingZeroCount(stops.ExtractMostSignificantBits());
                }

                pos += Vector128<byte>.Count;
            }
        }

        var table = StopTable;
        while (table[Unsafe.Add(ref first, pos)] == 0)
        {
            pos++;
        }

        return pos;
    }

    /// <summary>Checks the escape at <paramref name="pos"/> (a backslash); returns the position after it.</summary>
    private static int CheckEscape(ReadOnlySpan<byte> json, int pos)
    {
        if (pos + 1 >= json.Length)
        {
            Fail("a string is not closed", json.Length);
        }

        switch (json[pos + 1])
        {
            case (byte)'"' or (byte)'\\' or (byte)'/' or (byte)'b' or (byte)'f' or (byte)'n' or (byte)'r' or (byte)'t':
                return pos + 2;
            case (byte)'u':
                var unit = Hex4(json, pos + 2);
                if (char.IsLowSurrogate((char)unit))
                {
                    Fail("a \\u escape holds a lone low surrogate", pos);
                }

                if (!char.IsHighSurrogate((char)unit))
                {
                    return pos + 6;
                }

                if (pos + 7 >= json.Length || json[pos + 6] != (byte)'\\' || json[pos + 7] != (byte)'u' || !char.IsLowSurrogate((char)Hex4(json, pos + 8)))
                {
                    Fail("a \\u escape holds a high surrogate without its low surrogate", pos);
                }

                return pos + 12;
            default:
                Fail("unknown escape in a string", pos);
                return 0;
        }
    }

    private static int Hex4(ReadOnlySpan<byte> json, int pos)
    {
        if (pos + 4 > json.Length)
        {
            Fail("a \\u escape needs four hex digits", pos);
        }

        var value = 0;
        for (var i = pos; i < pos + 4; i++)
        {
            var digit = HexDigit(json[i]);
            if (digit < 0)
            {
                Fail("a \\u escape needs four hex digits", i);
            }

            value = (value << 4) | digit;
        }

        return value;
    }

    private static int HexDigit(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };

    /// <summary>Checks a number against the JSON grammar; returns the position after it.</summary>
    private static int ScanNumber(ReadOnlySpan<byte> json, int pos)
    {
        var start = pos;
        if (json[pos] == (byte)'-')
        {
            pos++;
        }

        if (pos >= json.Length || !char.IsAsciiDigit((char)json[pos]))
        {
            Fail("a value was expected", start);
        }

        if (json[pos] == (byte)'0')
        {
            pos++;
        }
        else
        {
            pos = Digits(json, pos);
        }

        if (pos < json.Length && json[pos] == (byte)'.')
        {
            var fraction = Digits(json, pos + 1);
            if (fraction == pos + 1)
            {
                Fail("a number needs digits after its decimal point", pos);
            }

            pos = fraction;
        }

        if (pos < json.Length && json[pos] is (byte)'e' or (byte)'E')
        {
            pos++;
            if (pos < json.Length && json[pos] is (byte)'+' or (byte)'-')
            {
                pos++;
            }

            var exponent = Digits(json, pos);
            if (exponent == pos)
            {
                Fail("a number needs digits in its exponent", pos);
            }

            pos = exponent;
        }

        return pos;
    }

    private static int Digits(ReadOnlySpan<byte> json, int pos)
    {
        while (pos < json.Length && char.IsAsciiDigit((char)json[pos]))
        {
            pos++;
        }

        return pos;
    }

    /// <summary>A member name with escapes, unescaped to UTF-8 (for the field trie).</summary>
    private ReadOnlySpan<byte> UnescapeName(ReadOnlySpan<byte> raw, int offset)
    {
        var chars = ArrayPool<char>.Shared.Rent(raw.Length);
        try
        {
            var length = Unescape(raw, chars, offset);
            var needed = Encoding.UTF8.GetByteCount(chars.AsSpan(0, length));
            if (needed > _name.Length)
            {
                _name = new byte[needed];
            }

            var written = Encoding.UTF8.GetBytes(chars.AsSpan(0, length), _name);
            return _name.AsSpan(0, written);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(chars);
        }
    }

    private void AddString(int rawStart, int rawLength, bool escaped, int slot)
    {
        var index = slot >= 0 ? Add(slot, ValueKind.String) : AddLoose(ValueKind.String);
        ref var value = ref _values[index];
        value.RawStart = rawStart;
        value.RawLength = rawLength;
        value.Escaped = escaped;
        if (_collectStrings)
        {
            if (_stringCount == _strings.Length)
            {
                Array.Resize(ref _strings, _strings.Length * 2);
            }

            _strings[_stringCount++] = index;
        }
    }

    /// <summary>Decodes a string's escapes (already checked by <see cref="ScanString"/>) into UTF-16.</summary>
    private static int Unescape(ReadOnlySpan<byte> raw, Span<char> destination, int offset)
    {
        var written = 0;
        var pos = 0;
        while (pos < raw.Length)
        {
            var backslash = raw[pos..].IndexOf((byte)'\\');
            var run = backslash < 0 ? raw[pos..] : raw.Slice(pos, backslash);
            written += Encoding.UTF8.GetChars(run, destination[written..]);
            if (backslash < 0)
            {
                break;
            }

            pos += backslash;
            switch (raw[pos + 1])
            {
                case (byte)'b': destination[written++] = '\b'; pos += 2; break;
                case (byte)'f': destination[written++] = '\f'; pos += 2; break;
                case (byte)'n': destination[written++] = '\n'; pos += 2; break;
                case (byte)'r': destination[written++] = '\r'; pos += 2; break;
                case (byte)'t': destination[written++] = '\t'; pos += 2; break;
                case (byte)'u':
                    destination[written++] = (char)Hex4(raw, pos + 2);
                    pos += 6;
                    break;
                default:
                    destination[written++] = (char)raw[pos + 1];
                    pos += 2;
                    break;
            }
        }

        return written;
    }

    private int Add(int slot, ValueKind kind)
    {
        var index = AddLoose(kind);
        if (_generation[slot] != _current)
        {
            _generation[slot] = _current;
            _head[slot] = index;
        }
        else
        {
            _values[_tail[slot]].Next = index;
        }

        _tail[slot] = index;
        return index;
    }

    private int AddLoose(ValueKind kind)
    {
        if (_valueCount == _values.Length)
        {
            Array.Resize(ref _values, _values.Length * 2);
        }

        var index = _valueCount++;
        _values[index] = new EventValue { Kind = kind, Next = -1 };
        return index;
    }
}

/// <summary>RFC 3339 timestamps as UTC ticks: a fast path for TrainGuard's own form, the BCL parser for the rest.</summary>
internal static class Timestamps
{
    public static bool TryParse(ReadOnlySpan<char> text, out long ticks)
    {
        if (TryParseUtc(text, out ticks))
        {
            return true;
        }

        if (text.Length >= 20 && text[10] is 'T' or 't' or ' '
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed))
        {
            ticks = parsed.UtcTicks;
            return true;
        }

        ticks = 0;
        return false;
    }

    /// <summary><c>yyyy-MM-ddTHH:mm:ss[.f{1,7}]Z</c>, the shape every TrainGuard sensor writes.</summary>
    private static bool TryParseUtc(ReadOnlySpan<char> s, out long ticks)
    {
        ticks = 0;
        if (s.Length < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[^1] != 'Z')
        {
            return false;
        }

        if (!Digits(s, 0, 4, out var year) || !Digits(s, 5, 2, out var month) || !Digits(s, 8, 2, out var day)
            || !Digits(s, 11, 2, out var hour) || !Digits(s, 14, 2, out var minute) || !Digits(s, 17, 2, out var second))
        {
            return false;
        }

        long fraction = 0;
        var end = s.Length - 1;
        if (end > 19)
        {
            var digits = end - 20;
            if (s[19] != '.' || digits is < 1 or > 7 || !Digits(s, 20, digits, out var f))
            {
                return false;
            }

            fraction = f;
            for (var i = digits; i < 7; i++)
            {
                fraction *= 10;
            }
        }

        if (year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59)
        {
            return false;
        }

        ticks = new DateTime(year, month, day, hour, minute, second, DateTimeKind.Utc).Ticks + fraction;
        return true;
    }

    private static bool Digits(ReadOnlySpan<char> s, int start, int count, out int value)
    {
        value = 0;
        for (var i = start; i < start + count; i++)
        {
            var d = s[i] - '0';
            if ((uint)d > 9)
            {
                return false;
            }

            value = (value * 10) + d;
        }

        return true;
    }
}
