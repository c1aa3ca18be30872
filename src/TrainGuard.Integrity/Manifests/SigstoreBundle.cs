using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using TrainGuard.Integrity.Keys;
using TrainGuard.Parsing;

namespace TrainGuard.Integrity.Manifests;

/// <summary>A bundle whose signature verified: the manifest it signs, and anything to tell the user.</summary>
public sealed record VerifiedBundle(ModelManifest Manifest, JsonObject Predicate, IReadOnlyList<string> Notes)
{
    /// <summary>Who signed, as verified: <c>key &lt;hint&gt;</c>, or <c>certificate &lt;subject&gt;</c> when a chain was checked.</summary>
    public string? Signer { get; init; }
}

/// <summary>
/// Sigstore bundle v0.3 (JSON) holding a DSSE envelope over an in-toto statement with the model-signing v1.0
/// predicate, signed with an ECDSA key: the format of sigstore/model-transparency's "elliptic key" method.
/// </summary>
public static class SigstoreBundle
{
    public const string MediaType = "application/vnd.dev.sigstore.bundle.v0.3+json";
    public const string PayloadType = "application/vnd.in-toto+json";

    /// <summary>Bundles above this size are refused (a 40k-file environment baseline is about 6 MB).</summary>
    public const int MaxBundleSize = 256 << 20;

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The in-toto statement for a manifest; <paramref name="extraPredicate"/> properties are added beside serialization/resources (v1.0 verifiers ignore them).</summary>
    public static JsonObject Statement(ModelManifest manifest, JsonObject? extraPredicate = null)
    {
        var serialization = new JsonObject
        {
            ["method"] = manifest.Serialization.Method,
            ["hash_type"] = manifest.Serialization.HashType,
            ["allow_symlinks"] = manifest.Serialization.AllowSymlinks,
        };
        if (manifest.Serialization.IgnorePaths is { } ignores)
        {
            serialization["ignore_paths"] = new JsonArray(ignores.Select(i => (JsonNode?)JsonValue.Create(i)).ToArray());
        }

        var resources = new JsonArray();
        foreach (var resource in manifest.Resources)
        {
            resources.Add(new JsonObject { ["name"] = resource.Name, ["algorithm"] = resource.Algorithm, ["digest"] = resource.DigestHex });
        }

        var predicate = new JsonObject { ["serialization"] = serialization, ["resources"] = resources };
        if (extraPredicate is not null)
        {
            foreach (var (key, value) in extraPredicate)
            {
                predicate[key] = value?.DeepClone();
            }
        }

        return new JsonObject
        {
            ["_type"] = ModelManifest.StatementType,
            ["subject"] = new JsonArray(new JsonObject
            {
                ["name"] = manifest.ModelName,
                ["digest"] = new JsonObject { ["sha256"] = Convert.ToHexStringLower(manifest.RootDigest()) },
            }),
            ["predicateType"] = ModelManifest.PredicateType,
            ["predicate"] = predicate,
        };
    }

    /// <summary>Signs the manifest and returns the bundle JSON (what model_signing writes to <c>model.sig</c>).</summary>
    public static string Sign(ModelManifest manifest, ECDsa privateKey, JsonObject? extraPredicate = null)
    {
        var payload = Encoding.UTF8.GetBytes(Statement(manifest, extraPredicate).ToJsonString(Indented));
        var signature = privateKey.SignData(Pae(payload), SigningKeys.HashFor(privateKey), DSASignatureFormat.Rfc3279DerSequence);
        var bundle = new JsonObject
        {
            ["mediaType"] = MediaType,
            ["verificationMaterial"] = new JsonObject
            {
                ["publicKey"] = new JsonObject { ["hint"] = SigningKeys.Hint(privateKey) },
                ["tlogEntries"] = new JsonArray(),
            },
            ["dsseEnvelope"] = new JsonObject
            {
                ["payload"] = Convert.ToBase64String(payload),
                ["payloadType"] = PayloadType,
                ["signatures"] = new JsonArray(new JsonObject { ["sig"] = Convert.ToBase64String(signature), ["keyid"] = string.Empty }),
            },
        };
        return bundle.ToJsonString(Indented);
    }

    /// <summary>
    /// Verifies the bundle's signature with <paramref name="publicKey"/> and returns the signed manifest. Throws
    /// <see cref="CryptographicException"/> when the signature or key does not match, and
    /// <see cref="MalformedInputException"/> when the bundle or statement is malformed or inconsistent.
    /// </summary>
    public static VerifiedBundle Verify(ReadOnlySpan<byte> bundleJson, ECDsa publicKey)
    {
        ArgumentNullException.ThrowIfNull(publicKey);
        return VerifyChecked(bundleJson, publicKey, null);
    }

