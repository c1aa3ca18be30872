namespace TrainGuard.Formats.Tar;

/// <summary>Bounds on reading one tar archive.</summary>
public sealed record TarLimits
{
    public static TarLimits Default { get; } = new();

    /// <summary>Most member headers (metadata headers such as PAX and GNU long names included).</summary>
    public int MaxEntries { get; init; } = 100_000;

    /// <summary>Largest declared member size accepted. Default 64 GiB.</summary>
    public long MaxEntryBytes { get; init; } = 64L * 1024 * 1024 * 1024;

    /// <summary>Largest PAX extended header or GNU long name/link member. Default 1 MiB.</summary>
    public int MaxMetadataBytes { get; init; } = 1024 * 1024;

    /// <summary>Most bytes after the end-of-archive marker checked for hidden data. Default 1 MiB.</summary>
    public int MaxTrailingScanBytes { get; init; } = 1024 * 1024;
}

/// <summary>One tar member (metadata headers are folded into the member they describe).</summary>
/// <param name="Index">Position among the members.</param>
/// <param name="Name">Full name: PAX <c>path</c>, else GNU long name, else ustar prefix + name, else the name field.</param>
/// <param name="LinkName">Link target for hard and symbolic links (PAX <c>linkpath</c> / GNU long link honoured).</param>
/// <param name="TypeFlag">The type flag byte: <c>'0'</c> or NUL regular file, <c>'5'</c> directory, <c>'2'</c> symlink ...</param>
/// <param name="Size">Member data length (PAX <c>size</c> honoured).</param>
/// <param name="HeaderOffset">Offset of the member's own 512-byte header.</param>
/// <param name="DataOffset">Offset of the member's data.</param>
public sealed record TarEntry(int Index, string Name, string LinkName, byte TypeFlag, long Size, long HeaderOffset, long DataOffset)
{
    public bool IsRegularFile => TypeFlag is 0 or (byte)'0' or (byte)'7';

    public bool IsDirectory => TypeFlag == (byte)'5';

    public bool IsLink => TypeFlag is (byte)'1' or (byte)'2';
}

public enum TarIssueKind
{
    DuplicateName,
    UnsafePath,
    Link,
    TrailingData,
}

/// <summary>A structural anomaly in a tar archive.</summary>
public sealed record TarIssue(TarIssueKind Kind, string? EntryName, long Offset, string Message);
