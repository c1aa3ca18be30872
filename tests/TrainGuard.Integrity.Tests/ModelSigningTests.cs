using System.Text;
using System.Text.Json.Nodes;
using TrainGuard.Integrity.Keys;
using TrainGuard.Integrity.Manifests;

namespace TrainGuard.Integrity.Tests;

public sealed class ModelSigningTests
{
    private static string PublicKey => Path.Combine(TestSupport.ModelSigningVectors, "keys", "certificate", "signing-key-pub.pem");

    /// <summary>Vector folder and the model root inside it (v0.3.1 and v1.0.0 signed a single file).</summary>
    public static TheoryData<string, string> GoodVectors => new()
    {
        { "v0.3.1-elliptic-key", "signme-1" },
        { "v1.0.0-elliptic-key", "signme-1" },
        { "v1.0.1-elliptic-key", "." },
        { "v1.1.0-elliptic-key", "." },
        { "v0.3.1-certificate", "." },
        { "v1.0.0-certificate", "." },
        { "v1.0.1-certificate", "." },
        { "v1.1.0-certificate", "." },
        { "v0.2.0-certificate", "." },
    };

    [Theory]
    [MemberData(nameof(GoodVectors))]
    public async Task Model_signing_vector_verifies_with_its_public_key(string vector, string model)
    {
        var dir = Path.Combine(TestSupport.ModelSigningVectors, vector);
        var result = await ModelSigning.VerifyAsync(Path.GetFullPath(Path.Combine(dir, model)), Path.Combine(dir, "model.sig"), PublicKey, ["ignore-me"]);
        Assert.True(result.SignatureValid, result.SignatureError);
        Assert.True(result.Succeeded, $"changed [{string.Join(",", result.Changed)}] added [{string.Join(",", result.Added)}] deleted [{string.Join(",", result.Deleted)}] {result.Error}");
    }

    [Fact]
    public async Task Tampered_copy_of_a_vector_is_rejected_naming_the_changed_file()
    {
        var copy = TestSupport.NewTempDirectory("vector");
        try
        {
            TestSupport.CopyDirectory(Path.Combine(TestSupport.ModelSigningVectors, "v1.1.0-elliptic-key"), copy);
            await File.AppendAllTextAsync(Path.Combine(copy, "signme-2"), "tampered");
            await File.WriteAllTextAsync(Path.Combine(copy, "extra.bin"), "new");
            var result = await ModelSigning.VerifyAsync(copy, Path.Combine(copy, "model.sig"), PublicKey);
            Assert.True(result.SignatureValid);
            Assert.False(result.Succeeded);
            Assert.Equal(["signme-2"], result.Changed);
            Assert.Equal(["extra.bin"], result.Added);
        }
        finally
        {
            TestSupport.DeleteQuietly(copy);
        }
    }

    [Fact]
    public async Task Vector_with_a_deleted_file_reports_it_deleted()
    {
        var copy = TestSupport.NewTempDirectory("vector");
        try
        {
            TestSupport.CopyDirectory(Path.Combine(TestSupport.ModelSigningVectors, "v1.0.1-elliptic-key"), copy);
            File.Delete(Path.Combine(copy, "signme-1"));
            var result = await ModelSigning.VerifyAsync(copy, Path.Combine(copy, "model.sig"), PublicKey, ["ignore-me"]);
            Assert.Equal(["signme-1"], result.Deleted);
        }
        finally
        {
            TestSupport.DeleteQuietly(copy);
        }
    }

