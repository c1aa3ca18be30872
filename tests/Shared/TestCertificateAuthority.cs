using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace TrainGuard.Tests.Shared;

/// <summary>
/// A throwaway certificate authority made at test time with <see cref="CertificateRequest"/> (no committed private
/// keys, no openssl): a self-signed ECDSA P-256 root written as <see cref="CaFile"/>, issuing server certificates
/// for 127.0.0.1/::1/localhost and client certificates into the same folder, every key file with mode 0600.
/// </summary>
public sealed class TestCertificateAuthority : IDisposable
{
    private readonly X509Certificate2 _root;
    private readonly string _chainPem;
    private int _serial;

    private TestCertificateAuthority(string directory, string name, X509Certificate2 root, string chainPem)
    {
        Directory = directory;
        Name = name;
        _root = root;
        _chainPem = chainPem;
        CaFile = Path.Combine(directory, FileStem(name) + "-ca.pem");
        File.WriteAllText(CaFile, root.ExportCertificatePem() + "\n");
    }

    /// <summary>The folder the PEM files are written to.</summary>
    public string Directory { get; }

    /// <summary>The CA's common name.</summary>
    public string Name { get; }

    /// <summary>The root certificate (PEM), the file clients pin and servers trust for client certificates.</summary>
    public string CaFile { get; }

    /// <summary>A new root CA called <paramref name="name"/> whose files go to <paramref name="directory"/>.</summary>
    public static TestCertificateAuthority Create(string directory, string name = "TrainGuard Test CA")
    {
        System.IO.Directory.CreateDirectory(directory);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}, O=TrainGuard tests", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 1, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        var now = DateTimeOffset.UtcNow;
        var root = request.CreateSelfSigned(now.AddDays(-1), now.AddDays(30));
        return new TestCertificateAuthority(directory, name, root, string.Empty);
    }

    /// <summary>
    /// An intermediate CA issued by this one: the certificates it issues are written with the intermediate after
    /// them (a chain file), and its <see cref="CaFile"/> holds the intermediate (not a root).
    /// </summary>
    public TestCertificateAuthority CreateIntermediate(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}, O=TrainGuard tests", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(_root, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var now = DateTimeOffset.UtcNow;
        using var issued = request.Create(_root, now.AddHours(-2), now.AddDays(20), [0x20, (byte)Interlocked.Increment(ref _serial)]);
        var intermediate = issued.CopyWithPrivateKey(key);
        return new TestCertificateAuthority(Directory, name, intermediate, intermediate.ExportCertificatePem() + "\n" + _chainPem);
    }

    /// <summary>A server certificate for 127.0.0.1, ::1 and localhost (plus <paramref name="dnsNames"/>): its chain and key files.</summary>
    public (string Certificate, string Key) IssueServer(string stem = "server", DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null, params string[] dnsNames)
    {
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddIpAddress(IPAddress.IPv6Loopback);
        names.AddDnsName("localhost");
        foreach (var dns in dnsNames)
        {
            names.AddDnsName(dns);
        }

        return Issue(stem, "CN=trainguard-server", "1.3.6.1.5.5.7.3.1", names.Build(), notBefore, notAfter);
    }

    /// <summary>A client certificate (client authentication only) for <paramref name="commonName"/>.</summary>
    public (string Certificate, string Key) IssueClient(string stem, string commonName) =>
        Issue(stem, $"CN={commonName}", "1.3.6.1.5.5.7.3.2", extension: null, notBefore: null, notAfter: null);

    public void Dispose() => _root.Dispose();

    private (string Certificate, string Key) Issue(string stem, string subject, string usage, X509Extension? extension, DateTimeOffset? notBefore, DateTimeOffset? notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], critical: false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(_root, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        if (extension is not null)
        {
            request.CertificateExtensions.Add(extension);
        }

        var now = DateTimeOffset.UtcNow;
        var n = Interlocked.Increment(ref _serial);
        byte[] serial = [0x10, (byte)(n >> 8), (byte)n];
        using var certificate = request.Create(_root, notBefore ?? now.AddHours(-1), notAfter ?? now.AddDays(7), serial);
        var certificateFile = Path.Combine(Directory, $"{stem}.crt");
        var keyFile = Path.Combine(Directory, $"{stem}.key");
        File.WriteAllText(certificateFile, certificate.ExportCertificatePem() + "\n" + _chainPem);
        WritePrivate(keyFile, key.ExportPkcs8PrivateKeyPem() + "\n");
        return (certificateFile, keyFile);
    }

    /// <summary>Writes a file readable by its owner only (mode 0600), as a key file must be.</summary>
    public static void WritePrivate(string path, string text)
    {
        File.WriteAllText(path, text);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    private static string FileStem(string name) => string.Concat(name.Select(c => char.IsAsciiLetterOrDigit(c) ? char.ToLowerInvariant(c) : '-'));
}
