using TrainGuard.Findings;
using TrainGuard.Integrity.Hashing;
using TrainGuard.Parsing;

namespace TrainGuard.Integrity.Environments;

/// <summary>Where a distribution's file list comes from.</summary>
public enum DistributionKind
{
    /// <summary>A <c>*.dist-info</c> with a RECORD (pip, uv, conda's pip layer...).</summary>
    Wheel,

    /// <summary>A Debian package with <c>/var/lib/dpkg/info/&lt;pkg&gt;.md5sums</c>.</summary>
    Debian,

    /// <summary>Metadata without a RECORD and no dpkg owner: nothing to verify against.</summary>
    Unverifiable,

    /// <summary>Files and hooks that belong to no package.</summary>
    Unowned,
}

/// <summary>A file a distribution says it installed, and the digest it recorded (null when it recorded none).</summary>
public sealed record OwnedFile(string FullPath, string ListedAs, DigestAlgorithm? Algorithm, byte[]? Digest, long? Size, string Source, int Line);

/// <summary>One installed distribution (wheel or Debian package) and its recorded files.</summary>
public sealed class InstalledDistribution
{
    public required string Name { get; init; }

    public string? Version { get; init; }

    public required DistributionKind Kind { get; init; }

    /// <summary>The dist-info folder, the md5sums file, or the egg-info path.</summary>
    public required string MetadataPath { get; init; }

    public string? SitePath { get; init; }

    public List<OwnedFile> Files { get; } = [];

    /// <summary>Paths listed without a digest (directories and symlinks from dpkg .list, unhashed RECORD lines).</summary>
    public HashSet<string> ListedPaths { get; } = new(StringComparer.Ordinal);

    internal List<Finding> Findings { get; } = [];

    public string DisplayName => Kind switch
    {
        DistributionKind.Debian => $"{Name} (dpkg)",
        DistributionKind.Unowned => Name,
        _ => Version is null ? Name : $"{Name} {Version}",
    };

    internal void Add(Finding finding)
    {
        lock (Findings)
        {
            Findings.Add(finding);
        }
    }
}

/// <summary>Builds the list of installed distributions of a set of site directories: RECORD files and dpkg md5sums.</summary>
public static class Inventory
{
    /// <summary>Reads every <c>*.dist-info/RECORD</c> and <c>*.egg-info</c> of a site directory.</summary>
    internal static List<InstalledDistribution> ReadSite(SiteDirectory site, Func<string, bool> ownedByDpkg)
    {
        var result = new List<InstalledDistribution>();
        var records = new List<(InstalledDistribution Distribution, string Record)>();
        var envRoot = EnvironmentRoot(site.Path);
        foreach (var entry in Directory.EnumerateFileSystemEntries(site.Path).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(entry);
            if (name.EndsWith(".dist-info", StringComparison.Ordinal) && Directory.Exists(entry))
            {
                var (dist, version) = SplitNameVersion(name[..^".dist-info".Length]);
                var record = Path.Combine(entry, "RECORD");
                if (ownedByDpkg(entry) || ownedByDpkg(record) || ownedByDpkg(Path.Combine(entry, "METADATA")))
                {
                    continue; // a Debian package: dpkg's md5sums are authoritative (Debian strips binaries after RECORD was written)
                }

                if (!File.Exists(record))
                {

                    var unverifiable = new InstalledDistribution { Name = dist, Version = version, Kind = DistributionKind.Unverifiable, MetadataPath = entry, SitePath = site.Path };
                    unverifiable.Add(EnvRules.Unverifiable.Finding($"{dist} {version} has no RECORD: none of its files can be verified", new Location(entry), severity: Severity.Medium));
                    result.Add(unverifiable);
                    continue;
                }

                var distribution = new InstalledDistribution { Name = dist, Version = version, Kind = DistributionKind.Wheel, MetadataPath = entry, SitePath = site.Path };
                records.Add((distribution, record));
                result.Add(distribution);
            }
            else if (name.EndsWith(".egg-info", StringComparison.Ordinal) || name.EndsWith(".egg", StringComparison.Ordinal))
            {
                var probe = Directory.Exists(entry) ? Path.Combine(entry, "PKG-INFO") : entry;
                if (ownedByDpkg(probe) || ownedByDpkg(entry))
                {
                    continue;
                }

                var (dist, version) = SplitNameVersion(name[..name.LastIndexOf('.')]);
                var unverifiable = new InstalledDistribution { Name = dist, Version = version, Kind = DistributionKind.Unverifiable, MetadataPath = entry, SitePath = site.Path };
                unverifiable.Add(EnvRules.Unverifiable.Finding($"{dist} {version} is an egg-info install without RECORD and no dpkg package owns it: its files cannot be verified", new Location(entry), severity: Severity.Medium));
                result.Add(unverifiable);
            }
        }

        // Each RECORD fills only its own distribution, so they are read and parsed in parallel; the list keeps directory order.
        OrderedParallel.For(records.Count, i => LoadRecord(records[i].Distribution, records[i].Record, site.Path, envRoot));
        return result;
    }

