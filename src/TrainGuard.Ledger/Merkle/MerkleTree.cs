using System.Numerics;

namespace TrainGuard.Ledger.Merkle;

/// <summary>
/// RFC 9162 Merkle tree math over a source of complete-node hashes: the root at any size, inclusion and
/// consistency proofs (§2.1.3.1, §2.1.4.1), and the subtree proofs of the Merkle Tree Certificates draft.
/// Every result is computed from O(log n) stored nodes, so proofs cost microseconds at any tree size.
/// The static <c>Verify*</c> methods are in <c>MerkleTree.Verify.cs</c>.
/// </summary>
public sealed partial class MerkleTree
{
    private readonly IMerkleNodeSource _nodes;

    public MerkleTree(IMerkleNodeSource nodes)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        _nodes = nodes;
    }

    /// <summary>Number of leaves available in the underlying source.</summary>
    public long Size => _nodes.Size;

    /// <summary>The Merkle Tree Hash of the first <paramref name="size"/> leaves (<c>SHA-256("")</c> for 0).</summary>
    public byte[] RootHash(long size)
    {
        CheckSize(size, nameof(size));
        if (size == 0)
        {
            return MerkleHash.EmptyRootCopy();
        }

        var result = new byte[MerkleHash.Size];
        RangeHash(0, size, result);
        return result;
    }

    /// <summary>The hash of the valid subtree <c>[start, end)</c> (MTC draft §4.1).</summary>
    public byte[] SubtreeHash(long start, long end)
    {
        CheckSubtree(start, end);
        var result = new byte[MerkleHash.Size];
        RangeHash(start, end, result);
        return result;
    }

    /// <summary>The RFC 9162 inclusion proof <c>PATH(index, D[size])</c>, lowest level first.</summary>
    public byte[][] InclusionProof(long index, long size)
    {
        CheckSize(size, nameof(size));
        if (index < 0 || index >= size)
        {
            throw new ArgumentOutOfRangeException(nameof(index), $"leaf index {index} is outside a tree of size {size}");
        }

        return PathInSubtree(index, 0, size);
    }

    /// <summary>The RFC 9162 consistency proof <c>PROOF(size1, D[size2])</c>; empty when the sizes are equal.</summary>
    public byte[][] ConsistencyProof(long size1, long size2)
    {
        CheckSize(size2, nameof(size2));
        if (size1 <= 0 || size1 > size2)
        {
            throw new ArgumentOutOfRangeException(nameof(size1), $"a consistency proof needs 0 < size1 <= size2, got {size1} and {size2}");
        }

        var proof = new List<byte[]>(2 * 64);
        SubProof(size1, 0, size2, knownRoot: true, proof);
        return [.. proof];
    }

    /// <summary>The subtree inclusion proof of leaf <paramref name="index"/> in the valid subtree <c>[start, end)</c>.</summary>
    public byte[][] SubtreeInclusionProof(long index, long start, long end)
    {
        CheckSubtree(start, end);
        if (index < start || index >= end)
        {
            throw new ArgumentOutOfRangeException(nameof(index), $"leaf index {index} is outside the subtree [{start}, {end})");
        }

        return PathInSubtree(index, start, end);
    }

    /// <summary>The subtree consistency proof <c>SUBTREE_PROOF(start, end, D[size])</c> of the MTC draft.</summary>
    public byte[][] SubtreeConsistencyProof(long start, long end, long size)
    {
        CheckSubtree(start, end);
        CheckSize(size, nameof(size));
        if (end > size)
        {
            throw new ArgumentOutOfRangeException(nameof(size), $"subtree [{start}, {end}) does not fit in a tree of size {size}");
        }

        var proof = new List<byte[]>(2 * 64);
        SubtreeSubProof(start, end, 0, size, knownRoot: true, proof);
        return [.. proof];
    }

    /// <summary>Writes MTH(D[start:end]) for a range whose start is aligned as in a valid subtree.</summary>
    private void RangeHash(long start, long end, Span<byte> destination)
    {
        // Begin at the largest complete node that ends at the range's last leaf, then fold in the complete
        // left siblings on the way up until the range's first and last leaves share an ancestor.
        var last = end - 1;
        var level = BitOperations.TrailingZeroCount(~(ulong)(last - start));
        var first = start >> level;
        last >>= level;
        _nodes.CopyNode(level, last, destination);
        Span<byte> sibling = stackalloc byte[MerkleHash.Size];
        while (first < last)
        {
            if ((last & 1) == 1)
            {
                _nodes.CopyNode(level, last - 1, sibling);
                MerkleHash.HashChildren(sibling, destination, destination);
            }

            level++;
            first >>= 1;
            last >>= 1;
        }
    }

    private byte[] RangeHash(long start, long end)
    {
        var result = new byte[MerkleHash.Size];
        RangeHash(start, end, result);
        return result;
    }

    /// <summary>Inclusion path of <paramref name="index"/> in the aligned range <c>[start, end)</c>, lowest level first.</summary>
    private byte[][] PathInSubtree(long index, long start, long end)
    {
        var proof = new List<byte[]>(64);
        var last = end - 1;
        var level = 0;
        while (start < last)
        {
            var neighbor = index ^ 1;
            if (neighbor < last)
            {
                var node = new byte[MerkleHash.Size];
                _nodes.CopyNode(level, neighbor, node);
                proof.Add(node);
            }
            else if (neighbor == last)
            {
                // The right-edge neighbour may be incomplete: hash what exists of it.
                proof.Add(RangeHash(last << level, end));
            }

            level++;
            start >>= 1;
            index >>= 1;
            last >>= 1;
        }

        return [.. proof];
    }

    /// <summary>RFC 9162 §2.1.4.1 <c>SUBPROOF(m, D[base:base+n], b)</c>.</summary>
    private void SubProof(long m, long offset, long n, bool knownRoot, List<byte[]> proof)
    {
        if (m == n)
        {
            if (!knownRoot)
            {
                proof.Add(RangeHash(offset, offset + n));
            }

            return;
        }

        var k = LargestPowerOfTwoBelow(n);
        if (m <= k)
        {
            SubProof(m, offset, k, knownRoot, proof);
            proof.Add(RangeHash(offset + k, offset + n));
        }
        else
        {
            SubProof(m - k, offset + k, n - k, knownRoot: false, proof);
            proof.Add(RangeHash(offset, offset + k));
        }
    }

    /// <summary>MTC draft <c>SUBTREE_SUBPROOF(start, end, D[base:base+n], b)</c>, start/end relative to base.</summary>
    private void SubtreeSubProof(long start, long end, long offset, long n, bool knownRoot, List<byte[]> proof)
    {
        if (start == 0 && end == n)
        {
            if (!knownRoot)
            {
                proof.Add(RangeHash(offset, offset + n));
            }

            return;
        }

        var k = LargestPowerOfTwoBelow(n);
        if (end <= k)
        {
            SubtreeSubProof(start, end, offset, k, knownRoot, proof);
            proof.Add(RangeHash(offset + k, offset + n));
        }
        else if (k <= start)
        {
            SubtreeSubProof(start - k, end - k, offset + k, n - k, knownRoot, proof);
            proof.Add(RangeHash(offset, offset + k));
        }
        else
        {
            // start < k < end: a valid subtree then starts at 0 and covers the whole left half.
            SubtreeSubProof(0, end - k, offset + k, n - k, knownRoot: false, proof);
            proof.Add(RangeHash(offset, offset + k));
        }
    }

    /// <summary>The largest power of two strictly below <paramref name="n"/> (n &gt; 1).</summary>
    private static long LargestPowerOfTwoBelow(long n) => 1L << (63 - BitOperations.LeadingZeroCount((ulong)(n - 1)));

    private void CheckSize(long size, string parameterName)
    {
        var available = _nodes.Size;
        if (size < 0 || size > available)
        {
            throw new ArgumentOutOfRangeException(parameterName, $"tree size {size} is outside 0..{available}");
        }
    }

    private void CheckSubtree(long start, long end)
    {
        if (!Subtree.IsValid(start, end))
        {
            throw new ArgumentOutOfRangeException(nameof(start), $"[{start}, {end}) is not a valid subtree");
        }

        CheckSize(end, nameof(end));
    }
}
