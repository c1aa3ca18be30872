using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using TrainGuard.Checkpoints.Signing;
using TrainGuard.Findings;
using TrainGuard.Integrity.Keys;
using TrainGuard.Ledger.Client;
using static TrainGuard.Checkpoints.Tests.Signing.SigningTestSupport;

namespace TrainGuard.Checkpoints.Tests.Signing;

/// <summary><c>ckpt sign/verify</c> over the real-PyTorch fixtures and the public model-signing vectors.</summary>
public sealed class CheckpointSigningTests
{
    [Fact]
    public async Task Genuine_checkpoint_signed_then_verified_is_clean_and_lists_every_file()
    {
        var temp = NewTempDirectory();
        try
        {
            var folder = CopyFolder(Genuine, temp, "checkpoint-6");
            using var key = NewKey();
            var signed = await CheckpointSigning.SignAsync(new CkptSignOptions { Path = folder, PrivateKey = key });

            Assert.Equal(Path.Combine(folder, "model.sig"), signed.SignaturePath);
            Assert.Equal(6, signed.Files);
            Assert.Equal("checkpoint-6", signed.ModelName);
            Assert.Equal(Directory.EnumerateFiles(Genuine).Sum(f => new FileInfo(f).Length), signed.Bytes);
            Assert.Null(signed.Ledger);

            var report = await CheckpointSigning.VerifyAsync(new CkptVerifyOptions { Path = folder, PublicKey = key });
            Assert.Equal(ExitCodes.Clean, report.ExitCode);
            Assert.Empty(report.Items.SelectMany(i => i.Findings));
            Assert.Equal(7, report.Items.Count); // the signature and six files
            var optimizer = Assert.Single(report.Items, i => i.Path.EndsWith("optimizer.pt", StringComparison.Ordinal));
            Assert.Equal(FileSha256("checkpoint-6/optimizer.pt"), optimizer.Sha256);
            Assert.Contains(report.Items[0].Members!, m => m.Contains($"manifest digest {signed.ManifestDigest}", StringComparison.Ordinal));
        }
        finally
        {
            DeleteQuietly(temp);
        }
    }

    public static TheoryData<string> Variants() => [.. Expected["variants"]!.AsObject().Select(v => v.Key)];

    [Theory]
    [MemberData(nameof(Variants))]
    public async Task Each_tampered_variant_is_reported_on_exactly_the_file_it_changed(string variant)
    {
        var temp = NewTempDirectory();
        try
        {
            var folder = CopyFolder(Genuine, temp, "checkpoint-6");
            using var key = NewKey();
            await CheckpointSigning.SignAsync(new CkptSignOptions { Path = folder, PrivateKey = key });
            var tampered = Path.Combine(Fixtures, Expected["variants"]![variant]!["folder"]!.GetValue<string>());
            MakeLike(folder, tampered);

            var report = await CheckpointSigning.VerifyAsync(new CkptVerifyOptions { Path = folder, PublicKey = key });

            var changed = Expected["variants"]![variant]!["changed"]!.AsArray().Select(n => n!.GetValue<string>()).ToList();
            var finding = Assert.Single(report.Items.SelectMany(i => i.Findings));
            Assert.Equal(Path.Combine(folder, Assert.Single(changed)), finding.Location.File);
            Assert.Equal(variant == "optimizer-deleted" ? "TG-CKP-003" : "TG-CKP-001", finding.RuleId);
            Assert.Equal(ExitCodes.Findings, report.ExitCode);
        }
        finally
        {
            DeleteQuietly(temp);
        }
    }

