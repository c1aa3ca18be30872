using Microsoft.Extensions.Logging;
using TrainGuard.Ledger.Storage;
using TrainGuard.Server.Alerts;
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

    /// <summary>The alert tables (<c>/api/v1/alerts</c>, <c>/api/v1/timeline</c>).</summary>
    public required AlertStore Alerts { get; init; }

    /// <summary>This server's part among several on one PostgreSQL database (null on SQLite).</summary>
    public TrainGuard.Server.Cluster.SequencerCoordinator? Cluster { get; set; }

    /// <summary>The live alert deriver, woken after every append (null when derivation is off).</summary>
    public AlertDeriver? Deriver { get; set; }

    /// <summary>Told about every alert change once it is stored.</summary>
    public IAlertNotifier Notifier { get; set; } = NullAlertNotifier.Instance;

    /// <summary>The base URL alert links in notifications start with (the first listening address).</summary>
    public string PublicUrl { get; set; } = string.Empty;
}
