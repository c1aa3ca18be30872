using System.Diagnostics;
using System.IO.Enumeration;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using TrainGuard.Findings;
using TrainGuard.Integrity.Hashing;
using TrainGuard.Integrity.Keys;
using TrainGuard.Integrity.Manifests;
using TrainGuard.Parsing;

namespace TrainGuard.Integrity.Environments;

/// <summary>What a baseline recorded: how many files, over which site folders.</summary>
public sealed record BaselineSummary(string SignaturePath, int Files, long Bytes, IReadOnlyList<string> Sites, string KeyHint);

/// <summary>
/// <c>env baseline</c> / <c>env diff</c>: every file of the environment (sources, .pyc, .pth, native
/// libraries) recorded with its SHA-256 and signed in the OpenSSF model-signing format; later compared with disk.
/// Resource names are absolute paths without the leading '/', the model name is <c>python-environment</c>, and
/// the site folders are kept in the predicate's <c>environment</c> object (v1.0 verifiers ignore extra fields).
/// </summary>
public static class EnvironmentBaseline
{
    public const string DiffCommand = "env diff";
    public const string ModelName = "python-environment";

    public static async Task<BaselineSummary> CreateAsync(IReadOnlyList<string> sites, string privateKeyPath, string outputSigPath, CancellationToken cancellationToken = default)
    {
        using var key = SigningKeys.LoadPrivateKeyFile(privateKeyPath);
        return await CreateAsync(sites, key, outputSigPath, cancellationToken);
    }

    public static async Task<BaselineSummary> CreateAsync(IReadOnlyList<string> sites, ECDsa privateKey, string outputSigPath, CancellationToken cancellationToken = default)
    {
        var fullSites = sites.Select(s => Path.GetFullPath(s).TrimEnd('/')).Distinct(StringComparer.Ordinal).ToList();
        var output = Path.GetFullPath(outputSigPath);
        var manifest = await Task.Run(() => Snapshot(fullSites, output, cancellationToken), cancellationToken);
        var extra = new JsonObject
        {
            ["environment"] = new JsonObject
            {
                ["sites"] = new JsonArray(fullSites.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray()),
                ["created_at"] = DateTimeOffset.UtcNow.ToString("O"),
                ["tool"] = $"trainguard {ToolInfo.Version}",
            },
        };
        var bundle = SigstoreBundle.Sign(manifest.Manifest, privateKey, extra);
        await File.WriteAllTextAsync(output, bundle, cancellationToken);
        return new BaselineSummary(output, manifest.Manifest.Resources.Count, manifest.Bytes, fullSites, SigningKeys.Hint(privateKey));
    }

    /// <summary>
    /// Verifies the baseline's signature with the public key, re-hashes the site folders (those given, or those the
    /// baseline recorded) and reports files added, removed and changed, grouped by package.
    /// </summary>
    public static async Task<Report> DiffAsync(string sigPath, string publicKeyPath, IReadOnlyList<string>? sites = null, CancellationToken cancellationToken = default)
    {
        using var key = SigningKeys.LoadPublicKeyFile(publicKeyPath);
        return await DiffAsync(sigPath, key, sites, cancellationToken);
    }

