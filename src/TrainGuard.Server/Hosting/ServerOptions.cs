using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using TrainGuard.Ledger.Notes;
using TrainGuard.Server.Alerts;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Events;
using TrainGuard.Server.Notifications;

namespace TrainGuard.Server.Hosting;

/// <summary>How logs are written to standard error.</summary>
public enum LogFormat
{
    /// <summary>One JSON object per line (for log shippers).</summary>
    Json,

    /// <summary>One human-readable line per entry.</summary>
    Text,
}

/// <summary>Settings of one server instance (the <c>trainguard server run</c> options).</summary>
public sealed record ServerOptions
{
    public const string DefaultUrl = "http://127.0.0.1:8470";

    /// <summary>Holds the log's signing key and, by default, the SQLite database.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>The store (<c>sqlite:PATH</c> or a PostgreSQL connection string); null for the SQLite file in the data directory.</summary>
    public string? Database { get; init; }

    /// <summary>
    /// Addresses to listen on; port 0 picks a free port (see <see cref="TrainGuardServer.Urls"/>). An <c>https://</c>
    /// address needs <see cref="TlsCertificateFile"/>; a plain <c>http://</c> address that is not loopback needs
    /// <see cref="AllowInsecureHttp"/>.
    /// </summary>
    public IReadOnlyList<string> Urls { get; init; } = [DefaultUrl];

    /// <summary>PEM certificate chain (the server's certificate first, then intermediates) served on <c>https://</c> addresses.</summary>
    public string? TlsCertificateFile { get; init; }

    /// <summary>PEM private key of <see cref="TlsCertificateFile"/>; readable by its owner only (mode 0600).</summary>
    public string? TlsKeyFile { get; init; }

    /// <summary>
    /// PEM CA certificate(s): when set, every TLS client must present a certificate chaining to one of them (and
    /// still send a bearer token wherever the endpoint needs one).
    /// </summary>
    public string? ClientCaFile { get; init; }

    /// <summary>Listen with plain http on a non-loopback address (only behind a TLS-terminating proxy).</summary>
    public bool AllowInsecureHttp { get; init; }

    /// <summary>Tree head origin for a new signing key; null for <c>&lt;host&gt;/trainguard</c>.</summary>
    public string? Origin { get; init; }

    /// <summary>
    /// The log signing key file (<c>--log-signing-key</c>); null: <c>TRAINGUARD_LOG_SIGNING_KEY</c> when set, else the data
    /// directory's key. Servers sharing one database must share the key (<see cref="Ledger.LogSigningKey.Resolve"/>).
    /// </summary>
    public string? LogSigningKeyFile { get; init; }

    /// <summary>Timings of several servers on one PostgreSQL database (sequencer election, staging).</summary>
    public TrainGuard.Server.Cluster.ClusterOptions Cluster { get; init; } = new();

    public BatchLimits Batch { get; init; } = new();

    /// <summary>Zero: a tree head after every batch; otherwise at most one per interval (batches wait for it).</summary>
    public TimeSpan TreeHeadInterval { get; init; } = TimeSpan.Zero;

    public LogFormat LogFormat { get; init; } = LogFormat.Json;

    public LogLevel LogLevel { get; init; } = LogLevel.Information;

    /// <summary>
    /// How long a verified token is remembered before its hash is looked up again: at most one second
    /// (<see cref="TokenAuthenticator.MaxCacheTime"/>), so a revocation from another process bites within it.
    /// </summary>
    public TimeSpan TokenCacheTime { get; init; } = TokenAuthenticator.MaxCacheTime;

    /// <summary>
    /// The slowest a request body may arrive after its grace period (Kestrel's <c>MinRequestBodyDataRate</c>); slower: 408.
    /// Default 240 bytes/s after 5 s.
    /// </summary>
    public MinDataRate MinRequestBodyDataRate { get; init; } = new(bytesPerSecond: 240, gracePeriod: TimeSpan.FromSeconds(5));

    /// <summary>A logger provider added beside the console (tests read what the server logs).</summary>
    internal ILoggerProvider? ExtraLoggerProvider { get; init; }

    /// <summary>Requests per token: a steady rate and a burst; over it, 429 with <c>Retry-After</c>. <see cref="RateLimit.None"/> turns it off.</summary>
    public RateLimit RateLimit { get; init; } = new();

    /// <summary>Webhook delivery: timeouts, retry schedule, parallelism (docs/server.md, "Notifications (webhooks)").</summary>
    public WebhookOptions Webhooks { get; init; } = new();

    /// <summary>Alerts: the detection rules, the agent-silent factor (docs/alerts.md).</summary>
    public AlertServerOptions Alerts { get; init; } = new();

    /// <summary>The scheduled audit report (docs/report.md); none unless <see cref="Reports.ReportServerOptions.Every"/> is set.</summary>
    public Reports.ReportServerOptions Reports { get; init; } = new();

    /// <summary>Witness keys whose <c>cosignature/v1</c> cosignatures the server accepts and serves (<c>--witness-key</c>).</summary>
    public IReadOnlyList<CosignerVerifier> Witnesses { get; init; } = [];
}
