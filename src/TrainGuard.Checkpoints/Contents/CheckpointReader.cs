using System.Security.Cryptography;
using System.Text.Json.Nodes;
using TrainGuard.Checkpoints.Torch;
using TrainGuard.Findings;
using TrainGuard.Formats.Detection;
using TrainGuard.Formats.Safetensors;
using TrainGuard.Formats.Torch;
using TrainGuard.Parsing;
using TrainGuard.Pickle.Objects;
using TrainGuard.Scanning.Scanner;

namespace TrainGuard.Checkpoints.Contents;

/// <summary>
/// Reads a checkpoint file or a Hugging Face <c>checkpoint-N/</c> folder into <see cref="CheckpointContents"/>.
/// Every file is scanned first; a file the scanner does not find clean is listed with its findings and not
/// interpreted. Roles are found by content (a dict with <c>param_groups</c> and <c>state</c> is an optimizer,
/// wherever it is), never by file name alone; tensor bytes are read only for scalars, RNG states and, when
/// asked, hashes (streamed).
/// </summary>
public static class CheckpointReader
{
    private const int MaxRoleSearchDepth = 3;

    public static CheckpointContents Read(string path, CheckpointReadOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= CheckpointReadOptions.Default;
        var builder = new Builder(options, cancellationToken);
        if (Directory.Exists(path))
        {
            var folder = new DirectoryInfo(path);
            var entries = folder.EnumerateFileSystemInfos().OrderBy(e => e.Name, StringComparer.Ordinal).Take(options.MaxFiles + 1).ToList();
            if (entries.Count > options.MaxFiles)
            {
                MalformedInputException.ThrowLimit($"{path}: files in the checkpoint folder", options.MaxFiles, 0);
            }

            foreach (var entry in entries)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (entry is DirectoryInfo || entry.LinkTarget is not null)
                {
                    builder.Files.Add(new CheckpointFileInfo
                    {
                        Name = entry.Name,
                        FullPath = entry.FullName,
                        Format = entry is DirectoryInfo ? "folder" : "symlink",
                        Roles = ["other"],
                        Problem = entry.LinkTarget is not null ? $"symbolic link to {TextSanitizer.Escape(entry.LinkTarget, 200)} not followed" : null,
                    });
                    continue;
                }

                builder.ReadFile((FileInfo)entry, inFolder: true);
            }

            return builder.Build(path, isFolder: true, FolderStepOf(folder.Name));
        }

        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"no such file or folder: {path}", path);
        }

        builder.ReadFile(new FileInfo(path), inFolder: false);
        return builder.Build(path, isFolder: false, null);
    }

    /// <summary>
    /// Fuzz target: a torch checkpoint (zip or legacy bytes) read for optimizer, scheduler and RNG roles as a
    /// checkpoint file would be. Never throws anything but <see cref="MalformedInputException"/>.
    /// </summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        try
        {
            using var stream = new MemoryStream(data.ToArray(), writable: false);
            using var checkpoint = TorchCheckpoint.Open(stream, TorchReadOptions.Default);
            var builder = new Builder(new CheckpointReadOptions { ScanFirst = false, MaxRngTwists = 4 }, CancellationToken.None);
            builder.ReadTorch(checkpoint, "fuzz.pt", "fuzz.pt", out _);
            _ = Runs.RunChecker.Check(builder.Build("fuzz.pt", isFolder: false, null), null);
        }
        catch (MalformedInputException)
        {
        }
    }

    /// <summary>The N of <c>checkpoint-N</c>, or null.</summary>
    public static long? FolderStepOf(string name)
    {
        const string Prefix = "checkpoint-";
        if (!name.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return null;
        }

        var digits = name[Prefix.Length..];
        return digits.Length is > 0 and <= 18 && digits.All(char.IsAsciiDigit) ? long.Parse(digits, System.Globalization.CultureInfo.InvariantCulture) : null;
    }

    private sealed class Builder(CheckpointReadOptions options, CancellationToken ct)
    {
        private readonly ArtifactScanner? _scanner = options.ScanFirst ? new ArtifactScanner(options.Scan) : null;

        public List<CheckpointFileInfo> Files { get; } = [];

        public List<TensorInfo> Tensors { get; } = [];

        public List<OptimizerContents> Optimizers { get; } = [];

        public List<SchedulerContents> Schedulers { get; } = [];

        public List<RngFileContents> Rng { get; } = [];

        public List<Finding> Problems { get; } = [];

        public List<AnalyzedItem> Scans { get; } = [];

        public TrainerState? TrainerState { get; private set; }

        public CheckpointContents Build(string path, bool isFolder, long? step) => new()
        {
            Path = path,
            IsFolder = isFolder,
            FolderStep = step,
            Files = Files,
            Tensors = Tensors,
            Optimizers = Optimizers,
            Schedulers = Schedulers,
            Rng = Rng,
            TrainerState = TrainerState,
            Problems = Problems,
            Scans = Scans,
            MaxRngTwists = options.MaxRngTwists,
        };

        public void ReadFile(FileInfo file, bool inFolder)
        {
            var name = file.Name;
            Verdict? scanVerdict = null;
            if (_scanner is not null)
            {
                var scan = _scanner.Scan(new ScanTarget(file.FullName, file.FullName, inFolder && ScanTargets.IsCheckpointFolder(file.Directory?.Name ?? string.Empty)), ct);
                Scans.Add(scan);
                scanVerdict = scan.Verdict;
                if (scan.Verdict is Verdict.Suspicious or Verdict.Malicious or Verdict.Error)
                {
                    Problems.Add(CheckpointRules.Refused.Finding(
                        $"{name} not interpreted: the scanner found it {scan.Verdict.ToWireName()} ({string.Join(", ", scan.Findings.Select(f => f.RuleId).Distinct(StringComparer.Ordinal))}); run 'trainguard scan {name}' for details",
                        new Location(file.FullName),
                        new Dictionary<string, string> { ["scan_verdict"] = scan.Verdict.ToWireName() },
                        severity: scan.Verdict == Verdict.Malicious ? Severity.Critical : Severity.High,
                        verdict: scan.Verdict));
                    Problems.AddRange(scan.Findings);
                    Files.Add(new CheckpointFileInfo
                    {
                        Name = name,
                        FullPath = file.FullName,
                        Size = file.Length,
                        Format = scan.Format,
                        ScanVerdict = scan.Verdict,
                        Problem = $"refused: the scanner found it {scan.Verdict.ToWireName()}",
                    });
                    return;
                }
            }

            try
            {
                Files.Add(Interpret(file, name, scanVerdict));
            }
            catch (MalformedInputException ex)
            {
                Unreadable(file, name, scanVerdict, ex.Message, ex.Member, ex.Offset);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Unreadable(file, name, scanVerdict, $"cannot read: {ex.Message}", null, null);
            }
        }

        private void Unreadable(FileInfo file, string name, Verdict? scanVerdict, string message, string? member, long? offset)
        {
            Problems.Add(CheckpointRules.Unreadable.Finding($"{name}: {message}", new Location(file.FullName, member, offset), verdict: Verdict.Error));
            Files.Add(new CheckpointFileInfo
            {
                Name = name,
                FullPath = file.FullName,
                Size = file.Exists ? file.Length : 0,
                Format = "unreadable",
                ScanVerdict = scanVerdict,
                Problem = message,
            });
        }

        private CheckpointFileInfo Interpret(FileInfo file, string name, Verdict? scanVerdict)
        {
            var length = file.Length;
            byte[] head;
            using (var stream = file.OpenRead())
            {
                head = new byte[(int)Math.Min(FormatDetector.HeadSize, length)];
                stream.ReadExactly(head);
            }

            var format = length == 0 ? DetectedFormat.Empty : FormatDetector.Detect(head, length);
            var info = new CheckpointFileInfo { Name = name, FullPath = file.FullName, Size = length, Format = "other", ScanVerdict = scanVerdict, Roles = ["other"] };
            switch (format)
            {
                case DetectedFormat.Safetensors:
                    ReadSafetensors(file);
                    return info with { Format = "safetensors", Roles = ["model"], Interpreted = true };
                case DetectedFormat.Zip or DetectedFormat.TorchLegacy or DetectedFormat.Tar or DetectedFormat.Pickle:
                    using (var checkpoint = TorchCheckpoint.Open(file.FullName, options.Torch))
                    {
                        var roles = ReadTorch(checkpoint, file.FullName, name, out var summary);
                        return info with { Format = FormatName(checkpoint.Format), Roles = roles, Interpreted = true, Summary = summary };
                    }

                default:
                    if (name == "trainer_state.json")
                    {
                        TrainerState = Contents.TrainerState.Load(file.FullName);
                        return info with { Format = "json", Roles = ["trainer-state"], Interpreted = true };
                    }

                    return info with { Format = name.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? "json" : "other", Roles = [name.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? "config" : "other"] };
            }
        }

        private static string FormatName(TorchFormat format) => format switch
        {
            TorchFormat.Zip => "torch-zip",
            TorchFormat.Legacy => "torch-legacy",
            TorchFormat.LegacyTar => "torch-tar",
            _ => "pickle",
        };

        public List<string> ReadTorch(TorchCheckpoint checkpoint, string fullPath, string name, out JsonNode? summary)
        {
            var roles = new List<string>();
            var claimed = new List<string>();
            Find(checkpoint.Root, string.Empty, 0, checkpoint, fullPath, name, roles, claimed);
            foreach (var tensor in checkpoint.Tensors)
            {
                ct.ThrowIfCancellationRequested();
                Tensors.Add(new TensorInfo
                {
                    File = name,
                    Name = tensor.Path,
                    Dtype = tensor.Dtype.Name,
                    Shape = tensor.Shape,
                    Bytes = tensor.ByteSize,
                    Storage = tensor.StorageKey,
                    StorageOffset = tensor.StorageOffset,
                    Contiguous = tensor.IsContiguous,
                    Sha256 = options.HashTensors ? Hash(checkpoint, tensor) : null,
                });
            }

            var modelTensors = checkpoint.Tensors.Count(t => !claimed.Any(c => c.Length == 0 || t.Path == c || t.Path.StartsWith(c + ".", StringComparison.Ordinal)));
            if (modelTensors > 0)
            {
                roles.Insert(0, "model");
            }

            summary = null;
            if (roles.Count == 0)
            {
                roles.Add("object");
                summary = PlainValues.ToJson(checkpoint.Root, checkpoint);
            }

            return roles;
        }

        /// <summary>Finds optimizer, scheduler and RNG dicts at the root or a few levels down (a combined checkpoint: <c>{'model': ..., 'optimizer': ...}</c>).</summary>
        private void Find(PyValue value, string path, int depth, TorchCheckpoint checkpoint, string fullPath, string name, List<string> roles, List<string> claimed)
        {
            if (depth > 0 && depth <= MaxRoleSearchDepth && RngReader.LooksLikeTorchState(value, checkpoint, path))
            {
                AddRng(RngReader.ReadTorchState(value, checkpoint, name, path, options.MaxRngTwists, ct), checkpoint, fullPath, name, roles, claimed, path);
                return;
            }

            if (depth > MaxRoleSearchDepth || checkpoint.TensorOf(value) is not null || value.AsDict() is not { } dict)
            {
                return;
            }

            if (OptimizerReader.Looks(dict))
            {
                Optimizers.Add(OptimizerReader.Read(dict, checkpoint, name, path));
                roles.Add("optimizer");
                claimed.Add(path);
                return;
            }

            if (SchedulerReader.Looks(dict))
            {
                Schedulers.Add(SchedulerReader.Read(dict, checkpoint, name, path));
                roles.Add("scheduler");
                claimed.Add(path);
                return;
            }

            if (RngReader.Looks(dict))
            {
                AddRng(RngReader.Read(dict, checkpoint, name, CheckpointContents.RankOf(name), path, options.MaxRngTwists, ct), checkpoint, fullPath, name, roles, claimed, path);
                return;
            }

            foreach (var (key, child) in dict.Items.Take(64))
            {
                if (key.AsString() is { } k)
                {
                    Find(child, path.Length == 0 ? k : path + "." + k, depth + 1, checkpoint, fullPath, name, roles, claimed);
                }
            }
        }

        private void AddRng(RngFileContents rng, TorchCheckpoint checkpoint, string fullPath, string name, List<string> roles, List<string> claimed, string path)
        {
            Rng.Add(rng);
            foreach (var problem in rng.Problems)
            {
                Problems.Add(CheckpointRules.Unreadable.Finding($"{name}: RNG state {problem}", new Location(fullPath, checkpoint.PickleMember), verdict: Verdict.Error));
            }

            roles.Add("rng");
            claimed.Add(path);
        }

        private string Hash(TorchCheckpoint checkpoint, TensorRef tensor)
        {
            using var sink = new HashingStream();
            checkpoint.CopyTensorTo(tensor, sink, ct);
            return sink.Finish();
        }

        private void ReadSafetensors(FileInfo file)
        {
            using var stream = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
            var header = SafetensorsReader.Validate(stream, file.Length, SafetensorsLimits.Default);
            var buffer = new byte[1 << 20];
            foreach (var t in header.Tensors)
            {
                ct.ThrowIfCancellationRequested();
                string? sha = null;
                if (options.HashTensors)
                {
                    using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                    stream.Position = checked(header.DataOffset + t.Begin);
                    var remaining = t.ByteLength;
                    while (remaining > 0)
                    {
                        var n = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, remaining));
                        if (n <= 0)
                        {
                            MalformedInputException.ThrowTruncated($"tensor '{t.Name}'", stream.Position);
                        }

                        hash.AppendData(buffer, 0, n);
                        remaining -= n;
                    }

                    sha = System.Convert.ToHexStringLower(hash.GetHashAndReset());
                }

                Tensors.Add(new TensorInfo
                {
                    File = file.Name,
                    Name = t.Name,
                    Dtype = SafetensorsDtypeName(t.Dtype),
                    Shape = t.Shape,
                    Bytes = t.ByteLength,
                    Storage = $"{t.Begin}-{t.End}",
                    Sha256 = sha,
                });
            }
        }

        private static string SafetensorsDtypeName(string code) =>
            TorchDtype.All.FirstOrDefault(d => d.SafetensorsCode == code)?.Name ?? code.ToLowerInvariant();
    }

    /// <summary>A write-only stream that hashes what is written (SHA-256), so tensors are hashed while streamed, never buffered whole.</summary>
    private sealed class HashingStream : Stream
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private long _length;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => _length;

        public override long Position
        {
            get => _length;
            set => throw new NotSupportedException();
        }

        public string Finish() => System.Convert.ToHexStringLower(_hash.GetHashAndReset());

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            _hash.AppendData(buffer);
            _length += buffer.Length;
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _hash.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
