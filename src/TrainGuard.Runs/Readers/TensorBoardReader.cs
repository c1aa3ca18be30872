using System.Buffers.Binary;
using TrainGuard.Parsing;
using TrainGuard.Runs.Model;

namespace TrainGuard.Runs.Readers;

/// <summary>
/// TensorBoard event files (<c>events.out.tfevents.*</c>): TFRecord frames (<see cref="TfRecordReader"/>) holding
/// <c>Event</c> protobufs; the scalar summaries are read in all three encodings: <c>simple_value</c> (the old style),
/// a scalar tensor with <c>float_val</c>/<c>double_val</c>/<c>int_val</c>/<c>int64_val</c>/<c>half_val</c> (the
/// tensor style, torch's <c>new_style</c>), and a tensor's raw <c>tensor_content</c>. Histograms, images, graphs and
/// everything else are skipped.
/// </summary>
public static class TensorBoardReader
{
    public const string FilePrefix = "events.out.tfevents";

    /// <summary>Largest event file read.</summary>
    public const long MaxBytes = 1024L * 1024 * 1024;

    // tensorflow/core/util/event.proto, core/framework/summary.proto, tensor.proto, types.proto
    private const int EventWallTime = 1, EventStep = 2, EventSummary = 5;
    private const int SummaryValue = 1;
    private const int ValueTag = 1, ValueSimpleValue = 2, ValueTensor = 8;
    private const int TensorDtype = 1, TensorContent = 4, TensorFloatVal = 5, TensorDoubleVal = 6, TensorIntVal = 7, TensorInt64Val = 10, TensorHalfVal = 13;
    private const int DtFloat = 1, DtDouble = 2, DtInt32 = 3, DtBfloat16 = 14, DtInt64 = 9, DtHalf = 19;

    /// <summary>The scalar points of one event file: tag, step, value, wall time and the record's offset.</summary>
    /// <exception cref="MalformedInputException">Bad framing, a bad CRC, or a malformed protobuf (with the offset).</exception>
    public static List<(string Tag, long Step, double Value, DateTimeOffset? Time, long Offset)> ReadScalars(ReadOnlyMemory<byte> file, string source)
    {
        var points = new List<(string, long, double, DateTimeOffset?, long)>();
        foreach (var (offset, data) in TfRecordReader.Read(file, source))
        {
            ReadEvent(data.Span, offset + TfRecordReader.HeaderSize, source, offset, points);
        }

        return points;
    }

