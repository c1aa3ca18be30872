using TrainGuard.Ledger.Merkle;

namespace TrainGuard.Ledger.Tiles;

/// <summary>
/// Builds C2SP tlog-tiles resources: hash tiles from the tree nodes, and the leaf range of each entry bundle
/// (the storage reads the entries). A tile exists for a tree size when all of its hashes (or entries) lie below that size.
/// </summary>
public static class TileReader
{
    private const int TreeLevelsPerTile = 8;

    /// <summary>True when <paramref name="address"/> can be served for a tree of <paramref name="treeSize"/> leaves.</summary>
    public static bool Exists(TileAddress address, long treeSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(treeSize);
        var treeLevel = address.Level * TreeLevelsPerTile;
        if (treeLevel >= 63)
        {
            return false;
        }

        var available = treeSize >> treeLevel;
        var maxIndex = (available - address.Width) / TileAddress.FullWidth;
        return available >= address.Width && address.Index <= maxIndex &&
               (address.Index * TileAddress.FullWidth) + address.Width <= available;
    }

    /// <summary>The tiles (full and the partial ones) that describe a tree of <paramref name="treeSize"/> leaves.</summary>
    public static IEnumerable<TileAddress> TilesFor(long treeSize, bool includeEntryBundles = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(treeSize);
        for (var level = 0; level * TreeLevelsPerTile < 63; level++)
        {
            var available = treeSize >> (level * TreeLevelsPerTile);
            if (available == 0)
            {
                yield break;
            }

            var full = available / TileAddress.FullWidth;
            var partial = (int)(available % TileAddress.FullWidth);
            for (var n = 0L; n < full; n++)
            {
                yield return TileAddress.Hashes(level, n);
                if (level == 0 && includeEntryBundles)
                {
                    yield return TileAddress.Entries(n);
                }
            }

            if (partial > 0)
            {
                yield return TileAddress.Hashes(level, full, partial);
                if (level == 0 && includeEntryBundles)
                {
                    yield return TileAddress.Entries(full, partial);
                }
            }
        }
    }

    /// <summary>The concatenated 32-byte hashes of a hash tile.</summary>
    public static byte[] ReadHashTile(IMerkleNodeSource nodes, TileAddress address, long treeSize)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        if (address.IsEntryBundle)
        {
            throw new ArgumentException("use EntryBundleRange for entry bundles", nameof(address));
        }

        CheckExists(address, treeSize, nodes.Size);
        var treeLevel = address.Level * TreeLevelsPerTile;
        var tile = new byte[address.Width * MerkleHash.Size];
        var first = address.Index * TileAddress.FullWidth;
        for (var i = 0; i < address.Width; i++)
        {
            nodes.CopyNode(treeLevel, first + i, tile.AsSpan(i * MerkleHash.Size, MerkleHash.Size));
        }

        return tile;
    }

    /// <summary>
    /// The leaf range <c>[Start, Start + Count)</c> whose entries make up the entry bundle <paramref name="address"/>
    /// (encode them with <see cref="EntryBundle.Encode"/>), after checking the bundle exists at <paramref name="treeSize"/>
    /// and that size is within the <paramref name="available"/> leaves.
    /// </summary>
    public static (long Start, int Count) EntryBundleRange(TileAddress address, long treeSize, long available)
    {
        if (!address.IsEntryBundle)
        {
            throw new ArgumentException("use ReadHashTile for hash tiles", nameof(address));
        }

        CheckExists(address, treeSize, available);
        return (address.Index * TileAddress.FullWidth, address.Width);
    }

    private static void CheckExists(TileAddress address, long treeSize, long available)
    {
        if (treeSize > available)
        {
            throw new ArgumentOutOfRangeException(nameof(treeSize), $"tree size {treeSize} is beyond the {available} leaves available");
        }

        if (!Exists(address, treeSize))
        {
            throw new ArgumentOutOfRangeException(nameof(address), $"{address} does not exist in a tree of size {treeSize}");
        }
    }
}
