using TrainGuard.Ledger.Storage;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Events;

namespace TrainGuard.Server.Storage;

/// <summary>
/// Everything the server keeps, in one database: the ledger (<see cref="Ledger"/>), a query index over the stored
/// events written in the same transaction as their ledger rows, and the hashes of API tokens.
/// </summary>
public interface IServerStore : IAsyncDisposable
{
    /// <summary>The ledger store; its appends also write the event index.</summary>
    ILedgerStore Ledger { get; }

    /// <summary>Where the data lives, safe to print (no password).</summary>
    string Description { get; }

    /// <summary>Events matching <paramref name="query"/>, in ledger order.</summary>
    Task<IReadOnlyList<StoredEvent>> QueryAsync(EventQuery query, CancellationToken cancellationToken = default);

    /// <summary>Every event index row in ledger order (for audits).</summary>
    IAsyncEnumerable<EventIndexRow> ScanIndexAsync(CancellationToken cancellationToken = default);

    /// <summary>Stores the hash of a new token.</summary>
    Task AddTokenAsync(byte[] tokenHash, Role role, string? label, CancellationToken cancellationToken = default);

    /// <summary>The role of the token with this hash, or null.</summary>
    Task<Role?> FindTokenRoleAsync(byte[] tokenHash, CancellationToken cancellationToken = default);

    /// <summary>Stored tokens (hash prefixes only), oldest first.</summary>
    Task<IReadOnlyList<TokenInfo>> ListTokensAsync(CancellationToken cancellationToken = default);
}

/// <summary>One stored event: its leaf index and its committed canonical JSON.</summary>
public sealed record StoredEvent(long Index, byte[] Entry);

/// <summary>Filters and paging of <c>GET /api/v1/events</c>.</summary>
public sealed record EventQuery
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;

    /// <summary>Inclusive lower bound on <c>@timestamp</c>, Unix microseconds.</summary>
    public long? FromMicros { get; init; }

    /// <summary>Exclusive upper bound on <c>@timestamp</c>, Unix microseconds.</summary>
    public long? ToMicros { get; init; }

    public string? Host { get; init; }

    public string? User { get; init; }

    public string? Action { get; init; }

    /// <summary>Continue after this leaf index (in the chosen order).</summary>
    public long? After { get; init; }

    public bool Descending { get; init; }

    public int Limit { get; init; } = DefaultLimit;
}

/// <summary>A stored token as listed: the first bytes of its hash, its role, label and creation time.</summary>
public sealed record TokenInfo(string HashPrefix, Role Role, string? Label, DateTimeOffset CreatedAt);
