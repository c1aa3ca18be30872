using System.CommandLine;
using Microsoft.Extensions.Logging;
using TrainGuard.Findings;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Events;
using TrainGuard.Server.Hosting;
using TrainGuard.Server.Ledger;
using TrainGuard.Server.Storage;

namespace TrainGuard.Cli.Commands;

/// <summary><c>trainguard server</c>: run the ingestion/ledger server; <c>server token new</c>, <c>server key show</c>.</summary>
public static class ServerCommand
{
    public const string Description = """
        Run the TrainGuard server: agents POST event batches to /api/v1/events, each event is appended to the signed
        Merkle ledger (one leaf per event, a signed checkpoint after each batch) and indexed for queries in the same
        transaction. The read side is also served as C2SP tlog-tiles (/checkpoint, /tile/...) for witnesses.

        Examples:
          trainguard server                                   listen on 127.0.0.1:8470, SQLite in the data directory
          trainguard server --urls http://0.0.0.0:8470 --db "Host=db;Database=trainguard;Username=tg"
          trainguard server token new --role agent            print a new agent token (only its hash is stored)
          trainguard server key show                          print the verifier key to pin in clients
        See docs/server.md.
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
        var data = DataDirectoryOption();
        var db = DatabaseOption();
        var origin = new Option<string?>("--origin") { Description = "Checkpoint origin line for a new log key (default <host name>/trainguard)." };
        var maxEvents = new Option<int>("--max-batch-events") { Description = "Most events in one batch (more: 413).", DefaultValueFactory = _ => new BatchLimits().MaxEvents };
        var maxBytes = new Option<long>("--max-batch-bytes") { Description = "Largest batch body in bytes (more: 413).", DefaultValueFactory = _ => new BatchLimits().MaxBytes };
        var interval = new Option<int>("--checkpoint-interval-ms") { Description = "0: sign a checkpoint after every batch; N: at most one per N ms (batches wait for it).", DefaultValueFactory = _ => 0 };
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
                r.AddError("--checkpoint-interval-ms must not be negative");
            }
        });

        var command = new Command("server", Description + "\n" + ExitCodes.HelpText);
        foreach (var option in new Option[] { urls, data, db, origin, maxEvents, maxBytes, interval, logFormat, logLevel })
        {
            command.Options.Add(option);
        }

        command.SetAction(async (parse, ct) =>
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

        command.Subcommands.Add(TokenCommand(stdout));
        command.Subcommands.Add(KeyCommand(stdout));
        return command;
    }

    /// <summary><c>--data-dir</c>: where the log key and the default SQLite database live.</summary>
    internal static Option<string?> DataDirectoryOption() => new("--data-dir")
    {
        Description = "Data directory (log signing key, default database). Default $TRAINGUARD_DATA_DIR, else $XDG_DATA_HOME/trainguard or ~/.local/share/trainguard.",
    };

    internal static Option<string?> DatabaseOption() => new("--db")
    {
        Description = "Store: sqlite:PATH (default: trainguard.db in the data directory) or a PostgreSQL connection string (Host=...;Database=...;Username=...).",
    };

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

    internal static async Task<IServerStore> OpenStoreAsync(string? db, string? dataDirectory, CancellationToken ct) =>
        await Guard(() => ServerStores.OpenAsync(db ?? ServerStores.DefaultSpec(DataDirectory(dataDirectory)), ct));

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
        var data = DataDirectoryOption();
        var db = DatabaseOption();
        var create = new Command("new", "Create a token with a role and print it once (only its SHA-256 is stored).");
        foreach (var option in new Option[] { role, label, data, db })
        {
            create.Options.Add(option);
        }

        create.SetAction(async (parse, ct) =>
        {
            _ = Roles.TryParse(parse.GetValue(role), out var r);
            await using var store = await OpenStoreAsync(parse.GetValue(db), parse.GetValue(data), ct);
            var token = ApiTokens.NewToken();
            await store.AddTokenAsync(ApiTokens.Hash(token), r, parse.GetValue(label), ct);
            await stdout.WriteLineAsync(token);
            return ExitCodes.Clean;
        });

        var listData = DataDirectoryOption();
        var listDb = DatabaseOption();
        var list = new Command("list", "List stored tokens (hash prefix, role, label, creation time).");
        list.Options.Add(listData);
        list.Options.Add(listDb);
        list.SetAction(async (parse, ct) =>
        {
            await using var store = await OpenStoreAsync(parse.GetValue(listDb), parse.GetValue(listData), ct);
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
        var data = DataDirectoryOption();
        var origin = new Option<string?>("--origin") { Description = "Origin for the key if it does not exist yet." };
        var show = new Command("show", "Print the log's verifier key (creating the signing key in the data directory on first use).");
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
