using System.Security.Cryptography;
using System.Text;
using TrainGuard.Integrity.Hashing;
using TrainGuard.Parsing;

namespace TrainGuard.Integrity.Manifests;

/// <summary>One resource of a manifest: a file path relative to the model root ("." when the model is one file) and its digest.</summary>
public sealed record ManifestEntry(string Name, string Algorithm, byte[] Digest)
{
    public string DigestHex => Convert.ToHexStringLower(Digest);
}

/// <summary>The <c>predicate.serialization</c> of a model-signing v1.0 statement.</summary>
public sealed record ManifestSerialization(string Method = "files", string HashType = "sha256", bool AllowSymlinks = false, IReadOnlyList<string>? IgnorePaths = null);

/// <summary>
/// A model manifest (OpenSSF model-signing v1.0): resources sorted by path components, and the root
/// digest = SHA-256 over the concatenated raw resource digests in that order (the statement's subject).
/// </summary>
public sealed record ModelManifest(string ModelName, IReadOnlyList<ManifestEntry> Resources, ManifestSerialization Serialization)
{
    public const string PredicateType = "https://model_signing/signature/v1.0";

    /// <summary>The v0.2 predicate (subjects only), accepted when verifying.</summary>
    public const string CompatPredicateType = "https://model_signing/Digests/v0.1";

    public const string StatementType = "https://in-toto.io/Statement/v1";

    public static ModelManifest Create(string modelName, IEnumerable<ManifestEntry> resources, ManifestSerialization serialization) =>
        new(modelName, resources.OrderBy(r => r.Name, PathComponentComparer.Instance).ToList(), serialization);

    public byte[] RootDigest() => ComputeRootDigest(Resources);

    public static byte[] ComputeRootDigest(IEnumerable<ManifestEntry> resources)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var resource in resources)
        {
            hash.AppendData(resource.Digest);
        }

        return hash.GetHashAndReset();
    }

    public IReadOnlyDictionary<string, ManifestEntry> ByName() => Resources.ToDictionary(r => r.Name, StringComparer.Ordinal);
}

/// <summary>Orders paths the way Python's <c>PurePosixPath</c> does: component by component, by code point.</summary>
public sealed class PathComponentComparer : IComparer<string>
{
    public static PathComponentComparer Instance { get; } = new();

    public int Compare(string? x, string? y)
    {
        var a = (x ?? string.Empty).Split('/', StringSplitOptions.RemoveEmptyEntries);
        var b = (y ?? string.Empty).Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (var i = 0; i < Math.Min(a.Length, b.Length); i++)
        {
            var c = CompareCodePoints(a[i], b[i]);
            if (c != 0)
            {
                return c;
            }
        }

        return a.Length.CompareTo(b.Length);
    }

    private static int CompareCodePoints(string a, string b) =>
        Encoding.UTF8.GetBytes(a).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(b));
}

/// <summary>Hashing progress: files and bytes hashed so far, of the totals, and the file just finished.</summary>
public readonly record struct ModelHashProgress(int FilesDone, int FilesTotal, long BytesDone, long BytesTotal, string LastFile);

/// <summary>Serializes a model folder (or one file) into a manifest: every regular file hashed with SHA-256, in parallel.</summary>
public static class ModelSerializer
{
    /// <summary>Paths model-signing ignores by default.</summary>
    public static IReadOnlyList<string> DefaultIgnorePaths { get; } = [".git", ".gitattributes", ".github", ".gitignore"];

    /// <summary>
    /// Hashes every regular file under <paramref name="root"/> except <paramref name="ignorePaths"/> (relative to the
    /// root; a folder ignores everything in it). Symlinks are an error unless <paramref name="allowSymlinks"/>, then followed.
    /// </summary>
    public static ModelManifest Serialize(string root, IReadOnlyCollection<string> ignorePaths, bool allowSymlinks, CancellationToken cancellationToken = default) =>
        Serialize(root, ignorePaths, allowSymlinks, null, cancellationToken);

