using System.Net;
using System.Security.Cryptography;
using System.Text;
using TrainGuard.Ledger.Client;
using TrainGuard.Parsing;
using TrainGuard.Server.Hosting;
using TrainGuard.Server.Tests.Support;

namespace TrainGuard.Server.Tests.Tls;

/// <summary>
/// Attack 5 of issue 11 (bearer tokens and events in plain text, an unpinned server): a real server over loopback TLS
/// with a certificate authority made at test time, and clients that refuse what they must refuse.
/// </summary>
public sealed class TlsTests
{
    private static readonly (string, string, string) Names = ("--ca", "--client-cert", "--client-key");

    [Fact]
    public async Task Events_posted_over_https_to_a_server_of_the_pinned_CA_are_committed()
    {
        using var pki = new TestPki();
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite, o => pki.Https(o, pki.Server));
        Assert.Equal(Uri.UriSchemeHttps, h.Server.BaseAddress.Scheme);

        using var client = new TrainGuardApiClient(h.Server.BaseAddress, h.AgentToken, tls: ClientTls.Load(pki.Ca.CaFile, null, null, Names));
        var result = await client.PostEventsAsync([ServerHarness.Event(1).ToJsonString(), ServerHarness.Event(2).ToJsonString()]);

        Assert.Equal(2, result.Appended);
        Assert.Equal(2, h.Server.Log.Size);
    }

    [Fact]
    public async Task Certificates_issued_by_an_intermediate_chain_to_the_pinned_root_on_both_sides()
    {
        using var pki = new TestPki();
        using var serverIntermediate = pki.Ca.CreateIntermediate("Servers Intermediate");
        using var nodeIntermediate = pki.ClientCa.CreateIntermediate("Nodes Intermediate");
        var server = serverIntermediate.IssueServer("chained-server");
        var node = nodeIntermediate.IssueClient("chained-node", "gpu-node-3");
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite, o => pki.Https(o, server, pki.ClientCa.CaFile));

        using var client = new TrainGuardApiClient(h.Server.BaseAddress, h.AgentToken, tls: ClientTls.Load(pki.Ca.CaFile, node.Certificate, node.Key, Names));

        Assert.Equal(1, (await client.PostEventsAsync([ServerHarness.Event(1).ToJsonString()])).Appended);
    }

    [Fact]
    public async Task Ledger_verify_over_https_with_ca_checks_the_log()
    {
        using var pki = new TestPki();
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite, o => pki.Https(o, pki.Server));
        await PostAsync(h, pki, 3);

        var (exit, stdout, stderr) = await CliRunner.RunAsync("ledger", "verify", "--server", h.Server.BaseAddress.ToString(), "--ca", pki.Ca.CaFile, "--log-key", h.Server.VerifierKey);

        Assert.True(exit == 0, stdout + stderr);
    }

    [Fact]
    public async Task Ca_defaults_to_TRAINGUARD_CA()
    {
        using var pki = new TestPki();
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite, o => pki.Https(o, pki.Server));

        var (pinned, _, pinnedErr) = await RunCliProcessAsync(pki.Ca.CaFile, "ledger", "verify", "--server", h.Server.BaseAddress.ToString(), "--log-key", h.Server.VerifierKey);
        var (other, _, otherErr) = await RunCliProcessAsync(pki.Other.CaFile, "ledger", "verify", "--server", h.Server.BaseAddress.ToString(), "--log-key", h.Server.VerifierKey);

        Assert.True(pinned == 0, pinnedErr);
        Assert.Equal(2, other);
        Assert.Contains(pki.Other.CaFile, otherErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_with_another_CA_is_refused()
    {
        using var pki = new TestPki();

        // An impostor's server: its certificate is valid for 127.0.0.1, but issued by a CA the client did not pin.
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite, o => pki.Https(o, pki.Impostor));
        using var client = new TrainGuardApiClient(h.Server.BaseAddress, h.AgentToken, tls: ClientTls.Load(pki.Ca.CaFile, null, null, Names));
        var error = await Assert.ThrowsAsync<TrainGuardApiException>(() => client.PostEventsAsync([ServerHarness.Event(1).ToJsonString()]));

        Assert.Contains("certificate was refused", error.Message, StringComparison.Ordinal);
        Assert.Contains(pki.Ca.CaFile, error.Message, StringComparison.Ordinal);
        Assert.Equal(0, h.Server.Log.Size);

        var (exit, _, stderr) = await CliRunner.RunAsync("ledger", "verify", "--server", h.Server.BaseAddress.ToString(), "--ca", pki.Ca.CaFile, "--log-key", h.Server.VerifierKey);
        Assert.Equal(2, exit);
        Assert.Contains("certificate was refused", stderr, StringComparison.Ordinal);
        Assert.Contains("PartialChain", stderr, StringComparison.Ordinal);
        Assert.Contains(pki.Ca.CaFile, stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_of_a_private_CA_is_refused_when_no_CA_is_pinned()
    {
        using var pki = new TestPki();
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite, o => pki.Https(o, pki.Server));

        var (exit, _, stderr) = await CliRunner.RunAsync("ledger", "verify", "--server", h.Server.BaseAddress.ToString(), "--log-key", h.Server.VerifierKey);

        Assert.Equal(2, exit);
        Assert.Contains("certificate was refused", stderr, StringComparison.Ordinal);
        Assert.Contains("--ca", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_certificate_for_another_host_name_is_refused()
    {
        using var pki = new TestPki();
        // Same pinned CA, but the certificate names 127.0.0.1, ::1 and localhost only, and the server is 127.0.0.2.
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite, o => pki.Https(o, pki.Server) with { Urls = ["https://127.0.0.2:0"] });
        using var client = new TrainGuardApiClient(h.Server.BaseAddress, h.AgentToken, tls: ClientTls.Load(pki.Ca.CaFile, null, null, Names));
        var error = await Assert.ThrowsAsync<TrainGuardApiException>(() => client.PostEventsAsync([ServerHarness.Event(1).ToJsonString()]));

        Assert.Contains("certificate was refused", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, h.Server.Log.Size);
    }

    [Theory]
    [InlineData("ledger", "verify", "--server", "http://192.0.2.10:8470", "--log-key", "x")]
    [InlineData("ledger", "verify", "--server", "http://tg.example.org:8470/", "--log-key", "x")]
    [InlineData("ledger", "verify", "--server", "http://[2001:db8::1]:8470", "--log-key", "x")]
    [InlineData("agent", "run", "--once", "--server", "http://10.1.2.3:8470")]
    public async Task Plain_http_to_a_remote_server_is_refused(params string[] args)
    {
        var url = args[Array.IndexOf(args, "--server") + 1];

        var (exit, stdout, stderr) = await CliRunner.RunAsync(args);

        Assert.Equal(2, exit);
        Assert.Empty(stdout);
        Assert.Contains(new Uri(url).ToString(), stderr, StringComparison.Ordinal);
        Assert.Contains("https://", stderr, StringComparison.Ordinal);
        Assert.Contains("--ca", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Plain_http_to_a_remote_server_is_refused_by_the_api_client()
    {
        var error = Assert.Throws<ArgumentException>(() => new TrainGuardApiClient(new Uri("http://192.0.2.10:8470/"), "token"));

        Assert.Contains("http://192.0.2.10:8470/", error.Message, StringComparison.Ordinal);
        Assert.Contains("https://192.0.2.10:8470/", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://127.0.0.1:8470/", true)]
    [InlineData("http://127.8.9.10/", true)]
    [InlineData("http://[::1]:8470/", true)]
    [InlineData("http://LOCALHOST:8470/", true)]
    [InlineData("https://tg.example.org:8443/", true)]
    [InlineData("https://192.0.2.10/", true)]
    [InlineData("http://10.0.0.1:8470/", false)]
    [InlineData("http://0.0.0.0:8470/", false)]
    [InlineData("http://[::ffff:10.0.0.1]/", false)]
    [InlineData("http://localhost.attacker.example/", false)]
    [InlineData("http://127.0.0.1.nip.io/", false)]
    public void Plain_http_is_accepted_only_to_loopback(string url, bool accepted)
    {
        Assert.Equal(accepted, ClientTls.InsecureReason(new Uri(url)) is null);
    }

    [Fact]
    public async Task A_client_without_a_certificate_is_refused_when_the_server_requires_one()
    {
        using var pki = new TestPki();
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite, o => pki.Https(o, pki.Server, pki.ClientCa.CaFile));

        using var anonymous = new TrainGuardApiClient(h.Server.BaseAddress, h.AgentToken, TimeSpan.FromSeconds(10), tls: ClientTls.Load(pki.Ca.CaFile, null, null, Names));
        var refused = await Assert.ThrowsAsync<TrainGuardApiException>(() => anonymous.PostEventsAsync([ServerHarness.Event(1).ToJsonString()]));
        Assert.Contains("--client-cert", refused.Message, StringComparison.Ordinal);

        var stranger = pki.Other.IssueClient("stranger", "gpu-node-17");
        using var foreign = new TrainGuardApiClient(h.Server.BaseAddress, h.AgentToken, TimeSpan.FromSeconds(10), tls: ClientTls.Load(pki.Ca.CaFile, stranger.Certificate, stranger.Key, Names));
        await Assert.ThrowsAsync<TrainGuardApiException>(() => foreign.PostEventsAsync([ServerHarness.Event(2).ToJsonString()]));

        Assert.Equal(0, h.Server.Log.Size);
    }

    [Fact]
    public async Task A_client_certificate_and_a_bearer_token_are_both_needed()
    {
        using var pki = new TestPki();
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite, o => pki.Https(o, pki.Server, pki.ClientCa.CaFile));
        var node = pki.ClientCa.IssueClient("gpu-node-17", "gpu-node-17");
        var tls = ClientTls.Load(pki.Ca.CaFile, node.Certificate, node.Key, Names);

        using var withoutToken = new TrainGuardApiClient(h.Server.BaseAddress, token: null, tls: tls);
        var error = await Assert.ThrowsAsync<TrainGuardApiException>(() => withoutToken.PostEventsAsync([ServerHarness.Event(1).ToJsonString()]));
        Assert.Equal(HttpStatusCode.Unauthorized, error.StatusCode);

        using var client = new TrainGuardApiClient(h.Server.BaseAddress, h.AgentToken, tls: tls);
        Assert.Equal(1, (await client.PostEventsAsync([ServerHarness.Event(1).ToJsonString()])).Appended);

        var (exit, stdout, stderr) = await CliRunner.RunAsync("ledger", "verify", "--server", h.Server.BaseAddress.ToString(), "--ca", pki.Ca.CaFile, "--client-cert", node.Certificate, "--client-key", node.Key, "--log-key", h.Server.VerifierKey);
        Assert.True(exit == 0, stdout + stderr);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_server_key_file_readable_by_others_is_refused()
    {
        using var pki = new TestPki();
        File.SetUnixFileMode(pki.Server.Key, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        var (exit, stderr, data) = await RunServerAsync(pki, "--urls", "https://127.0.0.1:0", "--tls-cert", pki.Server.Certificate, "--tls-key", pki.Server.Key);

        Assert.Equal(2, exit);
        Assert.Contains(pki.Server.Key, stderr, StringComparison.Ordinal);
        Assert.Contains("readable by other users (mode 0644)", stderr, StringComparison.Ordinal);
        Assert.Contains("chmod 600", stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(data), "the server created its data directory before refusing");
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void A_client_key_file_readable_by_others_is_refused()
    {
        using var pki = new TestPki();
        var node = pki.ClientCa.IssueClient("node", "gpu-node-1");
        File.SetUnixFileMode(node.Key, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);

        var error = Assert.Throws<MalformedInputException>(() => ClientTls.Load(pki.Ca.CaFile, node.Certificate, node.Key, Names));

        Assert.Contains("--client-key", error.Message, StringComparison.Ordinal);
        Assert.Contains("mode 0640", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Each way a server could start without TLS it can stand behind is one clear error (exit 2), before anything is created.</summary>
    [Theory]
    [InlineData("https-without-certificate", "is https, which needs the server's certificate and key")]
    [InlineData("missing-certificate", "--tls-cert: file not found")]
    [InlineData("missing-key", "--tls-key: file not found")]
    [InlineData("key-of-another-certificate", "does not belong to the certificate")]
    [InlineData("certificate-not-pem", "holds no certificate")]
    [InlineData("key-not-pem", "holds no usable EC private key")]
    [InlineData("encrypted-key", "the private key is encrypted")]
    [InlineData("expired-certificate", "not now; renew it")]
    [InlineData("certificate-without-https", "no --urls address is https://")]
    [InlineData("plain-http-on-all-interfaces", "--allow-insecure-http")]
    [InlineData("plain-http-on-a-host-name", "--allow-insecure-http")]
    public async Task The_server_refuses_to_start_without_TLS_it_can_stand_behind(string fault, string expected)
    {
        using var pki = new TestPki();
        var cert = pki.Server.Certificate;
        var key = pki.Server.Key;
        var urls = "https://127.0.0.1:0";
        switch (fault)
        {
            case "https-without-certificate":
                cert = key = null;
                break;
            case "missing-certificate":
                cert = Path.Combine(pki.Directory, "absent.crt");
                break;
            case "missing-key":
                key = Path.Combine(pki.Directory, "absent.key");
                break;
            case "key-of-another-certificate":
                key = pki.Ca.IssueServer("second").Key;
                break;
            case "certificate-not-pem":
                cert = Path.Combine(pki.Directory, "garbage.crt");
                await File.WriteAllTextAsync(cert, "this is not a certificate\n");
                break;
            case "key-not-pem":
                TestCertificateAuthority.WritePrivate(key, "not a key\n");
                break;
            case "encrypted-key":
                using (var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256))
                {
                    TestCertificateAuthority.WritePrivate(key, ec.ExportEncryptedPkcs8PrivateKeyPem("pw", new PbeParameters(PbeEncryptionAlgorithm.Aes128Cbc, HashAlgorithmName.SHA256, 1000)));
                }

                break;
            case "expired-certificate":
                (cert, key) = pki.Ca.IssueServer("expired", DateTimeOffset.UtcNow.AddHours(-20), DateTimeOffset.UtcNow.AddHours(-1));
                break;
            case "certificate-without-https":
                urls = "http://127.0.0.1:0";
                break;
            case "plain-http-on-all-interfaces":
                urls = "http://0.0.0.0:0";
                cert = key = null;
                break;
            case "plain-http-on-a-host-name":
                urls = "http://tg.example.org:8470";
                cert = key = null;
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(fault), fault, null);
        }

        var args = new List<string> { "--urls", urls };
        if (cert is not null)
        {
            args.AddRange(["--tls-cert", cert]);
        }

        if (key is not null)
        {
            args.AddRange(["--tls-key", key]);
        }

        var (exit, stderr, data) = await RunServerAsync(pki, [.. args]);

        Assert.Equal(2, exit);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(data), "the server created its data directory before refusing");
    }

    [Fact]
    public async Task Plain_http_on_all_interfaces_starts_with_allow_insecure_http()
    {
        using var pki = new TestPki();
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite, o => o with { Urls = ["http://0.0.0.0:0"], AllowInsecureHttp = true });

        Assert.StartsWith("http://", h.Server.Urls[0], StringComparison.Ordinal);
    }

    private static async Task PostAsync(ServerHarness h, TestPki pki, int count)
    {
        using var client = new TrainGuardApiClient(h.Server.BaseAddress, h.AgentToken, tls: ClientTls.Load(pki.Ca.CaFile, null, null, Names));
        await client.PostEventsAsync([.. Enumerable.Range(0, count).Select(n => ServerHarness.Event(n).ToJsonString())]);
    }

    /// <summary><c>trainguard server run</c> in-process with a data directory that does not exist yet; it must refuse before creating it.</summary>
    private static async Task<(int Exit, string Stderr, string DataDirectory)> RunServerAsync(TestPki pki, params string[] args)
    {
        var data = Path.Combine(pki.Directory, "data");
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await TrainGuard.Cli.Program.RunAsync(["server", "run", "--data-dir", data, .. args], stdout, stderr, stop.Token);
        return (exit, stderr.ToString(), data);
    }

    /// <summary>The built CLI as a child process with <c>TRAINGUARD_CA</c> set (the environment of the test process stays as it is).</summary>
    private static async Task<(int Exit, string Stdout, string Stderr)> RunCliProcessAsync(string ca, params string[] args)
    {
        var host = Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path).Equals("dotnet", StringComparison.OrdinalIgnoreCase) ? path : "dotnet";
        var start = new System.Diagnostics.ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(TestPaths.CliAssembly);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["TRAINGUARD_CA"] = ca;
        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }
}
