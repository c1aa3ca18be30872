using System.IO.Compression;
using TrainGuard.Formats.Detection;
using TrainGuard.Formats.Numpy;
using TrainGuard.Formats.Safetensors;
using TrainGuard.Formats.Torch;
using TrainGuard.Findings;
using TrainGuard.Parsing;
using TrainGuard.Pickle;
using TrainGuard.Scanning.Policy;

namespace TrainGuard.Scanning.Scanner;

public sealed partial class ArtifactScanner
{
    /// <summary>Joins nested member names: <c>outer.zip!/inner/data.pkl</c>.</summary>
    internal static string JoinMember(string? parent, string name) => parent is null ? name : $"{parent}!/{name}";

    private void Analyze(FileScan scan, ContentSource source, byte[] head, DetectedFormat format, string? member, int depth, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        if (member is null)
        {
            scan.Format = format == DetectedFormat.Unknown && LooksLikeZlib(head) ? "zlib" : FormatName(format);
            scan.Baseline = Verdict.Clean;
        }

        switch (format)
        {
            case DetectedFormat.Pickle:
                AnalyzePickle(scan, source.Span(_options.Pickle.MaxBytes), member, baseOffset: 0, ct, source);
                break;
            case DetectedFormat.TorchLegacy:
                AnalyzeLegacyTorch(scan, source, member, ct);
                break;
            case DetectedFormat.Zip:
                AnalyzeZip(scan, source, member, depth, ct);
                break;
            case DetectedFormat.Tar:
                AnalyzeTar(scan, source, member, depth, ct);
                break;
            case DetectedFormat.SevenZip:
                AnalyzeSevenZip(scan, source, member, depth, ct);
                break;
            case DetectedFormat.Npy:
                AnalyzeNpy(scan, source, head, member, ct);
                break;
            case DetectedFormat.Safetensors:
                ValidateSafetensors(scan, source, member);
                break;
            case DetectedFormat.Gzip:
                AnalyzeCompressed(scan, source, member, "gzip", s => new GZipStream(s, CompressionMode.Decompress, leaveOpen: true), depth, ct);
                break;
            case DetectedFormat.Unknown when LooksLikeZlib(head):
                AnalyzeCompressed(scan, source, member, "zlib", s => new ZLibStream(s, CompressionMode.Decompress, leaveOpen: true), depth, ct);
                break;
            case DetectedFormat.Bzip2 or DetectedFormat.Xz or DetectedFormat.Zstd:
                scan.AddRule(RuleIds.UnsupportedContainer, $"{FormatName(format)}-compressed content is not analysed; decompress it and scan the result", member, 0);
                break;
            default:
                break;
        }
    }

    private static void ValidateSafetensors(FileScan scan, ContentSource source, string? member)
    {
        try
        {
            SafetensorsReader.Validate(source.Stream(), source.Length, new SafetensorsLimits());
        }
        catch (MalformedInputException ex) when (!ex.LimitExceeded)
        {
            scan.AddRule(RuleIds.InvalidSafetensors, ex.Message, member, ex.Offset);
        }
    }

    /// <summary>zlib stream header (RFC 1950): deflate with a window of at most 32 KiB, and the header checksum.</summary>
    internal static bool LooksLikeZlib(ReadOnlySpan<byte> head) =>
        head.Length >= 2 && (head[0] & 0x0f) == 8 && (head[0] >> 4) <= 7 && ((head[0] << 8) | head[1]) % 31 == 0 && (head[1] & 0x20) == 0;

