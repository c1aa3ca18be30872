using System.CommandLine;
using Microsoft.Extensions.Logging;
using TrainGuard.Cli.Options;
using TrainGuard.Findings;
using TrainGuard.Server.Alerts;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Events;
using TrainGuard.Server.Hosting;
using TrainGuard.Server.Ledger;
using TrainGuard.Server.Storage;

namespace TrainGuard.Cli.Commands;

/// <summary><c>trainguard server run</c>: the ingestion/ledger server; <c>server token create|list|revoke</c>, <c>server key show</c>.</summary>
public static class ServerCommand
{
    public const string Description = """
        The TrainGuard server: agents POST event batches to /api/v1/events, each event is appended to the signed
        Merkle ledger (one leaf per event, a signed tree head after each batch) and indexed for queries in the same
        transaction. The read side is also served as C2SP tlog-tiles (/checkpoint, /tile/...) for witnesses.

        Examples:
          trainguard server run                               listen on 127.0.0.1:8470, SQLite in the data directory
          trainguard server run --urls https://0.0.0.0:8443 --tls-cert server.crt --tls-key server.key --db "Host=db;Database=trainguard;Username=tg"
          trainguard server token create --role agent --host gpu-node-17   a token for one node (printed once)
          trainguard server token list                        ids, roles, bound hosts/people, expiry, last use
          trainguard server token revoke 3f2a9c01b7de         refused from then on (within a second)
          trainguard server key show                          print the verifier key to pin in clients
        See docs/server.md.
        """;

    public const string RunDescription = """
        Run the server until stopped (Ctrl+C or SIGTERM). Listens on 127.0.0.1:8470 by default; the log signing key
        and the SQLite database live in the data directory (--data-dir), PostgreSQL is chosen with --db.
        Other machines reach it over https only: --urls https://HOST:PORT with --tls-cert and --tls-key (PEM);
        --client-ca also requires a client certificate (bearer tokens are still needed). Plain http on a non-loopback
        address is refused unless --allow-insecure-http (only behind a TLS-terminating proxy). See docs/server.md, TLS.

        Several servers may share one PostgreSQL database (each with the same --log-signing-key): one holds the
        sequencer role, the others hand their batches to it and answer once they are in the signed log; when the
        sequencer dies another takes over within seconds. A SQLite database serves one server only. See docs/server.md,
        "Several servers on PostgreSQL".

        Every committed event is evaluated against the detection rules (the built-in TG-DET-* rules and the site's
        --rules folder, placeholders from --placeholder) and folded into alerts (GET /api/v1/alerts, webhooks); an
        agent whose heartbeat is older than its interval times --agent-silent-factor raises agent-silent. See
        docs/alerts.md.

        Exit codes: 0 stopped cleanly, 2 error (the address is in use, the database or key cannot be opened, a TLS
        certificate or key is missing, unreadable, readable by others or not matching, a rule that does not load
        (file:line:column and why), bad usage).
        """;

