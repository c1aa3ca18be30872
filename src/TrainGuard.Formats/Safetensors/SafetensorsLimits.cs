namespace TrainGuard.Formats.Safetensors;

/// <summary>Bounds on validating one safetensors file.</summary>
public sealed record SafetensorsLimits
{
    /// <summary>The format's own ceiling on the JSON header (100,000,000 bytes).</summary>
    public const long SpecMaxHeaderBytes = 100_000_000;

    public static SafetensorsLimits Default { get; } = new();

    /// <summary>Largest JSON header accepted; never above <see cref="SpecMaxHeaderBytes"/>.</summary>
    public long MaxHeaderBytes { get; init; } = SpecMaxHeaderBytes;

    /// <summary>Most tensors in one file.</summary>
    public int MaxTensors { get; init; } = 1_000_000;

    /// <summary>Deepest JSON nesting accepted (a valid header needs 3).</summary>
    public int MaxJsonDepth { get; init; } = 8;

    /// <summary>Most dimensions of one tensor.</summary>
    public int MaxRank { get; init; } = 64;
}