    public static async Task<Report> DiffAsync(string sigPath, ECDsa publicKey, IReadOnlyList<string>? sites = null, CancellationToken cancellationToken = default)
    {
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var bytes = await File.ReadAllBytesAsync(sigPath, cancellationToken);
        VerifiedBundle verified;
        try
        {
            verified = SigstoreBundle.Verify(bytes, publicKey);
        }
        catch (Exception ex) when (ex is CryptographicException or MalformedInputException)
        {
            var finding = EnvRules.BaselineSignature.Finding($"baseline {Path.GetFileName(sigPath)} rejected: {ex.Message}", new Location(Path.GetFullPath(sigPath)), severity: Severity.Critical);
            return Wrap([new AnalyzedItem { Path = Path.GetFullPath(sigPath), Format = "baseline", Verdict = Verdict.Error, Findings = [finding] }], started, clock.Elapsed);
        }

        var recordedSites = verified.Predicate["environment"]?["sites"] is JsonArray array
            ? array.Select(n => n?.GetValue<string>()).OfType<string>().ToList()
            : [];
        var fullSites = (sites is { Count: > 0 } ? sites.Select(s => Path.GetFullPath(s).TrimEnd('/')) : recordedSites).Distinct(StringComparer.Ordinal).ToList();
        var current = await Task.Run(() => Snapshot(fullSites.Where(Directory.Exists).ToList(), Path.GetFullPath(sigPath), cancellationToken), cancellationToken);

        // Only compare what lies under the sites being diffed.
        bool InScope(string name) => fullSites.Any(s => ("/" + name).StartsWith(s + "/", StringComparison.Ordinal));
        var expected = new ModelManifest(verified.Manifest.ModelName, verified.Manifest.Resources.Where(r => InScope(r.Name)).ToList(), verified.Manifest.Serialization);
        var (changed, added, deleted) = ModelSigning.Compare(expected, current.Manifest);

        var located = new LocatedEnvironment(fullSites.Where(Directory.Exists).Select(s => new SiteDirectory(s, SiteKind.Explicit, "baseline")).ToList(), null, [], []);
        var state = EnvironmentVerifier.BuildState(located, new EnvVerifyOptions());
        var touched = new HashSet<InstalledDistribution>();
        var want = expected.ByName();
        var have = current.Manifest.ByName();
        foreach (var name in changed)
        {
            var path = "/" + name;
            var owner = Attribute(state, path);
            var role = PathImportance.Classify(path);
            owner.Add(EnvRules.BaselineChanged.Finding($"{Relative(path, fullSites)} of {owner.DisplayName} changed since the baseline", new Location(path),
                new Dictionary<string, string> { ["expected"] = want[name].DigestHex, ["actual"] = have[name].DigestHex, ["modified"] = Mtime(path) }, severity: PathImportance.ChangedSeverity(role)));
            touched.Add(owner);
        }

        foreach (var name in added)
        {
            var path = "/" + name;
            var owner = Attribute(state, path);
            var role = PathImportance.Classify(path);
            var severity = Path.GetFileName(path).EndsWith(".pth", StringComparison.Ordinal) || StartupHooks.IsCustomizeModuleName(Path.GetFileName(path))
                ? Severity.Critical
                : PathImportance.UnlistedSeverity(role);
            owner.Add(EnvRules.BaselineAdded.Finding($"{Relative(path, fullSites)} was added since the baseline (owner: {owner.DisplayName})", new Location(path),
                new Dictionary<string, string> { ["actual"] = have[name].DigestHex, ["modified"] = Mtime(path) }, severity: severity));
            touched.Add(owner);
        }

        foreach (var name in deleted)
        {
            var path = "/" + name;
            var owner = Attribute(state, path);
            owner.Add(EnvRules.BaselineRemoved.Finding($"{Relative(path, fullSites)} of {owner.DisplayName} was removed since the baseline", new Location(path),
                new Dictionary<string, string> { ["expected"] = want[name].DigestHex }, severity: PathImportance.MissingSeverity(PathImportance.Classify(path))));
            touched.Add(owner);
        }

        var items = touched.Select(d =>
        {
            var findings = d.Findings.OrderByDescending(f => f.Severity).ThenBy(f => f.Location.File, StringComparer.Ordinal).ToList();
            return new AnalyzedItem
            {
                Path = d.DisplayName,
                Format = "baseline",
                Verdict = findings.Aggregate(Verdict.Clean, (v, f) => v.Combine(f.Verdict)),
                Findings = findings,
            };
        }).ToList();
        items.Add(new AnalyzedItem
        {
            Path = Path.GetFullPath(sigPath),
            Format = "baseline",
            Verdict = Verdict.Clean,
            Findings = [],
            Members = [.. verified.Notes, $"{expected.Resources.Count} files recorded, {current.Manifest.Resources.Count} on disk, signature verified"],
        });
        items = items.OrderByDescending(i => i.Findings.Count == 0 ? -1 : (int)i.Findings.Max(f => f.Severity)).ThenBy(i => i.Path, StringComparer.Ordinal).ToList();
        return Wrap(items, started, clock.Elapsed);
    }

    private static InstalledDistribution Attribute(EnvironmentVerifier.State state, string path)
    {
        var site = state.Located.Sites.Select(s => s.Path).FirstOrDefault(s => path.StartsWith(s + "/", StringComparison.Ordinal)) ?? "/";
        return state.Attribute(path, site);
    }

    private static string Relative(string path, IReadOnlyList<string> sites)
    {
        foreach (var site in sites)
        {
            if (path.StartsWith(site + "/", StringComparison.Ordinal))
            {
                return path[(site.Length + 1)..];
            }
        }

        return path;
    }

    private static Report Wrap(List<AnalyzedItem> items, DateTimeOffset started, TimeSpan elapsed) =>
        EnvironmentVerifier.PackageReport(DiffCommand, items, started, elapsed);

    private static string Mtime(string path)
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

    private readonly record struct Walked(string Path, bool IsLink);

    /// <summary>Hashes every file under the sites (following file symlinks, never directory symlinks), in parallel.</summary>
    internal static (ModelManifest Manifest, long Bytes) Snapshot(IReadOnlyList<string> sites, string? exclude, CancellationToken cancellationToken)
    {
        var files = new List<string>();
        var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = true };
        foreach (var site in sites)
        {
            var enumerable = new FileSystemEnumerable<Walked>(site, (ref FileSystemEntry e) => new Walked(e.ToFullPath(), (e.Attributes & FileAttributes.ReparsePoint) != 0), options)
            {
                ShouldIncludePredicate = (ref FileSystemEntry e) => !e.IsDirectory,
                ShouldRecursePredicate = (ref FileSystemEntry e) => (e.Attributes & FileAttributes.ReparsePoint) == 0,
            };
            foreach (var walked in enumerable)
            {
                if (walked.Path != exclude && (!walked.IsLink || File.Exists(walked.Path)))
                {
                    files.Add(walked.Path);
                }
            }
        }

        files = files.Distinct(StringComparer.Ordinal).ToList();
        var entries = new ManifestEntry?[files.Count];
        long total = 0;
        Parallel.For(0, files.Count, new ParallelOptions { CancellationToken = cancellationToken }, i =>
        {
            try
            {
                var digest = FileHasher.Compute(files[i], DigestAlgorithm.Sha256);
                entries[i] = new ManifestEntry(files[i].TrimStart('/'), "sha256", digest.Digest);
                Interlocked.Add(ref total, digest.Size);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                entries[i] = null; // vanished or unreadable: absent from the snapshot, so a diff shows it
            }
        });
        var manifest = ModelManifest.Create(ModelName, entries.OfType<ManifestEntry>(), new ManifestSerialization(AllowSymlinks: true, IgnorePaths: []));
        return (manifest, total);
    }
}
