namespace TrainGuard.Ledger.Tiles;

/// <summary>
/// A C2SP tlog-tiles resource: a hash tile <c>tile/&lt;L&gt;/&lt;N&gt;[.p/&lt;W&gt;]</c> or an entry bundle
/// <c>tile/entries/&lt;N&gt;[.p/&lt;W&gt;]</c>. <see cref="Width"/> is 256 for full tiles, 1..255 for partial ones.
/// </summary>
public readonly record struct TileAddress
{
    /// <summary>Hashes (or entries) in a full tile.</summary>
    public const int FullWidth = 256;

    /// <summary>Highest level the specification allows in a path.</summary>
    public const int MaxLevel = 63;

    public TileAddress(bool isEntryBundle, int level, long index, int width = FullWidth)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        if (width is < 1 or > FullWidth)
        {
            throw new ArgumentOutOfRangeException(nameof(width), "a tile holds 1 to 256 items");
        }

        if (isEntryBundle ? level != 0 : level is < 0 or > MaxLevel)
        {
            throw new ArgumentOutOfRangeException(nameof(level), "hash tile levels are 0..63; entry bundles have level 0");
        }

        IsEntryBundle = isEntryBundle;
        Level = level;
        Index = index;
        Width = width;
    }

    public bool IsEntryBundle { get; }

    /// <summary>Tile level: hashes at level L are Merkle nodes at tree level 8·L.</summary>
    public int Level { get; }

    /// <summary>Index of the tile within its level.</summary>
    public long Index { get; }

    public int Width { get; }

    public bool IsPartial => Width < FullWidth;

    /// <summary>A hash tile.</summary>
    public static TileAddress Hashes(int level, long index, int width = FullWidth) => new(false, level, index, width);

    /// <summary>An entry bundle.</summary>
    public static TileAddress Entries(long index, int width = FullWidth) => new(true, 0, index, width);

    /// <summary>The resource path, e.g. <c>tile/0/x001/x234/067.p/5</c>.</summary>
    public string ToPath() => TilePath.Format(this);

    public override string ToString() => ToPath();
}
