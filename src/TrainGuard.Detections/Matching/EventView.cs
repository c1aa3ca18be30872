using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
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

/// <summary>One value of a field: its kind, its text in the view's character buffer, and the next value of the same field.</summary>
internal struct EventValue
{
    public ValueKind Kind;
    public bool HasNumber;
    public int Start;
    public int Length;
    public int Next;
    public double Number;

    /// <summary>Strings, numbers and booleans have a text; null, objects and arrays do not.</summary>
    public readonly bool IsScalar => Kind <= ValueKind.False;
}

/// <summary>
/// One event as the matchers see it: the values of the fields the rule set reads, copied out of the JSON in one pass
/// (nested ECS objects, flattened dotted names and arrays alike; members no rule reads are skipped). A field may have
/// several values (an array, or a member given twice): a test on a field passes when one of its values passes.
/// The view is reused from event to event; after warm-up reading an event allocates nothing.
/// </summary>
internal sealed class EventView
{
    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = MaxDepth, CommentHandling = JsonCommentHandling.Disallow };

    /// <summary>Deepest nesting read (the JSON reader refuses deeper input).</summary>
    public const int MaxDepth = 64;

    private readonly FieldNode _root;
    private readonly bool _collectStrings;
    private readonly int[] _head;
    private readonly int[] _tail;
    private readonly int[] _generation;
    private char[] _chars = new char[4096];
    private EventValue[] _values = new EventValue[64];
    private int[] _strings = new int[64];
    private int _charCount;
    private int _valueCount;
    private int _stringCount;
    private int _current;
    private bool _timestampParsed;
    private long _timestampTicks;

    public EventView(FieldTable fields, bool collectStrings)
    {
        _root = fields.BuildTrie();
        _collectStrings = collectStrings;
        _head = new int[fields.Count];
        _tail = new int[fields.Count];
        _generation = new int[fields.Count];
        TimestampSlot = fields.Timestamp;
    }

    private int TimestampSlot { get; }

    /// <summary>Regular-expression tests that ran out of time (counted as no match).</summary>
    public long RegexTimeouts { get; set; }

    /// <summary>Reads one event (a JSON object); on malformed input the view is left empty.</summary>
    /// <exception cref="MalformedInputException">Not one JSON object, not UTF-8, or nested deeper than <see cref="MaxDepth"/>.</exception>
    public void Load(ReadOnlySpan<byte> json)
    {
        Reset();
        try
        {
            var reader = new Utf8JsonReader(json, ReaderOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                DetectionErrors.ThrowEvent("an event must be a JSON object", reader.TokenStartIndex);
            }

            ReadObject(ref reader, _root);
            if (reader.Read())
            {
                DetectionErrors.ThrowEvent("text follows the event's JSON object", reader.TokenStartIndex);
            }
        }
        catch (JsonException ex)
        {
            Reset();
            DetectionErrors.ThrowEvent($"event is not valid JSON: {ex.Message}", ex.BytePositionInLine ?? 0);
        }
        catch (InvalidOperationException ex)
        {
            // Utf8JsonReader reports text that is not UTF-8 when it is copied out.
            Reset();
            DetectionErrors.ThrowEvent($"event is not valid UTF-8 JSON: {ex.Message}", 0);
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

    /// <summary>The text of a scalar value (<c>true</c>/<c>false</c> for booleans, the JSON text of a number).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ReadOnlySpan<char> Text(in EventValue value) => value.Kind switch
    {
        ValueKind.True => "true",
        ValueKind.False => "false",
        _ => _chars.AsSpan(value.Start, value.Length),
    };

    /// <summary>The first scalar value of a field, or false.</summary>
    public bool TryGetFirstScalar(int slot, out ReadOnlySpan<char> text)
    {
        for (var i = First(slot); i >= 0; i = _values[i].Next)
        {
            if (_values[i].IsScalar)
            {
                text = Text(in _values[i]);
                return true;
            }
        }

        text = default;
        return false;
    }

    /// <summary>Number of string values anywhere in the event (keyword search; only collected when a rule has keywords).</summary>
    public int StringCount => _stringCount;

    public ReadOnlySpan<char> StringAt(int index) => Text(in _values[_strings[index]]);

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

    private void Reset()
    {
        _charCount = 0;
        _valueCount = 0;
        _stringCount = 0;
        _timestampParsed = false;
        if (++_current == int.MaxValue)
        {
            Array.Clear(_generation);
            _current = 1;
        }
    }

    private void ReadObject(ref Utf8JsonReader reader, FieldNode? node)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var child = node is null ? null : Child(ref reader, node);
            reader.Read();
            ReadValue(ref reader, child);
        }
    }

    private static FieldNode? Child(ref Utf8JsonReader reader, FieldNode node)
    {
        if (!reader.ValueIsEscaped)
        {
            return node.Find(reader.ValueSpan);
        }

        return Unescaped(ref reader, node);

        static FieldNode? Unescaped(ref Utf8JsonReader reader, FieldNode node)
        {
            var rented = ArrayPool<byte>.Shared.Rent(reader.ValueSpan.Length);
            try
            {
                var length = reader.CopyString(rented);
                return node.Find(rented.AsSpan(0, length));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private void ReadValue(ref Utf8JsonReader reader, FieldNode? node)
    {
        var slot = node?.Slot ?? -1;
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
                if (slot >= 0)
                {
                    Add(slot, ValueKind.Object, 0, 0);
                }

                if (node is null && !_collectStrings)
                {
                    reader.Skip();
                }
                else
                {
                    ReadObject(ref reader, node);
                }

                break;
            case JsonTokenType.StartArray:
                if (slot >= 0)
                {
                    Add(slot, ValueKind.Array, 0, 0);
                }

                if (node is null && !_collectStrings)
                {
                    reader.Skip();
                    break;
                }

                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    ReadValue(ref reader, node);
                }

                break;
            case JsonTokenType.String:
                if (slot >= 0 || _collectStrings)
                {
                    AddString(ref reader, slot);
                }

                break;
            case JsonTokenType.Number:
                if (slot >= 0)
                {
                    AddNumber(ref reader, slot);
                }

                break;
            case JsonTokenType.True:
                if (slot >= 0)
                {
                    Add(slot, ValueKind.True, 0, 0);
                }

                break;
            case JsonTokenType.False:
                if (slot >= 0)
                {
                    Add(slot, ValueKind.False, 0, 0);
                }

                break;
            case JsonTokenType.Null:
                if (slot >= 0)
                {
                    Add(slot, ValueKind.Null, 0, 0);
                }

                break;
        }
    }

    private void AddString(ref Utf8JsonReader reader, int slot)
    {
        EnsureChars(reader.ValueSpan.Length);
        var length = reader.CopyString(_chars.AsSpan(_charCount));
        var index = slot >= 0 ? Add(slot, ValueKind.String, _charCount, length) : AddLoose(ValueKind.String, _charCount, length);
        _charCount += length;
        if (_collectStrings)
        {
            if (_stringCount == _strings.Length)
            {
                Array.Resize(ref _strings, _strings.Length * 2);
            }

            _strings[_stringCount++] = index;
        }
    }

    private void AddNumber(ref Utf8JsonReader reader, int slot)
    {
        var raw = reader.ValueSpan;
        EnsureChars(raw.Length);
        var chars = _chars.AsSpan(_charCount);
        for (var i = 0; i < raw.Length; i++)
        {
            chars[i] = (char)raw[i];
        }

        var index = Add(slot, ValueKind.Number, _charCount, raw.Length);
        _charCount += raw.Length;
        ref var value = ref _values[index];
        value.HasNumber = reader.TryGetDouble(out value.Number) && double.IsFinite(value.Number);
    }

    private int Add(int slot, ValueKind kind, int start, int length)
    {
        var index = AddLoose(kind, start, length);
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

    private int AddLoose(ValueKind kind, int start, int length)
    {
        if (_valueCount == _values.Length)
        {
            Array.Resize(ref _values, _values.Length * 2);
        }

        var index = _valueCount++;
        _values[index] = new EventValue { Kind = kind, Start = start, Length = length, Next = -1 };
        return index;
    }

    private void EnsureChars(int more)
    {
        if (_charCount + more > _chars.Length)
        {
            Array.Resize(ref _chars, Math.Max(_chars.Length * 2, _charCount + more));
        }
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
