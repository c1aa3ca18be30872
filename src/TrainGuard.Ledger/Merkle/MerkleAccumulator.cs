namespace TrainGuard.Ledger.Merkle;

/// <summary>
/// Streams leaf hashes in order and yields the root at the current size at any point, keeping only the
/// O(log n) roots of the perfect subtrees that make up the prefix (a "compact range" starting at 0).
/// Used to re-derive tree heads from a full scan without holding the tree in memory.
/// </summary>
public sealed class MerkleAccumulator
{
    private readonly List<byte[]> _peaks = new(64);

    /// <summary>
    /// An accumulator holding the first <paramref name="size"/> leaves of <paramref name="nodes"/>: its peaks are the
    /// complete nodes that make up that prefix (one per set bit of the size), so leaves added next extend that tree.
    /// </summary>
    public static MerkleAccumulator FromNodes(IMerkleNodeSource nodes, long size)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(size, nodes.Size);
        var accumulator = new MerkleAccumulator { Size = size };
        long start = 0;
        for (var level = 62; level >= 0; level--)
        {
            if (((size >> level) & 1) == 0)
            {
                continue;
            }

            var peak = new byte[MerkleHash.Size];
            nodes.CopyNode(level, start >> level, peak);
            accumulator._peaks.Add(peak);
            start += 1L << level;
        }

        return accumulator;
    }

    /// <summary>Number of leaves added so far.</summary>
    public long Size { get; private set; }

    /// <summary>Adds the next leaf hash.</summary>
    public void Add(ReadOnlySpan<byte> leafHash)
    {
        if (leafHash.Length != MerkleHash.Size)
        {
            throw new ArgumentException("a leaf hash is 32 bytes", nameof(leafHash));
        }

        var node = leafHash.ToArray();

        // Each set trailing bit of the old size is a perfect subtree that the new leaf completes.
        for (var size = Size; (size & 1) == 1; size >>= 1)
        {
            var left = _peaks[^1];
            _peaks.RemoveAt(_peaks.Count - 1);
            MerkleHash.HashChildren(left, node, node);
        }

        _peaks.Add(node);
        Size++;
    }

    /// <summary>The Merkle Tree Hash of all leaves added so far.</summary>
    public byte[] Root()
    {
        if (_peaks.Count == 0)
        {
            return MerkleHash.EmptyRootCopy();
        }

        // Peaks are ordered largest (leftmost) first; the tree folds them from the right.
        var root = (byte[])_peaks[^1].Clone();
        for (var i = _peaks.Count - 2; i >= 0; i--)
        {
            MerkleHash.HashChildren(_peaks[i], root, root);
        }

        return root;
    }
}