    [Fact]
    public async Task An_added_file_is_reported_as_added_not_changed()
    {
        var temp = NewTempDirectory();
        try
        {
            var folder = CopyFolder(Genuine, temp, "checkpoint-6");
            using var key = NewKey();
            await CheckpointSigning.SignAsync(new CkptSignOptions { Path = folder, PrivateKey = key });
            await File.WriteAllBytesAsync(Path.Combine(folder, "training_args.bin"), [0x80, 0x02, 0x4e, 0x2e]);

            var report = await CheckpointSigning.VerifyAsync(new CkptVerifyOptions { Path = folder, PublicKey = key });

            var finding = Assert.Single(report.Items.SelectMany(i => i.Findings));
            Assert.Equal("TG-CKP-002", finding.RuleId);
            Assert.EndsWith("training_args.bin", finding.Location.File, StringComparison.Ordinal);
            Assert.Equal(Verdict.Suspicious, finding.Verdict);
        }
        finally
        {
            DeleteQuietly(temp);
        }
    }

    [Fact]
    public async Task Several_changes_are_each_reported_once_with_their_own_rule()
    {
        var temp = NewTempDirectory();
        try
        {
            var folder = CopyFolder(Genuine, temp, "checkpoint-6");
            using var key = NewKey();
            await CheckpointSigning.SignAsync(new CkptSignOptions { Path = folder, PrivateKey = key });
            File.Copy(Path.Combine(Fixtures, "tampered", "weight", "checkpoint-6", "pytorch_model.bin"), Path.Combine(folder, "pytorch_model.bin"), overwrite: true);
            File.Delete(Path.Combine(folder, "scheduler.pt"));
            await File.WriteAllTextAsync(Path.Combine(folder, "rng_state_1.pth"), "x");

            var report = await CheckpointSigning.VerifyAsync(new CkptVerifyOptions { Path = folder, PublicKey = key });

            var rules = report.Items.SelectMany(i => i.Findings).Select(f => (f.RuleId, Path.GetFileName(f.Location.File))).Order().ToList();
            Assert.Equal([("TG-CKP-001", "pytorch_model.bin"), ("TG-CKP-002", "rng_state_1.pth"), ("TG-CKP-003", "scheduler.pt")], rules);
        }
        finally
        {
            DeleteQuietly(temp);
        }
    }

    [Fact]
    public async Task A_signature_checked_with_another_key_is_a_bad_signature_and_an_error()
    {
        var temp = NewTempDirectory();
        try
        {
            var folder = CopyFolder(Genuine, temp, "checkpoint-6");
            using var key = NewKey();
            using var other = NewKey();
            await CheckpointSigning.SignAsync(new CkptSignOptions { Path = folder, PrivateKey = key });

            var report = await CheckpointSigning.VerifyAsync(new CkptVerifyOptions { Path = folder, PublicKey = other });

            var finding = Assert.Single(report.Items.SelectMany(i => i.Findings));
            Assert.Equal("TG-CKP-004", finding.RuleId);
            Assert.Equal(ExitCodes.Error, report.ExitCode);
        }
        finally
        {
            DeleteQuietly(temp);
        }
    }

    [Fact]
    public async Task A_digest_edited_inside_the_signed_statement_is_a_bad_signature()
    {
        var temp = NewTempDirectory();
        try
        {
            var folder = CopyFolder(Genuine, temp, "checkpoint-6");
            using var key = NewKey();
            var signed = await CheckpointSigning.SignAsync(new CkptSignOptions { Path = folder, PrivateKey = key });
            File.Copy(Path.Combine(Fixtures, "tampered", "maximize", "checkpoint-6", "optimizer.pt"), Path.Combine(folder, "optimizer.pt"), overwrite: true);
            var bundle = JsonNode.Parse(await File.ReadAllTextAsync(signed.SignaturePath))!.AsObject();
            var payload = Encoding.UTF8.GetString(Convert.FromBase64String(bundle["dsseEnvelope"]!["payload"]!.GetValue<string>()));
            var forged = payload.Replace(FileSha256("checkpoint-6/optimizer.pt"), Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(Path.Combine(folder, "optimizer.pt")))), StringComparison.Ordinal);
            Assert.NotEqual(payload, forged);
            bundle["dsseEnvelope"]!["payload"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(forged));
            await File.WriteAllTextAsync(signed.SignaturePath, bundle.ToJsonString());

            var report = await CheckpointSigning.VerifyAsync(new CkptVerifyOptions { Path = folder, PublicKey = key });

