using System.Globalization;
using System.Text.Json.Nodes;
using TrainGuard.Checkpoints.Torch;
using TrainGuard.Findings;
using TrainGuard.Formats.Torch;
using TrainGuard.Pickle.Objects;

namespace TrainGuard.Checkpoints.Contents;

/// <summary>
/// Turns pickle values into plain JSON (for reports and field-by-field diffs): numbers, bools, strings,
/// lists and string-keyed objects; a tensor becomes <c>"tensor float32[8, 4]"</c> (or its value when it is a
/// scalar the caller resolved), any other object its short Python rendering. Bounded in depth and size.
/// </summary>
internal static class PlainValues
{
    public const int MaxDepth = 6;
    public const int MaxItems = 256;

    public static JsonNode? ToJson(PyValue value, TorchCheckpoint? checkpoint, int depth = 0)
    {
        switch (value)
        {
            case PyNone:
                return null;
            case PyBool b:
                return JsonValue.Create(b.Value);
            case PyInt i:
                return i.TryGetInt64(out var l) ? JsonValue.Create(l) : JsonValue.Create(i.Value.ToString(CultureInfo.InvariantCulture));
            case PyFloat f:
                return Number(f.Value);
            case PyStr s:
                return JsonValue.Create(TextSanitizer.Escape(s.Value, 500));
            case PyBytes b:
                return JsonValue.Create($"<{b.Value.Length} bytes>");
        }

        if (checkpoint?.TensorOf(value) is { } tensor)
        {
            return JsonValue.Create($"tensor {tensor.Dtype.Name}[{string.Join(", ", tensor.Shape)}]");
        }

        if (depth >= MaxDepth)
        {
            return JsonValue.Create(PyRender.ToText(value, maxDepth: 1, maxItems: 4, maxLength: 120));
        }

        if (value.AsSequence() is { } items && value is not PyObject { Items: not null })
        {
            var array = new JsonArray();
            foreach (var item in items.Take(MaxItems))
            {
                array.Add(ToJson(item, checkpoint, depth + 1));
            }

            return array;
        }

        if (value.AsDict() is { } dict)
        {
            var obj = new JsonObject();
            foreach (var (k, v) in dict.Items.Take(MaxItems))
            {
                var key = KeyText(k);
                if (!obj.ContainsKey(key))
                {
                    obj[key] = ToJson(v, checkpoint, depth + 1);
                }
            }

            return obj;
        }

        return JsonValue.Create(PyRender.ToText(value, maxDepth: 3, maxItems: 6, maxLength: 200));
    }

    public static string KeyText(PyValue key) => key switch
    {
        PyStr s => TextSanitizer.Escape(s.Value, 200),
        PyInt i => i.Value.ToString(CultureInfo.InvariantCulture),
        _ => PyRender.ToText(key, maxDepth: 2, maxItems: 4, maxLength: 80),
    };

    /// <summary>A finite double as a JSON number; NaN and infinities as the strings Python prints.</summary>
    public static JsonNode Number(double value) => double.IsFinite(value)
        ? JsonValue.Create(value)
        : JsonValue.Create(double.IsNaN(value) ? "nan" : value > 0 ? "inf" : "-inf");

    /// <summary>Reads a numeric scalar: a Python number, or a one-element tensor (<c>step</c> is a float32 tensor since torch 1.12).</summary>
    public static double? Scalar(PyValue? value, TorchCheckpoint checkpoint)
    {
        if (value is null)
        {
            return null;
        }

        if (value.AsDouble() is { } d)
        {
            return d;
        }

        if (value.AsBool() is { } b)
        {
            return b ? 1 : 0;
        }

        if (checkpoint.TensorOf(value) is not { ElementCount: 1 } tensor)
        {
            return null;
        }

        var bytes = checkpoint.ReadTensorBytes(tensor, 16);
        return TensorScalars.Read(bytes, tensor.Dtype);
    }

    public static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}

/// <summary>Decodes one little-endian element of a tensor into a double.</summary>
internal static class TensorScalars
{
    public static double? Read(ReadOnlySpan<byte> bytes, TorchDtype dtype)
    {
        if (bytes.Length < dtype.ElementSize)
        {
            return null;
        }

        return dtype.Name switch
        {
            "float32" => System.Buffers.Binary.BinaryPrimitives.ReadSingleLittleEndian(bytes),
            "float64" => System.Buffers.Binary.BinaryPrimitives.ReadDoubleLittleEndian(bytes),
            "float16" => (double)System.Buffers.Binary.BinaryPrimitives.ReadHalfLittleEndian(bytes),
            "bfloat16" => BitConverterFree.BFloat16(bytes),
            "int64" => System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(bytes),
            "int32" => System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(bytes),
            "int16" => System.Buffers.Binary.BinaryPrimitives.ReadInt16LittleEndian(bytes),
            "int8" => (sbyte)bytes[0],
            "uint8" or "bool" => bytes[0],
            _ => null,
        };
    }

    private static class BitConverterFree
    {
        public static double BFloat16(ReadOnlySpan<byte> bytes)
        {
            var bits = (uint)System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(bytes) << 16;
            Span<byte> four = stackalloc byte[4];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(four, bits);
            return System.Buffers.Binary.BinaryPrimitives.ReadSingleLittleEndian(four);
        }
    }
}
