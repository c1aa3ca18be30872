using TrainGuard.Checkpoints.Signing;
using TrainGuard.Integrity.Manifests;
using static TrainGuard.Checkpoints.Tests.Signing.SigningTestSupport;

namespace TrainGuard.Checkpoints.Tests.Signing;

/// <summary>The ledger record of a signed manifest: digest, deterministic event id, event fields; and the rule catalogue.</summary>
public sealed class CheckpointLedgerTests
{
    private static ModelManifest Manifest(string model, params (string Name, byte Fill)[] files) =>
        ModelManifest.Create(model, files.Select(f => new ManifestEntry(f.Name, "sha256", Enumerable.Repeat(f.Fill, 32).ToArray())), new ManifestSerialization());

    [Fact]
    public void Manifest_digest_covers_names_and_digests_but_not_the_folder_name()
    {
        var a = Manifest("checkpoint-6", ("optimizer.pt", 1), ("pytorch_model.bin", 2));
        var copied = Manifest("backup-of-6", ("optimizer.pt", 1), ("pytorch_model.bin", 2));
        var renamed = Manifest("checkpoint-6", ("optimizer.pt", 1), ("pytorch_model_v2.bin", 2));
        var edited = Manifest("checkpoint-6", ("optimizer.pt", 3), ("pytorch_model.bin", 2));

        Assert.Equal(CheckpointLedger.ManifestDigest(a), CheckpointLedger.ManifestDigest(copied));
        Assert.NotEqual(CheckpointLedger.ManifestDigest(a), CheckpointLedger.ManifestDigest(renamed));
        Assert.NotEqual(CheckpointLedger.ManifestDigest(a), CheckpointLedger.ManifestDigest(edited));
        Assert.Equal(a.RootDigest(), renamed.RootDigest()); // why the root digest alone is not what the ledger records
        Assert.Matches("^[0-9a-f]{64}$", CheckpointLedger.ManifestDigest(a));
    }

    [Fact]
    public void Event_id_is_a_deterministic_version_8_uuid_of_the_digest()
    {
        var digest = new string('a', 64);
        var id = CheckpointLedger.EventIdFor(digest);

        Assert.Equal(id, CheckpointLedger.EventIdFor(digest));
        Assert.NotEqual(id, CheckpointLedger.EventIdFor(new string('b', 64)));
        Assert.Matches("^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", id);
        Assert.True(Guid.TryParseExact(id, "D", out _));
    }

    [Fact]
    public void Signed_event_records_digest_model_file_count_signer_account_and_host()
    {
        var manifest = Manifest("checkpoint-6", ("optimizer.pt", 1), ("pytorch_model.bin", 2));
        var at = new DateTimeOffset(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);

        var record = CheckpointLedger.SignedEvent(manifest, "/ckpt/checkpoint-6", "/ckpt/checkpoint-6/model.sig", "abc123", 4096, at, "alice", "gpu-node-3");

        var digest = CheckpointLedger.ManifestDigest(manifest);
        Assert.Equal(CheckpointLedger.EventIdFor(digest), record.Id);
        Assert.Equal("checkpoint-signed", record.Action);
        Assert.Equal("ckpt", record.GetString("event.module"));
        Assert.Equal(digest, record.GetString("trainguard.ckpt.manifest_digest"));
        Assert.Equal("checkpoint-6", record.GetString("trainguard.ckpt.model_name"));
        Assert.Equal(2, record.Get("trainguard.ckpt.files")!.GetValue<long>());
        Assert.Equal("abc123", record.GetString("trainguard.ckpt.signer_key_hint"));
        Assert.Equal(("alice", "gpu-node-3"), (record.GetString("user.name"), record.GetString("host.name")));
        Assert.Equal("2026-11-23T08:00:00.000Z", record.GetString("@timestamp"));
    }

    public static TheoryData<string> RuleIds() => [.. CkptSignRules.All.Select(r => r.Id)];

    [Theory]
    [MemberData(nameof(RuleIds))]
    public void Rule_has_a_unique_id_in_its_range_a_guidance_page_and_an_index_row(string id)
    {
        Assert.Single(CkptSignRules.All, r => r.Id == id);
        Assert.InRange(int.Parse(id["TG-CKP-".Length..], System.Globalization.CultureInfo.InvariantCulture), 1, 19);
        var page = Path.Combine(RepoRoot, "docs", "rules", id + ".md");
        Assert.True(File.Exists(page), $"missing guidance page {page}");
        Assert.Contains($"[{id}]({id}.md)", File.ReadAllText(Path.Combine(RepoRoot, "docs", "rules", "README.md")), StringComparison.Ordinal);
    }
}
