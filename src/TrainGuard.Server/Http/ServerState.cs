using Microsoft.Extensions.Logging;
using TrainGuard.Ledger.Storage;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Hosting;
using TrainGuard.Server.Ledger;
using TrainGuard.Server.Storage;
using TrainGuard.Server.Witness;

namespace TrainGuard.Server.Http;

/// <summary>What the request handlers share: the store, the log, the tree head publisher, tokens, metrics, limits.</summary>
internal sealed record ServerState(
    IServerStore Store,
    TransparencyLog Log,
    TreeHeadPublisher TreeHeads,
    TokenAuthenticator Tokens,
    TokenRateLimiter RateLimits,
    ServerMetrics Metrics,
    ServerOptions Options,
    ILogger Logger,
    TimeProvider Time)
{
    /// <summary>Witness cosignatures of the tree heads (<c>/api/v1/cosignatures</c>, cosigned <c>/checkpoint</c>).</summary>
    public required CosignedTreeHeads Cosignatures { get; init; }
}