    internal static void LoadRecord(InstalledDistribution distribution, string recordPath, string sitePath, string envRoot)
    {
        RecordFile record;
        try
        {
            var bytes = File.ReadAllBytes(recordPath);
            record = RecordFile.Parse(bytes);
        }
        catch (MalformedInputException ex)
        {
            distribution.Add(EnvRules.RecordMalformed.Finding($"RECORD of {distribution.DisplayName} cannot be read: {ex.Message}", new Location(recordPath, Offset: ex.Offset), severity: Severity.High));
            return;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            distribution.Add(EnvRules.Unreadable.Finding($"RECORD of {distribution.DisplayName} cannot be read: {ex.Message}", new Location(recordPath), severity: Severity.High));
            return;
        }

        foreach (var problem in record.Problems)
        {
            distribution.Add(EnvRules.RecordMalformed.Finding(
                $"RECORD line {problem.Line} of {distribution.DisplayName} is malformed: {problem.Reason}",
                new Location(recordPath, Line: problem.Line),
                new Dictionary<string, string> { ["line"] = Findings.TextSanitizer.Escape(problem.RawLine, 300) }, severity: Severity.Medium));
        }

        var siteIsCanonical = sitePath.Length > 1 && sitePath[^1] != '/' && Path.GetFullPath(sitePath) == sitePath;
        var rootPrefix = envRoot.EndsWith('/') ? envRoot : envRoot + "/";
        distribution.Files.Capacity = record.Entries.Count;
        distribution.ListedPaths.EnsureCapacity(record.Entries.Count);
        foreach (var entry in record.Entries)
        {
            // Path.GetFullPath(Path.Combine(site, p)) is the identity concatenation when p has no '.', '..' or empty segment.
            var full = siteIsCanonical && IsPlainRelative(entry.Path) ? string.Concat(sitePath, "/", entry.Path) : Path.GetFullPath(Path.Combine(sitePath, entry.Path));
            if (!(envRoot == "/" || full == envRoot || full.StartsWith(rootPrefix, StringComparison.Ordinal)))
            {
                distribution.Add(EnvRules.RecordMalformed.Finding(
                    $"RECORD line {entry.Line} of {distribution.DisplayName} points outside the environment: {entry.Path}",
                    new Location(recordPath, Line: entry.Line), severity: Severity.High));
                continue;
            }

            distribution.ListedPaths.Add(full);
            distribution.Files.Add(new OwnedFile(full, entry.Path, entry.Algorithm, entry.Digest, entry.Size, recordPath, entry.Line));
        }
    }

    /// <summary>The environment prefix a site directory belongs to: <c>&lt;prefix&gt;/lib/pythonX.Y/site-packages</c> → prefix.</summary>
    internal static string EnvironmentRoot(string sitePath)
    {
        var root = sitePath;
        for (var i = 0; i < 3; i++)
        {
            root = Path.GetDirectoryName(root) ?? root;
        }

        return root;
    }

