namespace TrainGuard.Ledger.Merkle;

public sealed partial class MerkleTree
{
    /// <summary>
    /// RFC 9162 §2.1.3.2: true when <paramref name="proof"/> shows that <paramref name="leafHash"/> is leaf
    /// <paramref name="index"/> of the tree of size <paramref name="size"/> whose root is <paramref name="root"/>.
    /// Every hash must be exactly 32 bytes; anything malformed is simply not a valid proof.
    /// </summary>
    public static bool VerifyInclusion(ReadOnlySpan<byte> leafHash, ulong index, ulong size, IReadOnlyList<byte[]> proof, ReadOnlySpan<byte> root)
    {
        ArgumentNullException.ThrowIfNull(proof);
        if (index >= size || leafHash.Length != MerkleHash.Size || root.Length != MerkleHash.Size || !AllHashSized(proof))
        {
            return false;
        }

        var fn = index;
        var sn = size - 1;
        Span<byte> r = stackalloc byte[MerkleHash.Size];
        leafHash.CopyTo(r);
        foreach (var p in proof)
        {
            if (sn == 0)
            {
                return false;
            }

            if ((fn & 1) == 1 || fn == sn)
            {
                MerkleHash.HashChildren(p, r, r);
                while ((fn & 1) == 0 && fn != 0)
                {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
            else
            {
                MerkleHash.HashChildren(r, p, r);
            }

            fn >>= 1;
            sn >>= 1;
        }

        return sn == 0 && MerkleHash.FixedTimeEquals(r, root);
    }

    /// <summary>
    /// RFC 9162 §2.1.4.2: true when <paramref name="proof"/> shows the tree of size <paramref name="size1"/> with
    /// root <paramref name="root1"/> is a prefix of the tree of size <paramref name="size2"/> with root
    /// <paramref name="root2"/>. A consistency proof from the empty tree is meaningless and rejected; equal
    /// sizes need an empty proof and equal roots.
    /// </summary>
    public static bool VerifyConsistency(ulong size1, ulong size2, IReadOnlyList<byte[]> proof, ReadOnlySpan<byte> root1, ReadOnlySpan<byte> root2)
    {
        ArgumentNullException.ThrowIfNull(proof);
        if (size1 == 0 || size1 > size2)
        {
            return false;
        }

        if (size1 == size2)
        {
            return proof.Count == 0 && MerkleHash.FixedTimeEquals(root1, root2);
        }

        // Step 1: a proof between different sizes is never empty.
        if (proof.Count == 0 || root1.Length != MerkleHash.Size || root2.Length != MerkleHash.Size || !AllHashSized(proof))
        {
            return false;
        }

        // Step 2: when size1 is a power of two, its root is the first node of the path and is not sent.
        var prependRoot1 = (size1 & (size1 - 1)) == 0;
        var position = 0;
        Span<byte> fr = stackalloc byte[MerkleHash.Size];
        Span<byte> sr = stackalloc byte[MerkleHash.Size];
        if (prependRoot1)
        {
            root1.CopyTo(fr);
        }
        else
        {
            proof[0].CopyTo(fr);
            position = 1;
        }

        fr.CopyTo(sr);

        // Steps 3-4.
        var fn = size1 - 1;
        var sn = size2 - 1;
        while ((fn & 1) == 1)
        {
            fn >>= 1;
            sn >>= 1;
        }

        // Step 6.
        for (; position < proof.Count; position++)
        {
            var c = proof[position];
            if (sn == 0)
            {
                return false;
            }

            if ((fn & 1) == 1 || fn == sn)
            {
                MerkleHash.HashChildren(c, fr, fr);
                MerkleHash.HashChildren(c, sr, sr);
                while ((fn & 1) == 0 && fn != 0)
                {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
            else
            {
                MerkleHash.HashChildren(sr, c, sr);
            }

            fn >>= 1;
            sn >>= 1;
        }

        // Step 7 (both comparisons always run).
        var firstMatches = MerkleHash.FixedTimeEquals(fr, root1);
        var secondMatches = MerkleHash.FixedTimeEquals(sr, root2);
        return sn == 0 && firstMatches && secondMatches;
    }

    /// <summary>
    /// MTC draft subtree inclusion: true when <paramref name="proof"/> shows that <paramref name="leafHash"/> is
    /// leaf <paramref name="index"/> inside the valid subtree <c>[start, end)</c> whose hash is <paramref name="subtreeHash"/>.
    /// </summary>
    public static bool VerifySubtreeInclusion(ReadOnlySpan<byte> leafHash, ulong index, ulong start, ulong end, IReadOnlyList<byte[]> proof, ReadOnlySpan<byte> subtreeHash)
    {
        if (!Subtree.IsValid(start, end) || index < start || index >= end)
        {
            return false;
        }

        // A subtree is hashed like an independent tree of end - start leaves.
        return VerifyInclusion(leafHash, index - start, end - start, proof, subtreeHash);
    }

    /// <summary>
    /// MTC draft subtree consistency ("Verifying a Subtree Consistency Proof"): true when <paramref name="proof"/>
    /// shows that the subtree <c>[start, end)</c> with hash <paramref name="subtreeHash"/> sits at those
    /// positions in the tree of size <paramref name="size"/> with root <paramref name="root"/>. The empty range
    /// (<c>start == end</c>) is consistent with any tree that reaches it, given an empty proof and the
    /// empty-tree hash.
    /// </summary>
    public static bool VerifySubtreeConsistency(ulong start, ulong end, ulong size, IReadOnlyList<byte[]> proof, ReadOnlySpan<byte> subtreeHash, ReadOnlySpan<byte> root)
    {
        ArgumentNullException.ThrowIfNull(proof);
        if (end > size)
        {
            return false;
        }

        if (start == end)
        {
            return proof.Count == 0 && MerkleHash.FixedTimeEquals(subtreeHash, MerkleHash.EmptyRoot);
        }

        if (!Subtree.IsValid(start, end) || !AllHashSized(proof))
        {
            return false;
        }

        if (start == 0 && end == size)
        {
            // The subtree is the whole tree: nothing to prove beyond equality.
            return proof.Count == 0 && MerkleHash.FixedTimeEquals(subtreeHash, root);
        }

        // fn, sn and tn are the paths to the subtree's first leaf, its last leaf and the tree's last leaf;
        // shifting right climbs one level. Skip the levels that need no proof hash.
        var fn = start;
        var sn = end - 1;
        var tn = size - 1;
        if (sn == tn)
        {
            while (fn != sn)
            {
                fn >>= 1;
                sn >>= 1;
                tn >>= 1;
            }
        }
        else
        {
            while (fn != sn && (sn & 1) == 1)
            {
                fn >>= 1;
                sn >>= 1;
                tn >>= 1;
            }
        }

        // fr rebuilds the subtree hash, sr the tree root; when the subtree is itself a node of the tree the
        // proof starts above it and both are seeded with the known subtree hash.
        Span<byte> fr = stackalloc byte[MerkleHash.Size];
        Span<byte> sr = stackalloc byte[MerkleHash.Size];
        var position = 0;
        if (fn == sn)
        {
            if (subtreeHash.Length != MerkleHash.Size)
            {
                return false;
            }

            subtreeHash.CopyTo(fr);
        }
        else
        {
            if (proof.Count == 0)
            {
                return false;
            }

            proof[0].CopyTo(fr);
            position = 1;
        }

        fr.CopyTo(sr);
        for (; position < proof.Count; position++)
        {
            var c = proof[position];
            if (tn == 0)
            {
                return false;
            }

            if ((sn & 1) == 1 || sn == tn)
            {
                if (fn < sn)
                {
                    MerkleHash.HashChildren(c, fr, fr);
                }

                MerkleHash.HashChildren(c, sr, sr);
                while ((sn & 1) == 0 && sn != 0)
                {
                    fn >>= 1;
                    sn >>= 1;
                    tn >>= 1;
                }
            }
            else
            {
                MerkleHash.HashChildren(sr, c, sr);
            }

            fn >>= 1;
            sn >>= 1;
            tn >>= 1;
        }

        var subtreeMatches = MerkleHash.FixedTimeEquals(fr, subtreeHash);
        var rootMatches = MerkleHash.FixedTimeEquals(sr, root);
        return tn == 0 && subtreeMatches && rootMatches;
    }

    private static bool AllHashSized(IReadOnlyList<byte[]> proof)
    {
        foreach (var node in proof)
        {
            if (node is null || node.Length != MerkleHash.Size)
            {
                return false;
            }
        }

        return true;
    }
}
