using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace TrainGuard.Integrity.Keys;

/// <summary>
/// ECDSA signing keys in PEM, as the OpenSSF model-signing "elliptic key" method uses them: P-256, P-384
/// or P-521, hashed with SHA-256, SHA-384 or SHA-512 respectively; signatures DER-encoded.
/// </summary>
public static class SigningKeys
{
    /// <summary>Loads a private key from PEM text (<c>PRIVATE KEY</c> PKCS#8 or <c>EC PRIVATE KEY</c> SEC1). Encrypted keys are not supported.</summary>
    public static ECDsa LoadPrivateKeyPem(string pem)
    {
        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(pem);
            _ = key.ExportParameters(includePrivateParameters: true);
            CheckCurve(key);
            return key;
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    /// <summary>Loads a public key from PEM text: <c>PUBLIC KEY</c> (text around the PEM block is ignored) or a <c>CERTIFICATE</c>.</summary>
    public static ECDsa LoadPublicKeyPem(string pem)
    {
        if (pem.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal) && !pem.Contains("-----BEGIN PUBLIC KEY-----", StringComparison.Ordinal))
        {
            using var certificate = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(pem);
            return certificate.GetECDsaPublicKey() ?? throw new CryptographicException("the certificate does not hold an ECDSA public key");
        }

        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(pem);
            CheckCurve(key);
            return key;
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    public static ECDsa LoadPrivateKeyFile(string path) => LoadPrivateKeyPem(File.ReadAllText(path));

    public static ECDsa LoadPublicKeyFile(string path) => LoadPublicKeyPem(File.ReadAllText(path));

    /// <summary>The hash the model-signing format pairs with the key's curve.</summary>
    public static HashAlgorithmName HashFor(ECDsa key) => key.KeySize switch
    {
        256 => HashAlgorithmName.SHA256,
        384 => HashAlgorithmName.SHA384,
        521 => HashAlgorithmName.SHA512,
        _ => throw new CryptographicException($"unsupported curve size {key.KeySize}; use P-256, P-384 or P-521"),
    };

    /// <summary>The SubjectPublicKeyInfo PEM exactly as Python's <c>cryptography</c> writes it (64-column lines, final newline).</summary>
    public static string PublicKeyPem(ECDsa key) => key.ExportSubjectPublicKeyInfoPem() + "\n";

    /// <summary>The bundle's <c>verificationMaterial.publicKey.hint</c>: hex SHA-256 of <see cref="PublicKeyPem"/>.</summary>
    public static string Hint(ECDsa key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(PublicKeyPem(key))));

    private static void CheckCurve(ECDsa key) => _ = HashFor(key);
}

/// <summary><c>trainguard keys new</c>: an ECDSA P-256 key pair in PEM, the same keys that sign environments and checkpoints.</summary>
public static class KeyPairGenerator
{
    /// <summary>
    /// Writes <paramref name="privatePemPath"/> (PKCS#8 PEM, mode 0600, never overwritten) and
    /// <paramref name="publicPemPath"/> (SubjectPublicKeyInfo PEM). Returns the public key's hint.
    /// </summary>
    public static string Create(string privatePemPath, string publicPemPath)
    {
        if (File.Exists(privatePemPath))
        {
            throw new IOException($"{privatePemPath} already exists; refusing to overwrite a private key");
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(privatePemPath, options))
        using (var writer = new StreamWriter(stream, new UTF8Encoding(false)))
        {
            writer.Write(key.ExportPkcs8PrivateKeyPem());
            writer.Write('\n');
        }

        File.WriteAllText(publicPemPath, SigningKeys.PublicKeyPem(key), new UTF8Encoding(false));
        return SigningKeys.Hint(key);
    }
}
