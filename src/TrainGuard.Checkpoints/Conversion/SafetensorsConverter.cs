using System.Buffers.Binary;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using TrainGuard.Checkpoints.Torch;
using TrainGuard.Findings;
using TrainGuard.Formats.Safetensors;
using TrainGuard.Parsing;
using TrainGuard.Pickle.Objects;
using TrainGuard.Scanning.Scanner;

namespace TrainGuard.Checkpoints.Conversion;

/// <summary>Options of <see cref="SafetensorsConverter.Convert"/>.</summary>
public sealed record ConvertOptions
{
    /// <summary>Leave out values that are not tensors (listed in the result) instead of refusing the file.</summary>
    public bool SkipNonTensors { get; init; }

    /// <summary>Replace an existing output file.</summary>
    public bool Force { get; init; }

    /// <summary>How the input is scanned before anything is converted (the default policy unless set).</summary>
    public ScanOptions Scan { get; init; } = new();

    public TorchReadOptions Read { get; init; } = TorchReadOptions.Default;
}

/// <summary>Why a conversion ended.</summary>
public enum ConvertOutcome
{
    Converted,

    /// <summary>The scanner did not find the input clean (suspicious, malicious, error or skipped).</summary>
    NotClean,

    /// <summary>The output exists and <see cref="ConvertOptions.Force"/> was not given.</summary>
    OutputExists,

    /// <summary>The checkpoint holds values that are not tensors and <see cref="ConvertOptions.SkipNonTensors"/> was not given.</summary>
    NonTensorValues,

    /// <summary>The checkpoint cannot be written as safetensors (not a state_dict, a dtype safetensors lacks, clashing names, no tensors).</summary>
    Unsupported,
}

/// <summary>A tensor as written: its safetensors name, dtype code, shape and byte range in the data section.</summary>
public sealed record ConvertedTensor(string Name, string Dtype, IReadOnlyList<long> Shape, long Begin, long End, string StorageKey, bool WasContiguous);

/// <summary>What <see cref="SafetensorsConverter.Convert"/> did, or why it refused.</summary>
public sealed record ConvertResult
{
    public required ConvertOutcome Outcome { get; init; }

    /// <summary>One line for a person: what was written, or why nothing was.</summary>
    public required string Message { get; init; }

    /// <summary>The scan of the input (null when refused before scanning).</summary>
    public AnalyzedItem? Scan { get; init; }

    /// <summary>The key the state_dict was taken from (<c>state_dict</c>, <c>model</c>), or null for the root.</summary>
    public string? StateDictKey { get; init; }

    public IReadOnlyList<ConvertedTensor> Tensors { get; init; } = [];

    /// <summary>Paths of the values not converted (non-tensors, and root entries beside the state_dict), with a short rendering.</summary>
    public IReadOnlyList<(string Path, string Value)> Skipped { get; init; } = [];

    public long BytesWritten { get; init; }

    public bool Succeeded => Outcome == ConvertOutcome.Converted;
}

/// <summary>
/// Writes the tensors of a torch pickle checkpoint (zip or legacy; a state_dict, or a dict holding one
/// under <c>state_dict</c> or <c>model</c>) as a safetensors file, without executing anything. The input
/// must scan clean first. Views are written as contiguous copies, tensors sharing a storage each get
/// their own bytes, big-endian storages are swapped, and the header follows the safetensors library:
/// <c>__metadata__</c> (<c>format: pt</c>) first, tensors by descending dtype then name, offsets in that
/// order, padded with spaces to 8 bytes. Output goes to a temporary file renamed into place.
/// </summary>
public static class SafetensorsConverter
{
    /// <summary>safetensors' own dtype order (its <c>Dtype</c> enum); data is laid out by descending rank.</summary>
    private static readonly Dictionary<string, int> DtypeRank = new(StringComparer.Ordinal)
    {
        ["BOOL"] = 0,
        ["U8"] = 4,
        ["I8"] = 5,
        ["I16"] = 9,
        ["U16"] = 10,
        ["F16"] = 11,
        ["BF16"] = 12,
        ["I32"] = 13,
        ["U32"] = 14,
        ["F32"] = 15,
        ["C64"] = 16,
        ["F64"] = 17,
        ["I64"] = 18,
        ["U64"] = 19,
    };