    /// <summary>
    /// A single compressed stream (gzip, zlib: joblib's <c>compress=</c> files): inflated within the entry
    /// and ratio limits, then analysed by content like any other file.
    /// </summary>
    private void AnalyzeCompressed(FileScan scan, ContentSource source, string? member, string kind, Func<Stream, Stream> open, int depth, CancellationToken ct)
    {
        if (depth + 1 > _options.MaxArchiveDepth)
        {
            scan.AddRule(RuleIds.LimitExceeded, $"compressed content nested deeper than {_options.MaxArchiveDepth} levels is not analysed", member, 0);
            return;
        }

        var limits = _options.Zip;
        var ratioCap = Math.Max(limits.RatioCheckFloorBytes, source.Length * (long)limits.MaxCompressionRatio);
        var cap = Math.Min(Math.Min(limits.MaxEntryBytes, _options.Pickle.MaxBytes), Math.Min(ratioCap, Array.MaxLength));
        byte[] inflated;
        using var partial = new MemoryStream();
        try
        {
            using var input = open(source.Stream());
            var buffer = partial;
            var chunk = new byte[81920];
            int read;
            while ((read = input.Read(chunk)) > 0)
            {
                ct.ThrowIfCancellationRequested();
                if (buffer.Length + read > cap)
                {
                    MalformedInputException.ThrowLimit($"{kind} content inflated size (ratio limit {limits.MaxCompressionRatio}:1, entry limit)", cap, 0);
                }

                buffer.Write(chunk, 0, read);
            }

            inflated = buffer.ToArray();
        }
        catch (InvalidDataException ex)
        {
            // joblib and gzip.open stream what they inflate into the unpickler: whatever came before the damage has
            // already run when the error surfaces. Analyse that, and report the damage beside it.
            inflated = partial.ToArray();
            scan.AddRule(RuleIds.DamagedContainer, $"{kind} stream is corrupt after {inflated.Length:N0} inflated bytes ({ex.Message}); a streaming loader has already unpickled what came before, so those bytes were analysed", member, 0,
                new Dictionary<string, string> { ["damage"] = "CorruptData", ["bytes_analysed"] = inflated.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            if (inflated.Length == 0)
            {
                return;
            }
        }

        var inner = JoinMember(member, kind == "gzip" ? "(gunzipped)" : "(inflated)");
        scan.AddMember(inner);
        using var content = ContentSource.FromBytes(inflated);
        var head = content.ReadHead(FormatDetector.HeadSize);
        var format = FormatDetector.Detect(head, inflated.Length);
        if (format is DetectedFormat.Empty or DetectedFormat.Unknown)
        {
            scan.AddRule(RuleIds.UnrecognisedModelFile, $"{kind} content is not a model format TrainGuard recognises", inner, 0);
            return;
        }

        Analyze(scan, content, head, format, inner, depth + 1, ct);
    }

    internal static string FormatName(DetectedFormat format) => format switch
    {
        DetectedFormat.Pickle => "pickle",
        DetectedFormat.TorchLegacy => "torch-legacy",
        DetectedFormat.Zip => "zip",
        DetectedFormat.Tar => "tar",
        DetectedFormat.Npy => "npy",
        DetectedFormat.Safetensors => "safetensors",
        DetectedFormat.SevenZip => "7z",
        DetectedFormat.Gzip => "gzip",
        DetectedFormat.Bzip2 => "bzip2",
        DetectedFormat.Xz => "xz",
        DetectedFormat.Zstd => "zstd",
        DetectedFormat.Empty => "empty",
        _ => "unknown",
    };

    private PickleAnalysis AnalyzePickle(FileScan scan, ReadOnlySpan<byte> data, string? member, long baseOffset, CancellationToken ct, ContentSource? source = null)
    {
        var analysis = PickleMachine.Analyze(data, _pickleLimits, ct, Releaser(source, baseOffset));
        ct.ThrowIfCancellationRequested();
        scan.AddRange(Policy.Evaluate(analysis, scan.Path, member, baseOffset, scan.InTorchScript));
        if (member is null && scan.Format == "pickle" && analysis.Globals.Any(g => g.Module.StartsWith("joblib", StringComparison.Ordinal)))
        {
            scan.Format = "joblib";
        }

        return analysis;
    }

    /// <summary>The pickle machine's progress callback: lets a memory-mapped file drop the pages already read.</summary>
    private static Action<long>? Releaser(ContentSource? source, long baseOffset) =>
        source is null ? null : consumed => source.ReleaseBefore(baseOffset + consumed);

    private void AnalyzeNpy(FileScan scan, ContentSource source, byte[] head, string? member, CancellationToken ct)
    {
        const int MaxHeaderBytes = 1 << 20;
        var header = ParseNpyHeader(source, head, MaxHeaderBytes);
        if (member is null)
        {
            scan.Format = "npy";
        }

        if (header.IsObjectDtype)
        {
            // numpy.save of an object array writes a pickle right after the header: np.load(allow_pickle=True) runs it.
            var all = source.Span(_options.Pickle.MaxBytes);
            AnalyzePickle(scan, all[checked((int)header.DataOffset)..], member, header.DataOffset, ct, source);
            return;
        }

        if (header.DataByteLength is { } expected)
        {
            var actual = source.Length - header.DataOffset;
            if (actual < expected)
            {
                MalformedInputException.ThrowTruncated($"array data ({expected:N0} bytes declared by the header, {actual:N0} present)", source.Length);
            }

            if (actual > expected)
            {
                scan.AddRule(RuleIds.TrailingData, $"{actual - expected:N0} bytes after the array data that numpy does not read", member, header.DataOffset + expected);
            }
        }
    }

    private static NpyHeader ParseNpyHeader(ContentSource source, byte[] head, int maxHeaderBytes)
    {
        try
        {
            return NpyHeader.Parse(head);
        }
        catch (MalformedInputException) when (head.Length < source.Length && head.Length < maxHeaderBytes)
        {
            // The header may be longer than the detection head: read up to the limit and try again.
            return NpyHeader.Parse(source.ReadHead(maxHeaderBytes));
        }
    }

    /// <summary>
    /// Legacy (non-zip) <c>torch.save</c>: five pickles (magic number, protocol, sys info, the object,
    /// the storage keys) followed by each storage as a u64 LE element count and raw bytes, in sorted key order.
    /// Anything that does not fit that layout is reported, never skipped.
    /// </summary>
    private void AnalyzeLegacyTorch(FileScan scan, ContentSource source, string? member, CancellationToken ct)
    {
        var data = source.Span(_options.Pickle.MaxBytes);
        var analysis = PickleMachine.Analyze(data, LegacyTorchLayout.PickleCount, _pickleLimits, ct, Releaser(source, 0));
        ct.ThrowIfCancellationRequested();
        scan.AddRange(Policy.Evaluate(analysis, scan.Path, member, 0));
        if (analysis.Error is not null)
        {
            return;
        }

        if (analysis.PickleCount < LegacyTorchLayout.PickleCount)
        {
            scan.AddRule(RuleIds.Malformed, $"legacy torch file has {analysis.PickleCount} pickles where {LegacyTorchLayout.PickleCount} are expected", member, analysis.EndOffset);
            return;
        }

        var storages = LegacyStorages(analysis);
        var offset = analysis.EndOffset;
        foreach (var (key, elementSize, declared) in storages)
        {
            try
            {
                var record = LegacyTorchLayout.ReadStorage(data[checked((int)offset)..], offset, elementSize, bigEndian: false, $"storage '{key}'");
                if (declared is { } numel && record.ElementCount != numel)
                {
                    // torch's legacy loader makes a storage of the declared size and then refuses (or, for a shorter
                    // record in older versions, fills only part of it): never a checkpoint to load.
                    scan.AddRule(RuleIds.BrokenCheckpoint, $"storage '{TextSanitizer.Escape(key, 80)}' holds {record.ElementCount:N0} elements but the object pickle declares {numel:N0}", member, offset);
                }

                offset = record.End;
            }
            catch (MalformedInputException ex)
            {
                scan.AddError(ex, member);
                return;
            }
        }

        if (offset < data.Length)
        {
            ReportHiddenTail(scan, data, offset, member, "after the legacy torch storages", ct);
        }
    }

    /// <summary>Bytes no loader reads: analysed as pickles if they are (a hidden payload), reported either way.</summary>
    private void ReportHiddenTail(FileScan scan, ReadOnlySpan<byte> data, long offset, string? member, string where, CancellationToken ct)
    {
        var tail = data[checked((int)offset)..];
        scan.AddRule(RuleIds.TrailingData, $"{tail.Length:N0} unexplained bytes {where}", member, offset);
        if (PickleSniffer.LooksLikePickle(tail))
        {
            AnalyzePickle(scan, tail, member, offset, ct);
        }
    }

    /// <summary>The storages a legacy file's object pickle refers to, in the order their bytes follow (sorted keys).</summary>
    private static List<(string Key, int ElementSize, long? Declared)> LegacyStorages(PickleAnalysis analysis)
    {
        // ('storage', storage_type, root_key, location, numel, view_metadata)
        var storages = new SortedDictionary<string, (int Size, long? Numel)>(StringComparer.Ordinal);
        foreach (var id in analysis.PersistentIds)
        {
            if (id.Parts.Count >= 3 && Unquote(id.Parts[0]) == "storage")
            {
                long? numel = id.Parts.Count >= 5 && long.TryParse(id.Parts[4], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : null;
                storages.TryAdd(Unquote(id.Parts[2]), (StorageElementSize(id.Parts[1]), numel));
            }
        }

        return storages.Select(s => (s.Key, s.Value.Size, s.Value.Numel)).ToList();
    }

    internal static string Unquote(string rendered) =>
        rendered.Length >= 2 && (rendered[0] is '\'' or '"') && rendered[^1] == rendered[0] ? rendered[1..^1] : rendered;

    /// <summary>Bytes per element of a torch storage type, from its name (<c>torch.FloatStorage</c> -> 4); 1 for untyped and unknown storages.</summary>
    internal static int StorageElementSize(string typeName) =>
        TorchDtype.FromStorageClass(typeName[(typeName.LastIndexOf('.') + 1)..])?.ElementSize ?? 1;
}