    /// <summary>True for a relative path whose segments are all non-empty and none is <c>.</c> or <c>..</c> (so normalising it changes nothing).</summary>
    internal static bool IsPlainRelative(string path)
    {
        if (path.Length == 0 || path[0] == '/')
        {
            return false;
        }

        var segmentStart = 0;
        for (var i = 0; i <= path.Length; i++)
        {
            if (i < path.Length && path[i] != '/')
            {
                continue;
            }

            var length = i - segmentStart;
            if (length == 0 || (length <= 2 && path[segmentStart] == '.' && (length == 1 || path[segmentStart + 1] == '.')))
            {
                return false;
            }

            segmentStart = i + 1;
        }

        return true;
    }

    internal static bool IsUnder(string path, string root) =>
        root == "/" || path == root || path.StartsWith(root.EndsWith('/') ? root : root + "/", StringComparison.Ordinal);

    /// <summary>Splits <c>torch-2.1.0</c> into name and version (names in dist-info folders never contain '-').</summary>
    internal static (string Name, string? Version) SplitNameVersion(string stem)
    {
        var dash = stem.IndexOf('-', StringComparison.Ordinal);
        if (dash <= 0)
        {
            return (stem, null);
        }

        var version = stem[(dash + 1)..];
        var pyTag = version.IndexOf("-py", StringComparison.Ordinal);
        return (stem[..dash], pyTag > 0 ? version[..pyTag] : version);
    }

    /// <summary>The normalised project name (PEP 503) for matching package filters.</summary>
    public static string NormalizeName(string name)
    {
        // Regex.Replace(name, "[-_.]+", "-").ToLowerInvariant(), without building a regex at start-up.
        var builder = new System.Text.StringBuilder(name.Length);
        var inRun = false;
        foreach (var c in name)
        {
            if (c is '-' or '_' or '.')
            {
                if (!inRun)
                {
                    builder.Append('-');
                    inRun = true;
                }

                continue;
            }

            builder.Append(c);
            inRun = false;
        }

        return builder.ToString().ToLowerInvariant();
    }
}

/// <summary>The dpkg database: which Debian package owns which file, with the MD5 it recorded.</summary>
internal sealed class DpkgIndex
{
    private readonly Dictionary<string, (string Package, DpkgFileEntry Entry)> _byPath = new(StringComparer.Ordinal);
    private readonly HashSet<string> _listed = new(StringComparer.Ordinal);
    private readonly string _infoDirectory;

    private DpkgIndex(string infoDirectory)
    {
        _infoDirectory = infoDirectory;
    }

    public Dictionary<string, InstalledDistribution> Packages { get; } = new(StringComparer.Ordinal);

    public static DpkgIndex Empty { get; } = new(string.Empty);

    public bool Owns(string path) => _byPath.ContainsKey(path) || _listed.Contains(path);

    public bool TryGet(string path, out string package, out DpkgFileEntry entry)
    {
        if (_byPath.TryGetValue(path, out var found))
        {
            (package, entry) = found;
            return true;
        }

        package = string.Empty;
        entry = null!;
        return false;
    }

