using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using TrainGuard.Integrity.Keys;
using TrainGuard.Parsing;

namespace TrainGuard.Integrity.Manifests;

/// <summary>The outcome of verifying a model (file or folder) against a signature bundle.</summary>
public sealed record ModelVerificationResult
{
    /// <summary>The signature verified with the given key and the manifest is consistent (root digest).</summary>
    public required bool SignatureValid { get; init; }

    /// <summary>Why the signature or manifest was rejected, when it was.</summary>
    public string? SignatureError { get; init; }

    public string? ModelName { get; init; }

    /// <summary>Files whose SHA-256 differs from the signed manifest (relative names).</summary>
    public IReadOnlyList<string> Changed { get; init; } = [];

    /// <summary>Files on disk that the manifest does not list.</summary>
    public IReadOnlyList<string> Added { get; init; } = [];

    /// <summary>Files the manifest lists that are gone.</summary>
    public IReadOnlyList<string> Deleted { get; init; } = [];

    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>Who signed, as verified (<c>key &lt;hint&gt;</c> or <c>certificate &lt;subject&gt;</c>); null when the signature did not verify.</summary>
    public string? Signer { get; init; }

    /// <summary>The model could not be hashed as the signature describes (e.g. a symlink where none are allowed).</summary>
    public string? Error { get; init; }

    /// <summary>The signed manifest (null when the signature did not verify).</summary>
    public ModelManifest? Manifest { get; init; }

    /// <summary>True when the signature verified and every file matches: the only result that means "safe to load".</summary>
    public bool Succeeded => SignatureValid && Error is null && Changed.Count == 0 && Added.Count == 0 && Deleted.Count == 0;
}

/// <summary>How to verify a model signature: with a public key, or with a certificate chain to trusted certificates.</summary>
public sealed record ModelVerifyOptions
{
    /// <summary>The signer's public key (the "elliptic key" method). Ignored when <see cref="TrustedCertificates"/> is set.</summary>
    public ECDsa? PublicKey { get; init; }

    /// <summary>Trusted CA certificates (the "certificate" method): the bundle's signing certificate must chain to one.</summary>
    public X509Certificate2Collection? TrustedCertificates { get; init; }

    /// <summary>Extra paths to ignore, relative to the model root (besides the bundle's own ignore_paths and the defaults).</summary>
    public IEnumerable<string>? IgnorePaths { get; init; }

    public IProgress<ModelHashProgress>? Progress { get; init; }
}

/// <summary>
/// OpenSSF model signing (sigstore/model-transparency v1.0 format, "elliptic key" method): sign a model file
/// or folder into a Sigstore bundle, verify a model against one. Used by <c>env baseline</c> and <c>ckpt sign/verify</c>.
/// </summary>
public static class ModelSigning
{
    /// <summary>
    /// Hashes <paramref name="root"/> (a file or a folder), signs the manifest with the PEM private key at
    /// <paramref name="privateKeyPath"/> and returns the bundle JSON. <paramref name="ignorePaths"/> are relative to
    /// the root; .git, .gitattributes, .github, .gitignore and <paramref name="signaturePath"/> (when inside the root) are always ignored.
    /// </summary>
    public static async Task<string> SignAsync(string root, string privateKeyPath, IEnumerable<string>? ignorePaths = null, string? signaturePath = null, CancellationToken cancellationToken = default)
    {
        using var key = SigningKeys.LoadPrivateKeyFile(privateKeyPath);
        return await SignAsync(root, key, ignorePaths, signaturePath, cancellationToken);
    }

    public static Task<string> SignAsync(string root, ECDsa privateKey, IEnumerable<string>? ignorePaths = null, string? signaturePath = null, CancellationToken cancellationToken = default)
    {
        var ignores = EffectiveIgnores(root, ignorePaths, signaturePath);
        return Task.Run(() => SigstoreBundle.Sign(ModelSerializer.Serialize(root, ignores, allowSymlinks: false, cancellationToken), privateKey), cancellationToken);
    }

    /// <summary>
    /// Hashes <paramref name="root"/> into the manifest <see cref="SignAsync(string, ECDsa, IEnumerable{string}?, string?, CancellationToken)"/>
    /// would sign (same ignores), reporting progress; sign it with <see cref="SignManifest"/>.
    /// </summary>
    public static Task<ModelManifest> CreateManifestAsync(string root, IEnumerable<string>? ignorePaths, string? signaturePath, IProgress<ModelHashProgress>? progress, CancellationToken cancellationToken = default)
    {
        var ignores = EffectiveIgnores(root, ignorePaths, signaturePath);
        return Task.Run(() => ModelSerializer.Serialize(root, ignores, allowSymlinks: false, progress, cancellationToken), cancellationToken);
    }

