using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using TrainGuard.Checkpoints.Signing;
using TrainGuard.Findings;
using TrainGuard.Integrity.Keys;
using TrainGuard.Ledger.Client;
using TrainGuard.Ledger.Notes;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Hosting;

namespace TrainGuard.Cli.Tests;

/// <summary>
/// <c>trainguard ckpt sign/verify</c> end to end, in-process, against a real TrainGuard server on 127.0.0.1 (SQLite store)
/// and the real-PyTorch checkpoint fixtures.
/// </summary>
public sealed class CkptSignCommandTests
{
    private static string Fixtures => CliRunner.Repo("tests", "fixtures", "ckpt");

    private static string Vectors => CliRunner.Repo("tests", "fixtures", "vectors", "model-signing");

    [Fact]
    public async Task Sign_records_the_manifest_and_verify_proves_it_was_recorded()
    {
        await using var env = await LedgerEnvironment.StartAsync();

        var (signCode, signOut, signErr) = await CliRunner.RunAsync("ckpt", "sign", env.Checkpoint, "--key", env.PrivateKey, "--server", env.Url, "--token", env.AgentToken);
        Assert.True(signCode == 0, signOut + signErr);
        Assert.Contains("recorded at leaf 0", signOut, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(env.Checkpoint, "model.sig")));

        var (code, stdout, stderr) = await CliRunner.RunAsync("ckpt", "verify", env.Checkpoint, "--key", env.PublicKey, "--server", env.Url, "--token", env.ReaderToken, "--format", "json");
        Assert.True(code == 0, stdout + stderr);
        var members = Members(stdout);
        Assert.Contains(members, m => m.StartsWith("recorded in the ledger: leaf 0", StringComparison.Ordinal) && m.Contains("inclusion proof verified", StringComparison.Ordinal));
        Assert.Contains(members, m => m.Contains("the key the server announces", StringComparison.Ordinal));