    /// <summary>
    /// Loads the md5sums of every package that owns a file under one of <paramref name="prefixes"/>, plus the
    /// packages named in <paramref name="explicitPackages"/> (all their files, as <c>debsums pkg</c> does).
    /// </summary>
    public static DpkgIndex Load(string infoDirectory, IReadOnlyList<string> prefixes, IReadOnlySet<string> explicitPackages, bool scanAllForPrefixes)
    {
        var index = new DpkgIndex(infoDirectory);
        if (!Directory.Exists(infoDirectory))
        {
            return index;
        }

        var needles = prefixes.Select(p => System.Text.Encoding.UTF8.GetBytes("  " + p.TrimStart('/').TrimEnd('/') + "/")).ToList();
        var candidates = new List<(string File, string Package, bool IsExplicit)>();
        foreach (var file in Directory.EnumerateFiles(infoDirectory, "*.md5sums"))
        {
            var package = DpkgMd5Sums.PackageFromFileName(file);
            var isExplicit = explicitPackages.Contains(package) || explicitPackages.Contains(package.Split(':')[0]);
            if (isExplicit || scanAllForPrefixes)
            {
                candidates.Add((file, package, isExplicit));
            }
        }

        // Reading and searching a thousand md5sums files is independent per file: both cores, then the same sequential pass.
        var contents = new byte[]?[candidates.Count];
        OrderedParallel.For(candidates.Count, i =>
        {
            // Most files do not mention the site: read them into a pooled buffer and copy only the ones that do.
            if (NativeFile.TryReadAllPooled(candidates[i].File, 1 << 30, out var rented, out var length))
            {
                try
                {
                    var span = rented.AsSpan(0, length);
                    if (candidates[i].IsExplicit || ContainsAny(span, needles))
                    {
                        contents[i] = span.ToArray();
                    }
                }
                finally
                {
                    System.Buffers.ArrayPool<byte>.Shared.Return(rented);
                }

                return;
            }

            byte[] bytes;
            try
            {
                bytes = File.ReadAllBytes(candidates[i].File);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return;
            }

            if (candidates[i].IsExplicit || needles.Any(n => bytes.AsSpan().IndexOf(n) >= 0))
            {
                contents[i] = bytes;
            }
        });

        for (var i = 0; i < candidates.Count; i++)
        {
            var (file, package, _) = candidates[i];
            if (contents[i] is not { } bytes)
            {
                continue;
            }

            var distribution = new InstalledDistribution { Name = package, Kind = DistributionKind.Debian, MetadataPath = file };
            DpkgMd5Sums parsed;
            try
            {
                parsed = DpkgMd5Sums.Parse(package, bytes);
            }
            catch (MalformedInputException ex)
            {
                distribution.Add(EnvRules.RecordMalformed.Finding($"md5sums of {package} cannot be read: {ex.Message}", new Location(file), severity: Severity.High));
                index.Packages[package] = distribution;
                continue;
            }

            foreach (var problem in parsed.Problems)
            {
                distribution.Add(EnvRules.RecordMalformed.Finding($"md5sums line {problem.Line} of {package} is malformed: {problem.Reason}", new Location(file, Line: problem.Line), severity: Severity.Medium));
            }

            foreach (var entry in parsed.Entries)
            {
                index._byPath.TryAdd(entry.Path, (package, entry));
                distribution.ListedPaths.Add(entry.Path);
                distribution.Files.Add(new OwnedFile(entry.Path, entry.Path, DigestAlgorithm.Md5, entry.Md5, null, file, entry.Line));
            }

            index.Packages[package] = distribution;
            index.LoadList(package, distribution);
        }

        return index;
    }

    private static bool ContainsAny(ReadOnlySpan<byte> data, List<byte[]> needles)
    {
        foreach (var needle in needles)
        {
            if (data.IndexOf(needle) >= 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Adds directories and symlinks from <c>&lt;pkg&gt;.list</c>: owned, but without an MD5.</summary>
    private void LoadList(string package, InstalledDistribution distribution)
    {
        var list = Path.Combine(_infoDirectory, package + ".list");
        if (!File.Exists(list))
        {
            return;
        }

        foreach (var line in File.ReadLines(list))
        {
            if (line.Length > 1 && line[0] == '/')
            {
                _listed.Add(line);
                distribution.ListedPaths.Add(line);
            }
        }
    }

    /// <summary>The MD5 dpkg recorded for a conffile (from <c>/var/lib/dpkg/status</c>), used for /etc/pythonX.Y/sitecustomize.py.</summary>
    public static byte[]? ConffileMd5(string statusPath, string path)
    {
        if (!File.Exists(statusPath))
        {
            return null;
        }

        foreach (var line in File.ReadLines(statusPath))
        {
            if (line.Length > path.Length + 2 && line[0] == ' ' && line.AsSpan(1).StartsWith(path, StringComparison.Ordinal) && line[path.Length + 1] == ' ')
            {
                var rest = line[(path.Length + 2)..].Split(' ')[0];
                if (rest.Length == 32)
                {
                    try
                    {
                        return Convert.FromHexString(rest);
                    }
                    catch (FormatException)
                    {
                        return null;
                    }
                }
            }
        }

        return null;
    }
}
