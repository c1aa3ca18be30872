using System.CommandLine;
using Microsoft.Extensions.Logging;
using TrainGuard.Cli.Options;
using TrainGuard.Findings;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Events;
using TrainGuard.Server.Hosting;
using TrainGuard.Server.Ledger;
using TrainGuard.Server.Storage;

namespace TrainGuard.Cli.Commands;

/// <summary><c>trainguard server run</c>: the ingestion/ledger server; <c>server token new|list</c>, <c>server key show</c>.</summary>
public static class ServerCommand
{
    public const string Description = """
        The TrainGuard server: agents POST event batches to /api/v1/events, each event is appended to the signed
        Merkle ledger (one leaf per event, a signed tree head after each batch) and indexed for queries in the same
        transaction. The read side is also served as C2SP tlog-tiles (/checkpoint, /tile/...) for witnesses.

        Examples:
          trainguard server run                               listen on 127.0.0.1:8470, SQLite in the data directory
          trainguard server run --urls http://0.0.0.0:8470 --db "Host=db;Database=trainguard;Username=tg"
          trainguard server token new --role agent            print a new agent token (only its hash is stored)
          trainguard server key show                          print the verifier key to pin in clients
        See docs/server.md.
        """;

    public const string RunDescription = """
        Run the server until stopped (Ctrl+C or SIGTERM). Listens on 127.0.0.1:8470 by default; the log signing key
        and the SQLite database live in the data directory (--data-dir), PostgreSQL is chosen with --db.

        Exit codes: 0 stopped cleanly, 2 error (the address is in use, the database or key cannot be opened, bad usage).
        """;

    public const string ListeningPrefix = "trainguard server listening on ";

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var urls = new Option<string[]>("--urls")
        {
            Description = $"Addresses to listen on (repeatable; port 0 picks a free port). Default {ServerOptions.DefaultUrl}.",
            DefaultValueFactory = _ => [ServerOptions.DefaultUrl],
            AllowMultipleArgumentsPerToken = true,
        };
        var data = CommonOptions.DataDirectory();
        var db = CommonOptions.Database();
        var origin = new Option<string?>("--origin") { Description = "Tree head origin line for a new log key (default <host name>/trainguard)." };
        var maxEvents = new Option<int>("--max-batch-events") { Description = "Most events in one batch (more: 413).", DefaultValueFactory = _ => new BatchLimits().MaxEvents };
        var maxBytes = new Option<long>("--max-batch-bytes") { Description = "Largest batch body in bytes (more: 413).", DefaultValueFactory = _ => new BatchLimits().MaxBytes };
        var interval = new Option<int>("--tree-head-interval-ms") { Description = "0: sign a tree head after every batch; N: at most one per N ms (batches wait for it).", DefaultValueFactory = _ => 0 };
        var logFormat = new Option<string>("--log-format") { Description = "Log lines on standard error: json or text.", DefaultValueFactory = _ => "json" };
        logFormat.AcceptOnlyFromAmong("json", "text");
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
        run.AddOptions(urls, data, db, origin, maxEvents, maxBytes, interval, logFormat, logLevel);
        run.SetAction(async (parse, ct) =>
        {
            var options = new ServerOptions
            {
                DataDirectory = DataDirectory(parse.GetValue(data)),
                Database = parse.GetValue(db),
                Urls = parse.GetValue(urls)!,
                Origin = parse.GetValue(origin),
                Batch = new BatchLimits { MaxEvents = parse.GetValue(maxEvents), MaxBytes = parse.GetValue(maxBytes) },
                TreeHeadInterval = TimeSpan.FromMilliseconds(parse.GetValue(interval)),
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

    /// <summary>Turns setup failures (bad --db, unreachable database, foreign key file, rewritten ledger) into one-line CLI errors.</summary>
    internal static async Task<T> Guard<T>(Func<Task<T>> action)
    {
        try
        {
            return await action();
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or Ledger.Storage.LedgerIntegrityException
                                       or Microsoft.Data.Sqlite.SqliteException or Npgsql.NpgsqlException or System.Net.Sockets.SocketException)
        {
            throw new CliException(ex.Message, ex);
        }
    }

    private static Command TokenCommand(TextWriter stdout)
    {
        var role = new Option<string>("--role") { Description = "agent (may only append events), reader (may query), admin (both).", Required = true };
        role.AcceptOnlyFromAmong("agent", "reader", "admin");
        var label = new Option<string?>("--label") { Description = "A note stored with the token's hash, e.g. the node name." };
        var data = CommonOptions.DataDirectory();
        var db = CommonOptions.Database();
        var create = new Command("new", """
            Create a token with a role and print it once (only its SHA-256 is stored). The server reads tokens from its
            database, so run this with the server's --data-dir/--db; save the token to a file (mode 0600) and pass it
            with --token-file.

            Example:
              trainguard server token new --role reader > reader.token

            Exit codes: 0 created, 2 error.
            """);
        create.AddOptions(role, label, data, db);

        create.SetAction(async (parse, ct) =>
        {
            _ = Roles.TryParse(parse.GetValue(role), out var r);
            await using var store = await OpenStoreAsync(parse.GetValue(db), parse.GetValue(data), mustExist: false, ct);
            var token = ApiTokens.NewToken();
            await store.AddTokenAsync(ApiTokens.Hash(token), r, parse.GetValue(label), ct);
            await stdout.WriteLineAsync(token);
            return ExitCodes.Clean;
        });

        var listData = CommonOptions.DataDirectory();
        var listDb = CommonOptions.Database();
        var list = new Command("list", "List stored tokens (hash prefix, role, label, creation time).\nExit codes: 0 listed, 2 error (no such database, bad usage).");
        list.AddOptions(listData, listDb);
        list.SetAction(async (parse, ct) =>
        {
            await using var store = await OpenStoreAsync(parse.GetValue(listDb), parse.GetValue(listData), mustExist: true, ct);
            foreach (var t in await store.ListTokensAsync(ct))
            {
                await stdout.WriteLineAsync($"{t.HashPrefix}  {t.Role.ToWireName(),-6}  {t.CreatedAt:yyyy-MM-ddTHH:mm:ssZ}  {t.Label}");
            }

            return ExitCodes.Clean;
        });

        var command = new Command("token", "Manage API bearer tokens.");
        command.Subcommands.Add(create);
        command.Subcommands.Add(list);
        return command;
    }

    private static Command KeyCommand(TextWriter stdout)
    {
        var data = CommonOptions.DataDirectory();
        var origin = new Option<string?>("--origin") { Description = "Origin for the key if it does not exist yet." };
        var show = new Command("show", "Print the log's verifier key, the value clients pass as --log-key (creating the signing key in the data directory on first use).\nExit codes: 0 printed, 2 error.");
        show.Options.Add(data);
        show.Options.Add(origin);
        show.SetAction(async (parse, ct) =>
        {
            using var signer = await Guard(() => Task.FromResult(LogSigningKey.LoadOrCreate(DataDirectory(parse.GetValue(data)), parse.GetValue(origin))));
            await stdout.WriteLineAsync(signer.VerifierKey);
            return ExitCodes.Clean;
        });
        var command = new Command("key", "The log's checkpoint-signing key.");
        command.Subcommands.Add(show);
        return command;
    }
}
