namespace TrainGuard.Ledger.Merkle;

/// <summary>
/// Read access to the hashes of <em>complete</em> nodes of an RFC 9162 tree: node (<c>level</c>, <c>index</c>)
/// is the root of the perfect subtree over leaves <c>[index·2^level, (index+1)·2^level)</c>. Everything else
/// (roots at any size, proofs, tiles) is computed from these by <see cref="MerkleTree"/>.
/// </summary>
public interface IMerkleNodeSource
{
    /// <summary>Number of leaves currently available.</summary>
    long Size { get; }

    /// <summary>
    /// Copies the hash of the complete node (<paramref name="level"/>, <paramref name="index"/>) into
    /// <paramref name="destination"/>. Requires <c>(index + 1) &lt;&lt; level &lt;= Size</c>.
    /// </summary>
    void CopyNode(int level, long index, Span<byte> destination);
}