        var (pinnedCode, pinnedOut, _) = await CliRunner.RunAsync("ckpt", "verify", env.Checkpoint, "--key", env.PublicKey, "--server", env.Url, "--token", env.ReaderToken, "--log-key", env.Server.VerifierKey);
        Assert.Equal(0, pinnedCode);
        Assert.Contains("pinned key", pinnedOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Signing_the_same_content_twice_finds_the_first_record_instead_of_failing()
    {
        await using var env = await LedgerEnvironment.StartAsync();
        Assert.Equal(0, (await CliRunner.RunAsync("ckpt", "sign", env.Checkpoint, "--key", env.PrivateKey, "--server", env.Url, "--token", env.AgentToken)).Code);

        var (code, stdout, stderr) = await CliRunner.RunAsync("ckpt", "sign", env.Checkpoint, "--key", env.PrivateKey, "--server", env.Url, "--token", env.AdminToken, "--format", "json");
        Assert.True(code == 0, stdout + stderr);
        var result = JsonNode.Parse(stdout)!;
        Assert.True(result["ledger"]!["already_recorded"]!.GetValue<bool>());
        Assert.Equal(0, result["ledger"]!["index"]!.GetValue<long>());

        // An agent token may append but not read: the duplicate is accepted with a warning that it was not compared.
        var (agentCode, agentOut, agentErr) = await CliRunner.RunAsync("ckpt", "sign", env.Checkpoint, "--key", env.PrivateKey, "--server", env.Url, "--token", env.AgentToken);
        Assert.True(agentCode == 0, agentOut + agentErr);
        Assert.Contains("already recorded", agentOut, StringComparison.Ordinal);
        Assert.Contains("warning", agentErr, StringComparison.Ordinal);

        // One record of the manifest; each re-sign with other details (a later time) is an id conflict, and the
        // ledger holds an event-id-conflict alert for it beside the record.
        var size = await env.Server.Store.Ledger.SizeAsync(CancellationToken.None);
        var actions = (await env.Server.Store.Ledger.GetEntriesAsync(0, (int)size)).Select(e => JsonNode.Parse(e)!["event"]!["action"]!.GetValue<string>()).ToList();
        Assert.Equal(["checkpoint-signed", "event-id-conflict", "event-id-conflict"], actions);
    }

    [Fact]
    public async Task A_signer_token_records_its_own_persons_checkpoints_and_nobody_elses()
    {
        await using var env = await LedgerEnvironment.StartAsync();
        var own = await env.NewTokenAsync(Role.Signer, Environment.UserName);
        var colleague = await env.NewTokenAsync(Role.Signer, "someone-else-entirely");

        var (refusedCode, refusedOut, refusedErr) = await CliRunner.RunAsync("ckpt", "sign", env.Checkpoint, "--key", env.PrivateKey, "--server", env.Url, "--token", colleague);
        Assert.True(refusedCode == 2, refusedOut + refusedErr);
        Assert.Contains("did not store", refusedErr, StringComparison.Ordinal);
        Assert.Contains("someone-else-entirely", refusedErr, StringComparison.Ordinal);
        Assert.Equal(0, await env.Server.Store.Ledger.SizeAsync(CancellationToken.None));

        var (code, stdout, stderr) = await CliRunner.RunAsync("ckpt", "sign", env.Checkpoint, "--key", env.PrivateKey, "--server", env.Url, "--token", own, "--format", "json");
        Assert.True(code == 0, stdout + stderr);
        var entry = JsonNode.Parse((await env.Server.Store.Ledger.GetEntryAsync(0, CancellationToken.None))!)!;
        Assert.Equal(Environment.UserName, (string?)entry["user"]!["name"]);
        Assert.Equal("signer", (string?)entry["trainguard"]!["submitter"]!["role"]);
        Assert.Equal(Environment.UserName, (string?)entry["trainguard"]!["submitter"]!["identity"]);
    }

    [Fact]
    public async Task A_tampered_checkpoint_re_signed_without_the_ledger_verifies_but_is_caught_as_never_recorded()
    {
        await using var env = await LedgerEnvironment.StartAsync();
        Assert.Equal(0, (await CliRunner.RunAsync("ckpt", "sign", env.Checkpoint, "--key", env.PrivateKey, "--server", env.Url, "--token", env.AgentToken)).Code);

        // The insider flips maximize and re-signs with the team's key, without recording.
        File.Copy(Path.Combine(Fixtures, "tampered", "maximize-bytepatch", "checkpoint-6", "optimizer.pt"), Path.Combine(env.Checkpoint, "optimizer.pt"), overwrite: true);
        Assert.Equal(0, (await CliRunner.RunAsync("ckpt", "sign", env.Checkpoint, "--key", env.PrivateKey)).Code);
        Assert.Equal(0, (await CliRunner.RunAsync("ckpt", "verify", env.Checkpoint, "--key", env.PublicKey)).Code);

        var (code, stdout, _) = await CliRunner.RunAsync("ckpt", "verify", env.Checkpoint, "--key", env.PublicKey, "--server", env.Url, "--token", env.ReaderToken, "--format", "json");

        Assert.Equal(1, code);
        var finding = Assert.Single(Findings(stdout));
        Assert.Equal("TG-CKP-006", (string)finding["rule"]!);
        Assert.Equal("malicious", (string)finding["verdict"]!);
    }

    [Fact]
    public async Task An_unreachable_ledger_is_a_clear_error_with_exit_2_and_no_stack_trace()
    {
        await using var env = await LedgerEnvironment.StartAsync();
        const string nowhere = "http://127.0.0.1:1";

        var (signCode, signOut, signErr) = await CliRunner.RunAsync("ckpt", "sign", env.Checkpoint, "--key", env.PrivateKey, "--server", nowhere, "--token", env.AgentToken, "--timeout", "5");
        Assert.Equal(2, signCode);
        Assert.Contains("NOT recorded", signErr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", signOut + signErr, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(env.Checkpoint, "model.sig")));

        var (code, stdout, stderr) = await CliRunner.RunAsync("ckpt", "verify", env.Checkpoint, "--key", env.PublicKey, "--server", nowhere, "--token", env.ReaderToken, "--timeout", "5");
        Assert.Equal(2, code);
        Assert.Contains("TG-CKP-009", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stdout + stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_verify_token_without_the_reader_role_is_reported_as_ledger_unavailable()
    {
        await using var env = await LedgerEnvironment.StartAsync();
        Assert.Equal(0, (await CliRunner.RunAsync("ckpt", "sign", env.Checkpoint, "--key", env.PrivateKey, "--server", env.Url, "--token", env.AgentToken)).Code);

        var (code, stdout, _) = await CliRunner.RunAsync("ckpt", "verify", env.Checkpoint, "--key", env.PublicKey, "--server", env.Url, "--token", env.AgentToken, "--format", "json");

        Assert.Equal(2, code);
        var finding = Assert.Single(Findings(stdout));
        Assert.Equal("TG-CKP-009", (string)finding["rule"]!);
        Assert.Contains("403", (string)finding["message"]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_token_can_come_from_the_environment_variable()
    {
        await using var env = await LedgerEnvironment.StartAsync();
        var before = Environment.GetEnvironmentVariable("TRAINGUARD_TOKEN");
        try
        {
            Environment.SetEnvironmentVariable("TRAINGUARD_TOKEN", env.AdminToken);
            Assert.Equal(0, (await CliRunner.RunAsync("ckpt", "sign", env.Checkpoint, "--key", env.PrivateKey, "--server", env.Url)).Code);
            Assert.Equal(0, (await CliRunner.RunAsync("ckpt", "verify", env.Checkpoint, "--key", env.PublicKey, "--server", env.Url)).Code);
        }
        finally
        {
            Environment.SetEnvironmentVariable("TRAINGUARD_TOKEN", before);
        }
    }

    [Fact]
    public async Task A_log_checkpoint_not_signed_by_the_pinned_key_makes_the_record_unproven()
    {
        await using var env = await LedgerEnvironment.StartAsync();
        Assert.Equal(0, (await CliRunner.RunAsync("ckpt", "sign", env.Checkpoint, "--key", env.PrivateKey, "--server", env.Url, "--token", env.AgentToken)).Code);
        using var other = NoteSigner.Generate("test.trainguard/ledger");

        var (code, stdout, _) = await CliRunner.RunAsync("ckpt", "verify", env.Checkpoint, "--key", env.PublicKey, "--server", env.Url, "--token", env.ReaderToken, "--log-key", other.VerifierKey, "--format", "json");

        Assert.Equal(2, code);
        Assert.Equal("TG-CKP-008", (string)Assert.Single(Findings(stdout))["rule"]!);
    }

    [Fact]
    public async Task An_event_altered_on_the_way_back_from_the_ledger_fails_its_inclusion_proof()
    {
        await using var env = await LedgerEnvironment.StartAsync();
        Assert.Equal(0, (await CliRunner.RunAsync("ckpt", "sign", env.Checkpoint, "--key", env.PrivateKey, "--server", env.Url, "--token", env.AgentToken, "--format", "json")).Code);
        using var key = SigningKeys.LoadPublicKeyFile(env.PublicKey);
        using var handler = new RewritingHandler("\"user\":{\"name\":", "\"user\":{\"name\":\"x\",\"nick\":") { InnerHandler = new HttpClientHandler() };
        using var api = new TrainGuardApiClient(env.Server.BaseAddress, env.ReaderToken, handler: handler);

        var report = await CheckpointSigning.VerifyAsync(new CkptVerifyOptions
        {
            Path = env.Checkpoint,
            PublicKey = key,
            Ledger = new LedgerConnection(api),
        });

        var finding = Assert.Single(report.Items.SelectMany(i => i.Findings));
        Assert.Equal("TG-CKP-008", finding.RuleId);
        Assert.Equal(ExitCodes.Error, report.ExitCode);
    }

    [Fact]
    public async Task Verify_without_the_ledger_reports_each_tampered_file_in_sarif()
    {
        var temp = NewTempDirectory();
        try
        {
            var (priv, pub) = WriteKeys(temp);
            var folder = CopyGenuine(temp);
            Assert.Equal(0, (await CliRunner.RunAsync("ckpt", "sign", folder, "--key", priv, "--signature", Path.Combine(temp, "ckpt.sig"))).Code);
            File.Copy(Path.Combine(Fixtures, "tampered", "lr", "checkpoint-6", "optimizer.pt"), Path.Combine(folder, "optimizer.pt"), overwrite: true);
            File.Delete(Path.Combine(folder, "rng_state.pth"));

            var events = Path.Combine(temp, "events.jsonl");
            var (code, stdout, _) = await CliRunner.RunAsync("ckpt", "verify", folder, "--signature", Path.Combine(temp, "ckpt.sig"), "--key", pub, "--format", "sarif", "--events", events);

            Assert.Equal(1, code);
            var results = JsonNode.Parse(stdout)!["runs"]![0]!["results"]!.AsArray();
            Assert.Equal(["TG-CKP-001", "TG-CKP-003"], results.Select(r => (string)r!["ruleId"]!).Order().ToArray());

            var verified = Events.EventRecord.Parse(Assert.Single(File.ReadAllLines(events)));
            Assert.Equal("checkpoint-verified", verified.Action);
            Assert.Equal("failure", verified.GetString("event.outcome"));
            Assert.Equal("malicious", verified.GetString("trainguard.ckpt.verdict"));
            Assert.Matches("^[0-9a-f]{64}$", verified.GetString("trainguard.ckpt.manifest_digest") ?? string.Empty);
            Assert.Equal(["TG-CKP-001", "TG-CKP-003"], verified.GetStrings("trainguard.ckpt.rules"));
            Assert.EndsWith("optimizer.pt", Assert.Single(verified.GetStrings("trainguard.ckpt.changed")), StringComparison.Ordinal);
            Assert.EndsWith("rng_state.pth", Assert.Single(verified.GetStrings("trainguard.ckpt.deleted")), StringComparison.Ordinal);
            Assert.Empty(verified.GetStrings("trainguard.ckpt.added"));
        }
        finally
        {
            DeleteQuietly(temp);
        }
    }

    [Theory]
    [InlineData("v1.0.1-elliptic-key")]
    [InlineData("v1.1.0-elliptic-key")]
    public async Task Verify_accepts_the_model_signing_key_vectors(string vector)
    {
        var (code, stdout, stderr) = await CliRunner.RunAsync("ckpt", "verify", Path.Combine(Vectors, vector), "--key", Path.Combine(Vectors, "keys", "certificate", "signing-key-pub.pem"), "--ignore-paths", "ignore-me");
        Assert.True(code == 0, stdout + stderr);
    }

    [Theory]
    [InlineData("v1.0.1-certificate")]
    [InlineData("v1.1.0-certificate")]
    public async Task Verify_accepts_the_model_signing_certificate_vectors_given_the_ca_chain(string vector)
    {
        var keys = Path.Combine(Vectors, "keys", "certificate");
        var (code, stdout, stderr) = await CliRunner.RunAsync("ckpt", "verify", Path.Combine(Vectors, vector), "--cert-chain", Path.Combine(keys, "ca-cert.pem"), Path.Combine(keys, "int-ca-cert.pem"), "--ignore-paths", "ignore-me");
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("certificate chain verified", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_without_a_key_or_chain_is_a_usage_error()
    {
        var (code, _, stderr) = await CliRunner.RunAsync("ckpt", "verify", Path.Combine(Vectors, "v1.1.0-elliptic-key"));
        Assert.Equal(2, code);
        Assert.Contains("--key", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sign")]
    [InlineData("verify")]
    public async Task Help_teaches_with_examples_and_exit_codes(string verb)
    {
        var (code, stdout, _) = await CliRunner.RunAsync("ckpt", verb, "--help");
        Assert.Equal(0, code);
        Assert.Contains("Examples:", stdout, StringComparison.Ordinal);
        Assert.Contains("trainguard ckpt " + verb, stdout, StringComparison.Ordinal);
        Assert.Contains("Exit codes:", stdout, StringComparison.Ordinal);
        Assert.Contains("--server", stdout, StringComparison.Ordinal);
    }

    private static List<JsonNode> Findings(string json) =>
        [.. JsonNode.Parse(json)!["files"]!.AsArray().SelectMany(item => item!["findings"]!.AsArray()).Select(f => f!)];

    private static List<string> Members(string json) =>
        [.. JsonNode.Parse(json)!["files"]!.AsArray().SelectMany(item => item!["members"]?.AsArray() ?? []).Select(m => (string)m!)];

    private static string NewTempDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), "tg-cli-ckpt-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(path);
        return path;
    }

    private static void DeleteQuietly(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static string CopyGenuine(string parent)
    {
        var folder = Path.Combine(parent, "checkpoint-6");
        Directory.CreateDirectory(folder);
        foreach (var file in Directory.EnumerateFiles(Path.Combine(Fixtures, "checkpoint-6")))
        {
            File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
        }

        return folder;
    }

    private static (string Private, string Public) WriteKeys(string folder)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var priv = Path.Combine(folder, "k.key");
        var pub = Path.Combine(folder, "k.pub");
        File.WriteAllText(priv, key.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(pub, SigningKeys.PublicKeyPem(key));
        return (priv, pub);
    }

    /// <summary>Rewrites the first occurrence of a string in GET answers (a man in the middle).</summary>
    private sealed class RewritingHandler(string find, string replace) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            if (request.Method != HttpMethod.Get || !request.RequestUri!.AbsolutePath.StartsWith("/api/v1/events/", StringComparison.Ordinal))
            {
                return response;
            }

            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            var at = text.IndexOf(find, StringComparison.Ordinal);
            Assert.True(at >= 0, text);
            var content = new StringContent(text[..at] + replace + text[(at + find.Length)..], Encoding.UTF8, "application/json");
            response.Content = content;
            return response;
        }
    }

    /// <summary>A real server (SQLite, port 0), one token per role, a key pair and a copy of the genuine checkpoint.</summary>
    private sealed class LedgerEnvironment : IAsyncDisposable
    {
        private LedgerEnvironment(TrainGuardServer server, string directory)
        {
            Server = server;
            Directory = directory;
        }

        public TrainGuardServer Server { get; }

        public string Directory { get; }

        public string Url => Server.BaseAddress.ToString();

        public string AgentToken { get; private set; } = string.Empty;

        public string ReaderToken { get; private set; } = string.Empty;

        public string AdminToken { get; private set; } = string.Empty;

        public string PrivateKey { get; private set; } = string.Empty;

        public string PublicKey { get; private set; } = string.Empty;

        public string Checkpoint { get; private set; } = string.Empty;

        public static async Task<LedgerEnvironment> StartAsync()
        {
            var directory = NewTempDirectory();
            var server = await TrainGuardServer.StartAsync(new ServerOptions
            {
                DataDirectory = directory,
                Database = "sqlite:" + Path.Combine(directory, "trainguard.db"),
                Urls = ["http://127.0.0.1:0"],
                Origin = "test.trainguard/ledger",
                LogLevel = LogLevel.Warning,
                LogFormat = LogFormat.Text,
            });
            var env = new LedgerEnvironment(server, directory);
            env.AgentToken = await env.NewTokenAsync(Role.Agent);
            env.ReaderToken = await env.NewTokenAsync(Role.Reader);
            env.AdminToken = await env.NewTokenAsync(Role.Admin);
            (env.PrivateKey, env.PublicKey) = WriteKeys(directory);
            env.Checkpoint = CopyGenuine(directory);
            return env;
        }

        public async Task<string> NewTokenAsync(Role role, string? identity = null)
        {
            var token = ApiTokens.NewToken();
            await Server.Store.AddTokenAsync(ApiTokens.Hash(token), new TrainGuard.Server.Storage.TokenGrant(role, identity, "test"), CancellationToken.None);
            return token;
        }

        public async ValueTask DisposeAsync()
        {
            await Server.DisposeAsync();
            DeleteQuietly(Directory);
        }
    }
}