    private static readonly string[] StateDictKeys = ["state_dict", "model"];

    public static ConvertResult Convert(string input, string output, ConvertOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        options ??= new ConvertOptions();
        var inputFull = Path.GetFullPath(input);
        var outputFull = Path.GetFullPath(output);
        if (string.Equals(inputFull, outputFull, StringComparison.Ordinal))
        {
            return Refuse(ConvertOutcome.OutputExists, "the output is the input; choose another output path");
        }

        if ((File.Exists(outputFull) || Directory.Exists(outputFull)) && !options.Force)
        {
            return Refuse(ConvertOutcome.OutputExists, $"{output} exists; not overwritten (use --force to replace it)");
        }

        // 1. The scanner must find the input clean: a converter must never be the way a payload gets "laundered".
        var scan = new ArtifactScanner(options.Scan).Scan(new ScanTarget(inputFull, input, false), cancellationToken);
        if (scan.Verdict != Verdict.Clean)
        {
            var why = scan.Findings.Count > 0 ? scan.Findings[0].Message : scan.Verdict.ToWireName();
            return Refuse(ConvertOutcome.NotClean, $"refused: the scan of {input} is {scan.Verdict.ToWireName()}, not clean ({why}); nothing was converted", scan);
        }

        // 2. Read the checkpoint symbolically and choose the state_dict.
        using var checkpoint = TorchCheckpoint.Open(inputFull, options.Read);
        if (checkpoint.Format == TorchFormat.Pickle)
        {
            return Refuse(ConvertOutcome.Unsupported, $"{input} is a bare pickle, not a torch checkpoint with storages", scan);
        }

        var root = checkpoint.Root;
        var rootDict = root.AsDict();
        if (rootDict is null)
        {
            return Refuse(ConvertOutcome.Unsupported, $"{input} holds {PyRender.ToText(root, maxDepth: 1)}, not a state_dict (a dict of tensors)", scan);
        }

        var skipped = new List<(string Path, string Value)>();
        PyValue stateDict = root;
        string? stateDictKey = null;
        foreach (var key in StateDictKeys)
        {
            if (rootDict.Count > 0 && root.Get(key) is { } candidate && candidate.AsDict() is not null && checkpoint.TensorsUnder(candidate).Count > 0)
            {
                stateDict = candidate;
                stateDictKey = key;
                foreach (var (k, v) in rootDict.Items)
                {
                    if (k.AsString() != key)
                    {
                        skipped.Add((KeyText(k), PyRender.ToText(v, maxDepth: 1, maxLength: 80)));
                    }
                }

                break;
            }
        }

        // 3. Every leaf must be a tensor safetensors can hold.
        var tensors = new List<TensorRef>();
        foreach (var entry in checkpoint.Walk(stateDict))
        {
            if (entry.Tensor is { } t)
            {
                tensors.Add(t);
            }
            else
            {
                skipped.Add((entry.Path, PyRender.ToText(entry.Value, maxDepth: 1, maxLength: 80)));
            }
        }

        if (skipped.Count > 0 && !options.SkipNonTensors)
        {
            var list = string.Join(", ", skipped.Take(5).Select(s => s.Path.Length == 0 ? "(root)" : s.Path)) + (skipped.Count > 5 ? $" and {skipped.Count - 5} more" : string.Empty);
            var what = stateDictKey is null
                ? $"{skipped.Count} value(s) are not tensors ({list}); safetensors holds tensors only"
                : $"the state_dict is under '{stateDictKey}'; {skipped.Count} value(s) outside it or not tensors would be left out ({list})";
            return Refuse(ConvertOutcome.NonTensorValues, $"refused: {what}: use --skip-non-tensors to leave them out", scan) with { Skipped = skipped, StateDictKey = stateDictKey };
        }

        if (tensors.Count == 0)
        {
            return Refuse(ConvertOutcome.Unsupported, $"{input} holds no tensors", scan) with { Skipped = skipped, StateDictKey = stateDictKey };
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in tensors)
        {
            if (t.Dtype.SafetensorsCode is null)
            {
                return Refuse(ConvertOutcome.Unsupported, $"tensor '{t.Path}' is {t.Dtype.Name}, which safetensors cannot hold; nothing was converted", scan);
            }

            if (t.Path.Length == 0 || t.Path == "__metadata__" || !names.Add(t.Path))
            {
                return Refuse(ConvertOutcome.Unsupported, $"tensor name '{t.Path}' is empty, reserved or used twice (nested keys can collide with dotted keys); nothing was converted", scan);
            }
        }

        // 4. Layout as safetensors does, then write to a temporary file and rename it into place.
        var ordered = tensors
            .OrderByDescending(t => DtypeRank[t.Dtype.SafetensorsCode!])
            .ThenBy(t => Encoding.UTF8.GetBytes(t.Path), Utf8Order.Instance)
            .ToList();
        var written = new List<ConvertedTensor>(ordered.Count);
        long offset = 0;
        foreach (var t in ordered)
        {
            var end = checked(offset + t.ByteSize);
            written.Add(new ConvertedTensor(t.Path, t.Dtype.SafetensorsCode!, t.Shape, offset, end, t.StorageKey, t.IsContiguous));
            offset = end;
        }

        var header = Header(written);
        var directory = Path.GetDirectoryName(outputFull) ?? ".";
        var temp = Path.Combine(directory, $".{Path.GetFileName(outputFull)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16))
            {
                stream.Write(header);
                foreach (var (t, w) in ordered.Zip(written))
                {
                    var before = stream.Position;
                    checkpoint.CopyTensorTo(t, stream, cancellationToken);
                    if (stream.Position - before != w.End - w.Begin)
                    {
                        throw MalformedInputException.Create(InputErrorKind.Corrupt, $"tensor '{t.Path}' produced {stream.Position - before:N0} bytes, expected {w.End - w.Begin:N0}", null, t.Storage.Member);
                    }
                }

                stream.Flush(flushToDisk: true);
                stream.Position = 0;
                SafetensorsReader.Validate(stream, stream.Length, SafetensorsLimits.Default);
            }

            File.Move(temp, outputFull, overwrite: options.Force);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }

        var total = header.Length + offset;
        return new ConvertResult
        {
            Outcome = ConvertOutcome.Converted,
            Message = $"wrote {written.Count} tensor(s), {total:N0} bytes, to {output}" + (skipped.Count > 0 ? $"; skipped {skipped.Count} non-tensor value(s)" : string.Empty),
            Scan = scan,
            StateDictKey = stateDictKey,
            Tensors = written,
            Skipped = skipped,
            BytesWritten = total,
        };
    }