    /// <summary>
    /// Verifies a bundle signed with a certificate (model_signing's "certificate" method): the bundle's signing
    /// certificate must chain, through the bundle's other certificates or <paramref name="trustedCertificates"/>, to one
    /// of <paramref name="trustedCertificates"/> (a custom trust root; the system store is never used), at the time of
    /// signing (the first transparency-log entry's integrated time, else the signing certificate's notBefore, as
    /// model_signing does); its key usage must allow digital signatures and its extended key usage, when present, code
    /// signing. The DSSE signature is then checked with the certificate's key. Throws like <see cref="Verify(ReadOnlySpan{byte}, ECDsa)"/>.
    /// </summary>
    public static VerifiedBundle VerifyWithCertificates(ReadOnlySpan<byte> bundleJson, X509Certificate2Collection trustedCertificates)
    {
        ArgumentNullException.ThrowIfNull(trustedCertificates);
        return VerifyChecked(bundleJson, null, trustedCertificates);
    }

    /// <summary><see cref="VerifyCore"/> with what a malformed bundle throws on the way turned into the malformed-input error.</summary>
    private static VerifiedBundle VerifyChecked(ReadOnlySpan<byte> bundleJson, ECDsa? givenKey, X509Certificate2Collection? trusted)
    {
        try
        {
            return VerifyCore(bundleJson, givenKey, trusted);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or FormatException or JsonException)
        {
            throw MalformedInputException.Create(InputErrorKind.Syntax, $"the signature bundle is malformed: {ex.Message}", 0, inner: ex);
        }
    }

