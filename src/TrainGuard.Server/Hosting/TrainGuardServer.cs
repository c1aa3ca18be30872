using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using TrainGuard.Ledger.Notes;
using TrainGuard.Ledger.Storage;
using TrainGuard.Server.Alerts;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Cluster;
using TrainGuard.Server.Dashboard;
using TrainGuard.Server.Http;
using TrainGuard.Server.Ledger;
using TrainGuard.Server.Notifications;
using TrainGuard.Server.Storage;
using TrainGuard.Server.Witness;

namespace TrainGuard.Server.Hosting;

/// <summary>
/// One running server: Kestrel on the configured addresses in front of the ledger, its event index and tokens.
/// Start it with <see cref="StartAsync"/> (the CLI and tests do so in-process); stop it by disposing.
/// </summary>
public sealed class TrainGuardServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly NoteSigner _signer;
    private readonly ServerState _state;
    private readonly ServerTls? _tls;
    private SqliteServerLock? _sqliteLock;
    private Reports.ReportScheduler? _reports;
    private bool _disposed;

    private TrainGuardServer(WebApplication app, NoteSigner signer, ServerState state, ServerTls? tls, WebhookNotifications webhooks, IReadOnlyList<string> urls)
    {
        _app = app;
        _signer = signer;
        _state = state;
        _tls = tls;
        Webhooks = webhooks;
        Urls = urls;
    }

    /// <summary>The addresses actually listened on (port 0 resolved).</summary>
    public IReadOnlyList<string> Urls { get; }

    /// <summary>The first listening address, e.g. <c>http://127.0.0.1:8470/</c>.</summary>
    public Uri BaseAddress => new(Urls[0].TrimEnd('/') + "/");

    public IServerStore Store => _state.Store;

    public TransparencyLog Log => _state.Log;

    public TreeHeadPublisher TreeHeads => _state.TreeHeads;

    /// <summary>This server's part among several on one PostgreSQL database (null on SQLite).</summary>
    public SequencerCoordinator? Cluster => _state.Cluster;

    /// <summary>Webhook targets, outbox and delivery; <see cref="WebhookNotifications.Notifier"/> is what alerts are handed to.</summary>
    public WebhookNotifications Webhooks { get; }

    /// <summary>Witness cosignatures the server holds and serves.</summary>
    public CosignedTreeHeads Cosignatures => _state.Cosignatures;

    /// <summary>The alert tables.</summary>
    public AlertStore Alerts => _state.Alerts;

    /// <summary>The live alert deriver (null when <see cref="AlertServerOptions.Derive"/> is off).</summary>
    public AlertDeriver? Deriver => _state.Deriver;

    /// <summary>The verifier key clients and witnesses pin (<c>trainguard server key show</c>).</summary>
    public string VerifierKey => _state.Log.Verifier.VerifierKey;

    /// <summary>
    /// Checks the addresses and TLS files (<see cref="ServerTls.Load"/>), opens the store (refusing a ledger that no
    /// longer matches its latest tree head), then starts listening.
    /// </summary>
    /// <exception cref="Parsing.MalformedInputException">An address or TLS option or file that would make an unsafe or unusable server.</exception>
    public static async Task<TrainGuardServer> StartAsync(ServerOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Urls.Count == 0)
        {
            throw new ArgumentException("at least one listening address is needed", nameof(options));
        }

        // TLS is checked first: a server that would refuse to start creates nothing.
        var tls = ServerTls.Load(options, TimeProvider.System.GetUtcNow());
        NoteSigner signer;
        try
        {
            PrivateFiles.CreateDirectory(options.DataDirectory);
            signer = LogSigningKey.Resolve(options.DataDirectory, options.LogSigningKeyFile, options.Origin);
        }
        catch
        {
            tls?.Dispose();
            throw;
        }

        IServerStore? store = null;
        TreeHeadPublisher? publisher = null;
        WebApplication? app = null;
        WebhookNotifications? webhooks = null;
        AlertDeriver? deriver = null;
        SqliteServerLock? sqliteLock = null;
        SequencerCoordinator? cluster = null;
        try
        {
            var spec = options.Database ?? ServerStores.DefaultSpec(options.DataDirectory);
            sqliteLock = ServerStores.SqlitePath(spec) is { } sqlitePath ? SqliteServerLock.Acquire(sqlitePath) : null;
            store = await ServerStores.OpenAsync(spec, cancellationToken);
            var log = await TransparencyLog.OpenAsync(store.Ledger, signer.Name, signer, cancellationToken);
            publisher = new TreeHeadPublisher(log, options.TreeHeadInterval);
            if (store.Ledger is not PostgresLedgerStore)
            {
                await publisher.InitializeAsync(cancellationToken);
            }

            var cosignatures = await CosignedTreeHeads.OpenAsync(store, options.Witnesses, cancellationToken);
            var alerts = await AlertStore.OpenAsync(store, cancellationToken);

            app = Build(options, tls);
            var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("TrainGuard.Server");
            if (tls is not null)
            {
                tls.Logger = logger;
            }

            if (store.Ledger is PostgresLedgerStore postgres)
            {
                // Several servers may share the database: one sequences, the others hand their batches to it.
                cluster = await SequencerCoordinator.StartAsync(postgres, log, publisher, options.Cluster, logger, cancellationToken);
            }

            var state = new ServerState(store, log, publisher, new TokenAuthenticator(store, options.TokenCacheTime), new TokenRateLimiter(options.RateLimit), new ServerMetrics(), options, logger, TimeProvider.System) { Cosignatures = cosignatures, Alerts = alerts, Cluster = cluster };
            webhooks = await WebhookNotifications.StartAsync(store, options.DataDirectory, options.Webhooks, logger, TimeProvider.System, cancellationToken);
            state.Notifier = webhooks.Notifier;
            Configure(app, state);
            WebhookEndpoints.Map(app, state, webhooks.Store);
            Reports.ReportEndpoints.Map(app, state, signer);
            DashboardSetup.Map(app, state);
            if (PrivateFiles.IsShared(options.DataDirectory))
            {
                logger.LogWarning("the data directory {Directory} is open to its group or others; the server's files in it are 0600, but 'chmod 700' it", options.DataDirectory);
            }

            await app.StartAsync(cancellationToken);
            var urls = app.Urls.ToList();
            state.PublicUrl = urls[0];
            if (options.Alerts.Derive)
            {
                deriver = new AlertDeriver(store, alerts, options.Alerts, state.Notifier, logger, TimeProvider.System, id => AlertEndpoints.Link(state, id), async (appends, ct) => await state.TreeHeads.AppendAsync(appends, ct));
                state.Deriver = deriver;
                deriver.Start();
            }

            if (cluster is not null)
            {
                cluster.LogGrew = () => state.Deriver?.Wake();
            }

            logger.LogInformation("TrainGuard server listening on {Urls}; store {Store}; log {Origin} at size {TreeSize}; verifier key {VerifierKey}", string.Join(", ", urls), store.Description, log.Origin, log.Size, log.Verifier.VerifierKey);
            var server = new TrainGuardServer(app, signer, state, tls, webhooks, urls) { _sqliteLock = sqliteLock };
            if (options.Reports.Every is not null)
            {
                server._reports = new Reports.ReportScheduler(state, signer, webhooks, options.Reports);
                server._reports.Start();
            }

            return server;
        }
        catch
        {
            if (cluster is not null)
            {
                await cluster.DisposeAsync();
            }

            if (deriver is not null)
            {
                await deriver.DisposeAsync();
            }

            if (app is not null)
            {
                await app.DisposeAsync();
            }

            if (webhooks is not null)
            {
                await webhooks.DisposeAsync();
            }

            publisher?.Dispose();
            if (store is not null)
            {
                await store.DisposeAsync();
            }

            signer.Dispose();
            tls?.Dispose();
            sqliteLock?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Revokes the token with public id <paramref name="tokenId"/> in the store and forgets it at once in this process
    /// (a revocation by another process, e.g. <c>trainguard server token revoke</c>, bites within <see cref="TokenAuthenticator.MaxCacheTime"/>).
    /// </summary>
    /// <returns>The revoked token, or null when no token has that id.</returns>
    public async Task<TokenInfo?> RevokeTokenAsync(string tokenId, CancellationToken cancellationToken = default)
    {
        var revoked = await _state.Store.RevokeTokenAsync(tokenId, cancellationToken);
        _state.Tokens.Forget(tokenId);
        return revoked;
    }

    /// <summary>Waits until <paramref name="cancellationToken"/> is cancelled or the host is asked to stop.</summary>
    public async Task WaitForShutdownAsync(CancellationToken cancellationToken)
    {
        var stopping = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var a = cancellationToken.Register(() => stopping.TrySetResult());
        using var b = _app.Lifetime.ApplicationStopping.Register(() => stopping.TrySetResult());
        await stopping.Task;
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _app.StopAsync(timeout.Token);
        }
        finally
        {
            if (_reports is not null)
            {
                await _reports.DisposeAsync();
            }

            if (_state.Deriver is { } deriver)
            {
                await deriver.DisposeAsync();
            }

            await _app.DisposeAsync();
            await Webhooks.DisposeAsync();
            if (_state.Cluster is { } cluster)
            {
                await cluster.DisposeAsync();
            }

            _state.TreeHeads.Dispose();
            await _state.Store.DisposeAsync();
            _signer.Dispose();
            _tls?.Dispose();
            _sqliteLock?.Dispose();
        }
    }

    private static WebApplication Build(ServerOptions options, ServerTls? tls)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = [],
            ContentRootPath = AppContext.BaseDirectory,
            ApplicationName = "TrainGuard.Server",
        });
        builder.WebHost.UseUrls([.. options.Urls]);
        if (tls is not null)
        {
            // The slim builder leaves https out unless asked.
            builder.WebHost.UseKestrelHttpsConfiguration();
        }

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = EventEndpoints.DrainLimit(options.Batch.MaxBytes) + 1;

            // A body that arrives slower than this (after a grace period) is answered 408 (see Configure).
            kestrel.Limits.MinRequestBodyDataRate = options.MinRequestBodyDataRate;
            if (tls is not null)
            {
                kestrel.ConfigureHttpsDefaults(tls.Configure);
            }
        });
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        DashboardSetup.AddServices(builder.Services);

        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(options.LogLevel);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        if (options.LogFormat == LogFormat.Json)
        {
            builder.Logging.AddJsonConsole(o =>
            {
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";
                o.JsonWriterOptions = new JsonWriterOptions { Indented = false };
            });
        }
        else
        {
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z' ";
            });
        }

        // Logs go to standard error; standard output stays for what the CLI prints.
        builder.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        if (options.ExtraLoggerProvider is { } extra)
        {
            builder.Logging.AddProvider(extra);
        }

        return builder.Build();
    }

    private static void Configure(WebApplication app, ServerState state)
    {
        app.Use(async (context, next) =>
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                await next(context);
            }
            catch (BadHttpRequestException ex) when (!context.Response.HasStarted)
            {
                // Kestrel's own refusals while the body is read: too slow (408), too large (413), malformed framing (400).
                // The client is told why; the log gets one line, no stack trace.
                state.Logger.LogWarning("request {Method} {Path} refused with {Status}: {Reason}", context.Request.Method, context.Request.Path.Value, ex.StatusCode, ex.Message);
                context.Response.Headers.Connection = "close";
                var (kind, title) = ex.StatusCode switch
                {
                    StatusCodes.Status408RequestTimeout => ("body-timeout", "Request body too slow"),
                    StatusCodes.Status413PayloadTooLarge => ("body-too-large", "Request body too large"),
                    _ => ("bad-request", "Bad request"),
                };
                await HttpJson.ProblemAsync(context, ex.StatusCode, kind, title, ex.Message);
            }
            catch (SequencerUnavailableException ex) when (!context.Response.HasStarted)
            {
                state.Logger.LogWarning("request {Method} {Path}: {Reason}", context.Request.Method, context.Request.Path.Value, ex.Message);
                context.Response.Headers.RetryAfter = "5";
                await HttpJson.ProblemAsync(context, StatusCodes.Status503ServiceUnavailable, "no-sequencer", "No sequencer", ex.Message);
            }
            catch (Exception ex) when (!context.Response.HasStarted && !context.RequestAborted.IsCancellationRequested)
            {
                state.Logger.LogError(ex, "request {Method} {Path} failed", context.Request.Method, context.Request.Path.Value);
                await HttpJson.ProblemAsync(context, StatusCodes.Status500InternalServerError, "internal", "Internal error", "the server could not complete the request; see its log");
            }
            finally
            {
                var elapsed = Stopwatch.GetElapsedTime(started);
                var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "unmatched";
                state.Metrics.Request(context.Request.Method, route, context.Response.StatusCode, elapsed);
                var level = route is "/healthz" or "/readyz" or "/metrics" ? LogLevel.Debug : LogLevel.Information;
                if (state.Logger.IsEnabled(level))
                {
                    state.Logger.Log(level, "{Method} {Route} {Path} {Status} {ElapsedMs:F2} ms", context.Request.Method, route, context.Request.Path.Value, context.Response.StatusCode, elapsed.TotalMilliseconds);
                }
            }
        });

        RequestDelegate Handle(Func<HttpContext, ServerState, Task> handler) => context => handler(context, state);

        app.MapPost("/api/v1/events", Authorization.Require(state, [Role.Agent, Role.Signer], Handle(EventEndpoints.AppendAsync)));
        app.MapGet("/api/v1/events", Authorization.Require(state, Role.Reader, Handle(EventEndpoints.QueryAsync)));
        app.MapGet("/api/v1/events/{id}", Authorization.Require(state, Role.Reader, Handle(EventEndpoints.GetAsync)));
        app.MapGet("/api/v1/alerts", Authorization.Require(state, Role.Reader, Handle(AlertEndpoints.ListAsync)));
        app.MapGet("/api/v1/alerts/{id}", Authorization.Require(state, Role.Reader, Handle(AlertEndpoints.GetAsync)));
        app.MapPost("/api/v1/alerts/{id}/status", Authorization.Require(state, Role.Responder, Handle(AlertEndpoints.StatusAsync)));
        app.MapGet("/api/v1/timeline", Authorization.Require(state, Role.Reader, Handle(AlertEndpoints.TimelineAsync)));

        // The public witness view: signed tree heads and hashes only, nothing of the events themselves.
        app.MapGet("/api/v1/proof/consistency", Handle(LogEndpoints.ConsistencyAsync));
        app.MapGet("/api/v1/log", Handle(LogEndpoints.InfoAsync));
        app.MapGet("/checkpoint", Handle(LogEndpoints.CheckpointAsync));
        app.MapGet("/tile/{**path}", Handle(LogEndpoints.HashTileAsync));
        app.MapGet("/api/v1/checkpoint/cosigned", Handle(WitnessEndpoints.CosignedAsync));

        // Witnesses need no token: a cosignature of a configured witness key is the credential (C2SP tlog-witness).
        app.MapPost("/api/v1/cosignatures", Handle(WitnessEndpoints.SubmitAsync));

        // Entry bundles hold the events (users, hosts, command lines): a reader's.
        app.MapGet("/tile/entries/{**path}", Authorization.Require(state, Role.Reader, Handle(LogEndpoints.EntryBundleAsync)));
        app.MapGet("/healthz", (RequestDelegate)OpsEndpoints.HealthAsync);
        app.MapGet("/readyz", Handle(OpsEndpoints.ReadyAsync));
        app.MapGet("/metrics", Authorization.Require(state, Role.Reader, Handle(OpsEndpoints.MetricsAsync)));
    }
}
