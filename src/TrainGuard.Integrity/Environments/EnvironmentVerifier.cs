using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO.Enumeration;
using TrainGuard.Findings;
using TrainGuard.Integrity.Hashing;
using TrainGuard.Parsing;

namespace TrainGuard.Integrity.Environments;

/// <summary>What <c>env verify</c> checks. Defaults: the located environment, every package, dpkg on, no interpreter run.</summary>
public sealed record EnvVerifyOptions
{
    /// <summary>Site directories (<c>--site DIR</c>, repeatable). Empty: locate the environment.</summary>
    public IReadOnlyList<string> Sites { get; init; } = [];

    /// <summary>The environment's interpreter (<c>--python PATH</c>). Giving it also enables the recompilation check.</summary>
    public string? PythonPath { get; init; }

    /// <summary>Ask the interpreter for its site directories (isolated: <c>-I -S -B</c>) instead of reading the layout from disk.</summary>
    public bool UseInterpreter { get; init; }

    /// <summary>Compare each .pyc with a compilation of its source by the interpreter. Null: on when <see cref="PythonPath"/> is given.</summary>
    public bool? RecompileByteCode { get; init; }

    /// <summary>Only these distributions or Debian packages (e.g. <c>torch</c>, <c>python3-torch</c>, <c>libtorch1.13</c>). Empty: all.</summary>
    public IReadOnlyList<string> Packages { get; init; } = [];

    public bool IncludeUserSite { get; init; } = true;

    public bool UseDpkg { get; init; } = true;

    public string DpkgInfoDirectory { get; init; } = DpkgMd5Sums.DefaultInfoDirectory;

    public string DpkgStatusPath { get; init; } = "/var/lib/dpkg/status";

    public int MaxDegreeOfParallelism { get; init; } = System.Environment.ProcessorCount;

    public TimeSpan RecompileTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Environment variables for locating (tests); defaults to the process environment.</summary>
    public IReadOnlyDictionary<string, string>? Environment { get; init; }
}

/// <summary>Progress of a verification, for a terminal progress bar.</summary>
public sealed record EnvProgress(string Stage, int FilesDone, int FilesTotal, long BytesDone);

/// <summary>
/// <c>trainguard env verify</c>: every installed file against its RECORD hash or dpkg MD5, files no record
/// lists, byte-code that does not match its source, and startup hooks (.pth import lines,
/// sitecustomize/usercustomize, .start files). Never imports or runs anything from the environment.
/// </summary>
public static class EnvironmentVerifier
{
    public const string Command = "env verify";

    /// <exception cref="ArgumentException">A name in <see cref="EnvVerifyOptions.Packages"/> matches no installed package.</exception>
    public static async Task<Report> VerifyAsync(EnvVerifyOptions options, IProgress<EnvProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        progress?.Report(new EnvProgress("locate", 0, 0, 0));
        var located = EnvironmentLocator.Locate(new EnvLocateOptions
        {
            Sites = options.Sites,
            PythonPath = options.PythonPath,
            UseInterpreter = options.UseInterpreter,
            IncludeUserSite = options.IncludeUserSite,
            Environment = options.Environment,
        });

        var state = BuildState(located, options);
        cancellationToken.ThrowIfCancellationRequested();

        // 1. Every recorded file against its digest, in parallel, biggest first.
        var verified = new ConcurrentDictionary<string, byte>(System.Environment.ProcessorCount, state.Selected.Sum(d => d.Files.Count), StringComparer.Ordinal);
        // The folder walk only reads the ownership maps, so it runs while the hashes are computed (a core is
        // often idle at the end of hashing, waiting for one big file); its results are used after hashing, as before.
        var walking = Task.Run(() => WalkSites(state, cancellationToken), cancellationToken);
        HashAll(state, options, verified, progress, cancellationToken);
        var walked = await walking;

        // 2. Files nobody lists, byte-code, hooks.
        progress?.Report(new EnvProgress("bytecode", 0, 0, 0));
        var candidates = CheckWalkedFiles(state, walked, verified, cancellationToken);
        if (state.Filter.Count == 0 || state.Selected.Any(d => d.Kind == DistributionKind.Wheel))
        {
            CheckHooks(state, located, options, verified);
        }

        // 3. Optional: recompile with the environment's own interpreter in isolated mode.
        var recompile = options.RecompileByteCode ?? options.PythonPath is not null;
        if (recompile && located.Interpreter is { } interpreter && candidates.Count > 0)
        {
            progress?.Report(new EnvProgress("recompile", 0, candidates.Count, 0));
            await RecompileAsync(state, interpreter, candidates, options.RecompileTimeout, cancellationToken);
        }

        return BuildReport(state, started, clock.Elapsed);
    }