    /// <summary>A run from one event file or every event file of a folder (in name order).</summary>
    /// <exception cref="MalformedInputException">See <see cref="ReadScalars"/>; or no scalar at all.</exception>
    public static RunLog Read(IReadOnlyList<string> files, string source)
    {
        var points = new List<(string, long, double, DateTimeOffset?, long)>();
        foreach (var file in files)
        {
            if (new FileInfo(file).Length > MaxBytes)
            {
                MalformedInputException.ThrowLimit($"{file}: event file size", MaxBytes, 0);
            }

            points.AddRange(ReadScalars(File.ReadAllBytes(file), file));
        }

        var runId = Directory.Exists(source) ? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(source))) : Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(source))) ?? source;
        var events = MetricNames.ToSteps(runId, points);
        if (events.Count == 0)
        {
            throw MalformedInputException.CreateAt(InputErrorKind.Syntax, "no training scalar (a tag named loss, learning_rate/lr or grad_norm) in the event files", source, line: null);
        }

        return new RunLog { Source = source, Format = RunFormat.TensorBoard, Events = events };
    }

    private static void ReadEvent(ReadOnlySpan<byte> data, long baseOffset, string source, long recordOffset, List<(string, long, double, DateTimeOffset?, long)> points)
    {
        var reader = new ProtoReader(data, baseOffset, source);
        double? wallTime = null;
        long step = 0;
        var start = points.Count;
        while (!reader.AtEnd)
        {
            var (field, wire) = reader.ReadTag();
            switch (field)
            {
                case EventWallTime:
                    reader.Expect(wire, ProtoReader.Fixed64, "Event", field);
                    wallTime = BitConverterDouble(reader.ReadFixed64());
                    break;
                case EventStep:
                    reader.Expect(wire, ProtoReader.Varint, "Event", field);
                    step = unchecked((long)reader.ReadVarint());
                    break;
                case EventSummary:
                    reader.Expect(wire, ProtoReader.LengthDelimited, "Event", field);
                    var summary = reader.ReadBytes(out var at);
                    ReadSummary(summary, at, source, recordOffset, points);
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        // The step and wall time may come after the summary in the bytes: fill them in for this event's points.
        DateTimeOffset? time = wallTime is { } w && double.IsFinite(w) && w > 0 && w < 253402300799 ? DateTimeOffset.UnixEpoch.AddTicks((long)(w * TimeSpan.TicksPerSecond)) : null;
        for (var i = start; i < points.Count; i++)
        {
            points[i] = (points[i].Item1, step, points[i].Item3, time, recordOffset);
        }
    }

    private static void ReadSummary(ReadOnlySpan<byte> data, long baseOffset, string source, long recordOffset, List<(string, long, double, DateTimeOffset?, long)> points)
    {
        var reader = new ProtoReader(data, baseOffset, source);
        while (!reader.AtEnd)
        {
            var (field, wire) = reader.ReadTag();
            if (field != SummaryValue)
            {
                reader.Skip(wire);
                continue;
            }

            reader.Expect(wire, ProtoReader.LengthDelimited, "Summary", field);
            var value = reader.ReadBytes(out var at);
            if (ReadValue(value, at, source) is { } point)
            {
                points.Add((point.Tag, 0, point.Value, null, recordOffset));
            }
        }
    }

    private static (string Tag, double Value)? ReadValue(ReadOnlySpan<byte> data, long baseOffset, string source)
    {
        var reader = new ProtoReader(data, baseOffset, source);
        string? tag = null;
        double? value = null;
        while (!reader.AtEnd)
        {
            var (field, wire) = reader.ReadTag();
            switch (field)
            {
                case ValueTag:
                    reader.Expect(wire, ProtoReader.LengthDelimited, "Summary.Value", field);
                    tag = System.Text.Encoding.UTF8.GetString(reader.ReadBytes(out _));
                    break;
                case ValueSimpleValue:
                    reader.Expect(wire, ProtoReader.Fixed32, "Summary.Value", field);
                    value = BitConverterSingle(reader.ReadFixed32());
                    break;
                case ValueTensor:
                    reader.Expect(wire, ProtoReader.LengthDelimited, "Summary.Value", field);
                    var tensor = reader.ReadBytes(out var at);
                    value = ReadScalarTensor(tensor, at, source);
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        return tag is not null && value is { } v ? (tag, v) : null;
    }

    /// <summary>The first element of a tensor (a scalar summary's tensor has one), or null for a type that is not a number.</summary>
    private static double? ReadScalarTensor(ReadOnlySpan<byte> data, long baseOffset, string source)
    {
        var reader = new ProtoReader(data, baseOffset, source);
        var dtype = 0;
        ReadOnlySpan<byte> content = default;
        double? value = null;
        while (!reader.AtEnd)
        {
            var (field, wire) = reader.ReadTag();
            switch (field)
            {
                case TensorDtype:
                    reader.Expect(wire, ProtoReader.Varint, "TensorProto", field);
                    dtype = (int)Math.Min(reader.ReadVarint(), int.MaxValue);
                    break;
                case TensorContent:
                    reader.Expect(wire, ProtoReader.LengthDelimited, "TensorProto", field);
                    content = reader.ReadBytes(out _);
                    break;
                case TensorFloatVal:
                    value = First(value, Repeated(ref reader, wire, ProtoReader.Fixed32, source, static (ref ProtoReader r) => BitConverterSingle(r.ReadFixed32())));
                    break;
                case TensorDoubleVal:
                    value = First(value, Repeated(ref reader, wire, ProtoReader.Fixed64, source, static (ref ProtoReader r) => BitConverterDouble(r.ReadFixed64())));
                    break;
                case TensorIntVal:
                    value = First(value, Repeated(ref reader, wire, ProtoReader.Varint, source, static (ref ProtoReader r) => unchecked((int)r.ReadVarint())));
                    break;
                case TensorInt64Val:
                    value = First(value, Repeated(ref reader, wire, ProtoReader.Varint, source, static (ref ProtoReader r) => unchecked((long)r.ReadVarint())));
                    break;
                case TensorHalfVal:
                    value = First(value, Repeated(ref reader, wire, ProtoReader.Varint, source, static (ref ProtoReader r) => (double)BitConverterHalf((ushort)r.ReadVarint())));
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        if (value is not null || content.IsEmpty)
        {
            return value;
        }

        return dtype switch
        {
            DtFloat when content.Length >= 4 => BitConverterSingle(BinaryPrimitives.ReadUInt32LittleEndian(content)),
            DtDouble when content.Length >= 8 => BitConverterDouble(BinaryPrimitives.ReadUInt64LittleEndian(content)),
            DtInt32 when content.Length >= 4 => BinaryPrimitives.ReadInt32LittleEndian(content),
            DtInt64 when content.Length >= 8 => BinaryPrimitives.ReadInt64LittleEndian(content),
            DtHalf when content.Length >= 2 => (double)BitConverterHalf(BinaryPrimitives.ReadUInt16LittleEndian(content)),
            DtBfloat16 when content.Length >= 2 => BitConverterSingle((uint)BinaryPrimitives.ReadUInt16LittleEndian(content) << 16),
            _ => null,
        };
    }

    private delegate double Element(ref ProtoReader reader);

    /// <summary>The first element of a repeated numeric field, packed (one length-delimited run) or not (one element per tag).</summary>
    private static double? Repeated(ref ProtoReader reader, int wire, int elementWire, string source, Element element)
    {
        if (wire == elementWire)
        {
            return element(ref reader);
        }

        reader.Expect(wire, ProtoReader.LengthDelimited, "TensorProto", 0);
        var packed = reader.ReadBytes(out var at);
        if (packed.IsEmpty)
        {
            return null;
        }

        var inner = new ProtoReader(packed, at, source);
        return element(ref inner);
    }

    private static double? First(double? current, double? next) => current ?? next;

    private static double BitConverterSingle(uint bits) => BitConverter.UInt32BitsToSingle(bits);

    private static double BitConverterDouble(ulong bits) => BitConverter.UInt64BitsToDouble(bits);

    private static Half BitConverterHalf(ushort bits) => BitConverter.UInt16BitsToHalf(bits);

    /// <summary>Fuzz target: only <see cref="MalformedInputException"/> may escape.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data) => ReadScalars(data.ToArray(), "fuzz");
}
