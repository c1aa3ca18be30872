using System.Diagnostics;
using System.Security.Cryptography;
using TrainGuard.Findings;
using TrainGuard.Formats.Detection;
using TrainGuard.Parsing;
using TrainGuard.Scanning.Policy;

namespace TrainGuard.Scanning.Scanner;

/// <summary>
/// <c>trainguard scan</c>: walks files and folders, detects each file's format by content, finds every
/// pickle inside it (archives, numpy object arrays, legacy torch sequences, joblib) and asks the policy
/// what a load would do. Never executes anything; never reports a file it could not fully read as clean.
/// </summary>
public sealed partial class ArtifactScanner
{
    /// <summary>Extensions of files made for <c>torch.load</c>: a zip named so must be a loadable torch checkpoint.</summary>
    private static readonly HashSet<string> TorchLoadExtensions = new(StringComparer.OrdinalIgnoreCase) { ".pt", ".pth", ".bin", ".ckpt" };

    private readonly ScanOptions _options;

    /// <summary>The pickle machine's limits, with the derived deserialisers whose arguments it analyses as nested pickles.</summary>
    private readonly Pickle.PickleLimits _pickleLimits;
    private readonly Lazy<(RuleCatalog Rules, PicklePolicy Policy)> _catalog;

    /// <summary>
    /// A scanner with the given options and rules (the embedded catalogue when null). Bad policy options throw
    /// a <see cref="MalformedInputException"/> (<see cref="InputErrorKind.Config"/>) here. The embedded catalogue is loaded
    /// (from its precomputed snapshot, <see cref="CatalogSnapshot"/>: a few milliseconds; ~0.1 s when it must be parsed
    /// from the rule files) on a background thread while the first file is read and its pickles analysed.
    /// </summary>
    public ArtifactScanner(ScanOptions? options = null, RuleCatalog? rules = null)
    {
        _options = options ?? new ScanOptions();
        _options.Policy.Validate();
        var policyOptions = _options.Policy;
        var deserializers = new Dictionary<string, int>((rules?.Derived ?? DerivedCallables.Default).NestedLoaders, StringComparer.Ordinal);
        foreach (var (name, position) in _options.Pickle.Deserializers)
        {
            deserializers[name] = position;
        }

        _pickleLimits = _options.Pickle with { Deserializers = deserializers };
        _catalog = new Lazy<(RuleCatalog, PicklePolicy)>(
            () =>
            {
                var catalog = rules ?? RuleCatalog.Default;
                return (catalog, new PicklePolicy(catalog, policyOptions));
            },
            LazyThreadSafetyMode.ExecutionAndPublication);
        if (rules is null)
        {
            var loader = new Thread(() => LoadQuietly(_catalog)) { IsBackground = true, Name = "trainguard rule catalogue" };
            loader.Start();
        }
    }

    public IReadOnlyList<RuleDescriptor> Rules => _catalog.Value.Rules.Descriptors;

    /// <summary>The policy (waits for the catalogue the first time).</summary>
    private PicklePolicy Policy => _catalog.Value.Policy;

    /// <summary>Loads the catalogue ahead of need; a failure is cached by the <see cref="Lazy{T}"/> and thrown to whoever needs it.</summary>
    private static void LoadQuietly(Lazy<(RuleCatalog, PicklePolicy)> catalog)
    {
        try
        {
            _ = catalog.Value;
        }
        catch (Exception)
        {
            // Rethrown by the Lazy to the scan that needs the catalogue.
        }
    }

