using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using TrainGuard.Ledger.Merkle;
using TrainGuard.Ledger.Notes;

namespace TrainGuard.Server.Dashboard;

/// <summary>
/// An inclusion proof of one ledger entry, checked by the server the way a person (or <c>trainguard ledger verify</c>)
/// would: the leaf hash is SHA-256(0x00 || entry), the audit path hashes it up to a root, the root is the one in a
/// signed tree head, and that tree head's signature verifies under the log's key. <see cref="Steps"/> says what was
/// checked; <see cref="WriteJson"/> writes everything needed to check it again elsewhere.
/// </summary>
public sealed class InclusionCheck
{
    public required long Index { get; init; }

    public required byte[] Entry { get; init; }

    public required byte[] LeafHash { get; init; }

    public required long TreeSize { get; init; }

    public required byte[] RootHash { get; init; }

    public required string SignedTreeHead { get; init; }

    public required string VerifierKey { get; init; }

    public required IReadOnlyList<byte[]> Path { get; init; }

    /// <summary>The leaf hash recomputed from the entry's bytes equals the stored one.</summary>
    public bool LeafHashMatches { get; init; }

    /// <summary>The audit path leads from the leaf hash to the tree head's root.</summary>
    public bool PathVerifies { get; init; }

    /// <summary>The tree head's signature verifies under the log's key and names the log's origin.</summary>
    public bool SignatureVerifies { get; init; }

    public bool Verified => LeafHashMatches && PathVerifies && SignatureVerifies;

    /// <summary>What was checked, one sentence each, in the order a person would check it.</summary>
    public IReadOnlyList<(bool Ok, string Text)> Steps =>
    [
        (LeafHashMatches, $"leaf hash = SHA-256(0x00 || the {Entry.Length} bytes of entry {Index}) = {Hex(LeafHash)}"),
        (PathVerifies, $"the {Path.Count} hashes of the audit path combine it into the root {Hex(RootHash)} of the tree of size {TreeSize} (RFC 9162 inclusion proof)"),
        (SignatureVerifies, $"that root is in a tree head signed by the log's key {VerifierKey}, and the signature verifies"),
    ];

    /// <summary>Builds and checks the proof of entry <paramref name="index"/> in the signed tree head <paramref name="signedTreeHead"/>.</summary>
    public static InclusionCheck Create(long index, byte[] entry, byte[] storedLeafHash, string signedTreeHead, IReadOnlyList<byte[]> path, NoteVerifier verifier, string origin)
    {
        var leaf = MerkleHash.HashLeaf(entry);
        var head = TreeHead.OpenSigned(Encoding.UTF8.GetBytes(signedTreeHead), [verifier], origin);
        var root = head.TreeHead.RootHash.ToArray();
        return new InclusionCheck
        {
            Index = index,
            Entry = entry,
            LeafHash = leaf,
            TreeSize = head.TreeHead.Size,
            RootHash = root,
            SignedTreeHead = signedTreeHead,
            VerifierKey = verifier.VerifierKey,
            Path = path,
            LeafHashMatches = CryptographicOperations.FixedTimeEquals(leaf, storedLeafHash),
            PathVerifies = MerkleTree.VerifyInclusion(leaf, (ulong)index, (ulong)head.TreeHead.Size, path, root),
            SignatureVerifies = head.IsTrusted,
        };
    }

    /// <summary>The proof as JSON (the shape of <c>GET /api/v1/events/{id}</c>, plus the verifier key and what was verified).</summary>
    public void WriteJson(Utf8JsonWriter w)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.WriteStartObject();
        w.WriteNumber("index", Index);
        w.WriteBase64String("leaf_hash", LeafHash);
        w.WriteBase64String("entry", Entry);
        w.WriteNumber("tree_size", TreeSize);
        w.WriteBase64String("root_hash", RootHash);
        w.WriteString("checkpoint", SignedTreeHead);
        w.WriteString("verifier_key", VerifierKey);
        w.WriteStartArray("inclusion_proof");
        foreach (var hash in Path)
        {
            w.WriteBase64StringValue(hash);
        }

        w.WriteEndArray();
        w.WriteStartObject("verified");
        w.WriteBoolean("leaf_hash", LeafHashMatches);
        w.WriteBoolean("inclusion", PathVerifies);
        w.WriteBoolean("signature", SignatureVerifies);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    public static string Hex(byte[] hash) => Convert.ToHexStringLower(hash);
}