    /// <summary>As above, reporting progress after each file is hashed (files and bytes done of the totals).</summary>
    public static ModelManifest Serialize(string root, IReadOnlyCollection<string> ignorePaths, bool allowSymlinks, IProgress<ModelHashProgress>? progress, CancellationToken cancellationToken = default)
    {
        root = Path.GetFullPath(root);
        var modelName = Path.GetFileName(root.TrimEnd('/'));
        var normalizedIgnores = ignorePaths.Select(p => NormalizeRelative(root, p)).Where(p => p.Length > 0).Distinct(StringComparer.Ordinal).ToList();
        var serialization = new ManifestSerialization(AllowSymlinks: allowSymlinks, IgnorePaths: normalizedIgnores.Order(StringComparer.Ordinal).ToList());
        if (File.Exists(root))
        {
            CheckSymlink(root, allowSymlinks);
            var single = FileHasher.Compute(root, DigestAlgorithm.Sha256);
            progress?.Report(new ModelHashProgress(1, 1, single.Size, single.Size, modelName));
            return ModelManifest.Create(modelName, [new ManifestEntry(".", "sha256", single.Digest)], serialization);
        }

        if (!Directory.Exists(root))
        {
            throw new DirectoryNotFoundException($"model path not found: {root}");
        }

        var files = new List<(string Full, string Relative)>();
        Collect(root, root, normalizedIgnores, allowSymlinks, files);
        if (files.Count == 0)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "the model contains no regular files after applying exclusions");
        }

        var entries = new ManifestEntry[files.Count];
        long totalBytes = 0, bytesDone = 0;
        var filesDone = 0;
        if (progress is not null)
        {
            foreach (var (full, _) in files)
            {
                totalBytes += new FileInfo(full).Length;
            }
        }

        Parallel.For(0, files.Count, new ParallelOptions { CancellationToken = cancellationToken }, i =>
        {
            var digest = FileHasher.Compute(files[i].Full, DigestAlgorithm.Sha256);
            entries[i] = new ManifestEntry(files[i].Relative, "sha256", digest.Digest);
            if (progress is not null)
            {
                var done = Interlocked.Increment(ref filesDone);
                var bytes = Interlocked.Add(ref bytesDone, digest.Size);
                progress.Report(new ModelHashProgress(done, files.Count, bytes, Math.Max(bytes, totalBytes), files[i].Relative));
            }
        });
        return ModelManifest.Create(modelName, entries, serialization);
    }

    /// <summary>A path relative to the root with '/' separators ("" when outside the root).</summary>
    public static string NormalizeRelative(string root, string path)
    {
        var full = Path.IsPathRooted(path) ? Path.GetFullPath(path) : Path.GetFullPath(Path.Combine(root, path));
        var relative = Path.GetRelativePath(root, full).Replace('\\', '/');
        return relative.StartsWith("..", StringComparison.Ordinal) || relative == "." ? string.Empty : relative;
    }

    private static void Collect(string root, string directory, List<string> ignores, bool allowSymlinks, List<(string, string)> files)
    {
        foreach (var entry in Directory.EnumerateFileSystemEntries(directory))
        {
            var relative = Path.GetRelativePath(root, entry).Replace('\\', '/');
            if (ignores.Any(i => relative == i || relative.StartsWith(i + "/", StringComparison.Ordinal)))
            {
                continue;
            }

            var info = new FileInfo(entry);
            var isLink = info.LinkTarget is not null;
            if (isLink)
            {
                CheckSymlink(entry, allowSymlinks);
                if (Directory.Exists(entry))
                {
                    continue; // never follow directory links: cycles
                }

                if (File.Exists(entry))
                {
                    files.Add((entry, relative));
                }

                continue;
            }

            if (Directory.Exists(entry))
            {
                Collect(root, entry, ignores, allowSymlinks, files);
            }
            else if (info.Exists && (info.Attributes & (FileAttributes.Device | FileAttributes.ReparsePoint)) == 0)
            {
                files.Add((entry, relative));
            }
        }
    }

    private static void CheckSymlink(string path, bool allowSymlinks)
    {
        if (!allowSymlinks && new FileInfo(path).LinkTarget is not null)
        {
            MalformedInputException.Throw(InputErrorKind.Unsupported, $"{path} is a symbolic link and symlinks are not allowed by this serialization");
        }
    }
}
