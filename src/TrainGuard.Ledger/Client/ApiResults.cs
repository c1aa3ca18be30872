using TrainGuard.Ledger.Merkle;
using TrainGuard.Ledger.Notes;

namespace TrainGuard.Ledger.Client;

/// <summary>The answer to <c>POST /api/v1/events</c>: what was appended, and the signed tree head that covers the batch.</summary>
/// <param name="TreeHead">The signed tree head note (the <c>checkpoint</c> member of the answer).</param>
public sealed record EventBatchResult(int Appended, int Duplicates, long TreeSize, string TreeHead, IReadOnlyList<EventAppendResult> Results);

/// <summary>
/// One event of a batch: its leaf index (-1 when it was not stored), whether it was already stored under its id, and the
/// server's word on it: <see cref="Accepted"/>, <see cref="Duplicated"/>, <see cref="Conflict"/> (the id is stored with
/// other content), <c>too-large</c> or <c>refused</c>, with the reason for the last three.
/// </summary>
public sealed record EventAppendResult(string Id, long Index, bool Duplicate, string Status = EventAppendResult.Accepted, string? Reason = null)
{
    public const string Accepted = "accepted";
    public const string Duplicated = "duplicate";
    public const string Conflict = "conflict";

    /// <summary>True when the server holds the event: appended now or before.</summary>
    public bool IsStored => Status is Accepted or Duplicated;
}

/// <summary>The answer to <c>POST /api/v1/cosignatures</c>: the size of the cosigned tree head and how many cosignatures were kept.</summary>
public sealed record CosignatureReceipt(long TreeSize, int Accepted);

/// <summary>The answer to <c>GET /api/v1/log</c>: the log's identity and its latest signed tree head.</summary>
/// <param name="TreeHead">The latest signed tree head note (the <c>checkpoint</c> member of the answer).</param>
public sealed record LogInfo(string Origin, string VerifierKey, long TreeSize, string TreeHead);

/// <summary>
/// The answer to <c>GET /api/v1/events/{id}</c>, as the server claims it: the event's committed bytes, its leaf
/// index, and an inclusion proof in a signed tree head. Nothing of it is trusted before <see cref="Verify"/>.
/// </summary>
/// <param name="Entry">The event JSON exactly as committed to the ledger (the leaf's bytes).</param>
/// <param name="LeafHash">The leaf hash the server states, if it sent one.</param>
/// <param name="TreeHead">The signed tree head note the proof is against (the <c>checkpoint</c> member of the answer).</param>
public sealed record ProvenEvent(string Id, long Index, byte[]? LeafHash, byte[] Entry, long TreeSize, string TreeHead, IReadOnlyList<byte[]> InclusionProof)
{
    /// <summary>
    /// Checks that <paramref name="logKey"/> signed the tree head, that the stated leaf hash (if any) is the hash of
    /// <see cref="Entry"/>, and that the inclusion proof puts that leaf at <see cref="Index"/> under the signed root.
    /// </summary>
    /// <exception cref="Parsing.MalformedInputException">The tree head is not a well-formed signed note.</exception>
    public EventInclusion Verify(NoteVerifier logKey)
    {
        ArgumentNullException.ThrowIfNull(logKey);
        var signed = Notes.TreeHead.OpenSigned(System.Text.Encoding.UTF8.GetBytes(TreeHead), [logKey]);
        var leaf = MerkleHash.HashLeaf(Entry);
        string? problem = null;
        if (!signed.Verification.IsVerified)
        {
            problem = $"the log's tree head is not signed by {logKey.Name}+{logKey.KeyId:x8}: {signed.Verification.Problem}";
        }
        else if (LeafHash is not null && !LeafHash.AsSpan().SequenceEqual(leaf))
        {
            problem = "the server's leaf hash is not SHA-256(0x00 || the event it returned)";
        }
        else if (Index < 0 || !MerkleTree.VerifyInclusion(leaf, (ulong)Index, (ulong)signed.TreeHead.Size, InclusionProof, signed.TreeHead.RootHash))
        {
            problem = $"the inclusion proof of leaf {Index} does not verify against the signed tree head of size {signed.TreeHead.Size}";
        }

        return new EventInclusion(signed, problem);
    }
}

/// <summary>The outcome of <see cref="ProvenEvent.Verify"/>: the opened tree head, and null or why the event is not proven.</summary>
public sealed record EventInclusion(SignedTreeHead TreeHead, string? Problem)
{
    public bool IsProven => Problem is null;
}
