namespace TrainGuard.Pickle;

/// <summary>Bounds on one pickle analysis. Exceeding any gives a <see cref="Parsing.MalformedInputException"/> with <c>LimitExceeded</c>.</summary>
public sealed record PickleLimits
{
    public static PickleLimits Default { get; } = new();

    /// <summary>Largest pickle analysed (bytes).</summary>
    public long MaxBytes { get; init; } = 2L * 1024 * 1024 * 1024;

    public int MaxMemoEntries { get; init; } = 50_000_000;

    public int MaxStackDepth { get; init; } = 10_000_000;

    /// <summary>Open MARKs at once.</summary>
    public int MaxMarkDepth { get; init; } = 100_000;

    /// <summary>Pickles inside pickles.</summary>
    public int MaxNestingDepth { get; init; } = 8;

    /// <summary>Pickles one after another in one buffer.</summary>
    public int MaxPickles { get; init; } = 1_000;

    /// <summary>Longest single string/bytes value kept for rendering and nested analysis.</summary>
    public int MaxValueBytes { get; init; } = 64 * 1024 * 1024;

    /// <summary>Containers (lists, dicts, tuples, sets) built by one pickle; only the most recent ones and those holding imports or calls are kept in memory.</summary>
    public int MaxObjects { get; init; } = 25_000_000;

    /// <summary>Imports, calls and persistent ids recorded (each costs a record and its rendering).</summary>
    public int MaxRecords { get; init; } = 2_000_000;

    /// <summary>Wall-clock bound on one analysis.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Callables that deserialise one of their arguments as a pickle, beyond the ones the machine knows
    /// (<c>pickle.loads</c>, <c>torch.load</c>, ...): <c>module.name</c> to the argument's position. The bytes a
    /// load would pass there are analysed as a nested pickle. The scanner fills this from its derived knowledge
    /// (<c>torch.storage._load_from_bytes</c>: 0).
    /// </summary>
    public IReadOnlyDictionary<string, int> Deserializers { get; init; } = new Dictionary<string, int>(StringComparer.Ordinal);
}
