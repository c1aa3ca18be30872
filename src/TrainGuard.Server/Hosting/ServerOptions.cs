using Microsoft.Extensions.Logging;
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

    /// <summary>Addresses to listen on; port 0 picks a free port (see <see cref="TrainGuardServer.Urls"/>).</summary>
    public IReadOnlyList<string> Urls { get; init; } = [DefaultUrl];

    /// <summary>Tree head origin for a new signing key; null for <c>&lt;host&gt;/trainguard</c>.</summary>
    public string? Origin { get; init; }

    public BatchLimits Batch { get; init; } = new();

    /// <summary>Zero: a tree head after every batch; otherwise at most one per interval (batches wait for it).</summary>
    public TimeSpan TreeHeadInterval { get; init; } = TimeSpan.Zero;

    public LogFormat LogFormat { get; init; } = LogFormat.Json;

    public LogLevel LogLevel { get; init; } = LogLevel.Information;

    /// <summary>How long a verified token is remembered before its hash is looked up again.</summary>
    public TimeSpan TokenCacheTime { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Webhook delivery: timeouts, retry schedule, parallelism (docs/server.md, "Notifications (webhooks)").</summary>
    public WebhookOptions Webhooks { get; init; } = new();
}
