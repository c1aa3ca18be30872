using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using TrainGuard.Parsing;

namespace TrainGuard.Ledger.Client;

/// <summary>
/// Reads the PEM files TLS needs on either side of the API (the server's certificate and key, a pinned CA, a client
/// certificate and key) with one wording for what is wrong: every error is a <see cref="MalformedInputException"/>
/// of kind <see cref="InputErrorKind.Config"/> whose message starts with the file and says which option named it
/// (<c>what</c>) and how to fix it. Nothing is read beyond the named files.
/// </summary>
public static class TlsFiles
{
    /// <summary>Largest PEM file read (a certificate chain or a key is a few kilobytes).</summary>
    public const int MaxPemBytes = 1 << 20;

    private const string RsaOid = "1.2.840.113549.1.1.1";
    private const string EcOid = "1.2.840.10045.2.1";

    private const UnixFileMode GroupOrOther =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>
    /// Every certificate of a PEM file, in file order (a chain: the leaf first, then its intermediates; or the CA
    /// certificates to trust). A file without one is an error.
    /// </summary>
    /// <param name="what">The option or key that named the file, e.g. <c>--ca</c>; it appears in every error.</param>
    public static X509Certificate2Collection ReadCertificates(string path, string what)
    {
        var text = ReadText(path, what);
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPem(text);
        }
        catch (CryptographicException ex)
        {
            throw Error(path, what, $"a certificate in it is not valid PEM/DER ({ex.Message})", ex);
        }

        return certificates.Count > 0
            ? certificates
            : throw Error(path, what, "holds no certificate (expected PEM blocks '-----BEGIN CERTIFICATE-----')");
    }

    /// <summary>
    /// The first certificate of <paramref name="certificatePath"/> joined with the private key in
    /// <paramref name="keyPath"/>, and the rest of the chain. The key file must be readable by its owner only
    /// (mode 0600 or 0400): a key other users can read is refused, as is an encrypted key, a key of another
    /// algorithm than the certificate's, or a key that does not belong to the certificate.
    /// </summary>
    public static (X509Certificate2 Certificate, X509Certificate2Collection Chain) ReadCertificateWithKey(string certificatePath, string certificateWhat, string keyPath, string keyWhat)
    {
        var certificates = ReadCertificates(certificatePath, certificateWhat);
        var leaf = certificates[0];
        var keyText = ReadText(keyPath, keyWhat);
        CheckPrivate(keyPath, keyWhat);
        if (keyText.Contains("-----BEGIN ENCRYPTED PRIVATE KEY-----", StringComparison.Ordinal) || keyText.Contains("Proc-Type: 4,ENCRYPTED", StringComparison.Ordinal))
        {
            throw Error(keyPath, keyWhat, $"the private key is encrypted; store it decrypted with mode 0600 ('openssl pkey -in {keyPath} -out plain.key')");
        }

        X509Certificate2? joined;
        try
        {
            joined = leaf.GetKeyAlgorithm() switch
            {
                RsaOid => JoinRsa(leaf, keyText),
                EcOid => JoinEc(leaf, keyText),
                var oid => throw Error(certificatePath, certificateWhat, $"the certificate's key algorithm ({oid}) is not supported; use an RSA or ECDSA (P-256/P-384) key"),
            };
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            throw Error(keyPath, keyWhat, $"holds no usable {AlgorithmName(leaf)} private key in PEM ('-----BEGIN PRIVATE KEY-----' or '-----BEGIN {AlgorithmName(leaf)} PRIVATE KEY-----'): {ex.Message}", ex);
        }

        if (joined is null)
        {
            throw Error(keyPath, keyWhat, $"this key does not belong to the certificate in {Path.GetFullPath(certificatePath)} ({certificateWhat}); give the key the certificate was issued for");
        }

        var chain = new X509Certificate2Collection();
        for (var i = 1; i < certificates.Count; i++)
        {
            chain.Add(certificates[i]);
        }

        leaf.Dispose();
        return (joined, chain);
    }

    /// <summary>Refuses a private key file that its group or other users may read or change (0600 expected).</summary>
    public static void CheckPrivate(string path, string what)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        UnixFileMode mode;
        try
        {
            mode = File.GetUnixFileMode(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw Unreadable(path, what, ex);
        }

        if ((mode & GroupOrOther) != 0)
        {
            throw Error(path, what, $"the private key is readable by other users (mode {Convert.ToString((int)mode, 8).PadLeft(4, '0')}); run 'chmod 600 {path}' (a key others can read is a key others can use)");
        }
    }

    /// <summary>The certificate with the key, or null when the key's public half is not the certificate's.</summary>
    private static X509Certificate2? JoinRsa(X509Certificate2 leaf, string keyText)
    {
        using var rsa = RSA.Create();
        rsa.ImportFromPem(keyText);
        using var certified = leaf.GetRSAPublicKey();
        return certified is not null && certified.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(rsa.ExportSubjectPublicKeyInfo()) ? leaf.CopyWithPrivateKey(rsa) : null;
    }

    /// <inheritdoc cref="JoinRsa"/>
    private static X509Certificate2? JoinEc(X509Certificate2 leaf, string keyText)
    {
        using var ec = ECDsa.Create();
        ec.ImportFromPem(keyText);
        using var certified = leaf.GetECDsaPublicKey();
        return certified is not null && certified.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(ec.ExportSubjectPublicKeyInfo()) ? leaf.CopyWithPrivateKey(ec) : null;
    }

    private static string AlgorithmName(X509Certificate2 certificate) => certificate.GetKeyAlgorithm() == EcOid ? "EC" : "RSA";

    private static string ReadText(string path, string what)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            if (stream.Length > MaxPemBytes)
            {
                throw Error(path, what, $"is {stream.Length} bytes, more than a PEM certificate or key ({MaxPemBytes} bytes at most)");
            }

            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }
        catch (FileNotFoundException ex)
        {
            throw Error(path, what, "file not found", ex);
        }
        catch (DirectoryNotFoundException ex)
        {
            throw Error(path, what, "file not found (its folder does not exist)", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw Unreadable(path, what, ex);
        }
    }

    private static MalformedInputException Unreadable(string path, string what, Exception ex) =>
        Error(path, what, $"cannot be read ({ex.Message})", ex);

    private static MalformedInputException Error(string path, string what, string problem, Exception? inner = null) =>
        MalformedInputException.CreateAt(InputErrorKind.Config, $"{what}: {problem}", Path.GetFullPath(path), line: null, inner: inner);
}
