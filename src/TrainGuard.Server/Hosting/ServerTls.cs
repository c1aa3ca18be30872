using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Logging;
using TrainGuard.Findings;
using TrainGuard.Ledger.Client;
using TrainGuard.Parsing;

namespace TrainGuard.Server.Hosting;

/// <summary>
/// The server's TLS settings, read and checked before Kestrel starts so a bad setup is one clear error instead of a
/// server that listens and then fails every handshake: the listening addresses against the certificate options, the
/// certificate chain and its key (<see cref="TlsFiles"/>), and the client CA when client certificates are required.
/// </summary>
internal sealed class ServerTls : IDisposable
{
    private const string ClientAuthenticationOid = "1.3.6.1.5.5.7.3.2";

    private readonly X509Certificate2 _certificate;
    private readonly X509Certificate2Collection _chain;
    private readonly X509Certificate2Collection? _clientCa;

    private ServerTls(X509Certificate2 certificate, X509Certificate2Collection chain, X509Certificate2Collection? clientCa)
    {
        _certificate = certificate;
        _chain = chain;
        _clientCa = clientCa;
    }

    /// <summary>Where refused client certificates are reported (set once the host's logging exists).</summary>
    public ILogger? Logger { get; set; }

    /// <summary>
    /// Checks <see cref="ServerOptions.Urls"/> against the TLS options and loads the certificate; null when no
    /// address is https. Refuses: an https address without a certificate, a certificate or client CA with no
    /// https address to use it, plain http on a non-loopback address without <see cref="ServerOptions.AllowInsecureHttp"/>,
    /// and every file problem <see cref="TlsFiles"/> names (missing, unreadable, not PEM, key readable by others, key
    /// not matching), and a certificate outside its validity period.
    /// </summary>
    /// <exception cref="MalformedInputException">The options or files do not make a server that clients can trust.</exception>
    public static ServerTls? Load(ServerOptions options, DateTimeOffset now)
    {
        var https = false;
        foreach (var url in options.Urls)
        {
            var address = Parse(url);
            if (address.Scheme.Equals("https", StringComparison.OrdinalIgnoreCase))
            {
                https = true;
                if (options.TlsCertificateFile is null || options.TlsKeyFile is null)
                {
                    throw Error($"--urls {url} is https, which needs the server's certificate and key: give --tls-cert FILE and --tls-key FILE (PEM; see docs/server.md, TLS)");
                }
            }
            else if (!address.IsUnixPipe && !address.IsNamedPipe && !ClientTls.IsLoopback(address.Host) && !options.AllowInsecureHttp)
            {
                throw Error($"--urls {url} is plain http on an address other machines reach, so tokens and events would cross the network unencrypted; "
                    + "serve https (--urls https://HOST:PORT --tls-cert FILE --tls-key FILE), or, only behind a TLS-terminating proxy, pass --allow-insecure-http");
            }
        }

        if (!https)
        {
            if (options.TlsCertificateFile is not null || options.TlsKeyFile is not null || options.ClientCaFile is not null)
            {
                var given = options.ClientCaFile is not null && options.TlsCertificateFile is null ? "--client-ca" : "--tls-cert/--tls-key";
                throw Error($"{given} given but no --urls address is https:// (e.g. --urls https://0.0.0.0:8443); the certificate would not be used");
            }

            return null;
        }

        var (certificate, chain) = TlsFiles.ReadCertificateWithKey(options.TlsCertificateFile!, "--tls-cert", options.TlsKeyFile!, "--tls-key");
        try
        {
            if (now < certificate.NotBefore || now > certificate.NotAfter)
            {
                throw MalformedInputException.CreateAt(
                    InputErrorKind.Config,
                    $"--tls-cert: the certificate '{TextSanitizer.Escape(certificate.Subject, 200)}' is valid from {certificate.NotBefore.ToUniversalTime():yyyy-MM-ddTHH:mm:ssZ} to {certificate.NotAfter.ToUniversalTime():yyyy-MM-ddTHH:mm:ssZ}, not now; renew it",
                    Path.GetFullPath(options.TlsCertificateFile!),
                    line: null);
            }

            var clientCa = options.ClientCaFile is null ? null : TlsFiles.ReadCertificates(options.ClientCaFile, "--client-ca");
            return new ServerTls(certificate, chain, clientCa);
        }
        catch
        {
            certificate.Dispose();
            throw;
        }
    }

    /// <summary>Applies the certificate (and the client certificate requirement) to every https address.</summary>
    public void Configure(HttpsConnectionAdapterOptions https)
    {
        https.ServerCertificate = _certificate;
        https.ServerCertificateChain = _chain;
        https.SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13;
        if (_clientCa is not null)
        {
            https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
            https.ClientCertificateValidation = IsTrustedClient;
        }
    }

    public void Dispose()
    {
        _certificate.Dispose();
        foreach (var certificate in _chain)
        {
            certificate.Dispose();
        }

        foreach (var certificate in _clientCa ?? [])
        {
            certificate.Dispose();
        }
    }

    /// <summary>A client certificate is accepted only when it chains to one of the client CAs (the system's roots are not consulted) and may be used for client authentication.</summary>
    private bool IsTrustedClient(X509Certificate2 certificate, X509Chain? presented, SslPolicyErrors errors)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_clientCa!);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        chain.ChainPolicy.ApplicationPolicy.Add(new System.Security.Cryptography.Oid(ClientAuthenticationOid));
        if (presented is not null)
        {
            chain.ChainPolicy.ExtraStore.AddRange(presented.ChainPolicy.ExtraStore);
            foreach (var element in presented.ChainElements)
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        if (chain.Build(certificate))
        {
            return true;
        }

        var reasons = string.Join(", ", chain.ChainStatus.Select(s => s.Status.ToString()).Distinct());
        Logger?.LogWarning("TLS client certificate refused: {Subject} (issuer {Issuer}): {Reasons}", TextSanitizer.Escape(certificate.Subject, 200), TextSanitizer.Escape(certificate.Issuer, 200), reasons);
        return false;
    }

    private static BindingAddress Parse(string url)
    {
        try
        {
            return BindingAddress.Parse(url);
        }
        catch (FormatException ex)
        {
            throw Error($"--urls {url} is not an address to listen on (http://HOST:PORT or https://HOST:PORT): {ex.Message}", ex);
        }
    }

    private static MalformedInputException Error(string message, Exception? inner = null) =>
        MalformedInputException.Create(InputErrorKind.Config, message, inner: inner);
}
