using TrainGuard.Server.Hosting;

namespace TrainGuard.Server.Tests.Support;

/// <summary>The server's CA (with a server certificate for 127.0.0.1), a CA for client certificates and an impostor's CA, in a throwaway folder.</summary>
public sealed class TestPki : IDisposable
{
    public TestPki()
    {
        Directory = TestPaths.NewTempDirectory();
        Ca = TestCertificateAuthority.Create(Directory, "TrainGuard Test CA");
        ClientCa = TestCertificateAuthority.Create(Directory, "TrainGuard Nodes CA");
        Other = TestCertificateAuthority.Create(Directory, "Impostor CA");
        Server = Ca.IssueServer();
        Impostor = Other.IssueServer("impostor");
    }

    public string Directory { get; }

    public TestCertificateAuthority Ca { get; }

    public TestCertificateAuthority ClientCa { get; }

    public TestCertificateAuthority Other { get; }

    public (string Certificate, string Key) Server { get; }

    public (string Certificate, string Key) Impostor { get; }

    /// <summary><paramref name="options"/> serving https on 127.0.0.1 with <paramref name="server"/>, requiring client certificates of <paramref name="clientCa"/> when given.</summary>
    public ServerOptions Https(ServerOptions options, (string Certificate, string Key) server, string? clientCa = null) =>
        options with { Urls = ["https://127.0.0.1:0"], TlsCertificateFile = server.Certificate, TlsKeyFile = server.Key, ClientCaFile = clientCa };

    public void Dispose()
    {
        Ca.Dispose();
        ClientCa.Dispose();
        Other.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
