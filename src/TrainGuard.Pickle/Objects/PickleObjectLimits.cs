namespace TrainGuard.Pickle.Objects;

/// <summary>
/// Bounds on one <see cref="PickleObjectReader"/> read. Exceeding any gives a
/// <see cref="Parsing.MalformedInputException"/> with <c>LimitExceeded</c> and the opcode offset.
/// </summary>
public sealed record PickleObjectLimits
{
    public static PickleObjectLimits Default { get; } = new();

    /// <summary>Largest pickle read from a stream (bytes).</summary>
    public int MaxPickleBytes { get; init; } = 1024 * 1024 * 1024;

    /// <summary>Values created (each int, str, container, call...).</summary>
    public int MaxNodes { get; init; } = 20_000_000;

    /// <summary>Items held by all containers together (list/tuple/set items, dict entries, object items).</summary>
    public long MaxItems { get; init; } = 50_000_000;

    /// <summary>Nesting depth of containers as they are built.</summary>
    public int MaxDepth { get; init; } = 1_000;

    /// <summary>Values on the stack at once.</summary>
    public int MaxStack { get; init; } = 10_000_000;

    /// <summary>Open MARKs at once.</summary>
    public int MaxMarks { get; init; } = 100_000;

    /// <summary>Memo entries.</summary>
    public int MaxMemo { get; init; } = 20_000_000;

    /// <summary>Largest single str or bytes value (bytes).</summary>
    public int MaxValueBytes { get; init; } = 256 * 1024 * 1024;

    /// <summary>All str and bytes values together (bytes).</summary>
    public long MaxTotalValueBytes { get; init; } = 1024L * 1024 * 1024;

    /// <summary>Digits of a protocol 0 INT/LONG (CPython's own default bound on int/str conversion is 4300).</summary>
    public int MaxIntDigits { get; init; } = 4300;
}

/// <summary>What <see cref="PickleObjectReader"/> read: the value STOP returned and where the pickle ended.</summary>
public sealed record PickleObjectResult
{
    /// <summary>The value the pickle returns.</summary>
    public required PyValue Root { get; init; }

    /// <summary>Offset just past the STOP opcode (relative to the data given; the next pickle of a sequence starts here).</summary>
    public required long EndOffset { get; init; }

    /// <summary>Highest protocol announced by PROTO (0 without one).</summary>
    public required int Protocol { get; init; }

    /// <summary>Values created.</summary>
    public required int NodeCount { get; init; }

    /// <summary>Every persistent id in pickle order (torch storages).</summary>
    public required IReadOnlyList<PyPersistentRef> PersistentRefs { get; init; }

    /// <summary>Every global named, in pickle order (including ones that never reach <see cref="Root"/>).</summary>
    public required IReadOnlyList<PyGlobal> Globals { get; init; }

    /// <summary>BUILDs applied to values whose runtime type is unknown (a global, a persistent ref): target and state.</summary>
    public required IReadOnlyList<KeyValuePair<PyValue, PyValue>> DetachedBuilds { get; init; }
}