    [Fact]
    public async Task Edited_signed_statement_fails_signature_verification()
    {
        var copy = TestSupport.NewTempDirectory("vector");
        try
        {
            TestSupport.CopyDirectory(Path.Combine(TestSupport.ModelSigningVectors, "v1.0.1-elliptic-key"), copy);
            var bundle = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(copy, "model.sig")))!;
            var payload = Encoding.UTF8.GetString(Convert.FromBase64String(bundle["dsseEnvelope"]!["payload"]!.GetValue<string>()));
            bundle["dsseEnvelope"]!["payload"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(payload.Replace("bc9a717d", "00000000", StringComparison.Ordinal)));
            await File.WriteAllTextAsync(Path.Combine(copy, "model.sig"), bundle.ToJsonString());
            var result = await ModelSigning.VerifyAsync(copy, Path.Combine(copy, "model.sig"), PublicKey, ["ignore-me"]);
            Assert.False(result.SignatureValid);
            Assert.Contains("signature", result.SignatureError, StringComparison.Ordinal);
        }
        finally
        {
            TestSupport.DeleteQuietly(copy);
        }
    }

    [Fact]
    public async Task Signature_from_another_key_is_rejected()
    {
        var dir = TestSupport.NewTempDirectory("keys");
        try
        {
            KeyPairGenerator.Create(Path.Combine(dir, "k.pem"), Path.Combine(dir, "k.pub"));
            var vector = Path.Combine(TestSupport.ModelSigningVectors, "v1.1.0-elliptic-key");
            var result = await ModelSigning.VerifyAsync(vector, Path.Combine(vector, "model.sig"), Path.Combine(dir, "k.pub"), ["ignore-me"]);
            Assert.False(result.SignatureValid);
            Assert.Contains("key mismatch", result.SignatureError, StringComparison.Ordinal);
        }
        finally
        {
            TestSupport.DeleteQuietly(dir);
        }
    }

    [Fact]
    public async Task Signed_folder_round_trips_with_the_v1_structure_and_root_digest()
    {
        var dir = TestSupport.NewTempDirectory("sign");
        try
        {
            var model = Path.Combine(dir, "model");
            Directory.CreateDirectory(Path.Combine(model, "sub"));
            await File.WriteAllTextAsync(Path.Combine(model, "a-b.bin"), "1");
            await File.WriteAllTextAsync(Path.Combine(model, "sub", "w.safetensors"), "2");
            await File.WriteAllTextAsync(Path.Combine(model, ".gitignore"), "ignored");
            var hint = KeyPairGenerator.Create(Path.Combine(dir, "k.pem"), Path.Combine(dir, "k.pub"));
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(dir, "k.pem")));
            }
            var sig = Path.Combine(model, "model.sig");
            await ModelSigning.WriteSignatureAsync(model, Path.Combine(dir, "k.pem"), sig);

            var bundle = JsonNode.Parse(await File.ReadAllTextAsync(sig))!;
            Assert.Equal(SigstoreBundle.MediaType, bundle["mediaType"]!.GetValue<string>());
            Assert.Equal(hint, bundle["verificationMaterial"]!["publicKey"]!["hint"]!.GetValue<string>());
            var statement = JsonNode.Parse(Convert.FromBase64String(bundle["dsseEnvelope"]!["payload"]!.GetValue<string>()))!;
            Assert.Equal("https://model_signing/signature/v1.0", statement["predicateType"]!.GetValue<string>());
            Assert.Equal("model", statement["subject"]![0]!["name"]!.GetValue<string>());
            var names = statement["predicate"]!["resources"]!.AsArray().Select(r => r!["name"]!.GetValue<string>()).ToList();
            Assert.Equal(["a-b.bin", "sub/w.safetensors"], names);

            var result = await ModelSigning.VerifyAsync(model, sig, Path.Combine(dir, "k.pub"));
            Assert.True(result.Succeeded);
        }
        finally
        {
            TestSupport.DeleteQuietly(dir);
        }
    }

    [Fact]
    public void Paths_sort_by_component_like_python_pure_posix_path()
    {
        var sorted = new[] { "a-b", "a/b", "a", "B", "a/a" }.Order(PathComponentComparer.Instance).ToList();
        Assert.Equal(["B", "a", "a/a", "a/b", "a-b"], sorted);
    }
}
