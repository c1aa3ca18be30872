namespace TrainGuard.Formats.Zip;

/// <summary>
/// Bounds on reading one archive (zip, and 7z which shares them). Exceeding any gives a
/// <see cref="Parsing.MalformedInputException"/> with <c>LimitExceeded</c> and the member name.
/// </summary>
public sealed record ZipLimits
{
    public static ZipLimits Default { get; } = new();

    /// <summary>Most central directory entries accepted. A torch checkpoint has one per tensor storage plus a handful; 100,000 covers very large models.</summary>
    public int MaxEntries { get; init; } = 100_000;

    /// <summary>Largest uncompressed member, counted on the bytes actually produced, not the declared size. Default 64 GiB (one huge tensor storage).</summary>
    public long MaxEntryBytes { get; init; } = 64L * 1024 * 1024 * 1024;

    /// <summary>Most bytes produced by all members of one archive together (re-reading a member counts again). Default 256 GiB.</summary>
    public long MaxTotalInflatedBytes { get; init; } = 256L * 1024 * 1024 * 1024;

    /// <summary>
    /// Largest uncompressed/compressed ratio of one member once it has produced more than
    /// <see cref="RatioCheckFloorBytes"/>. Deflate cannot exceed about 1032:1, so 1000 only trips on bombs
    /// and on runs of zeros.
    /// </summary>
    public int MaxCompressionRatio { get; init; } = 1000;

    /// <summary>Output size below which the ratio is not checked (small members compress wildly). Default 1 MiB.</summary>
    public long RatioCheckFloorBytes { get; init; } = 1024 * 1024;

    /// <summary>Archives inside archives the scanner follows (a zip in a zip counts 2). Enforced by the caller.</summary>
    public int MaxNesting { get; init; } = 4;

    /// <summary>Largest central directory read into memory. Default 256 MiB.</summary>
    public long MaxCentralDirectoryBytes { get; init; } = 256L * 1024 * 1024;

    /// <summary>Most bytes of gaps between entries searched for hidden local headers. Default 64 MiB.</summary>
    public long MaxGapScanBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>Most hidden local headers reported (and offered as <see cref="ZipReader.HiddenEntries"/>).</summary>
    public int MaxHiddenEntries { get; init; } = 1_000;
}
