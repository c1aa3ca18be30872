using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using TrainGuard.Findings;

namespace TrainGuard.Ledger.Client;

/// <summary>
/// How a client (the agent's shipper, every CLI verb with <c>--server</c>) reaches the server: the CA the server's
/// certificate must chain to (<see cref="PinnedCa"/>; then the system's roots are not consulted at all) and an
/// optional client certificate for servers that require one. Load it with <see cref="Load"/>, which reads and checks
/// the files, then give it to <see cref="TrainGuardApiClient"/>.
/// </summary>
public sealed class ClientTls
{
    private ClientTls(string? caFile, X509Certificate2Collection? pinnedCa, X509Certificate2? clientCertificate, X509Certificate2Collection clientChain)
    {
        CaFile = caFile;
        PinnedCa = pinnedCa;
        ClientCertificate = clientCertificate;
        ClientChain = clientChain;
    }

    /// <summary>No pinned CA (the system's roots decide) and no client certificate.</summary>
    public static ClientTls None { get; } = new(null, null, null, []);

    /// <summary>The file the pinned CA was read from.</summary>
    public string? CaFile { get; }

    /// <summary>The only roots a server certificate may chain to; null: the system's roots.</summary>
    public X509Certificate2Collection? PinnedCa { get; }

    /// <summary>The client certificate (with its private key) presented when the server asks for one.</summary>
    public X509Certificate2? ClientCertificate { get; }

    /// <summary>Intermediates sent with <see cref="ClientCertificate"/> (the rest of its PEM file).</summary>
    public X509Certificate2Collection ClientChain { get; }

    /// <summary>
    /// Reads the pinned CA (<paramref name="caFile"/>) and the client certificate and key; null paths are left out,
    /// but a certificate without its key (or a key without its certificate) is an error.
    /// </summary>
    /// <param name="names">How the three files are named to the user (<c>--ca</c>, <c>server.ca</c>, ...).</param>
    /// <exception cref="Parsing.MalformedInputException">A file is missing, unreadable, not PEM, or the key is readable by others or does not match.</exception>
    public static ClientTls Load(string? caFile, string? clientCertificateFile, string? clientKeyFile, (string Ca, string Certificate, string Key) names)
    {
        if ((clientCertificateFile is null) != (clientKeyFile is null))
        {
            throw Parsing.MalformedInputException.Create(Parsing.InputErrorKind.Config, clientCertificateFile is null
                ? $"{names.Key} is given without {names.Certificate}: a client certificate needs both its certificate and its key"
                : $"{names.Certificate} is given without {names.Key}: a client certificate needs both its certificate and its key");
        }

        var pinned = caFile is null ? null : TlsFiles.ReadCertificates(caFile, names.Ca);
        if (clientCertificateFile is null)
        {
            return new ClientTls(caFile is null ? null : Path.GetFullPath(caFile), pinned, null, []);
        }

        var (certificate, chain) = TlsFiles.ReadCertificateWithKey(clientCertificateFile, names.Certificate, clientKeyFile!, names.Key);
        return new ClientTls(caFile is null ? null : Path.GetFullPath(caFile), pinned, certificate, chain);
    }

    /// <summary>
    /// Why <paramref name="url"/> must not be used, or null when it may: plain <c>http://</c> is accepted only to this
    /// machine (127.0.0.0/8, ::1, <c>localhost</c>), since over any network it would carry the bearer token and the
    /// events in clear text to whoever is on the path. The text names the URL and the https:// URL to use instead.
    /// </summary>
    public static string? InsecureReason(Uri url)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (!url.IsAbsoluteUri || url.Scheme != Uri.UriSchemeHttp || IsLoopback(url.Host))
        {
            return null;
        }

        var https = new UriBuilder(url) { Scheme = Uri.UriSchemeHttps, Port = url.IsDefaultPort ? -1 : url.Port }.Uri;
        return $"'{TextSanitizer.Escape(url.ToString(), 200)}' is plain http to another machine, which would send the token and the events unencrypted; "
            + $"use {TextSanitizer.Escape(https.ToString(), 200)} (the server serves it with --tls-cert/--tls-key). Plain http is accepted only to 127.0.0.0/8, ::1 or localhost";
    }

    /// <summary>True for <c>localhost</c> and loopback addresses (127.0.0.0/8, ::1, and IPv4-mapped 127.x).</summary>
    public static bool IsLoopback(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        var bare = host.Trim('[', ']');
        if (bare.Equals("localhost", StringComparison.OrdinalIgnoreCase) || bare.Equals("localhost.", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        if (!IPAddress.TryParse(bare, out var address))
        {
            return false;
        }

        return IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);
    }

    /// <summary>The handler a <see cref="TrainGuardApiClient"/> sends through: pinning, client certificate, readable TLS errors.</summary>
    internal HttpMessageHandler CreateHandler()
    {
        var sockets = new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            AllowAutoRedirect = false,
        };
        if (PinnedCa is not null)
        {
            var policy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
                DisableCertificateDownloads = true,
            };
            policy.CustomTrustStore.AddRange(PinnedCa);
            sockets.SslOptions.CertificateChainPolicy = policy;
        }

        if (ClientCertificate is not null)
        {
            sockets.SslOptions.ClientCertificateContext = SslStreamCertificateContext.Create(ClientCertificate, ClientChain, offline: true);
        }

        return new TlsErrorHandler(sockets, CaFile, ClientCertificate is not null);
    }

    /// <summary>Turns "The SSL connection could not be established, see inner exception." (and a connection a TLS server closed unanswered) into what was refused and why.</summary>
    private sealed class TlsErrorHandler(HttpMessageHandler inner, string? caFile, bool hasClientCertificate) : DelegatingHandler(inner)
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            try
            {
                return await base.SendAsync(request, cancellationToken);
            }
            catch (HttpRequestException ex) when (ex.InnerException is AuthenticationException tls)
            {
                // Kept short: the client quotes at most 300 characters of it, and the reason must survive.
                var reason = tls.Message.TrimEnd('.');
                var refusedByServer = tls.Message.Contains("remote party", StringComparison.OrdinalIgnoreCase);
                var message = refusedByServer
                    ? $"TLS: the server refused the connection ({reason}); it may require a client certificate (--client-cert/--client-key, server.client_cert/client_key)"
                    : caFile is null
                        ? $"TLS: the server's certificate was refused ({reason}); it must chain to a root this system trusts and name {request.RequestUri?.Host}, or pin its CA with --ca/server.ca"
                        : $"TLS: the server's certificate was refused ({reason}); it must chain to the pinned CA {caFile} and name {request.RequestUri?.Host}";
                throw new HttpRequestException(message, ex, ex.StatusCode);
            }
            catch (HttpRequestException ex) when (ex.InnerException is HttpIOException { HttpRequestError: HttpRequestError.ResponseEnded } && request.RequestUri?.Scheme == Uri.UriSchemeHttps)
            {
                // With TLS 1.3 a server refuses a client certificate (or its absence) after the handshake: the client
                // only sees the connection close before any answer.
                var hint = hasClientCertificate
                    ? "the server may have refused the client certificate: it must chain to the CA the server was given with --client-ca"
                    : "a server run with --client-ca does this when no client certificate is presented: give --client-cert/--client-key (agent: server.client_cert/client_key)";
                throw new HttpRequestException($"TLS: the server closed the connection without an answer; {hint}", ex, ex.StatusCode);
            }
        }
    }
}