    /// <summary>The distributions and ownership maps one verification works on.</summary>
    internal sealed class State
    {
        public required LocatedEnvironment Located { get; init; }

        public required List<InstalledDistribution> All { get; init; }

        public required List<InstalledDistribution> Selected { get; init; }

        public required HashSet<string> Filter { get; init; }

        public required DpkgIndex Dpkg { get; init; }

        public Dictionary<string, InstalledDistribution> Owner { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, InstalledDistribution> TopLevelOwner { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, InstalledDistribution> Unowned { get; } = new(StringComparer.Ordinal);

        public bool IsSelected(InstalledDistribution d) => Selected.Contains(d);

        public InstalledDistribution UnownedFor(string site)
        {
            lock (Unowned)
            {
                if (!Unowned.TryGetValue(site, out var d))
                {
                    d = new InstalledDistribution { Name = $"(no package) {site}", Kind = DistributionKind.Unowned, MetadataPath = site, SitePath = site };
                    Unowned[site] = d;
                }

                return d;
            }
        }

        /// <summary>Who a path belongs to: its owner, the owner of its top-level folder, or the site's "(no package)" item.</summary>
        public InstalledDistribution Attribute(string path, string site)
        {
            if (Owner.TryGetValue(path, out var owner))
            {
                return owner;
            }

            var top = TopLevel(path, site);
            if (top is not null && TopLevelOwner.TryGetValue(top, out var folderOwner))
            {
                return folderOwner;
            }

            return UnownedFor(site);
        }

        public bool Reports(InstalledDistribution d) => d.Kind == DistributionKind.Unowned ? Filter.Count == 0 : IsSelected(d);
    }

    internal static State BuildState(LocatedEnvironment located, EnvVerifyOptions options)
    {
        var filter = options.Packages.Select(Inventory.NormalizeName).ToHashSet(StringComparer.Ordinal);
        var sitePaths = located.Sites.Select(s => s.Path).ToList();
        var dpkg = options.UseDpkg
            ? DpkgIndex.Load(options.DpkgInfoDirectory, sitePaths, options.Packages.ToHashSet(StringComparer.Ordinal), scanAllForPrefixes: filter.Count == 0)
            : DpkgIndex.Empty;
        var all = new List<InstalledDistribution>(dpkg.Packages.Values);
        foreach (var site in located.Sites)
        {
            all.AddRange(Inventory.ReadSite(site, dpkg.Owns));
        }

        var selected = all.Where(d => filter.Count == 0 || filter.Contains(Inventory.NormalizeName(d.Name)) || filter.Contains(Inventory.NormalizeName(d.Name.Split(':')[0]))).ToList();
        if (filter.Count > 0)
        {
            // A Debian package named explicitly but owning no site file is still checked (debsums-style).
            selected = selected.Where(d => d.Kind != DistributionKind.Debian || d.Files.Count > 0).ToList();

            // A name that matches nothing is an error, never "0 items checked".
            var found = selected.SelectMany(d => new[] { Inventory.NormalizeName(d.Name), Inventory.NormalizeName(d.Name.Split(':')[0]) }).ToHashSet(StringComparer.Ordinal);
            var missing = options.Packages.Where(p => !found.Contains(Inventory.NormalizeName(p))).ToList();
            if (missing.Count > 0)
            {
                var where = sitePaths.Count == 0 ? "no site folder was found" : $"looked in {string.Join(", ", sitePaths)}{(options.UseDpkg ? $" and {options.DpkgInfoDirectory}" : string.Empty)}";
                throw new ArgumentException($"--package: no installed distribution or Debian package is named {string.Join(", ", missing.Select(m => $"'{Findings.TextSanitizer.Escape(m, 100)}'"))} ({where})");
            }
        }

        var state = new State { Located = located, All = all, Selected = selected, Filter = filter, Dpkg = dpkg };
        state.Owner.EnsureCapacity(all.Sum(d => d.ListedPaths.Count));
        var isDirectory = new Dictionary<string, bool>(StringComparer.Ordinal);
        var isDirectoryBySpan = isDirectory.GetAlternateLookup<ReadOnlySpan<char>>();
        var topLevelOwnerBySpan = state.TopLevelOwner.GetAlternateLookup<ReadOnlySpan<char>>();
        foreach (var distribution in all)
        {
            foreach (var path in distribution.ListedPaths)
            {
                state.Owner.TryAdd(path, distribution);
                foreach (var site in sitePaths)
                {
                    var top = TopLevelSpan(path, site);
                    if (top.IsEmpty || topLevelOwnerBySpan.ContainsKey(top))
                    {
                        continue;
                    }

                    if (!isDirectoryBySpan.TryGetValue(top, out var exists))
                    {
                        var topPath = top.ToString();
                        exists = Directory.Exists(topPath);
                        isDirectory[topPath] = exists;
                    }

                    if (exists)
                    {
                        topLevelOwnerBySpan[top] = distribution;
                    }
                }
            }
        }

        return state;
    }

    /// <summary>The top-level folder of a site that contains <paramref name="path"/>; null for files directly in the site.</summary>
    internal static string? TopLevel(string path, string site)
    {
        var top = TopLevelSpan(path, site);
        return top.IsEmpty ? null : top.ToString();
    }

    /// <summary><see cref="TopLevel"/> without allocating: empty when there is none.</summary>
    internal static ReadOnlySpan<char> TopLevelSpan(string path, string site)
    {
        if (!path.StartsWith(site, StringComparison.Ordinal) || path.Length <= site.Length + 1 || path[site.Length] != '/')
        {
            return default;
        }

        var slash = path.IndexOf('/', site.Length + 1);
        return slash < 0 ? default : path.AsSpan(0, slash);
    }

    private static void HashAll(State state, EnvVerifyOptions options, ConcurrentDictionary<string, byte> verified, IProgress<EnvProgress>? progress, CancellationToken cancellationToken)
    {
        var work = new List<(InstalledDistribution Dist, OwnedFile File, long Size)>();
        foreach (var distribution in state.Selected)
        {
            foreach (var file in distribution.Files)
            {
                if (file.Digest is null)
                {
                    ReportUnhashed(distribution, file);
                    continue;
                }

                work.Add((distribution, file, file.Size ?? 0));
            }
        }

        // Biggest first so the two cores finish together; dpkg does not record sizes, so a stat fills them in.
        for (var i = 0; i < work.Count; i++)
        {
            if (work[i].File.Size is null && PathImportance.IsCodeName(Path.GetFileName(work[i].File.FullPath)))
            {
                try
                {
                    work[i] = work[i] with { Size = new FileInfo(work[i].File.FullPath).Length };
                }
                catch (IOException)
                {
                }
            }
        }

        var order = new long[work.Count];
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = -work[i].Size;
        }

        var sorted = work.ToArray();
        Array.Sort(order, sorted);
        work = [.. sorted];
        var done = 0;
        long bytes = 0;
        progress?.Report(new EnvProgress("hash", 0, work.Count, 0));
        Parallel.ForEach(
            System.Collections.Concurrent.Partitioner.Create(work, loadBalance: true),
            new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.MaxDegreeOfParallelism), CancellationToken = cancellationToken },
            item =>
            {
                var size = CheckOne(item.Dist, item.File, verified);
                var n = Interlocked.Increment(ref done);
                var b = Interlocked.Add(ref bytes, size);
                if (progress is not null && (n & 1023) == 0)
                {
                    progress.Report(new EnvProgress("hash", n, work.Count, b));
                }
            });
        progress?.Report(new EnvProgress("hash", work.Count, work.Count, bytes));
    }

    private static void ReportUnhashed(InstalledDistribution distribution, OwnedFile file)
    {
        var name = Path.GetFileName(file.FullPath);
        if (name is "RECORD" or "RECORD.jws" or "RECORD.p7s" || name.EndsWith(".pyc", StringComparison.Ordinal))
        {
            return;
        }

        var role = PathImportance.Classify(file.FullPath);
        if (role is FileRole.Code or FileRole.CriticalCode)
        {
            distribution.Add(EnvRules.Unverifiable.Finding(
                $"{file.ListedAs} of {distribution.DisplayName} has no hash in RECORD: edits to it cannot be detected",
                new Location(file.FullPath, Line: file.Line), new Dictionary<string, string> { ["record"] = file.Source }, severity: role == FileRole.CriticalCode ? Severity.Medium : Severity.Low));
        }
    }

    private static long CheckOne(InstalledDistribution distribution, OwnedFile file, ConcurrentDictionary<string, byte> verified)
    {
        var algorithm = file.Algorithm ?? DigestAlgorithm.Sha256;
        FileDigest actual;
        try
        {
            actual = FileHasher.Compute(file.FullPath, algorithm);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            var role = PathImportance.Classify(file.FullPath);
            distribution.Add(EnvRules.FileMissing.Finding(
                $"{file.ListedAs} of {distribution.DisplayName} is missing",
                new Location(file.FullPath), new Dictionary<string, string> { ["package"] = distribution.DisplayName, ["record"] = $"{file.Source}:{file.Line}" }, severity: PathImportance.MissingSeverity(role)));
            return 0;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            distribution.Add(EnvRules.Unreadable.Finding($"{file.ListedAs} of {distribution.DisplayName} cannot be read: {ex.Message}", new Location(file.FullPath), severity: Severity.High));
            return 0;
        }

        if (actual.Digest.AsSpan().SequenceEqual(file.Digest) && (file.Size is null || file.Size == actual.Size))
        {
            verified.TryAdd(file.FullPath, 0);
            return actual.Size;
        }

        var changedRole = PathImportance.Classify(file.FullPath);
        var what = file.Size is { } expectedSize && expectedSize != actual.Size
            ? $"size {expectedSize:N0} → {actual.Size:N0} bytes"
            : $"same size ({actual.Size:N0} bytes), different content";
        var evidence = new Dictionary<string, string>
        {
            ["package"] = distribution.DisplayName,
            ["algorithm"] = algorithm.WireName(),
            ["expected"] = Convert.ToHexStringLower(file.Digest!),
            ["actual"] = actual.Hex,
            ["actual_size"] = actual.Size.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["record"] = $"{file.Source}:{file.Line}",
        };
        if (file.Size is { } size)
        {
            evidence["expected_size"] = size.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        try
        {
            evidence["modified"] = File.GetLastWriteTimeUtc(file.FullPath).ToString("O");
        }
        catch (IOException)
        {
        }

        var recordKind = distribution.Kind == DistributionKind.Debian ? "dpkg md5sums" : "RECORD";
        distribution.Add(EnvRules.FileChanged.Finding(
            $"{file.ListedAs} of {distribution.DisplayName} changed: {algorithm.WireName()} differs from {recordKind}; {what}",
            new Location(file.FullPath), evidence, severity: PathImportance.ChangedSeverity(changedRole)));
        return actual.Size;
    }

    private readonly record struct Walked(string Path, long Length);

    /// <summary>The lstat size the enumeration would have reported (0 when the entry is gone), only for files that are reported.</summary>
    private static long LengthOrZero(string path)
    {
        try
        {
            return new FileInfo(path).Length;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    /// <summary>
    /// The files under each site's top-level folders, per site and folder in walking order. Enumerating is the
    /// cost (one getdents per folder, one string per file), so folders are enumerated on every core.
    /// </summary>
    private static List<List<string>[]> WalkSites(State state, CancellationToken cancellationToken)
    {
        var result = new List<List<string>[]>();
        foreach (var site in state.Located.Sites)
        {
            var tops = TopLevelEntriesToWalk(state, site.Path).ToList();
            var walked = new List<string>[tops.Count];
            OrderedParallel.For(tops.Count, i => walked[i] = Walk(tops[i]).ToList(), cancellationToken);
            result.Add(walked);
        }

        return result;
    }

    private static List<(RecompileRequest Request, InstalledDistribution Owner, string Tag)> CheckWalkedFiles(State state, List<List<string>[]> walkedSites, ConcurrentDictionary<string, byte> verified, CancellationToken cancellationToken)
    {
        var pycs = new List<(string Pyc, string Site)>();
        for (var s = 0; s < state.Located.Sites.Count; s++)
        {
            var site = state.Located.Sites[s];
            foreach (var files in walkedSites[s])
            {
                cancellationToken.ThrowIfCancellationRequested();
                foreach (var path in files)
                {
                    if (path.EndsWith(".pyc", StringComparison.Ordinal) || path.EndsWith(".pyo", StringComparison.Ordinal))
                    {
                        pycs.Add((path, site.Path));
                        continue;
                    }

                    if (state.Owner.ContainsKey(path) || TopLevelSpan(path, site.Path).IsEmpty)
                    {
                        continue; // owned, or a file directly in the site (hooks are checked separately)
                    }

                    var file = new Walked(path, LengthOrZero(path));

                    var owner = state.Attribute(file.Path, site.Path);
                    if (!state.Reports(owner))
                    {
                        continue;
                    }

                    var role = PathImportance.Classify(file.Path);
                    var severity = PathImportance.UnlistedSeverity(role);
                    var message = owner.Kind == DistributionKind.Unowned
                        ? $"{Relative(file.Path, site.Path)} belongs to no installed package"
                        : $"{Relative(file.Path, site.Path)} is inside {owner.DisplayName}'s folders but its {(owner.Kind == DistributionKind.Debian ? "md5sums" : "RECORD")} does not list it";
                    owner.Add(EnvRules.UnlistedFile.Finding(message, new Location(file.Path), new Dictionary<string, string>
                    {
                        ["size"] = file.Length.ToString(System.Globalization.CultureInfo.InvariantCulture),
                        ["modified"] = SafeMtime(file.Path),
                    }, severity: severity));
                }
            }
        }

        var candidates = new ConcurrentBag<(RecompileRequest, InstalledDistribution, string)>();
        Parallel.ForEach(pycs, new ParallelOptions { CancellationToken = cancellationToken }, item =>
        {
            if (CheckPyc(state, item.Pyc, item.Site, verified) is { } candidate)
            {
                candidates.Add(candidate);
            }
        });
        return candidates.ToList();
    }

    private static IEnumerable<string> TopLevelEntriesToWalk(State state, string site)
    {
        if (state.Filter.Count == 0)
        {
            return Directory.EnumerateDirectories(site).Where(d => (File.GetAttributes(d) & FileAttributes.ReparsePoint) == 0).Order(StringComparer.Ordinal);
        }

        return state.TopLevelOwner.Where(kv => state.IsSelected(kv.Value) && TopLevel(kv.Key + "/x", site) == kv.Key).Select(kv => kv.Key).Order(StringComparer.Ordinal);
    }

    private static IEnumerable<string> Walk(string directory)
    {
        var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = true };
        return new FileSystemEnumerable<string>(directory, (ref FileSystemEntry e) => e.ToFullPath(), options)
        {
            ShouldIncludePredicate = (ref FileSystemEntry e) => !e.IsDirectory,
            ShouldRecursePredicate = (ref FileSystemEntry e) => (e.Attributes & FileAttributes.ReparsePoint) == 0,
        };
    }

    private static (RecompileRequest, InstalledDistribution, string)? CheckPyc(State state, string pyc, string site, ConcurrentDictionary<string, byte> verified)
    {
        var directory = Path.GetDirectoryName(pyc)!;
        var name = Path.GetFileName(pyc);
        var inCache = Path.GetFileName(directory) == "__pycache__";
        if (!inCache)
        {
            // Legacy location: imported as the module itself when no source sits next to it.
            var source = Path.ChangeExtension(pyc, ".py");
            var legacySourceExists = File.Exists(source);
            var owner = state.Attribute(legacySourceExists ? source : pyc, site);
            if (!state.Reports(owner) || legacySourceExists)
            {
                return null;
            }

            var vouched = verified.ContainsKey(pyc);
            var pycRole = PathImportance.Classify(pyc);
            owner.Add(EnvRules.SourcelessPyc.Finding(
                vouched
                    ? $"{Relative(pyc, site)} is a sourceless .pyc listed with a matching hash by {owner.DisplayName}"
                    : $"{Relative(pyc, site)} is a sourceless .pyc that Python imports as module '{Path.GetFileNameWithoutExtension(pyc)}'; nobody can read what it does",
                new Location(pyc), new Dictionary<string, string> { ["modified"] = SafeMtime(pyc) }, severity: vouched ? Severity.Info : pycRole == FileRole.CriticalCode ? Severity.Critical : Severity.High));
            return null;
        }

        // __pycache__/<stem>.<tag>[.opt-N].pyc
        var parts = name.Split('.');
        if (parts.Length < 3)
        {
            return null;
        }

        var optimize = 0;
        var tagIndex = parts.Length - 2;
        if (parts[^2].StartsWith("opt-", StringComparison.Ordinal) && parts.Length >= 4)
        {
            optimize = parts[^2] is "opt-1" ? 1 : parts[^2] is "opt-2" ? 2 : 0;
            tagIndex = parts.Length - 3;
        }

        var tag = parts[tagIndex];
        var stem = string.Join('.', parts[..tagIndex]);
        var sourcePath = Path.Combine(Path.GetDirectoryName(directory)!, stem + ".py");
        var sourceExists = File.Exists(sourcePath);
        var sourceOwner = state.Attribute(sourceExists ? sourcePath : pyc, site);
        if (!state.Reports(sourceOwner))
        {
            return null;
        }

        if (!sourceExists)
        {
            sourceOwner.Add(EnvRules.SourcelessPyc.Finding(
                $"{Relative(pyc, site)} is an orphan: its source {stem}.py is gone (Python ignores it)", new Location(pyc), severity: Severity.Low));
            return null;
        }

        Span<byte> header = stackalloc byte[PycHeader.Size];
        PycHeader parsed;
        try
        {
            var read = NativeFile.TryReadAt(pyc, header, 0);
            if (read < 0)
            {
                using var handle = File.OpenHandle(pyc);
                read = RandomAccess.Read(handle, header, 0);
            }

            parsed = PycHeader.Parse(header[..read]);
        }
        catch (MalformedInputException ex)
        {
            sourceOwner.Add(EnvRules.PycStale.Finding($"{Relative(pyc, site)} has no valid .pyc header: {ex.Message}", new Location(pyc, Offset: ex.Offset), severity: Severity.Low));
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            sourceOwner.Add(EnvRules.Unreadable.Finding($"{Relative(pyc, site)} cannot be read: {ex.Message}", new Location(pyc), severity: Severity.High));
            return null;
        }

        if (tag.StartsWith("cpython-3", StringComparison.Ordinal) && int.TryParse(tag["cpython-3".Length..], out var minor)
            && PycHeader.MinorVersionForMagic(parsed.Magic) is { } magicMinor && magicMinor != minor)
        {
            sourceOwner.Add(EnvRules.PycStale.Finding($"{Relative(pyc, site)} has magic {parsed.Magic} of Python 3.{magicMinor}, not of its tag {tag} (Python rejects it)", new Location(pyc, Offset: 0), severity: Severity.Low));
            return null;
        }

        var role = PathImportance.Classify(sourcePath);
        if (parsed.Invalidation == PycInvalidation.Timestamp)
        {
            var info = new FileInfo(sourcePath);
            var mtime = (uint)(new DateTimeOffset(info.LastWriteTimeUtc).ToUnixTimeSeconds() & 0xFFFFFFFF);
            var size = (uint)(info.Length & 0xFFFFFFFF);
            if (mtime != parsed.SourceMtime || size != parsed.SourceSize)
            {
                sourceOwner.Add(EnvRules.PycStale.Finding(
                    $"{Relative(pyc, site)} was compiled from another version of {stem}.py (header mtime/size {parsed.SourceMtime}/{parsed.SourceSize}, source {mtime}/{size}); Python recompiles it",
                    new Location(pyc, Offset: 8), severity: Severity.Low));
                return null;
            }
        }
        else
        {
            byte[] source;
            try
            {
                source = File.ReadAllBytes(sourcePath);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return null;
            }

            if (PycHeader.ComputeSourceHash(parsed.RawMagic, source) != parsed.SourceHash)
            {
                var unchecked_ = parsed.Invalidation == PycInvalidation.UncheckedHash;
                sourceOwner.Add(EnvRules.PycStale.Finding(
                    unchecked_
                        ? $"{Relative(pyc, site)} is an unchecked-hash .pyc whose hash does not match {stem}.py: Python runs the .pyc without looking at the source"
                        : $"{Relative(pyc, site)} was compiled from another version of {stem}.py (source hash differs); Python recompiles it",
                    new Location(pyc, Offset: 8), severity: unchecked_ ? (role == FileRole.CriticalCode ? Severity.Critical : Severity.High) : Severity.Low));
                return null;
            }
        }

        return (new RecompileRequest(pyc, sourcePath, optimize), sourceOwner, tag);
    }

    private static void CheckHooks(State state, LocatedEnvironment located, EnvVerifyOptions options, ConcurrentDictionary<string, byte> verified)
    {
        var places = located.Sites.Select(s => (Dir: s.Path, IsSite: true)).Concat(located.StdlibDirectories.Select(d => (Dir: d, IsSite: false)));
        foreach (var (dir, isSite) in places)
        {
            if (!Directory.Exists(dir))
            {
                continue;
            }

            foreach (var path in Directory.EnumerateFileSystemEntries(dir).Order(StringComparer.Ordinal))
            {
                var name = Path.GetFileName(path);
                var isPth = isSite && StartupHooks.IsPthFileName(name);
                var isStart = isSite && StartupHooks.IsStartFileName(name);
                var isCustomize = StartupHooks.IsCustomizeModuleName(name);
                if (!isPth && !isStart && !isCustomize)
                {
                    continue;
                }

                var owner = state.Owner.TryGetValue(path, out var o) ? o : state.UnownedFor(dir);
                if (!state.Reports(owner) && owner.Kind != DistributionKind.Unowned)
                {
                    continue;
                }

                if (owner.Kind == DistributionKind.Unowned && state.Filter.Count > 0)
                {
                    continue;
                }

                byte[] content;
                try
                {
                    var target = Directory.Exists(path) ? Path.Combine(path, "__init__.py") : path;
                    content = File.Exists(target) ? ReadCapped(target, StartupHooks.MaxHookFileSize) : [];
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    owner.Add(EnvRules.Unreadable.Finding($"startup hook {path} cannot be read: {ex.Message}", new Location(path), severity: Severity.High));
                    continue;
                }

                var vouched = verified.ContainsKey(path) || VouchedByConffile(path, content, options);
                var by = vouched ? (owner.Kind == DistributionKind.Unowned ? "dpkg" : owner.DisplayName) : null;
                if (isPth)
                {
                    var lines = StartupHooks.ExecutableLines(content);
                    if (lines.Count == 0)
                    {
                        continue;
                    }

                    var allowed = StartupHooks.MatchAllowlist(name, lines);
                    var severity = vouched && allowed is not null ? Severity.Info : vouched ? Severity.Medium : Severity.Critical;
                    var code = string.Join("\n", lines.Select(l => l.Code));
                    owner.Add(EnvRules.PthHook.Finding(
                        $"{name} runs code at every Python start{(by is null ? " and no package vouches for it" : $" (installed by {by}{(allowed is null ? string.Empty : $": {allowed}")})")}: {Findings.TextSanitizer.Escape(lines[0].Code, 160)}",
                        new Location(path, Line: lines[0].Line),
                        new Dictionary<string, string> { ["code"] = Findings.TextSanitizer.Escape(code, 2000), ["lines"] = string.Join(",", lines.Select(l => l.Line)) }, severity: severity));
                }
                else if (isStart)
                {
                    var entries = StartupHooks.StartEntryPoints(content);
                    if (entries.Count == 0)
                    {
                        continue;
                    }

                    owner.Add(EnvRules.StartFile.Finding(
                        $"{name} calls {string.Join(", ", entries.Select(e => e.Code)).Truncate(160)} at every Python 3.15+ start{(by is null ? "; no package vouches for it" : $" (installed by {by})")}",
                        new Location(path, Line: entries[0].Line),
                        new Dictionary<string, string> { ["code"] = Findings.TextSanitizer.Escape(string.Join("\n", entries.Select(e => e.Code)), 2000) }, severity: vouched ? Severity.Medium : Severity.Critical));
                }
                else
                {
                    owner.Add(EnvRules.CustomizeModule.Finding(
                        $"{name} is imported at every Python start{(by is null ? " and no package vouches for it" : $" (installed by {by})")}",
                        new Location(path),
                        new Dictionary<string, string> { ["code"] = Findings.TextSanitizer.Escape(StartupHooks.Excerpt(content), 2000) }, severity: vouched ? Severity.Low : Severity.Critical));
                }
            }
        }
    }

    private static bool VouchedByConffile(string path, byte[] content, EnvVerifyOptions options)
    {
        if (!options.UseDpkg)
        {
            return false;
        }

        try
        {
            var target = new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path;
            var md5 = DpkgIndex.ConffileMd5(options.DpkgStatusPath, target);
            return md5 is not null && FileHasher.HashOneShot(DigestAlgorithm.Md5, content).AsSpan().SequenceEqual(md5);
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static async Task RecompileAsync(State state, string interpreter, List<(RecompileRequest Request, InstalledDistribution Owner, string Tag)> candidates, TimeSpan timeout, CancellationToken cancellationToken)
    {
        string? tag;
        try
        {
            tag = await ByteCodeRecompiler.CacheTagAsync(interpreter, cancellationToken);
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception or IOException)
        {
            return;
        }

        var matching = candidates.Where(c => c.Tag == tag).ToList();
        var byPyc = matching.ToDictionary(c => c.Request.PycPath, StringComparer.Ordinal);
        var results = await ByteCodeRecompiler.CompareAsync(interpreter, matching.Select(c => c.Request).ToList(), timeout, cancellationToken);
        foreach (var result in results)
        {
            if (!byPyc.TryGetValue(result.PycPath, out var candidate))
            {
                continue;
            }

            var site = state.Located.Sites.FirstOrDefault(s => result.PycPath.StartsWith(s.Path, StringComparison.Ordinal))?.Path ?? "/";
            if (result.Outcome == RecompileOutcome.Mismatch)
            {
                candidate.Owner.Add(EnvRules.PycCodeMismatch.Finding(
                    $"{Relative(result.PycPath, site)} has a header matching {Path.GetFileName(candidate.Request.SourcePath)} but different code: Python runs the .pyc, not the source",
                    new Location(result.PycPath, Offset: PycHeader.Size),
                    new Dictionary<string, string> { ["source"] = candidate.Request.SourcePath, ["difference"] = Findings.TextSanitizer.Escape(result.Detail, 600), ["modified"] = SafeMtime(result.PycPath) }, severity: Severity.Critical));
            }
            else if (result.Outcome == RecompileOutcome.Error)
            {
                candidate.Owner.Add(EnvRules.PycCodeMismatch.Finding(
                    $"{Relative(result.PycPath, site)} could not be compared with its source: {result.Detail}", new Location(result.PycPath), severity: Severity.Info));
            }
        }
    }

    private static Report BuildReport(State state, DateTimeOffset started, TimeSpan elapsed)
    {
        var items = new List<AnalyzedItem>();
        foreach (var distribution in state.Selected.Concat(state.Unowned.Values.Where(u => u.Findings.Count > 0)))
        {
            var findings = distribution.Findings
                .OrderByDescending(f => f.Severity)
                .ThenBy(f => f.Location.File, StringComparer.Ordinal)
                .ToList();
            var verdict = findings.Aggregate(Verdict.Clean, (v, f) => v.Combine(f.Verdict));
            items.Add(new AnalyzedItem
            {
                Path = distribution.DisplayName,
                Format = distribution.Kind switch
                {
                    DistributionKind.Wheel => "wheel",
                    DistributionKind.Debian => "dpkg",
                    DistributionKind.Unverifiable => "no-record",
                    _ => "unowned",
                },
                Verdict = verdict,
                Findings = findings,
                Members = [distribution.MetadataPath],
            });
        }

        items = items
            .OrderByDescending(i => i.Findings.Count == 0 ? -1 : (int)i.Findings.Max(f => f.Severity))
            .ThenBy(i => i.Path, StringComparer.Ordinal)
            .ToList();
        return PackageReport(Command, items, started, elapsed);
    }

    /// <summary>The report of an env verb: its items are packages, its rules the env rules.</summary>
    internal static Report PackageReport(string command, List<AnalyzedItem> items, DateTimeOffset started, TimeSpan elapsed) => new()
    {
        Command = command,
        ItemsName = "packages",
        Items = items,
        Rules = EnvRules.Descriptors,
        StartedAt = started,
        Elapsed = elapsed,
    };

    internal static string Relative(string path, string site) =>
        path.StartsWith(site + "/", StringComparison.Ordinal) ? path[(site.Length + 1)..] : path;

    private static string SafeMtime(string path)
    {
        try
        {
            return File.GetLastWriteTimeUtc(path).ToString("O");
        }
        catch (IOException)
        {
            return string.Empty;
        }
    }

    private static byte[] ReadCapped(string path, int max)
    {
        using var stream = File.OpenRead(path);
        var buffer = new byte[Math.Min(max, Math.Max(0, stream.Length))];
        var filled = 0;
        while (filled < buffer.Length)
        {
            var read = stream.Read(buffer, filled, buffer.Length - filled);
            if (read == 0)
            {
                break;
            }

            filled += read;
        }

        return buffer[..filled];
    }

    private static string Truncate(this string text, int max) => text.Length <= max ? text : text[..max] + "…";
}