    /// <summary>The header bytes: u64 LE length, then the JSON padded with spaces to a multiple of 8.</summary>
    internal static byte[] Header(IReadOnlyList<ConvertedTensor> tensors)
    {
        using var json = new MemoryStream();
        using (var w = new Utf8JsonWriter(json, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = false }))
        {
            w.WriteStartObject();
            w.WriteStartObject("__metadata__");
            w.WriteString("format", "pt");
            w.WriteEndObject();
            foreach (var t in tensors)
            {
                w.WriteStartObject(t.Name);
                w.WriteString("dtype", t.Dtype);
                w.WriteStartArray("shape");
                foreach (var d in t.Shape)
                {
                    w.WriteNumberValue(d);
                }

                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(t.Begin);
                w.WriteNumberValue(t.End);
                w.WriteEndArray();
                w.WriteEndObject();
            }

            w.WriteEndObject();
        }

        var n = (int)json.Length;
        var padded = (n + 7) & ~7;
        var header = new byte[8 + padded];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)padded);
        json.GetBuffer().AsSpan(0, n).CopyTo(header.AsSpan(8));
        header.AsSpan(8 + n).Fill((byte)' ');
        return header;
    }

    private static ConvertResult Refuse(ConvertOutcome outcome, string message, AnalyzedItem? scan = null) =>
        new() { Outcome = outcome, Message = message, Scan = scan };

    private static string KeyText(PyValue key) => key.AsString() ?? PyRender.ToText(key, maxDepth: 1, maxLength: 80);

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Byte-wise order of UTF-8 names (Rust's <c>str</c> ordering, which safetensors sorts by).</summary>
    private sealed class Utf8Order : IComparer<byte[]>
    {
        public static Utf8Order Instance { get; } = new();

        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}