    /// <summary>Signs and writes the bundle to <paramref name="signaturePath"/> (model_signing's <c>model.sig</c>).</summary>
    public static async Task WriteSignatureAsync(string root, string privateKeyPath, string signaturePath, IEnumerable<string>? ignorePaths = null, CancellationToken cancellationToken = default)
    {
        var bundle = await SignAsync(root, privateKeyPath, ignorePaths, signaturePath, cancellationToken);
        await File.WriteAllTextAsync(signaturePath, bundle, cancellationToken);
    }

    /// <summary>
    /// Verifies the bundle at <paramref name="bundlePath"/> with the PEM public key at <paramref name="publicKeyPath"/>,
    /// then re-hashes <paramref name="root"/> (honouring the bundle's ignore_paths, the defaults and <paramref name="ignorePaths"/>)
    /// and lists changed, added and deleted files. A bad signature is a result, not an exception; unreadable key files throw.
    /// </summary>
    public static async Task<ModelVerificationResult> VerifyAsync(string root, string bundlePath, string publicKeyPath, IEnumerable<string>? ignorePaths = null, CancellationToken cancellationToken = default)
    {
        using var key = SigningKeys.LoadPublicKeyFile(publicKeyPath);
        return await VerifyAsync(root, bundlePath, key, ignorePaths, cancellationToken);
    }

    public static Task<ModelVerificationResult> VerifyAsync(string root, string bundlePath, ECDsa publicKey, IEnumerable<string>? ignorePaths = null, CancellationToken cancellationToken = default) =>
        VerifyAsync(root, bundlePath, new ModelVerifyOptions { PublicKey = publicKey, IgnorePaths = ignorePaths }, cancellationToken);

    /// <summary>Verifies with a key or a certificate chain (<paramref name="options"/>), reporting hashing progress.</summary>
    public static async Task<ModelVerificationResult> VerifyAsync(string root, string bundlePath, ModelVerifyOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.PublicKey is null && options.TrustedCertificates is null)
        {
            throw new ArgumentException("give a public key or trusted certificates", nameof(options));
        }

        var bundleBytes = await File.ReadAllBytesAsync(bundlePath, cancellationToken);
        VerifiedBundle verified;
        try
        {
            verified = options.TrustedCertificates is { } trusted
                ? SigstoreBundle.VerifyWithCertificates(bundleBytes, trusted)
                : SigstoreBundle.Verify(bundleBytes, options.PublicKey!);
        }
        catch (Exception ex) when (ex is CryptographicException or MalformedInputException)
        {
            return new ModelVerificationResult { SignatureValid = false, SignatureError = ex.Message };
        }

        var expected = verified.Manifest;
        var ignores = EffectiveIgnores(root, (options.IgnorePaths ?? []).Concat(expected.Serialization.IgnorePaths ?? []), bundlePath);
        ModelManifest actual;
        try
        {
            actual = await Task.Run(() => ModelSerializer.Serialize(root, ignores, expected.Serialization.AllowSymlinks, options.Progress, cancellationToken), cancellationToken);
        }
        catch (MalformedInputException ex)
        {
            return new ModelVerificationResult { SignatureValid = true, ModelName = expected.ModelName, Manifest = expected, Error = ex.Message, Notes = verified.Notes, Signer = verified.Signer };
        }

        var (changed, added, deleted) = Compare(expected, actual);
        return new ModelVerificationResult
        {
            SignatureValid = true,
            ModelName = expected.ModelName,
            Manifest = expected,
            Changed = changed,
            Added = added,
            Deleted = deleted,
            Notes = verified.Notes,
            Signer = verified.Signer,
        };
    }

    /// <summary>Differences between a signed manifest and the files now on disk, by resource name.</summary>
    public static (List<string> Changed, List<string> Added, List<string> Deleted) Compare(ModelManifest expected, ModelManifest actual)
    {
        var want = expected.ByName();
        var have = actual.ByName();
        var changed = want.Where(kv => have.TryGetValue(kv.Key, out var now) && !now.Digest.AsSpan().SequenceEqual(kv.Value.Digest)).Select(kv => kv.Key).Order(PathComponentComparer.Instance).ToList();
        var added = have.Keys.Where(k => !want.ContainsKey(k)).Order(PathComponentComparer.Instance).ToList();
        var deleted = want.Keys.Where(k => !have.ContainsKey(k)).Order(PathComponentComparer.Instance).ToList();
        return (changed, added, deleted);
    }

    internal static List<string> EffectiveIgnores(string root, IEnumerable<string>? ignorePaths, string? signaturePath)
    {
        var ignores = new List<string>(ModelSerializer.DefaultIgnorePaths);
        ignores.AddRange(ignorePaths ?? []);
        if (signaturePath is not null && Directory.Exists(root) && ModelSerializer.NormalizeRelative(Path.GetFullPath(root), signaturePath) is { Length: > 0 } relative)
        {
            ignores.Add(relative);
        }

        return ignores;
    }

    /// <summary>Signs an arbitrary manifest (env baselines build theirs from several site folders).</summary>
    public static string SignManifest(ModelManifest manifest, ECDsa privateKey, JsonObject? extraPredicate = null) => SigstoreBundle.Sign(manifest, privateKey, extraPredicate);
}
