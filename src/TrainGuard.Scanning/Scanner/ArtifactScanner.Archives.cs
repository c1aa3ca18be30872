using TrainGuard.Findings;
using TrainGuard.Formats.Detection;
using TrainGuard.Formats.SevenZip;
using TrainGuard.Formats.Tar;
using TrainGuard.Formats.Torch;
using TrainGuard.Formats.Zip;
using TrainGuard.Parsing;
using TrainGuard.Scanning.Policy;

namespace TrainGuard.Scanning.Scanner;

public sealed partial class ArtifactScanner
{
    /// <summary>
    /// A zip (torch checkpoint, npz, or any zip): structural findings from the reader, then every member
    /// detected by content. Tensor storages are only peeked at (their first bytes), never read whole.
    /// </summary>
    private void AnalyzeZip(FileScan scan, ContentSource source, string? member, int depth, CancellationToken ct)
    {
        using var zip = ZipReader.Open(source.Stream(), _options.Zip);
        var entries = zip.Entries;
        if (member is null)
        {
            scan.Format = ZipFlavour(entries);
        }


        foreach (var discrepancy in zip.Discrepancies)
        {
            scan.AddRule(
                RuleIds.ZipHeaderMismatch,
                $"zip local and central headers disagree on the {discrepancy.Field} of '{TextSanitizer.Escape(discrepancy.EntryName)}': central says {TextSanitizer.Escape(discrepancy.CentralValue)}, local says {TextSanitizer.Escape(discrepancy.LocalValue)}",
                JoinMember(member, discrepancy.EntryName),
                discrepancy.Offset,
                new Dictionary<string, string> { ["field"] = discrepancy.Field, ["central"] = discrepancy.CentralValue, ["local"] = discrepancy.LocalValue });
        }

        foreach (var issue in zip.Issues)
        {
            var rule = issue.Kind switch
            {
                ZipIssueKind.Encrypted or ZipIssueKind.UnsupportedMethod => RuleIds.UnsupportedMember,
                ZipIssueKind.PrefixData or ZipIssueKind.TrailingData or ZipIssueKind.DataBeforeEndRecord => RuleIds.TrailingData,
                ZipIssueKind.UnreadableEntry => RuleIds.DamagedContainer,
                _ => RuleIds.ZipHiddenEntries,
            };
            scan.AddRule(rule, issue.Message, issue.EntryName is null ? member : JoinMember(member, issue.EntryName), issue.Offset,
                new Dictionary<string, string> { ["zip_issue"] = issue.Kind.ToString() });
        }

        var sawTorchScript = false;
        var torchScript = entries.Any(e => IsTorchScriptCode(e.Name) || e.Name == "constants.pkl" || e.Name.EndsWith("/constants.pkl", StringComparison.Ordinal));
        var outerTorchScript = scan.InTorchScript;
        scan.InTorchScript = torchScript;
        try
        {
            AnalyzeZipMembers(scan, zip, member, depth, ref sawTorchScript, ct);
        }
        finally
        {
            scan.InTorchScript = outerTorchScript;
        }

        if (member is null && scan.TorchLoadName && scan.Format != "npz")
        {
            CheckTorchLayout(scan, zip, ct);
        }
    }

    private void AnalyzeZipMembers(FileScan scan, ZipReader zip, string? member, int depth, ref bool sawTorchScript, CancellationToken ct)
    {
        foreach (var entry in zip.Entries.Concat(zip.HiddenEntries))
        {
            ct.ThrowIfCancellationRequested();
            if (entry.IsDirectory)
            {
                continue;
            }

            var name = JoinMember(member, entry.Name);
            scan.AddMember(name);
            if (!sawTorchScript && IsTorchScriptCode(entry.Name))
            {
                sawTorchScript = true;
                scan.AddRule(RuleIds.TorchScriptCode, $"TorchScript code in the archive ('{TextSanitizer.Escape(entry.Name)}'): torch.jit.load compiles and runs it", name);
            }

            if (entry.Problem is not null || entry.IsEncrypted || !entry.IsSupportedMethod)
            {
                continue; // reported through zip.Issues
            }

            if (IsTorchScriptCode(entry.Name))
            {
                AnalyzeTorchScriptCode(scan, zip, entry, name);
                continue;
            }

            AnalyzeArchiveMember(scan, name, entry.UncompressedSize, depth,
                count => zip.ReadHead(entry, count),
                max => ReadAsLoader(scan, zip, entry, name, max),
                isTensorData: IsTorchStorageMember(entry.Name), ct);
        }
    }