    public const string ListeningPrefix = "trainguard server listening on ";

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var urls = new Option<string[]>("--urls")
        {
            Description = $"Addresses to listen on (repeatable; port 0 picks a free port). Default {ServerOptions.DefaultUrl}. https:// needs --tls-cert and --tls-key; plain http:// only on loopback unless --allow-insecure-http.",
            DefaultValueFactory = _ => [ServerOptions.DefaultUrl],
            AllowMultipleArgumentsPerToken = true,
        };
        var tlsCert = new Option<string?>("--tls-cert") { HelpName = "FILE", Description = "PEM certificate chain served on https:// addresses: the server's certificate first, then intermediates." };
        var tlsKey = new Option<string?>("--tls-key") { HelpName = "FILE", Description = "PEM private key of --tls-cert (unencrypted, mode 0600: a key others can read is refused)." };
        var clientCa = new Option<string?>("--client-ca") { HelpName = "FILE", Description = "PEM CA certificate(s): every client must present a certificate chaining to one of them, in addition to its bearer token." };
        var insecure = new Option<bool>("--allow-insecure-http") { Description = "Allow plain http:// on a non-loopback address. Only behind a TLS-terminating proxy on the same host: otherwise tokens and events cross the network in clear text." };
        var data = CommonOptions.DataDirectory();
        var db = CommonOptions.Database();
        var origin = new Option<string?>("--origin") { Description = "Tree head origin line for a new log key (default <host name>/trainguard)." };
        var signingKey = SigningKeyOption();
        var maxEvents = new Option<int>("--max-batch-events") { Description = "Most events in one batch (more: 413).", DefaultValueFactory = _ => new BatchLimits().MaxEvents };
        var maxBytes = new Option<long>("--max-batch-bytes") { Description = "Largest batch body in bytes (more: 413).", DefaultValueFactory = _ => new BatchLimits().MaxBytes };
        var interval = new Option<int>("--tree-head-interval-ms") { Description = "0: sign a tree head after every batch; N: at most one per N ms (batches wait for it).", DefaultValueFactory = _ => 0 };
        var rate = new Option<double>("--rate-limit") { HelpName = "PER_SECOND", Description = "Requests per second each token may make on average (0: no limit); over it: 429 with Retry-After.", DefaultValueFactory = _ => new RateLimit().PerSecond };
        var burst = new Option<int>("--rate-burst") { HelpName = "N", Description = "Requests a token may make at once before --rate-limit applies.", DefaultValueFactory = _ => new RateLimit().Burst };
        rate.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double>() is < 0 or double.NaN or double.PositiveInfinity)
            {
                r.AddError("--rate-limit must be 0 (no limit) or a positive number of requests per second");
            }
        });
        burst.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 1)
            {
                r.AddError("--rate-burst must be at least 1");
            }
        });
        var logFormat = new Option<string>("--log-format") { Description = "Log lines on standard error: json or text.", DefaultValueFactory = _ => "json" };
        logFormat.AcceptOnlyFromAmong("json", "text");
        var witnessKeys = new Option<string[]>("--witness-key")
        {
            HelpName = "KEY|FILE",
            Description = "A witness whose cosignatures are accepted (POST /api/v1/cosignatures) and served with the tree heads: its verifier key (name+keyid+base64, the .vkey 'keys new --witness' writes) or a file holding it. Repeatable; a cosignature of any other witness is refused.",
            DefaultValueFactory = _ => [],
        };
        var rules = RulesOption();
        var placeholders = PlaceholderOption();
        var silentFactor = new Option<double>("--agent-silent-factor")
        {
            HelpName = "N",
            Description = "An agent is silent (an agent-silent alert) when its latest heartbeat is older than its announced interval times N.",
            DefaultValueFactory = _ => AlertServerOptions.DefaultSilentFactor,
        };
        silentFactor.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double>() is < 1 or double.NaN or double.PositiveInfinity)
            {
                r.AddError("--agent-silent-factor must be a number of intervals, at least 1");
            }
        });
        var runManifests = new Option<DirectoryInfo?>("--run-manifests")
        {
            HelpName = "DIR",
            Description = "Run manifests (run.yaml, as 'ckpt check --run' reads them) by run name: DIR/NAME.yaml is the manifest of the run named NAME (trainguard.run.name); the run detectors check its seed and learning-rate schedule live. See docs/runs-forensics.md.",
        };
        var reportEvery = new Option<string?>("--report-every")
        {
            HelpName = "AGE",
            Description = "Issue the signed audit report (docs/report.md) every AGE (7d, 24h, 90m), covering the time since the last one: HTML and JSON in DATA_DIR/reports, a report.issued webhook to every enabled target. Default: no scheduled report.",
        };
        var logLevel = new Option<string>("--log-level") { Description = "Least severe log level: trace, debug, information, warning, error.", DefaultValueFactory = _ => "information" };
        logLevel.AcceptOnlyFromAmong("trace", "debug", "information", "warning", "error");
        maxEvents.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 1 or > Ledger.Storage.LedgerLimits.MaxBatchEntries)
            {
                r.AddError($"--max-batch-events must be 1..{Ledger.Storage.LedgerLimits.MaxBatchEntries}");
            }
        });
        maxBytes.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<long>() is < 1024 or > int.MaxValue - 1)
            {
                r.AddError("--max-batch-bytes must be 1024..2147483646");
            }
        });
        interval.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 0)
            {
                r.AddError("--tree-head-interval-ms must not be negative");
            }
        });

        var command = new Command("server", Description);
        var run = new Command("run", RunDescription);
        run.AddOptions(urls, tlsCert, tlsKey, clientCa, insecure, data, db, origin, signingKey, maxEvents, maxBytes, interval, rate, burst, witnessKeys, rules, placeholders, silentFactor, runManifests, reportEvery, logFormat, logLevel);
        run.SetAction(async (parse, ct) =>
        {
            // The rules are loaded first: one that does not load refuses the start, naming its file and line.
            var ruleSet = LoadRules(parse.GetValue(rules), parse.GetValue(placeholders));
            var options = new ServerOptions
            {
                DataDirectory = DataDirectory(parse.GetValue(data)),
                Database = parse.GetValue(db),
                Urls = parse.GetValue(urls)!,
                TlsCertificateFile = parse.GetValue(tlsCert),
                TlsKeyFile = parse.GetValue(tlsKey),
                ClientCaFile = parse.GetValue(clientCa),
                AllowInsecureHttp = parse.GetValue(insecure),
                Origin = parse.GetValue(origin),
                LogSigningKeyFile = parse.GetValue(signingKey),
                Batch = new BatchLimits { MaxEvents = parse.GetValue(maxEvents), MaxBytes = parse.GetValue(maxBytes) },
                TreeHeadInterval = TimeSpan.FromMilliseconds(parse.GetValue(interval)),
                RateLimit = new RateLimit(parse.GetValue(rate), parse.GetValue(burst)),
                Witnesses = [.. parse.GetValue(witnessKeys)!.Select(WitnessKey)],
                Alerts = new AlertServerOptions { Rules = ruleSet, SilentFactor = parse.GetValue(silentFactor), Runs = RunDetectors(parse.GetValue(runManifests)) },
                Reports = new Server.Reports.ReportServerOptions
                {
                    Every = parse.GetValue(reportEvery) is { } every
                        ? ParseAge(every) ?? throw new CliException($"--report-every '{TextSanitizer.Escape(every, 40)}': give an age (7d, 24h, 90m)")
                        : null,
                },
                LogFormat = parse.GetValue(logFormat) == "text" ? LogFormat.Text : LogFormat.Json,
                LogLevel = Enum.Parse<LogLevel>(parse.GetValue(logLevel)!, ignoreCase: true),
            };
            await using var server = await Guard(() => TrainGuardServer.StartAsync(options, ct));
            await stdout.WriteLineAsync(ListeningPrefix + string.Join(' ', server.Urls));
            await stdout.FlushAsync(CancellationToken.None);
            await server.WaitForShutdownAsync(ct);
            return ExitCodes.Clean;
        });

        command.Subcommands.Add(run);
        command.Subcommands.Add(TokenCommand(stdout));
        command.Subcommands.Add(KeyCommand(stdout));
        command.Subcommands.Add(WebhookCommand.Create(stdout));
        return command;
    }

    /// <summary><c>--log-signing-key FILE</c> (shared by <c>server run</c> and <c>server key show</c>).</summary>
    private static Option<string?> SigningKeyOption() => new("--log-signing-key")
    {
        HelpName = "FILE",
        Description = "The log signing key file (mode 0600) instead of the data directory's; without it, TRAINGUARD_LOG_SIGNING_KEY holds the key when set. Every server on one PostgreSQL database needs the same key.",
    };

    /// <summary><c>--rules DIR</c>: a site's rule folder, loaded after the built-in rules (shared with <c>rules run</c>).</summary>
    internal static Option<string?> RulesOption() => new("--rules")
    {
        HelpName = "DIR",
        Description = "A folder of the site's Sigma rule files (*.yml, *.yaml, read recursively; detections, correlations, filters), loaded after the built-in rules so they may name them. A rule that does not load is an error naming its file and line. Check them first with 'trainguard rules test DIR --builtin'.",
    };

    /// <summary><c>--placeholder NAME=VALUE</c>, repeatable (shared with <c>rules run</c>).</summary>
    internal static Option<string[]> PlaceholderOption() => new("--placeholder")
    {
        HelpName = "NAME=VALUE",
        Description = "Adds VALUE (a path; * and ? match) to a rule placeholder: PackageManagers, ServiceBinaries, SchedulerBinaries (built in, see docs/detections.md), or a new one a site rule uses. Repeatable, one value each, e.g. --placeholder PackageManagers=/opt/conda/bin/conda.",
        DefaultValueFactory = _ => [],
    };

    /// <summary>The built-in rules, the site's folder and the placeholders; a rule or placeholder that does not load is a one-line error.</summary>
    internal static Detections.DetectionRuleSet LoadRules(string? directory, string[]? placeholders)
    {
        try
        {
            return AlertRules.Load(directory is null ? null : Path.GetFullPath(directory), AlertRules.ParsePlaceholders(placeholders ?? []));
        }
        catch (Parsing.MalformedInputException ex)
        {
            throw new CliException($"--rules: {ex.Message}", ex);
        }
        catch (ArgumentException ex)
        {
            throw new CliException(ex.Message.Split(" (Parameter", 2)[0], ex);
        }
    }

    /// <summary>A witness verifier key given inline or as a file holding it (<c>--witness-key</c>).</summary>
    private static Ledger.Notes.CosignerVerifier WitnessKey(string value)
    {
        var text = File.Exists(value) ? File.ReadAllText(value).Trim() : value.Trim();
        try
        {
            return Ledger.Notes.CosignerVerifier.Parse(text);
        }
        catch (Parsing.MalformedInputException ex)
        {
            var hint = File.Exists(value) ? $" (in {Path.GetFullPath(value)})" : text.Contains('+', StringComparison.Ordinal) ? string.Empty : $" (and no file {Path.GetFullPath(text)} exists)";
            throw new CliException($"--witness-key: {ex.Message}{hint}", ex);
        }
    }

    internal static string DataDirectory(string? given)
    {
        if (!string.IsNullOrEmpty(given))
        {
            return Path.GetFullPath(given);
        }

        if (Environment.GetEnvironmentVariable("TRAINGUARD_DATA_DIR") is { Length: > 0 } env)
        {
            return Path.GetFullPath(env);
        }

        var xdg = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        var root = !string.IsNullOrEmpty(xdg) ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share");
        return Path.Combine(root, "trainguard");
    }

    /// <summary>Opens the store <c>--db</c>/<c>--data-dir</c> name; with <paramref name="mustExist"/> a SQLite file that is not there is an error, never a new empty ledger.</summary>
    internal static async Task<IServerStore> OpenStoreAsync(string? db, string? dataDirectory, bool mustExist, CancellationToken ct)
    {
        var spec = db ?? ServerStores.DefaultSpec(DataDirectory(dataDirectory));
        if (mustExist && spec.StartsWith(SqlitePrefix, StringComparison.OrdinalIgnoreCase) && spec[SqlitePrefix.Length..] is { Length: > 0 } path && !File.Exists(path))
        {
            throw new CliException(db is null
                ? $"no database at {Path.GetFullPath(path)} (the data directory's default); name the server's database with --db or its folder with --data-dir"
                : $"--db: database {Path.GetFullPath(path)} does not exist");
        }

        return await Guard(() => ServerStores.OpenAsync(spec, ct));
    }

    private const string SqlitePrefix = "sqlite:";

    /// <summary>Turns setup failures (bad --db, unreachable database, foreign key file, rewritten ledger, TLS files) into one-line CLI errors.</summary>
    internal static async Task<T> Guard<T>(Func<Task<T>> action)
    {
        try
        {
            return await action();
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or Ledger.Storage.LedgerIntegrityException or Parsing.MalformedInputException
                                       or Microsoft.Data.Sqlite.SqliteException or Npgsql.NpgsqlException or System.Net.Sockets.SocketException)
        {
            throw new CliException(ex.Message, ex);
        }
    }

    private static Command TokenCommand(TextWriter stdout)
    {
        var role = new Option<string>("--role") { Description = "agent (appends its host's events; needs --host), signer (records checkpoint-* events for one person, as ckpt sign --server does; needs --user), reader (may read events, alerts, timelines, entry tiles and metrics), responder (reads what a reader reads and acknowledges, closes and reopens alerts; --user names the person), admin (everything).", Required = true };
        role.AcceptOnlyFromAmong("agent", "signer", "reader", "responder", "admin");
        var host = new Option<string?>("--host") { HelpName = "NAME", Description = "The node an agent token is bound to: its events must carry this host.name." };
        var user = new Option<string?>("--user") { HelpName = "NAME", Description = "The person a signer token is bound to (its events must carry this user.name), or a responder token's person (named in the alert history it writes; optional)." };
        var label = new Option<string?>("--label") { Description = "A note stored with the token's hash (recorded with every event it sends)." };
        var expires = new Option<string?>("--expires") { HelpName = "AGE|DATE", Description = "When the token stops working: an age (30d, 12h, 90m) or an RFC 3339 date-time. Default: never." };
        var data = CommonOptions.DataDirectory();
        var db = CommonOptions.Database();
        var create = new Command("create", """
            Create a token with a role and print it once (only its SHA-256 is stored). Agent tokens are bound to one
            node (--host) and signer tokens to one person (--user): the server refuses their events for another host
            or person and records the token with every event it stores. The server reads tokens from its database, so
            run this with the server's --data-dir/--db; save the token to a file (mode 0600) and pass it with --token-file.

            Examples:
              trainguard server token create --role agent --host gpu-node-17 > gpu-node-17.token
              trainguard server token create --role signer --user alice --expires 90d > alice.token
              trainguard server token create --role reader > reader.token
              trainguard server token create --role responder --user alice > alice-responder.token

            Exit codes: 0 created, 2 error (bad usage, no such database).
            """);
        create.Aliases.Add("new");
        create.AddOptions(role, host, user, label, expires, data, db);
        create.SetAction(async (parse, ct) =>
        {
            _ = Roles.TryParse(parse.GetValue(role), out var r);
            var identity = (r, parse.GetValue(host), parse.GetValue(user)) switch
            {
                (Role.Agent, { } h, null) => h,
                (Role.Agent, _, _) => throw new CliException("--role agent needs --host NAME (the node whose events it sends), and no --user"),
                (Role.Signer, null, { } u) => u,
                (Role.Signer, _, _) => throw new CliException("--role signer needs --user NAME (the person it signs for), and no --host"),
                (Role.Responder, null, var u) => u,
                (_, null, null) => null,
                _ => throw new CliException($"--role {r.ToWireName()} is not bound to a host or person: drop --host/--user"),
            };
            if (identity is not null && ApiTokens.CheckIdentity(identity) is { } problem)
            {
                throw new CliException($"{(r == Role.Agent ? "--host" : "--user")} '{identity}': {problem}");
            }

            var expiry = parse.GetValue(expires) is { } text ? ParseExpiry(text, DateTimeOffset.UtcNow) : (DateTimeOffset?)null;
            await using var store = await OpenStoreAsync(parse.GetValue(db), parse.GetValue(data), mustExist: false, ct);
            var token = ApiTokens.NewToken();
            await Guard(async () =>
            {
                await store.AddTokenAsync(ApiTokens.Hash(token), new TokenGrant(r, identity, parse.GetValue(label), expiry), ct);
                return 0;
            });
            await stdout.WriteLineAsync(token);
            return ExitCodes.Clean;
        });

        var listData = CommonOptions.DataDirectory();
        var listDb = CommonOptions.Database();
        var list = new Command("list", """
            List stored tokens: id (for revoke), role, bound host or person, state (active, revoked, expired; legacy for
            an agent token made before tokens were bound to a host), created, expires, last used (to the minute), label.

            Exit codes: 0 listed, 2 error (no such database, bad usage).
            """);
        list.AddOptions(listData, listDb);
        list.SetAction(async (parse, ct) =>
        {
            await using var store = await OpenStoreAsync(parse.GetValue(listDb), parse.GetValue(listData), mustExist: true, ct);
            var now = DateTimeOffset.UtcNow;
            await stdout.WriteLineAsync($"{"ID",-12}  {"ROLE",-6}  {"BOUND TO",-24}  {"STATE",-14}  {"CREATED",-20}  {"EXPIRES",-20}  {"LAST USED",-20}  LABEL");
            foreach (var t in await store.ListTokensAsync(ct))
            {
                var bound = t.Identity is null ? "-" : $"{t.Role.IdentityKind()}:{t.Identity}";
                var state = t.RevokedAt is not null ? "revoked" : t.IsExpired(now) ? "expired" : "active";
                if (t.IsLegacy)
                {
                    state += ",legacy";
                }

                await stdout.WriteLineAsync($"{t.Id,-12}  {t.Role.ToWireName(),-6}  {Safe(bound),-24}  {state,-14}  {Time(t.CreatedAt),-20}  {Time(t.ExpiresAt),-20}  {Time(t.LastUsedAt),-20}  {Safe(t.Label)}");
            }

            return ExitCodes.Clean;

            static string Time(DateTimeOffset? at) => at is { } value ? value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture) : "-";

            static string Safe(string? text) => TextSanitizer.Escape(text ?? string.Empty, 80);
        });

        var revokeData = CommonOptions.DataDirectory();
        var revokeDb = CommonOptions.Database();
        var id = new Argument<string>("ID") { Description = $"The token's id as 'token list' shows it ({ApiTokens.IdLength} hex digits)." };
        var revoke = new Command("revoke", $"""
            Revoke a token: it is refused from then on. A running server on the same database refuses it within
            {TokenAuthenticator.MaxCacheTime.TotalSeconds:0} second (it looks a token up again at least that often).

            Exit codes: 0 revoked (or already revoked), 2 error (no token with this id, no such database).
            """);
        revoke.Arguments.Add(id);
        revoke.AddOptions(revokeData, revokeDb);
        revoke.SetAction(async (parse, ct) =>
        {
            var tokenId = parse.GetValue(id)!.Trim();
            if (tokenId.Length != ApiTokens.IdLength || !tokenId.All(char.IsAsciiHexDigit))
            {
                throw new CliException($"ID '{TextSanitizer.Escape(tokenId, 40)}': a token id is {ApiTokens.IdLength} hex digits, as 'trainguard server token list' shows");
            }

            await using var store = await OpenStoreAsync(parse.GetValue(revokeDb), parse.GetValue(revokeData), mustExist: true, ct);
            var revoked = await store.RevokeTokenAsync(tokenId, ct) ?? throw new CliException($"no token has id {tokenId} (see 'trainguard server token list')");
            await stdout.WriteLineAsync($"revoked {revoked.Id} ({revoked.Role.ToWireName()}{(revoked.Identity is null ? string.Empty : ", " + revoked.Identity)}) at {revoked.RevokedAt:yyyy-MM-ddTHH:mm:ssZ}");
            return ExitCodes.Clean;
        });

        var command = new Command("token", "Manage API bearer tokens: create, list, revoke.");
        command.Subcommands.Add(create);
        command.Subcommands.Add(list);
        command.Subcommands.Add(revoke);
        return command;
    }

    /// <summary>An expiry given as an age (<c>30d</c>, <c>12h</c>, <c>90m</c>) from <paramref name="now"/>, or an RFC 3339 date-time.</summary>
    internal static DateTimeOffset ParseExpiry(string text, DateTimeOffset now)
    {
        var trimmed = text.Trim();
        if (ParseAge(trimmed) is { } span)
        {
            return now + span;
        }

        if (Rfc3339.TryParse(trimmed, out var at))
        {
            return at > now ? at : throw new CliException($"--expires {TextSanitizer.Escape(trimmed, 40)}: that time has passed");
        }

        throw new CliException($"--expires '{TextSanitizer.Escape(trimmed, 40)}': give an age (30d, 12h, 90m) or an RFC 3339 date-time (2027-01-31T00:00:00Z)");
    }

    /// <summary>An age: a positive whole number of days, hours or minutes (<c>30d</c>, <c>12h</c>, <c>90m</c>); null otherwise.</summary>
    internal static TimeSpan? ParseAge(string text)
    {
        var trimmed = text.Trim();
        if (trimmed.Length < 2 || !int.TryParse(trimmed.AsSpan(0, trimmed.Length - 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) || n <= 0)
        {
            return null;
        }

        return trimmed[^1] switch
        {
            'd' => TimeSpan.FromDays(n),
            'h' => TimeSpan.FromHours(n),
            'm' => TimeSpan.FromMinutes(n),
            _ => null,
        };
    }

    private static Command KeyCommand(TextWriter stdout)
    {
        var data = CommonOptions.DataDirectory();
        var origin = new Option<string?>("--origin") { Description = "Origin for the key if it does not exist yet." };
        var keyFile = SigningKeyOption();
        var show = new Command("show", "Print the log's verifier key, the value clients pass as --log-key (creating the signing key in the data directory on first use).\nExit codes: 0 printed, 2 error.");
        show.Options.Add(data);
        show.Options.Add(origin);
        show.Options.Add(keyFile);
        show.SetAction(async (parse, ct) =>
        {
            using var signer = await Guard(() => Task.FromResult(LogSigningKey.Resolve(DataDirectory(parse.GetValue(data)), parse.GetValue(keyFile), parse.GetValue(origin))));
            await stdout.WriteLineAsync(signer.VerifierKey);
            return ExitCodes.Clean;
        });
        var command = new Command("key", "The log's checkpoint-signing key.");
        command.Subcommands.Add(show);
        return command;
    }

    private static TrainGuard.Runs.Detectors.RunDetectorOptions RunDetectors(DirectoryInfo? manifests)
    {
        if (manifests is null)
        {
            return new() { LiveDirection = true };
        }

        if (!manifests.Exists)
        {
            throw new CliException($"--run-manifests: folder {manifests.FullName} does not exist");
        }

        return new() { LiveDirection = true, Manifest = new TrainGuard.Runs.Detectors.RunManifestFolder(manifests.FullName).Find };
    }
}
