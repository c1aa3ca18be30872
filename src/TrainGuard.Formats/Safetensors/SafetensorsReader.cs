using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Unicode;
using TrainGuard.Parsing;

namespace TrainGuard.Formats.Safetensors;

/// <summary>
/// Validates a safetensors file against the format: u64 LE header length, a UTF-8 JSON object header of at
/// most 100,000,000 bytes, string-to-string <c>__metadata__</c>, tensors with a known dtype, a non-negative
/// shape and <c>data_offsets</c> whose length matches shape × dtype size, and a data buffer covered exactly
/// (no overlap, no gap, nothing out of bounds). Tensor bytes are never read. Every violation is a
/// <see cref="MalformedInputException"/> naming the tensor and field.
/// </summary>
public static class SafetensorsReader
{
    /// <summary>Size of the u64 header length at offset 0.</summary>
    public const int LengthPrefixSize = 8;

    private const string MetadataKey = "__metadata__";

    /// <summary>Known dtypes and their size in bits (sub-byte float formats included).</summary>
    private static readonly Dictionary<string, int> DtypeBits = new(StringComparer.Ordinal)
    {
        ["BOOL"] = 8,
        ["U8"] = 8,
        ["I8"] = 8,
        ["F8_E5M2"] = 8,
        ["F8_E4M3"] = 8,
        ["F8_E8M0"] = 8,
        ["I16"] = 16,
        ["U16"] = 16,
        ["F16"] = 16,
        ["BF16"] = 16,
        ["I32"] = 32,
        ["U32"] = 32,
        ["F32"] = 32,
        ["F64"] = 64,
        ["I64"] = 64,
        ["U64"] = 64,
        ["C64"] = 64,
        ["F4"] = 4,
        ["F6_E2M3"] = 6,
        ["F6_E3M2"] = 6,
    };

    /// <summary>True when <paramref name="dtype"/> is a dtype the format defines.</summary>
    public static bool IsKnownDtype(string dtype) => DtypeBits.ContainsKey(dtype);

    /// <summary>Size in bits of a known dtype (4 and 6 for the sub-byte float formats).</summary>
    public static int BitsOf(string dtype) => DtypeBits.TryGetValue(dtype, out var bits) ? bits : throw new ArgumentException($"unknown dtype {dtype}", nameof(dtype));

    /// <summary>Validates the safetensors file of <paramref name="length"/> bytes starting at the stream's current position; reads only the header.</summary>
    public static SafetensorsHeader Validate(Stream stream, long length, SafetensorsLimits limits)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(limits);
        Span<byte> prefix = stackalloc byte[LengthPrefixSize];
        var read = stream.ReadAtLeast(prefix, LengthPrefixSize, throwOnEndOfStream: false);
        if (read < LengthPrefixSize || length < LengthPrefixSize)
        {
            MalformedInputException.ThrowTruncated("the 8-byte header length", Math.Min(read, Math.Max(0, length)));
        }

        var headerLength = CheckHeaderLength(BinaryPrimitives.ReadUInt64LittleEndian(prefix), length, limits);
        var header = new byte[headerLength];
        var got = stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
        if (got < header.Length)
        {
            MalformedInputException.ThrowTruncated("JSON header", LengthPrefixSize + got);
        }

