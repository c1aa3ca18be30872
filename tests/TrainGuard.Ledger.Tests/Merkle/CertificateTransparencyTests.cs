using System.Text.Json;
using TrainGuard.Ledger.Merkle;
using TrainGuard.Ledger.Tests.Support;

namespace TrainGuard.Ledger.Tests.Merkle;

/// <summary>
/// Real proofs from the Google Argon 2020 Certificate Transparency log (golang/mod sumdb/tlog testdata):
/// leaf 10000 in a tree of 961,984,013 leaves, and consistency from size 3,654,490.
/// </summary>
public class CertificateTransparencyTests
{
    private const ulong LeafIndex = 10000;
    private const ulong OldSize = 3_654_490;

    // The root of the Argon 2020 log at size 3,654,490, as used by golang/mod ct_test.go.
    private const string OldRoot = "AuIZ5V6sDUj1vn3Y1K85oOaQ7y+FJJKtyRTl1edIKBQ=";

    [Fact]
    public void Argon2020_inclusion_proof_for_leaf_10000_verifies_against_the_signed_tree_head()
    {
        var (size, root) = TreeHead();
        Assert.Equal(961_984_013UL, size);

        using var entries = Read("entries.json");
        var leafInput = Convert.FromBase64String(entries.RootElement.GetProperty("entries")[0].GetProperty("leaf_input").GetString()!);
        var leafHash = MerkleHash.HashLeaf(leafInput);

        using var proofDoc = Read("proof.json");
        Assert.Equal(LeafIndex, proofDoc.RootElement.GetProperty("leaf_index").GetUInt64());
        var proof = Hashes(proofDoc.RootElement.GetProperty("audit_path"));

        Assert.True(MerkleTree.VerifyInclusion(leafHash, LeafIndex, size, proof, root));
        Assert.False(MerkleTree.VerifyInclusion(leafHash, LeafIndex + 1, size, proof, root));
        Assert.False(MerkleTree.VerifyInclusion(leafHash, LeafIndex, size * 2, proof, root));

        leafInput[^3] ^= 0x01;
        Assert.False(MerkleTree.VerifyInclusion(MerkleHash.HashLeaf(leafInput), LeafIndex, size, proof, root));
    }

    [Fact]
    public void Argon2020_consistency_proof_from_size_3654490_verifies_against_the_signed_tree_head()
    {
        var (size, root) = TreeHead();
        using var consistency = Read("consistency.json");
        var proof = Hashes(consistency.RootElement.GetProperty("consistency"));
        var oldRoot = Convert.FromBase64String(OldRoot);

        Assert.True(MerkleTree.VerifyConsistency(OldSize, size, proof, oldRoot, root));

        var tampered = (byte[])oldRoot.Clone();
        tampered[^1] ^= 1;
        Assert.False(MerkleTree.VerifyConsistency(OldSize, size, proof, tampered, root));
        Assert.False(MerkleTree.VerifyConsistency(OldSize + 1, size, proof, oldRoot, root));
    }

    private static (ulong Size, byte[] Root) TreeHead()
    {
        using var sth = Read("sth.json");
        return (sth.RootElement.GetProperty("tree_size").GetUInt64(), Convert.FromBase64String(sth.RootElement.GetProperty("sha256_root_hash").GetString()!));
    }

    private static byte[][] Hashes(JsonElement array) => [.. array.EnumerateArray().Select(e => Convert.FromBase64String(e.GetString()!))];

    private static JsonDocument Read(string name) =>
        JsonDocument.Parse(File.ReadAllBytes(Path.Combine(TestPaths.Vectors, "ct-argon2020", name)));
}
