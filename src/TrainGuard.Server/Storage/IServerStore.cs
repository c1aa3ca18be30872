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

    /// <summary>
    /// The leaves holding an event with id <paramref name="eventId"/>, oldest first (at most 100): ids are unique per
    /// submitter identity, so events from different hosts or people may share one.
    /// </summary>
    Task<IReadOnlyList<long>> FindEventAsync(string eventId, CancellationToken cancellationToken = default);

    /// <summary>Stores the hash of a new unbound token (kept for callers that predate identities).</summary>
    Task AddTokenAsync(byte[] tokenHash, Role role, string? label, CancellationToken cancellationToken = default);

    /// <summary>Stores the hash of a new token with its role, identity, label and expiry.</summary>
    /// <exception cref="ArgumentException">The grant is not valid (a signer token without a person, a bad identity).</exception>
    Task AddTokenAsync(byte[] tokenHash, TokenGrant grant, CancellationToken cancellationToken = default);

    /// <summary>The token with this hash (revoked and expired ones too), or null.</summary>
    Task<TokenInfo?> FindTokenAsync(byte[] tokenHash, CancellationToken cancellationToken = default);

    /// <summary>Stored tokens (public ids only), oldest first.</summary>
    Task<IReadOnlyList<TokenInfo>> ListTokensAsync(CancellationToken cancellationToken = default);

    /// <summary>Revokes the token with public id <paramref name="tokenId"/> (a revoked token stays revoked); null when no token has that id.</summary>
    Task<TokenInfo?> RevokeTokenAsync(string tokenId, CancellationToken cancellationToken = default);

    /// <summary>Records that the token with this hash was used at <paramref name="at"/>.</summary>
    Task MarkTokenUsedAsync(byte[] tokenHash, DateTimeOffset at, CancellationToken cancellationToken = default);
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

/// <summary>What a new token may do: its role, the host (agent) or person (signer) it is bound to, a label and an optional expiry.</summary>
public sealed record TokenGrant(Role Role, string? Identity = null, string? Label = null, DateTimeOffset? ExpiresAt = null);

/// <summary>
/// A stored token as listed: its public id (<see cref="ApiTokens.Id"/>), role, identity (null: unbound), label, creation,
/// expiry, revocation and last use (to the minute).
/// </summary>
public sealed record TokenInfo(string Id, Role Role, string? Identity, string? Label, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt = null, DateTimeOffset? RevokedAt = null, DateTimeOffset? LastUsedAt = null)
{
    /// <summary>An agent token from before tokens were bound to an identity: it may send events for any host, in the shared id scope.</summary>
    public bool IsLegacy => Identity is null && Role is Role.Agent or Role.Signer;

    public bool IsExpired(DateTimeOffset now) => ExpiresAt is { } expires && expires <= now;

    /// <summary>The submitter a request with this token is recorded as.</summary>
    public Submitter ToSubmitter() => new(Id, Role, Identity, Label);
}