        return ValidateHeader(header, headerLength, length, limits);
    }

    /// <summary>Validates a whole safetensors file held in memory.</summary>
    public static SafetensorsHeader Validate(ReadOnlySpan<byte> file, SafetensorsLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        if (file.Length < LengthPrefixSize)
        {
            MalformedInputException.ThrowTruncated("the 8-byte header length", file.Length);
        }

        var headerLength = CheckHeaderLength(BinaryPrimitives.ReadUInt64LittleEndian(file), file.Length, limits);
        return ValidateHeader(file.Slice(LengthPrefixSize, (int)headerLength), headerLength, file.Length, limits);
    }

    /// <summary>Fuzz target: only <see cref="MalformedInputException"/> may escape.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        var limits = new SafetensorsLimits { MaxTensors = 10_000 };
        _ = Validate(data, limits);
        using var stream = new MemoryStream(data.ToArray(), writable: false);
        _ = Validate(stream, data.Length, limits);
    }

    private static long CheckHeaderLength(ulong declared, long length, SafetensorsLimits limits)
    {
        if (declared > SafetensorsLimits.SpecMaxHeaderBytes)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"header length {declared:N0} is larger than the format's {SafetensorsLimits.SpecMaxHeaderBytes:N0} bytes (HeaderTooLarge)", 0);
        }

        if (declared > (ulong)limits.MaxHeaderBytes)
        {
            MalformedInputException.ThrowLimit($"header length {declared:N0}", limits.MaxHeaderBytes, 0);
        }

        if ((long)declared > length - LengthPrefixSize)
        {
            MalformedInputException.ThrowTruncated($"JSON header of {declared:N0} bytes (file has {length:N0})", 0);
        }

        if (declared < 2)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"header length {declared} is too small for a JSON object", 0);
        }

        return (long)declared;
    }

    private static SafetensorsHeader ValidateHeader(ReadOnlySpan<byte> json, long headerLength, long length, SafetensorsLimits limits)
    {
        if (json[0] != (byte)'{')
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "header does not start with '{' (InvalidHeaderStart)", LengthPrefixSize);
        }

        if (!Utf8.IsValid(json))
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "header is not valid UTF-8", LengthPrefixSize + InvalidUtf8Index(json));
        }

        var dataLength = length - LengthPrefixSize - headerLength;
        var tensors = new List<SafetensorsTensor>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = limits.MaxJsonDepth, AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow });
        try
        {
            ParseRoot(ref reader, tensors, metadata, limits);
        }
        catch (JsonException ex)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"header is not valid JSON: {ex.Message}", LengthPrefixSize + reader.BytesConsumed);
        }
        catch (InvalidOperationException ex)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"header is not valid JSON: {ex.Message}", LengthPrefixSize + reader.BytesConsumed);
        }

        CheckLayout(tensors, dataLength, headerLength);
        return new SafetensorsHeader { HeaderLength = headerLength, DataLength = dataLength, Tensors = tensors, Metadata = metadata };
    }

    private static void ParseRoot(ref Utf8JsonReader reader, List<SafetensorsTensor> tensors, Dictionary<string, string> metadata, SafetensorsLimits limits)
    {
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "header is not a JSON object", LengthPrefixSize);
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var keyOffset = LengthPrefixSize + reader.TokenStartIndex;
            var name = reader.GetString()!;
            if (!seen.Add(name))
            {
                MalformedInputException.Throw(InputErrorKind.Corrupt, $"duplicate key '{name}' in the header: readers disagree on which entry wins", keyOffset);
            }

            reader.Read();
            if (name == MetadataKey)
            {
                ParseMetadata(ref reader, metadata, keyOffset);
                continue;
            }

            if (tensors.Count >= limits.MaxTensors)
            {
                MalformedInputException.ThrowLimit("tensor count", limits.MaxTensors, keyOffset);
            }

            tensors.Add(ParseTensor(ref reader, name, keyOffset, limits));
        }

        // Only whitespace may follow the object; the reader throws on anything else.
        if (reader.Read())
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "data after the header's JSON object", LengthPrefixSize + reader.TokenStartIndex);
        }
    }

    private static void ParseMetadata(ref Utf8JsonReader reader, Dictionary<string, string> metadata, long keyOffset)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return;
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "__metadata__ must be an object mapping strings to strings", keyOffset);
        }

        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var offset = LengthPrefixSize + reader.TokenStartIndex;
            var key = reader.GetString()!;
            reader.Read();
            if (reader.TokenType != JsonTokenType.String)
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, $"__metadata__ value of '{key}' is a {reader.TokenType}, not a string", offset);
            }

            if (!metadata.TryAdd(key, reader.GetString()!))
            {
                MalformedInputException.Throw(InputErrorKind.Corrupt, $"duplicate __metadata__ key '{key}'", offset);
            }
        }
    }

    private static SafetensorsTensor ParseTensor(ref Utf8JsonReader reader, string name, long keyOffset, SafetensorsLimits limits)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"tensor '{name}': entry is a {reader.TokenType}, not an object", keyOffset);
        }

        string? dtype = null;
        List<long>? shape = null;
        long[]? offsets = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var fieldOffset = LengthPrefixSize + reader.TokenStartIndex;
            var field = reader.GetString()!;
            reader.Read();
            switch (field)
            {
                case "dtype" when dtype is null:
                    if (reader.TokenType != JsonTokenType.String)
                    {
                        MalformedInputException.Throw(InputErrorKind.Syntax, $"tensor '{name}': dtype is not a string", fieldOffset);
                    }

                    dtype = reader.GetString()!;
                    if (!DtypeBits.ContainsKey(dtype))
                    {
                        MalformedInputException.Throw(InputErrorKind.Syntax, $"tensor '{name}': unknown dtype '{dtype}'", fieldOffset);
                    }

                    break;
                case "shape" when shape is null:
                    shape = ReadIntegers(ref reader, name, field, fieldOffset, limits.MaxRank);
                    break;
                case "data_offsets" when offsets is null:
                    var pair = ReadIntegers(ref reader, name, field, fieldOffset, 2);
                    if (pair.Count != 2)
                    {
                        MalformedInputException.Throw(InputErrorKind.Syntax, $"tensor '{name}': data_offsets must be [begin, end]", fieldOffset);
                    }

                    offsets = [pair[0], pair[1]];
                    break;
                case "dtype" or "shape" or "data_offsets":
                    MalformedInputException.Throw(InputErrorKind.Corrupt, $"tensor '{name}': duplicate field '{field}'", fieldOffset);
                    break;
                default:
                    MalformedInputException.Throw(InputErrorKind.Syntax, $"tensor '{name}': unexpected field '{field}'", fieldOffset);
                    break;
            }
        }

        if (dtype is null || shape is null || offsets is null)
        {
            var missing = dtype is null ? "dtype" : shape is null ? "shape" : "data_offsets";
            MalformedInputException.Throw(InputErrorKind.Syntax, $"tensor '{name}': missing field '{missing}'", keyOffset);
        }

        var (begin, end) = (offsets[0], offsets[1]);
        if (end < begin)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"tensor '{name}': data_offsets end {end:N0} is before begin {begin:N0}", keyOffset);
        }

        var bits = DtypeBits[dtype];
        ulong elements = 1;
        ulong bitCount;
        try
        {
            foreach (var dimension in shape)
            {
                elements = checked(elements * (ulong)dimension);
            }

            bitCount = checked(elements * (ulong)bits);
        }
        catch (OverflowException)
        {
            return MalformedInputException.Throw<SafetensorsTensor>(InputErrorKind.Syntax, $"tensor '{name}': shape element count overflows", keyOffset);
        }

        if (bitCount % 8 != 0)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"tensor '{name}': {elements:N0} elements of {dtype} do not fill whole bytes", keyOffset);
        }

        if (bitCount / 8 != (ulong)(end - begin))
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"tensor '{name}': data_offsets span {end - begin:N0} bytes but shape [{string.Join(", ", shape)}] of {dtype} needs {bitCount / 8:N0}", keyOffset);
        }

        return new SafetensorsTensor(name, dtype, shape, begin, end, keyOffset);
    }

    private static List<long> ReadIntegers(ref Utf8JsonReader reader, string name, string field, long fieldOffset, int maxCount)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"tensor '{name}': {field} is not an array", fieldOffset);
        }

        var values = new List<long>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out var value) || value < 0)
            {
                return MalformedInputException.Throw<List<long>>(InputErrorKind.Syntax, $"tensor '{name}': {field} holds a value that is not a non-negative integer", LengthPrefixSize + reader.TokenStartIndex);
            }

            if (values.Count == maxCount)
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, $"tensor '{name}': {field} has more than {maxCount} values", LengthPrefixSize + reader.TokenStartIndex);
            }

            values.Add(value);
        }

        return values;
    }

    private static void CheckLayout(List<SafetensorsTensor> tensors, long dataLength, long headerLength)
    {
        var dataStart = LengthPrefixSize + headerLength;
        foreach (var tensor in tensors)
        {
            if (tensor.End > dataLength)
            {
                MalformedInputException.Throw(InputErrorKind.Truncated, $"tensor '{tensor.Name}': data_offsets [{tensor.Begin:N0}, {tensor.End:N0}] run past the data buffer of {dataLength:N0} bytes", tensor.HeaderOffset);
            }
        }

        var ordered = tensors.OrderBy(t => t.Begin).ThenBy(t => t.End).ToList();
        long covered = 0;
        SafetensorsTensor? previous = null;
        foreach (var tensor in ordered)
        {
            if (tensor.Begin < covered)
            {
                MalformedInputException.Throw(InputErrorKind.Corrupt, $"tensor '{tensor.Name}': data_offsets [{tensor.Begin:N0}, {tensor.End:N0}] overlap tensor '{previous!.Name}' (ends at {covered:N0})", tensor.HeaderOffset);
            }

            if (tensor.Begin > covered)
            {
                MalformedInputException.Throw(InputErrorKind.Corrupt, $"tensor '{tensor.Name}': gap of {tensor.Begin - covered:N0} unaccounted bytes before its data_offsets begin {tensor.Begin:N0}", dataStart + covered);
            }

            covered = tensor.End;
            previous = tensor;
        }

        if (covered != dataLength)
        {
            MalformedInputException.Throw(InputErrorKind.Corrupt, $"data buffer has {dataLength - covered:N0} bytes after the last tensor that no tensor accounts for (MetadataIncompleteBuffer)", dataStart + covered);
        }
    }

    private static int InvalidUtf8Index(ReadOnlySpan<byte> bytes)
    {
        var index = 0;
        while (index < bytes.Length)
        {
            if (System.Text.Rune.DecodeFromUtf8(bytes[index..], out _, out var consumed) != System.Buffers.OperationStatus.Done)
            {
                return index;
            }

            index += consumed;
        }

        return index;
    }
}