    /// <summary>A TorchScript <c>code/</c> file: the ops its methods call (<see cref="TorchScriptCode"/>).</summary>
    private void AnalyzeTorchScriptCode(FileScan scan, ZipReader zip, ZipEntry entry, string name)
    {
        const int MaxCodeBytes = 16 * 1024 * 1024;
        try
        {
            var text = System.Text.Encoding.UTF8.GetString(ReadAsLoader(scan, zip, entry, name, MaxCodeBytes));
            foreach (var (ruleId, message, evidence, global, call) in TorchScriptCode.Judge(text, entry.Name, Policy))
            {
                scan.AddRule(ruleId, message, name, null, evidence, global, call);
            }
        }
        catch (MalformedInputException ex)
        {
            scan.AddError(ex, name);
        }
    }

    /// <summary>
    /// A member's bytes as the loader reads them (whatever the CRC says, up to the damage); the damage it reads past
    /// is its own finding, and the bytes are analysed like any others.
    /// </summary>
    private static byte[] ReadAsLoader(FileScan scan, ZipReader zip, ZipEntry entry, string name, int maxBytes)
    {
        var read = zip.ReadEntryAsLoader(entry, maxBytes);
        foreach (var damage in read.Damage)
        {
            scan.AddRule(
                RuleIds.DamagedContainer,
                $"{damage.Message}; torch.load (no CRC checks) and zipfile (CRC checked only after the last byte) read the member anyway, so its {read.Data.Length:N0} bytes were analysed",
                name,
                damage.Offset,
                new Dictionary<string, string> { ["damage"] = damage.Kind.ToString(), ["bytes_analysed"] = read.Data.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        }

        return read.Data;
    }

    /// <summary>
    /// What <c>torch.load</c> reads from a zip with a model file name (<see cref="TorchZipLayout"/>): it must find
    /// <c>&lt;root&gt;/data.pkl</c>; which entry it takes among names that differ only in case is reported; the
    /// tensors must fit their storages.
    /// </summary>
    private void CheckTorchLayout(FileScan scan, ZipReader zip, CancellationToken ct)
    {
        var layout = TorchZipLayout.For(zip.Entries);
        if (layout.Root is null)
        {
            var first = zip.Entries.Count > 0 ? $"its first entry '{TextSanitizer.Escape(zip.Entries[0].Name)}' is not in a folder" : "it has no entries";
            scan.AddRule(RuleIds.BrokenCheckpoint, $"torch.load cannot read this zip: {first}, and torch takes the checkpoint's root folder from the first entry", null, zip.Entries.Count > 0 ? zip.Entries[0].CentralHeaderOffset : 0);
            return;
        }

        var root = TextSanitizer.Escape(layout.Root);
        var dataPkl = layout.Locate("data.pkl");
        if (dataPkl is null)
        {
            scan.AddRule(RuleIds.BrokenCheckpoint, $"torch.load cannot read this checkpoint: it has no '{root}/data.pkl' (torch looks the object pickle up under the root folder of the first entry, ignoring ASCII case)", null, 0);
            return;
        }

        var candidates = layout.Candidates("data.pkl");
        if (candidates.Count > 1 || dataPkl.Name != layout.Root + "/data.pkl")
        {
            scan.AddRule(
                RuleIds.ZipHiddenEntries,
                $"torch.load reads '{TextSanitizer.Escape(dataPkl.Name)}' (central directory entry {dataPkl.Index + 1}) as '{root}/data.pkl': torch looks names up ignoring ASCII case, and {candidates.Count} entr{(candidates.Count == 1 ? "y matches" : "ies match")}; other readers may load another",
                dataPkl.Name,
                dataPkl.CentralHeaderOffset,
                new Dictionary<string, string> { ["torch_reads"] = dataPkl.Name, ["candidates"] = string.Join(", ", candidates.Select(c => c.Name)) });
        }

        if (dataPkl.Problem is not null || dataPkl.IsEncrypted || !dataPkl.IsSupportedMethod)
        {
            return;
        }

        ct.ThrowIfCancellationRequested();
        byte[] pickle;
        try
        {
            pickle = zip.ReadEntryAsLoader(dataPkl, (int)Math.Min(int.MaxValue, _options.Pickle.MaxBytes)).Data;
        }
        catch (MalformedInputException)
        {
            return; // reported with the member
        }

        foreach (var problem in TorchStorageCheck.Check(pickle, key => layout.Locate("data/" + key) is { Problem: null } e ? (e.UncompressedSize, e.Name) : null))
        {
            scan.AddRule(RuleIds.BrokenCheckpoint, problem.Message, dataPkl.Name, null, new Dictionary<string, string> { ["storage"] = problem.Storage });
        }
    }

    private void AnalyzeTar(FileScan scan, ContentSource source, string? member, int depth, CancellationToken ct)
    {
        using var tar = TarReader.Open(source.Stream(), new TarLimits { MaxEntryBytes = _options.Zip.MaxEntryBytes });
        var legacyTorch = tar.Entries.Any(e => e.Name == "pickle") && tar.Entries.Any(e => e.Name == "storages");
        if (member is null)
        {
            scan.Format = "tar";
        }

        foreach (var issue in tar.Issues.Where(i => i.Kind != TarIssueKind.Link))
        {
            scan.AddRule(issue.Kind == TarIssueKind.TrailingData ? RuleIds.TrailingData : RuleIds.ZipHiddenEntries, issue.Message,
                issue.EntryName is null ? member : JoinMember(member, issue.EntryName), issue.Offset);
        }

        foreach (var entry in tar.Entries)
        {
            ct.ThrowIfCancellationRequested();
            if (!entry.IsRegularFile)
            {
                continue;
            }

            var name = JoinMember(member, entry.Name);
            scan.AddMember(name);
            if (legacyTorch && entry.Name is "storages" or "tensors")
            {
                try
                {
                    var bytes = tar.ReadEntry(entry, checked((int)Math.Min(_options.Pickle.MaxBytes, int.MaxValue)));
                    AnalyzeLegacyTarSection(scan, bytes, name, entry.Name == "storages", ct);
                }
                catch (MalformedInputException ex)
                {
                    scan.AddError(ex, name);
                }

                continue;
            }

            AnalyzeArchiveMember(scan, name, entry.Size, depth,
                count => tar.ReadHead(entry, count),
                max => tar.ReadEntry(entry, max),
                isTensorData: false, ct);
        }
    }

    private void AnalyzeSevenZip(FileScan scan, ContentSource source, string? member, int depth, CancellationToken ct)
    {
        using var archive = SevenZipReader.Open(source.Stream(), _options.Zip);
        foreach (var entry in archive.Entries)
        {
            ct.ThrowIfCancellationRequested();
            if (entry.IsDirectory)
            {
                continue;
            }

            var name = JoinMember(member, entry.Name);
            scan.AddMember(name);
            AnalyzeArchiveMember(scan, name, entry.Size, depth,
                count => archive.ReadHead(entry, count),
                max => archive.ReadEntry(entry, max),
                isTensorData: false, ct);
        }
    }

    /// <summary>
    /// One archive member: detect by its first bytes, read it whole only when it needs analysing. A malformed
    /// member becomes its own error finding and the archive's other members are still scanned.
    /// </summary>
    private void AnalyzeArchiveMember(FileScan scan, string name, long size, int depth, Func<int, byte[]> readHead, Func<int, byte[]> readAll, bool isTensorData, CancellationToken ct)
    {
        try
        {
            AnalyzeArchiveMemberContent(scan, name, size, depth, readHead, readAll, isTensorData, ct);
        }
        catch (MalformedInputException ex)
        {
            scan.AddError(ex, name);
        }
    }

    private void AnalyzeArchiveMemberContent(FileScan scan, string name, long size, int depth, Func<int, byte[]> readHead, Func<int, byte[]> readAll, bool isTensorData, CancellationToken ct)
    {
        var head = readHead(FormatDetector.HeadSize);
        var format = FormatDetector.Detect(head, size);
        switch (format)
        {
            case DetectedFormat.Empty or DetectedFormat.Unknown:
                return;
            case DetectedFormat.Pickle or DetectedFormat.TorchLegacy or DetectedFormat.Npy or DetectedFormat.Safetensors:
                break;
            case DetectedFormat.Zip or DetectedFormat.Tar or DetectedFormat.SevenZip:
                if (depth + 1 > _options.MaxArchiveDepth)
                {
                    scan.AddRule(RuleIds.LimitExceeded, $"archive nested deeper than {_options.MaxArchiveDepth} levels is not analysed (raise --max-archive-depth if expected)", name, 0);
                    return;
                }

                break;
            default:
                break;
        }

        var maxBytes = (int)Math.Min(int.MaxValue, format is DetectedFormat.Pickle or DetectedFormat.TorchLegacy or DetectedFormat.Npy ? _options.Pickle.MaxBytes : _options.Zip.MaxEntryBytes);
        if (isTensorData && format == DetectedFormat.Pickle)
        {
            // A tensor's bytes can start like a pickle by chance; torch never unpickles storages, so only a
            // member that really parses as a pickle with imports is reported.
            var bytes = readAll(maxBytes);
            var probe = Pickle.PickleMachine.Analyze(bytes, _pickleLimits, ct);
            if (probe.Error is null || probe.Globals.Count > 0)
            {
                scan.AddRange(Policy.Evaluate(probe, scan.Path, name, 0));
            }

            return;
        }

        using var content = ContentSource.FromBytes(readAll(maxBytes));
        Analyze(scan, content, head, format, name, depth + 1, ct);
    }

    /// <summary>
    /// The legacy torch tar's <c>storages</c> and <c>tensors</c> members: pickles (each of which torch
    /// unpickles) interleaved with raw data whose length the previous pickle and a binary header give.
    /// </summary>
    private void AnalyzeLegacyTarSection(FileScan scan, byte[] data, string name, bool storages, CancellationToken ct)
    {
        var offset = 0L;
        var first = true;
        while (offset < data.Length)
        {
            ct.ThrowIfCancellationRequested();
            var slice = data.AsSpan(checked((int)offset));
            var analysis = Pickle.PickleMachine.Analyze(slice, 1, _pickleLimits, ct);
            scan.AddRange(Policy.Evaluate(analysis, scan.Path, name, offset));
            if (analysis.Error is not null || analysis.PickleCount == 0)
            {
                return;
            }

            offset += analysis.EndOffset;
            if (first)
            {
                first = false; // the count of records
                continue;
            }

            var rest = data.AsSpan(checked((int)offset));
            if (storages)
            {
                var storageType = analysis.Globals.LastOrDefault(g => g.Name.EndsWith("Storage", StringComparison.Ordinal));
                if (storageType is null)
                {
                    continue; // the trailing storage-views list
                }

                offset = LegacyTorchLayout.ReadStorage(rest, offset, StorageElementSize(storageType.Name), bigEndian: false, "storage record").End;
            }
            else
            {
                offset = LegacyTorchLayout.ReadTensor(rest, offset, _options.MaxTensorRank, "tensor record").End;
            }
        }
    }

    private static string ZipFlavour(IReadOnlyList<ZipEntry> entries)
    {
        if (entries.Any(e => e.Name == "data.pkl" || e.Name.EndsWith("/data.pkl", StringComparison.Ordinal)))
        {
            return "torch-zip";
        }

        var files = entries.Where(e => !e.IsDirectory).ToList();
        return files.Count > 0 && files.All(e => e.Name.EndsWith(".npy", StringComparison.Ordinal)) ? "npz" : "zip";
    }

    /// <summary><c>&lt;root&gt;/data/&lt;key&gt;</c> in a torch zip: raw tensor bytes.</summary>
    private static bool IsTorchStorageMember(string name)
    {
        var slash = name.IndexOf("/data/", StringComparison.Ordinal);
        return slash >= 0 && name.IndexOf('/', slash + "/data/".Length) < 0;
    }

    private static bool IsTorchScriptCode(string name) =>
        (name.Contains("/code/", StringComparison.Ordinal) || name.StartsWith("code/", StringComparison.Ordinal))
        && name.EndsWith(".py", StringComparison.Ordinal);
}
