namespace TrainGuard.Findings;

/// <summary>One analysed item (a file for <c>scan</c>, a package for <c>env</c>...) with its verdict and findings.</summary>
public sealed record AnalyzedItem
{
    public required string Path { get; init; }

    /// <summary>The detected format (<c>pickle</c>, <c>torch-zip</c>, <c>safetensors</c>...) or item kind.</summary>
    public required string Format { get; init; }

    public required Verdict Verdict { get; init; }

    public IReadOnlyList<Finding> Findings { get; init; } = [];

    public long? Size { get; init; }

    /// <summary>Hex SHA-256 of the item, when it was computed.</summary>
    public string? Sha256 { get; init; }

    /// <summary>Archive members that were analysed (for text output and JSON).</summary>
    public IReadOnlyList<string>? Members { get; init; }

    public TimeSpan? Elapsed { get; init; }
}