            Assert.Equal("TG-CKP-004", Assert.Single(report.Items.SelectMany(i => i.Findings)).RuleId);
        }
        finally
        {
            DeleteQuietly(temp);
        }
    }

    [Fact]
    public async Task A_single_file_is_signed_beside_itself_and_verifies()
    {
        var temp = NewTempDirectory();
        try
        {
            var file = Path.Combine(temp, "pytorch_model.bin");
            File.Copy(Path.Combine(Genuine, "pytorch_model.bin"), file);
            using var key = NewKey();
            var signed = await CheckpointSigning.SignAsync(new CkptSignOptions { Path = file, PrivateKey = key });
            Assert.Equal(file + ".sig", signed.SignaturePath);
            Assert.Equal(1, signed.Files);

            Assert.Equal(ExitCodes.Clean, (await CheckpointSigning.VerifyAsync(new CkptVerifyOptions { Path = file, PublicKey = key })).ExitCode);
            File.Copy(Path.Combine(Fixtures, "tampered", "weight", "checkpoint-6", "pytorch_model.bin"), file, overwrite: true);
            var report = await CheckpointSigning.VerifyAsync(new CkptVerifyOptions { Path = file, PublicKey = key });
            var finding = Assert.Single(report.Items.SelectMany(i => i.Findings));
            Assert.Equal(("TG-CKP-001", file), (finding.RuleId, finding.Location.File));
        }
        finally
        {
            DeleteQuietly(temp);
        }
    }

    [Fact]
    public async Task Ignored_paths_are_recorded_in_the_signature_so_changes_there_are_not_reported()
    {
        var temp = NewTempDirectory();
        try
        {
            var folder = CopyFolder(Genuine, temp, "checkpoint-6");
            Directory.CreateDirectory(Path.Combine(folder, "logs"));
            await File.WriteAllTextAsync(Path.Combine(folder, "logs", "events.txt"), "step 1");
            using var key = NewKey();
            var signed = await CheckpointSigning.SignAsync(new CkptSignOptions { Path = folder, PrivateKey = key, IgnorePaths = ["logs"] });
            await File.WriteAllTextAsync(Path.Combine(folder, "logs", "events.txt"), "step 2");

            var report = await CheckpointSigning.VerifyAsync(new CkptVerifyOptions { Path = folder, PublicKey = key });

            Assert.Equal(ExitCodes.Clean, report.ExitCode);
            var statement = Statement(signed.SignaturePath);
            var ignores = statement["predicate"]!["serialization"]!["ignore_paths"]!.AsArray().Select(n => n!.GetValue<string>()).ToList();
            Assert.Contains("logs", ignores);
            Assert.Contains("model.sig", ignores);
        }
        finally
        {
            DeleteQuietly(temp);
        }
    }

    [Fact]
    public async Task What_sign_writes_has_the_structure_of_a_model_signing_v1_bundle()
    {
        var temp = NewTempDirectory();
        try
        {
            var folder = CopyFolder(Genuine, temp, "checkpoint-6");
            using var key = NewKey();
            var signed = await CheckpointSigning.SignAsync(new CkptSignOptions { Path = folder, PrivateKey = key });
            var bundle = JsonNode.Parse(await File.ReadAllTextAsync(signed.SignaturePath))!.AsObject();
            var vector = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(Vectors, "v1.1.0-elliptic-key", "model.sig")))!.AsObject();

            Assert.Equal(vector["mediaType"]!.GetValue<string>(), bundle["mediaType"]!.GetValue<string>());
            Assert.Equal(vector["dsseEnvelope"]!["payloadType"]!.GetValue<string>(), bundle["dsseEnvelope"]!["payloadType"]!.GetValue<string>());
            var statement = Statement(signed.SignaturePath);
            var reference = JsonNode.Parse(Convert.FromBase64String(vector["dsseEnvelope"]!["payload"]!.GetValue<string>()))!.AsObject();
            Assert.Equal(reference["_type"]!.GetValue<string>(), statement["_type"]!.GetValue<string>());
            Assert.Equal(reference["predicateType"]!.GetValue<string>(), statement["predicateType"]!.GetValue<string>());
            Assert.Equal(signed.RootDigest, statement["subject"]![0]!["digest"]!["sha256"]!.GetValue<string>());
            Assert.Equal("checkpoint-6", statement["subject"]![0]!["name"]!.GetValue<string>());
            var names = statement["predicate"]!["resources"]!.AsArray().Select(r => r!["name"]!.GetValue<string>()).ToList();
            Assert.Equal(["config.json", "optimizer.pt", "pytorch_model.bin", "rng_state.pth", "scheduler.pt", "trainer_state.json"], names);
            foreach (var resource in statement["predicate"]!["resources"]!.AsArray())
            {
                Assert.Equal(FileSha256("checkpoint-6/" + resource!["name"]!.GetValue<string>()), resource["digest"]!.GetValue<string>());
            }
        }
        finally
        {
            DeleteQuietly(temp);
        }
    }

    /// <summary>The v0.3.1 and v1.0.0 vectors signed the single file signme-1 (signature beside it in the folder); the later ones the folder.</summary>
    public static TheoryData<string, string> EllipticKeyVectors() => new()
    {
        { "v0.3.1-elliptic-key", "signme-1" },
        { "v1.0.0-elliptic-key", "signme-1" },
        { "v1.0.1-elliptic-key", "." },
        { "v1.1.0-elliptic-key", "." },
    };

    [Theory]
    [MemberData(nameof(EllipticKeyVectors))]
    public async Task Model_signing_elliptic_key_vectors_verify_with_the_public_key(string vector, string model)
    {
        using var key = SigningKeys.LoadPublicKeyFile(Path.Combine(VectorKeys, "signing-key-pub.pem"));
        var report = await CheckpointSigning.VerifyAsync(new CkptVerifyOptions
        {
            Path = Path.Combine(Vectors, vector, model),
            SignaturePath = Path.Combine(Vectors, vector, "model.sig"),
            PublicKey = key,
            IgnorePaths = ["ignore-me"],
        });

        Assert.True(report.ExitCode == ExitCodes.Clean, Describe(report));
        Assert.Contains(report.Items, i => i.Path.EndsWith("signme-1", StringComparison.Ordinal) && i.Verdict == Verdict.Clean);
    }

    [Fact]
    public async Task Without_ignoring_ignore_me_the_vector_reports_it_as_added()
    {
        using var key = SigningKeys.LoadPublicKeyFile(Path.Combine(VectorKeys, "signing-key-pub.pem"));
        var report = await CheckpointSigning.VerifyAsync(new CkptVerifyOptions { Path = Path.Combine(Vectors, "v1.0.1-elliptic-key"), PublicKey = key });

        var finding = Assert.Single(report.Items.SelectMany(i => i.Findings));
        Assert.Equal("TG-CKP-002", finding.RuleId);
        Assert.EndsWith("ignore-me", finding.Location.File, StringComparison.Ordinal);
    }

    public static TheoryData<string> CertificateVectors() => ["v0.2.0-certificate", "v0.3.1-certificate", "v1.0.0-certificate", "v1.0.1-certificate", "v1.1.0-certificate"];

    [Theory]
    [MemberData(nameof(CertificateVectors))]
    public async Task Model_signing_certificate_vectors_verify_with_the_ca_chain(string vector)
    {
        var trusted = VectorCertificates();
        var report = await CheckpointSigning.VerifyAsync(new CkptVerifyOptions { Path = Path.Combine(Vectors, vector), TrustedCertificates = trusted, IgnorePaths = ["ignore-me"] });

        Assert.True(report.ExitCode == ExitCodes.Clean, Describe(report));
        Assert.Contains(report.Items[0].Members!, m => m.Contains("certificate chain verified", StringComparison.Ordinal) && m.Contains("CN=root-ca", StringComparison.Ordinal));
        Assert.Contains(report.Items[0].Members!, m => m.Contains("signed by certificate CN=intermediate-ca", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_certificate_signature_with_only_the_root_trusted_still_chains_through_the_bundles_intermediate()
    {
        var trusted = new X509Certificate2Collection();
        trusted.ImportFromPemFile(Path.Combine(VectorKeys, "ca-cert.pem"));
        var report = await CheckpointSigning.VerifyAsync(new CkptVerifyOptions { Path = Path.Combine(Vectors, "v1.1.0-certificate"), TrustedCertificates = trusted, IgnorePaths = ["ignore-me"] });

        Assert.True(report.ExitCode == ExitCodes.Clean, Describe(report));
    }

    [Fact]
    public async Task A_certificate_signature_is_rejected_when_the_chain_ends_at_an_untrusted_root()
    {
        using var rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=root-ca", rootKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var impostor = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddYears(-2), DateTimeOffset.UtcNow.AddYears(10));
        var report = await CheckpointSigning.VerifyAsync(new CkptVerifyOptions { Path = Path.Combine(Vectors, "v1.1.0-certificate"), TrustedCertificates = [impostor], IgnorePaths = ["ignore-me"] });

        var finding = Assert.Single(report.Items.SelectMany(i => i.Findings));
        Assert.Equal("TG-CKP-004", finding.RuleId);
        Assert.Contains("does not chain", finding.Message, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Error, report.ExitCode);
    }

    [Fact]
    public async Task A_key_signature_verified_as_a_certificate_signature_is_rejected()
    {
        var report = await CheckpointSigning.VerifyAsync(new CkptVerifyOptions { Path = Path.Combine(Vectors, "v1.1.0-elliptic-key"), TrustedCertificates = VectorCertificates(), IgnorePaths = ["ignore-me"] });

        var finding = Assert.Single(report.Items.SelectMany(i => i.Findings));
        Assert.Equal("TG-CKP-004", finding.RuleId);
        Assert.Contains("no signing certificate", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Signing_with_an_unreachable_ledger_fails_after_writing_the_signature()
    {
        var temp = NewTempDirectory();
        try
        {
            var folder = CopyFolder(Genuine, temp, "checkpoint-6");
            using var key = NewKey();
            using var api = new TrainGuardApiClient(new Uri("http://127.0.0.1:1/"), "tgt_none", TimeSpan.FromSeconds(10));
            var ledger = new LedgerConnection(api);

            await Assert.ThrowsAsync<TrainGuardApiException>(() => CheckpointSigning.SignAsync(new CkptSignOptions { Path = folder, PrivateKey = key, Ledger = ledger }));

            Assert.True(File.Exists(Path.Combine(folder, "model.sig")));
            var report = await CheckpointSigning.VerifyAsync(new CkptVerifyOptions { Path = folder, PublicKey = key, Ledger = ledger });
            var finding = Assert.Single(report.Items.SelectMany(i => i.Findings));
            Assert.Equal("TG-CKP-009", finding.RuleId);
            Assert.Equal(ExitCodes.Error, report.ExitCode);
        }
        finally
        {
            DeleteQuietly(temp);
        }
    }

    private static void MakeLike(string folder, string model)
    {
        foreach (var file in Directory.EnumerateFiles(folder).Where(f => Path.GetFileName(f) != "model.sig"))
        {
            var source = Path.Combine(model, Path.GetFileName(file));
            if (File.Exists(source))
            {
                File.Copy(source, file, overwrite: true);
            }
            else
            {
                File.Delete(file);
            }
        }
    }

    internal static string FileSha256(string relative) => Expected["files"]![relative]!["sha256"]!.GetValue<string>();

    private static JsonObject Statement(string signaturePath)
    {
        var bundle = JsonNode.Parse(File.ReadAllText(signaturePath))!.AsObject();
        return JsonNode.Parse(Convert.FromBase64String(bundle["dsseEnvelope"]!["payload"]!.GetValue<string>()))!.AsObject();
    }

    private static string Describe(Report report) =>
        string.Join("\n", report.Items.Select(i => $"{i.Path}: {i.Verdict} {string.Join("; ", i.Findings.Select(f => f.RuleId + " " + f.Message))} {string.Join(" | ", i.Members ?? [])}"));
}