    /// <summary>Scans every file under <paramref name="paths"/> in parallel and returns one report, items sorted by path.</summary>
    public async Task<Report> ScanAsync(IReadOnlyList<string> paths, IProgress<ScanProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var targets = ScanTargets.Expand(paths, _options.FollowSymlinks);
        var results = new AnalyzedItem[targets.Count];
        if (targets.Count == 1 && progress is null)
        {
            // One file (the usual 'trainguard scan FILE'): scanned here, without the parallel loop's start-up.
            cancellationToken.ThrowIfCancellationRequested();
            results[0] = Scan(targets[0], cancellationToken);
            return NewReport(results, started, clock.Elapsed);
        }

        var done = 0;
        await Parallel.ForEachAsync(
            Enumerable.Range(0, targets.Count),
            new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, _options.Parallelism), CancellationToken = cancellationToken },
            (index, ct) =>
            {
                results[index] = Scan(targets[index], ct);
                progress?.Report(new ScanProgress(Interlocked.Increment(ref done), targets.Count, targets[index].DisplayPath));
                return ValueTask.CompletedTask;
            });

        return NewReport(results, started, clock.Elapsed);
    }

    private Report NewReport(AnalyzedItem[] results, DateTimeOffset started, TimeSpan elapsed) => new()
    {
        Command = "scan",
        Items = results,
        Rules = Rules,
        StartedAt = started,
        Elapsed = elapsed,
    };

    /// <summary>Scans one file. Any failure becomes an error verdict with a finding; nothing escapes.</summary>
    public AnalyzedItem Scan(ScanTarget target, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        var scan = new FileScan(target.DisplayPath, () => _catalog.Value.Rules);
        if (target.Problem is not null)
        {
            if (target.ProblemIsError)
            {
                scan.AddRule(RuleIds.Malformed, $"cannot scan: {target.Problem}");
            }
            else
            {
                scan.Format = "symlink";
                scan.AddMember(target.Problem);
            }

            return scan.ToItem(null, null, clock.Elapsed);
        }

        long? size = null;
        string? sha256 = null;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.PerFileTimeout);
        try
        {
            var info = new FileInfo(target.FullPath);
            if (info.LinkTarget is not null)
            {
                info = info.ResolveLinkTarget(returnFinalTarget: true) as FileInfo ?? info;
            }

            size = info.Length;
            using var source = ContentSource.FromFile(target.FullPath, info.Length, _options.MapFiles);
            var extension = Path.GetExtension(target.FullPath);
            var expectModel = target.InCheckpointFolder || _options.ModelExtensions.Contains(extension);
            scan.TorchLoadName = TorchLoadExtensions.Contains(extension);
            AnalyzeTopLevel(scan, source, Path.GetFileName(target.FullPath), expectModel, timeout.Token);
            if (_options.Hash)
            {
                using var stream = File.OpenRead(target.FullPath);
                sha256 = Convert.ToHexStringLower(SHA256.HashData(stream));
            }
        }
        catch (MalformedInputException ex)
        {
            scan.AddError(ex, null);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            scan.AddRule(RuleIds.LimitExceeded, $"scan took longer than the per-file limit of {_options.PerFileTimeout.TotalSeconds:0}s (raise it with --timeout)");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            scan.AddRule(RuleIds.Malformed, $"cannot read file: {ex.Message}");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // A bug in a reader must not turn a hostile file into "clean" or crash the whole scan.
            scan.AddRule(RuleIds.Malformed, $"internal error while scanning ({ex.GetType().Name}: {TextSanitizer.Escape(ex.Message)}); the file was not fully analysed");
        }

        return scan.ToItem(size, sha256, clock.Elapsed);
    }

    private void AnalyzeTopLevel(FileScan scan, ContentSource source, string fileName, bool expectModel, CancellationToken ct)
    {
        // Size 0 is also what FIFOs, sockets and devices report: never open those (a FIFO blocks forever).
        var head = source.Length == 0 ? [] : source.ReadHead(FormatDetector.HeadSize);
        var format = FormatDetector.Detect(head, source.Length);
        if (format == DetectedFormat.Unknown && !LooksLikeZlib(head))
        {
            // A zip with data in front of it (self-extracting style): zip readers find it from its end record.
            format = FormatDetector.Detect(source.Stream());
        }

        if (format == DetectedFormat.Empty || (format == DetectedFormat.Unknown && !LooksLikeZlib(head)))
        {
            // A model-signing signature (model.sig, PATH.sig: a Sigstore bundle, written into the checkpoint folder by
            // 'ckpt sign') is JSON too.
            if ((fileName.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || fileName.EndsWith(".sig", StringComparison.OrdinalIgnoreCase)) && format == DetectedFormat.Unknown)
            {
                CheckJson(scan, source, expectModel);
                return;
            }

            if (expectModel)
            {
                scan.Format = format == DetectedFormat.Empty ? "empty" : "unknown";
                scan.AddRule(RuleIds.UnrecognisedModelFile, format == DetectedFormat.Empty
                    ? "empty file where a model file is expected (by its name or its checkpoint folder)"
                    : "content is not a model format TrainGuard recognises, though the name or folder says it should be one", offset: 0);
            }
            else
            {
                scan.Format = format == DetectedFormat.Empty ? "empty" : "other";
            }

            return;
        }

        Analyze(scan, source, head, format, member: null, depth: 0, ct);
    }

    /// <summary>
    /// JSON files (<c>trainer_state.json</c>, <c>config.json</c>) hold no code; in a checkpoint folder they
    /// must at least parse, since the Trainer reads them on resume.
    /// </summary>
    private static void CheckJson(FileScan scan, ContentSource source, bool inCheckpoint)
    {
        const long MaxJsonBytes = 256L * 1024 * 1024;
        scan.Format = "json";
        if (!inCheckpoint)
        {
            return;
        }

        if (source.Length > MaxJsonBytes)
        {
            scan.AddRule(RuleIds.LimitExceeded, $"JSON file larger than {MaxJsonBytes:N0} bytes is not checked", offset: 0);
            return;
        }

        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(source.Stream(), new System.Text.Json.JsonDocumentOptions { MaxDepth = 256 });
            scan.Baseline = Verdict.Clean;
        }
        catch (System.Text.Json.JsonException ex)
        {
            scan.AddRule(RuleIds.Malformed, $"invalid JSON in a checkpoint file (line {(ex.LineNumber ?? 0) + 1}): {ex.Message}");
        }
    }
}