    private static VerifiedBundle VerifyCore(ReadOnlySpan<byte> bundleJson, ECDsa? givenKey, X509Certificate2Collection? trusted)
    {
        if (bundleJson.Length > MaxBundleSize)
        {
            MalformedInputException.ThrowLimit("signature bundle size", MaxBundleSize, 0);
        }

        var notes = new List<string>();
        JsonObject bundle;
        try
        {
            bundle = JsonNode.Parse(bundleJson, documentOptions: new JsonDocumentOptions { MaxDepth = 64 }) as JsonObject
                ?? MalformedInputException.Throw<JsonObject>(InputErrorKind.Syntax, "the signature bundle is not a JSON object", 0);
        }
        catch (JsonException ex)
        {
            throw MalformedInputException.Create(InputErrorKind.Syntax, $"the signature bundle is not valid JSON: {ex.Message}", ex.BytePositionInLine);
        }

        var mediaType = GetString(bundle, "mediaType");
        if (!mediaType.StartsWith("application/vnd.dev.sigstore.bundle", StringComparison.Ordinal))
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"unexpected bundle media type '{mediaType}'", 0);
        }

        var material = bundle["verificationMaterial"] as JsonObject;
        ECDsa publicKey;
        var signer = string.Empty;
        using var certificateKey = trusted is null ? null : VerifyCertificateChain(material, trusted, notes, out signer);
        if (certificateKey is not null)
        {
            publicKey = certificateKey;
        }
        else
        {
            publicKey = givenKey!;
            signer = $"key {SigningKeys.Hint(publicKey)}";
            if (material?["publicKey"] is JsonObject keyMaterial && keyMaterial["hint"]?.GetValueKind() == JsonValueKind.String
                && keyMaterial["hint"]!.GetValue<string>() is { Length: > 0 } hint && hint != SigningKeys.Hint(publicKey))
            {
                throw new CryptographicException("key mismatch: the bundle's public key hint does not match the given public key");
            }

            if (material?["x509CertificateChain"] is not null || material?["certificate"] is not null)
            {
                notes.Add("the bundle carries a certificate chain; only the signature was checked against the given public key");
            }
        }

        var envelope = bundle["dsseEnvelope"] as JsonObject ?? MalformedInputException.Throw<JsonObject>(InputErrorKind.Syntax, "the bundle has no dsseEnvelope", 0);
        var payloadType = GetString(envelope, "payloadType");
        if (payloadType != PayloadType)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"DSSE payload type is '{payloadType}', expected {PayloadType}", 0);
        }

        var payload = DecodeBase64(GetString(envelope, "payload"), "payload");
        var signatures = envelope["signatures"] as JsonArray;
        if (signatures is null || signatures.Count == 0 || signatures[0] is not JsonObject first)
        {
            throw MalformedInputException.Create(InputErrorKind.Syntax, "the DSSE envelope has no signature", 0);
        }

        var signature = DecodeBase64(GetString(first, "sig"), "signature");
        var hash = SigningKeys.HashFor(publicKey);
        if (!publicKey.VerifyData(Pae(payload), signature, hash, DSASignatureFormat.Rfc3279DerSequence))
        {
            // model_signing v0.2 signed its buggy PAE with SHA-256 whatever the curve.
            var compat = PaeCompat(payload);
            if (!publicKey.VerifyData(compat, signature, hash, DSASignatureFormat.Rfc3279DerSequence)
                && !publicKey.VerifyData(compat, signature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence))
            {
                throw new CryptographicException("the signature does not verify with the given public key");
            }

            notes.Add("signed with the pre-1.0 model_signing PAE encoding");
        }

        var (manifest, predicate) = ParseStatement(payload);
        return new VerifiedBundle(manifest, predicate, notes) { Signer = signer };
    }

    /// <summary>Largest number of certificates read from a bundle's chain.</summary>
    public const int MaxChainCertificates = 16;

    private static ECDsa VerifyCertificateChain(JsonObject? material, X509Certificate2Collection trusted, List<string> notes, out string signer)
    {
        var raw = new List<byte[]>();
        if (material?["x509CertificateChain"]?["certificates"] is JsonArray chainArray)
        {
            foreach (var node in chainArray)
            {
                raw.Add(DecodeBase64(GetString(node as JsonObject, "rawBytes"), "certificate"));
                if (raw.Count > MaxChainCertificates)
                {
                    MalformedInputException.ThrowLimit("certificates in the bundle's chain", MaxChainCertificates, 0);
                }
            }
        }
        else if (material?["certificate"] is JsonObject single)
        {
            raw.Add(DecodeBase64(GetString(single, "rawBytes"), "certificate"));
        }

        if (raw.Count == 0)
        {
            throw new CryptographicException("the bundle carries no signing certificate (it was signed with a key: verify it with the public key instead)");
        }

        var certificates = new List<X509Certificate2>();
        try
        {
            foreach (var bytes in raw)
            {
                certificates.Add(X509CertificateLoader.LoadCertificate(bytes));
            }

            var leaf = certificates[0];
            var (signingTime, timeSource) = SigningTime(material, leaf);
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            chain.ChainPolicy.VerificationTime = signingTime.UtcDateTime;
            chain.ChainPolicy.VerificationTimeIgnored = false;
            chain.ChainPolicy.CustomTrustStore.AddRange(trusted);
            chain.ChainPolicy.ExtraStore.AddRange(certificates.Skip(1).ToArray());
            if (!chain.Build(leaf))
            {
                var problems = chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct(StringComparer.Ordinal);
                throw new CryptographicException($"the signing certificate '{leaf.Subject}' does not chain to the given trusted certificates at {signingTime:yyyy-MM-dd HH:mm:ss}Z ({timeSource}): {string.Join("; ", problems)}");
            }

            foreach (var extension in leaf.Extensions)
            {
                if (extension is X509KeyUsageExtension usage && (usage.KeyUsages & X509KeyUsageFlags.DigitalSignature) == 0)
                {
                    throw new CryptographicException($"the signing certificate '{leaf.Subject}' does not allow digital signatures (key usage {usage.KeyUsages})");
                }

                if (extension is X509EnhancedKeyUsageExtension eku && eku.EnhancedKeyUsages.Count > 0
                    && !eku.EnhancedKeyUsages.Cast<Oid>().Any(o => o.Value is CodeSigningOid or AnyExtendedKeyUsageOid))
                {
                    throw new CryptographicException($"the signing certificate '{leaf.Subject}' is not for code signing (extended key usage)");
                }
            }

            var key = leaf.GetECDsaPublicKey() ?? throw new CryptographicException($"the signing certificate '{leaf.Subject}' does not hold an ECDSA key");
            var path = string.Join(" -> ", chain.ChainElements.Select(e => e.Certificate.Subject));
            notes.Add($"certificate chain verified at the signing time {signingTime:yyyy-MM-dd HH:mm:ss}Z ({timeSource}): {path}");
            signer = $"certificate {leaf.Subject} (serial {leaf.SerialNumber})";
            return key;
        }
        finally
        {
            foreach (var certificate in certificates)
            {
                certificate.Dispose();
            }
        }
    }

    private const string CodeSigningOid = "1.3.6.1.5.5.7.3.3";
    private const string AnyExtendedKeyUsageOid = "2.5.29.37.0";

    private static (DateTimeOffset Time, string Source) SigningTime(JsonObject? material, X509Certificate2 leaf)
    {
        if (material?["tlogEntries"] is JsonArray { Count: > 0 } entries && entries[0]?["integratedTime"] is JsonValue value)
        {
            var seconds = value.GetValueKind() switch
            {
                JsonValueKind.String when long.TryParse(value.GetValue<string>(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var s) => s,
                JsonValueKind.Number when value.TryGetValue<long>(out var n) => n,
                _ => -1,
            };
            if (seconds is >= 0 and <= 253402300799)
            {
                return (DateTimeOffset.FromUnixTimeSeconds(seconds), "the transparency log's integrated time");
            }

            MalformedInputException.Throw(InputErrorKind.Syntax, "tlogEntries[0].integratedTime is not a time in seconds", 0);
        }

        return (new DateTimeOffset(leaf.NotBefore.ToUniversalTime(), TimeSpan.Zero), "the signing certificate's notBefore, as model_signing uses");
    }

    /// <summary>DSSE v1 pre-authentication encoding: <c>DSSEv1 SP len(type) SP type SP len(body) SP body</c>.</summary>
    public static byte[] Pae(ReadOnlySpan<byte> payload)
    {
        var prefix = Encoding.UTF8.GetBytes($"DSSEv1 {PayloadType.Length} {PayloadType} {payload.Length} ");
        var result = new byte[prefix.Length + payload.Length];
        prefix.CopyTo(result, 0);
        payload.CopyTo(result.AsSpan(prefix.Length));
        return result;
    }

    /// <summary>model_signing v0.2's buggy PAE: "DSSEV1" and the payload rendered as a Python bytes literal.</summary>
    internal static byte[] PaeCompat(ReadOnlySpan<byte> payload) =>
        Encoding.UTF8.GetBytes($"DSSEV1 {PayloadType.Length} {PayloadType} {payload.Length} {PythonBytesRepr(payload)}");

    internal static string PythonBytesRepr(ReadOnlySpan<byte> bytes)
    {
        var quote = bytes.IndexOf((byte)'\'') >= 0 && bytes.IndexOf((byte)'"') < 0 ? '"' : '\'';
        var builder = new StringBuilder(bytes.Length + 3).Append('b').Append(quote);
        foreach (var b in bytes)
        {
            switch (b)
            {
                case (byte)'\\': builder.Append("\\\\"); break;
                case (byte)'\t': builder.Append("\\t"); break;
                case (byte)'\n': builder.Append("\\n"); break;
                case (byte)'\r': builder.Append("\\r"); break;
                default:
                    if (b == quote)
                    {
                        builder.Append('\\').Append(quote);
                    }
                    else if (b is < 0x20 or >= 0x7f)
                    {
                        builder.Append($"\\x{b:x2}");
                    }
                    else
                    {
                        builder.Append((char)b);
                    }

                    break;
            }
        }

        return builder.Append(quote).ToString();
    }

    /// <summary>Parses the in-toto statement into a manifest, checking the root digest (v1.0) like model_signing does.</summary>
    public static (ModelManifest Manifest, JsonObject Predicate) ParseStatement(ReadOnlySpan<byte> payload)
    {
        try
        {
            return ParseStatementCore(payload);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or FormatException or JsonException)
        {
            // Duplicate JSON keys and wrongly typed values surface from System.Text.Json.Nodes as these.
            throw MalformedInputException.Create(InputErrorKind.Syntax, $"the in-toto statement is malformed: {ex.Message}", 0, inner: ex);
        }
    }

    private static (ModelManifest Manifest, JsonObject Predicate) ParseStatementCore(ReadOnlySpan<byte> payload)
    {
        JsonObject statement;
        try
        {
            statement = JsonNode.Parse(payload, documentOptions: new JsonDocumentOptions { MaxDepth = 64 }) as JsonObject
                ?? MalformedInputException.Throw<JsonObject>(InputErrorKind.Syntax, "the in-toto statement is not a JSON object", 0);
        }
        catch (JsonException ex)
        {
            throw MalformedInputException.Create(InputErrorKind.Syntax, $"the in-toto statement is not valid JSON: {ex.Message}", ex.BytePositionInLine);
        }

        if (GetString(statement, "_type") != ModelManifest.StatementType)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"statement type is not {ModelManifest.StatementType}", 0);
        }

        var subjects = statement["subject"] as JsonArray ?? MalformedInputException.Throw<JsonArray>(InputErrorKind.Syntax, "the statement has no subject", 0);
        var predicateType = GetString(statement, "predicateType");
        if (predicateType == ModelManifest.CompatPredicateType)
        {
            var compat = new List<ManifestEntry>();
            foreach (var subject in subjects)
            {
                compat.Add(new ManifestEntry(GetString(subject as JsonObject, "name"), "sha256", DecodeHex(GetString(subject?["digest"] as JsonObject, "sha256"), 32)));
            }

            return (ModelManifest.Create("compat-undefined-not-present", compat, new ManifestSerialization()), new JsonObject());
        }

        if (predicateType != ModelManifest.PredicateType)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"predicate type '{predicateType}' is not {ModelManifest.PredicateType}", 0);
        }

        if (subjects.Count != 1 || subjects[0] is not JsonObject only)
        {
            throw MalformedInputException.Create(InputErrorKind.Syntax, $"expected exactly one subject, found {subjects.Count}", 0);
        }

        var modelName = GetString(only, "name");
        var expectedRoot = DecodeHex(GetString(only["digest"] as JsonObject, "sha256"), 32);
        var predicate = statement["predicate"] as JsonObject ?? MalformedInputException.Throw<JsonObject>(InputErrorKind.Syntax, "the statement has no predicate", 0);
        var serializationNode = predicate["serialization"] as JsonObject ?? MalformedInputException.Throw<JsonObject>(InputErrorKind.Syntax, "the predicate has no serialization", 0);
        var method = GetString(serializationNode, "method");
        if (method != "files")
        {
            MalformedInputException.Throw(InputErrorKind.Unsupported, $"serialization method '{method}' is not supported (only 'files')", 0);
        }

        var hashType = GetString(serializationNode, "hash_type");
        if (hashType != "sha256")
        {
            MalformedInputException.Throw(InputErrorKind.Unsupported, $"hash type '{hashType}' is not supported (only sha256)", 0);
        }

        var allowSymlinks = serializationNode["allow_symlinks"] is JsonValue v && v.GetValueKind() == JsonValueKind.True;
        List<string>? ignores = null;
        if (serializationNode["ignore_paths"] is JsonArray ignoreArray)
        {
            ignores = ignoreArray.Select(i => i?.GetValueKind() == JsonValueKind.String ? i.GetValue<string>() : MalformedInputException.Throw<string>(InputErrorKind.Syntax, "ignore_paths must hold strings", 0)).ToList();
        }

        var resources = predicate["resources"] as JsonArray ?? MalformedInputException.Throw<JsonArray>(InputErrorKind.Syntax, "the predicate has no resources", 0);
        var entries = new List<ManifestEntry>(resources.Count);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in resources)
        {
            var resource = node as JsonObject;
            var name = GetString(resource, "name");
            var algorithm = GetString(resource, "algorithm");
            if (algorithm != "sha256")
            {
                MalformedInputException.Throw(InputErrorKind.Unsupported, $"resource '{name}' uses algorithm '{algorithm}'; only sha256 is supported", 0);
            }

            if (!names.Add(name))
            {
                MalformedInputException.Throw(InputErrorKind.Corrupt, $"resource '{name}' appears twice", 0);
            }

            entries.Add(new ManifestEntry(name, algorithm, DecodeHex(GetString(resource, "digest"), 32)));
        }

        // The root digest covers the resources in the order the statement lists them.
        if (!ModelManifest.ComputeRootDigest(entries).AsSpan().SequenceEqual(expectedRoot))
        {
            MalformedInputException.Throw(InputErrorKind.Corrupt, "manifest is inconsistent: the resources do not hash to the subject's root digest", 0);
        }

        return (new ModelManifest(modelName, entries, new ManifestSerialization(method, hashType, allowSymlinks, ignores)), predicate);
    }

    private static string GetString(JsonObject? obj, string property)
    {
        if (obj?[property] is JsonValue value && value.GetValueKind() == JsonValueKind.String)
        {
            return value.GetValue<string>();
        }

        return MalformedInputException.Throw<string>(InputErrorKind.Syntax, $"missing or non-string '{property}'", 0);
    }

    private static byte[] DecodeBase64(string text, string what)
    {
        try
        {
            return Convert.FromBase64String(text);
        }
        catch (FormatException)
        {
            return MalformedInputException.Throw<byte[]>(InputErrorKind.Syntax, $"the {what} is not valid base64", 0);
        }
    }

    private static byte[] DecodeHex(string text, int length)
    {
        if (text.Length != length * 2)
        {
            return MalformedInputException.Throw<byte[]>(InputErrorKind.Syntax, $"digest '{text}' is not {length} bytes of hex", 0);
        }

        try
        {
            return Convert.FromHexString(text);
        }
        catch (FormatException)
        {
            return MalformedInputException.Throw<byte[]>(InputErrorKind.Syntax, $"digest '{text}' is not hex", 0);
        }
    }

    /// <summary>Fuzz target over the statement parser: must never throw anything but <see cref="MalformedInputException"/>.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data) => ParseStatement(data);
}
