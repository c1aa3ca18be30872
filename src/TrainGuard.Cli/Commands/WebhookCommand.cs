using System.CommandLine;
using System.Globalization;
using TrainGuard.Cli.Options;
using TrainGuard.Findings;
using TrainGuard.Server.Notifications;

namespace TrainGuard.Cli.Commands;

/// <summary>
/// <c>trainguard server webhook add|list|remove|rotate|test|deliveries</c>: admin management of notification targets,
/// working directly on the server's data directory and database (like <c>server token</c>).
/// </summary>
public static class WebhookCommand
{
    public const string Description = """
        Where alerts are sent: Standard Webhooks 1.0 receivers (signed JSON) and Slack incoming webhooks. Targets live in
        the server's database, their URL and signing secrets in a 0600 file in its data directory, so run these with the
        server's --data-dir/--db (a running server picks changes up at once). Secrets are printed once, when created.

        Examples:
          trainguard server webhook add --name soc --url https://soc.example.org/hooks/trainguard > soc.whsec
          trainguard server webhook add --name oncall --mode slack --url https://hooks.slack.com/services/T000/B000/XXXX
          trainguard server webhook test --name soc
          trainguard server webhook deliveries --target soc
        See docs/server.md, "Notifications (webhooks)".
        """;

    public static Command Create(TextWriter stdout)
    {
        var command = new Command("webhook", Description);
        command.Subcommands.Add(Add(stdout));
        command.Subcommands.Add(List(stdout));
        command.Subcommands.Add(Remove(stdout));
        command.Subcommands.Add(Rotate(stdout));
        command.Subcommands.Add(Test(stdout));
        command.Subcommands.Add(Deliveries(stdout));
        return command;
    }

    private static Command Add(TextWriter stdout)
    {
        var name = Name();
        var url = new Option<string>("--url") { HelpName = "URL", Description = "Where to POST: https://... (plain http only to this machine, or with --allow-insecure-http).", Required = true };
        var mode = new Option<string>("--mode") { Description = "standard (signed Standard Webhooks JSON) or slack (a Slack incoming webhook; its URL is the secret).", DefaultValueFactory = _ => "standard" };
        mode.AcceptOnlyFromAmong("standard", "slack");
        var insecure = new Option<bool>("--allow-insecure-http") { Description = "Allow a plain http:// URL to another machine (alerts then travel unencrypted)." };
        var (data, db) = (CommonOptions.DataDirectory(), CommonOptions.Database());
        var add = new Command("add", """
            Add a target. A standard target gets a fresh signing secret (whsec_..., 32 random bytes), printed once on
            standard output for the receiver to verify signatures with; only the server's 0600 secrets file keeps it.
            A slack target prints nothing secret: its URL is its secret and is never shown again.

            Exit codes: 0 added, 2 error (bad name or URL, a target with this name exists, bad usage).
            """);
        add.AddOptions(name, url, mode, insecure, data, db);
        add.SetAction(async (parse, ct) =>
        {
            _ = WebhookTarget.TryParseMode(parse.GetValue(mode), out var m);
            await using var opened = await OpenAsync(parse.GetValue(db), parse.GetValue(data), mustExist: false, ct);
            var (store, directory) = (opened.Store, opened.DataDirectory);
            var added = await ServerCommand.Guard(() => WebhookAdmin.AddAsync(store, directory, parse.GetValue(name)!, parse.GetValue(url)!, m, parse.GetValue(insecure), DateTimeOffset.UtcNow, ct));
            if (added.Secret is { } secret)
            {
                await stdout.WriteLineAsync(secret.Format());
            }
            else
            {
                await stdout.WriteLineAsync($"added webhook target '{added.Target.Name}' ({WebhookTarget.ModeName(added.Target.Mode)}) to {added.Target.DisplayUrl}");
            }

            return ExitCodes.Clean;
        });
        return add;
    }

    private static Command List(TextWriter stdout)
    {
        var (data, db) = (CommonOptions.DataDirectory(), CommonOptions.Database());
        var list = new Command("list", "List targets: name, mode, enabled or why disabled, messages waiting, URL (a Slack URL's secret path hidden). Never a secret.\nExit codes: 0 listed, 2 error (no such database, bad usage).");
        list.AddOptions(data, db);
        list.SetAction(async (parse, ct) =>
        {
            await using var opened = await OpenAsync(parse.GetValue(db), parse.GetValue(data), mustExist: true, ct);
            var store = opened.Store;
            foreach (var status in await store.ListTargetsAsync(ct))
            {
                var t = status.Target;
                var state = t.Enabled ? "enabled" : "disabled: " + t.DisabledReason;
                await stdout.WriteLineAsync($"{t.Name}  {WebhookTarget.ModeName(t.Mode),-8}  {t.DisplayUrl}  {status.Pending} waiting  {state}");
            }

            return ExitCodes.Clean;
        });
        return list;
    }

    private static Command Remove(TextWriter stdout)
    {
        var name = Name();
        var (data, db) = (CommonOptions.DataDirectory(), CommonOptions.Database());
        var remove = new Command("remove", "Remove a target and its secrets file; messages still waiting for it are dropped, its delivery log is kept.\nExit codes: 0 removed, 2 error (no target has this name, bad usage).");
        remove.AddOptions(name, data, db);
        remove.SetAction(async (parse, ct) =>
        {
            await using var opened = await OpenAsync(parse.GetValue(db), parse.GetValue(data), mustExist: true, ct);
            var (store, directory) = (opened.Store, opened.DataDirectory);
            var removed = await WebhookAdmin.RemoveAsync(store, directory, parse.GetValue(name)!, ct)
                ?? throw new CliException($"--name: no webhook target named '{parse.GetValue(name)}' (trainguard server webhook list)");
            await stdout.WriteLineAsync($"removed webhook target '{removed.Name}'");
            return ExitCodes.Clean;
        });
        return remove;
    }

    private static Command Rotate(TextWriter stdout)
    {
        var name = Name();
        var drop = new Option<bool>("--drop-previous") { Description = "End the rotation: sign with the newest secret only." };
        var (data, db) = (CommonOptions.DataDirectory(), CommonOptions.Database());
        var rotate = new Command("rotate", """
            Rotate a standard target's signing secret without losing a message: a new secret is printed once and from now
            on every message carries two signatures (new and previous), which receivers knowing either accept. When the
            receiver has the new secret, run again with --drop-previous.

            Exit codes: 0 rotated, 2 error (no such standard target, unusable secrets file, bad usage).
            """);
        rotate.AddOptions(name, drop, data, db);
        rotate.SetAction(async (parse, ct) =>
        {
            await using var opened = await OpenAsync(parse.GetValue(db), parse.GetValue(data), mustExist: true, ct);
            var (store, directory) = (opened.Store, opened.DataDirectory);
            var fresh = await ServerCommand.Guard(() => WebhookAdmin.RotateAsync(store, directory, parse.GetValue(name)!, parse.GetValue(drop), ct));
            await stdout.WriteLineAsync(fresh?.Format() ?? $"webhook target '{parse.GetValue(name)}' now signs with its newest secret only");
            return ExitCodes.Clean;
        });
        return rotate;
    }

    private static Command Test(TextWriter stdout)
    {
        var name = Name();
        var (data, db) = (CommonOptions.DataDirectory(), CommonOptions.Database());
        var test = new Command("test", "Queue a webhook.test message for one target; a running server on this database sends it within a second (see 'webhook deliveries').\nExit codes: 0 queued, 2 error (no such enabled target, bad usage).");
        test.AddOptions(name, data, db);
        test.SetAction(async (parse, ct) =>
        {
            await using var opened = await OpenAsync(parse.GetValue(db), parse.GetValue(data), mustExist: true, ct);
            var store = opened.Store;
            var target = parse.GetValue(name)!;
            var now = DateTimeOffset.UtcNow;
            var id = await WebhookNotifier.QueueAsync(store, WebhookPayloads.Test, target, t => WebhookPayloads.TestMessage(t.Mode, t.Name, now), now, ct)
                ?? throw new CliException(await store.FindTargetAsync(target, ct) is { } found
                    ? $"--name: webhook target '{target}' is disabled ({found.DisabledReason}); remove it and add it again"
                    : $"--name: no webhook target named '{target}' (trainguard server webhook list)");
            await stdout.WriteLineAsync($"queued {id} for '{target}'");
            return ExitCodes.Clean;
        });
        return test;
    }

    private static Command Deliveries(TextWriter stdout)
    {
        var target = new Option<string?>("--target") { HelpName = "NAME", Description = "Only attempts to this target." };
        var message = new Option<string?>("--message") { HelpName = "ID", Description = "Only attempts of this message (its webhook-id)." };
        var limit = new Option<int>("--limit") { Description = $"Most attempts to list (1..{WebhookDeliveryQuery.MaxLimit}).", DefaultValueFactory = _ => 50 };
        limit.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 1 or > WebhookDeliveryQuery.MaxLimit)
            {
                r.AddError($"--limit must be 1..{WebhookDeliveryQuery.MaxLimit}");
            }
        });
        var (data, db) = (CommonOptions.DataDirectory(), CommonOptions.Database());
        var deliveries = new Command("deliveries", """
            The delivery log, newest first: when, target, webhook-id, type, attempt number, outcome (delivered, retrying,
            failed, gone), HTTP status, duration and error (an excerpt of the receiver's answer at most). Admins read it
            over HTTP too: GET /api/v1/webhooks/deliveries.

            Exit codes: 0 listed, 2 error (a --target that never existed, no such database, bad usage).
            """);
        deliveries.AddOptions(target, message, limit, data, db);
        deliveries.SetAction(async (parse, ct) =>
        {
            await using var opened = await OpenAsync(parse.GetValue(db), parse.GetValue(data), mustExist: true, ct);
            var store = opened.Store;
            var query = new WebhookDeliveryQuery { Target = parse.GetValue(target), MessageId = parse.GetValue(message), Limit = parse.GetValue(limit) };
            var found = await store.QueryDeliveriesAsync(query, ct);
            if (found.Count == 0 && query.Target is { } named && await store.FindTargetAsync(named, ct) is null)
            {
                throw new CliException($"--target: no webhook target named '{named}' and no deliveries logged for one (trainguard server webhook list)");
            }

            foreach (var d in found)
            {
                var status = d.StatusCode?.ToString(CultureInfo.InvariantCulture) ?? "-";
                await stdout.WriteLineAsync($"{d.AttemptedAt:yyyy-MM-ddTHH:mm:ss.fffZ}  {d.Target}  {d.MessageId}  {d.EventType}  #{d.Attempt}  {WebhookDelivery.OutcomeName(d.Outcome)}  {status}  {d.DurationMs} ms{(d.Error is null ? string.Empty : "  " + d.Error)}");
            }

            return ExitCodes.Clean;
        });
        return deliveries;
    }

    private static Option<string> Name() => new("--name")
    {
        HelpName = "NAME",
        Description = "The target's name (lowercase letters, digits, '.', '_', '-').",
        Required = true,
    };

    /// <summary>The webhook tables of the server's database, and its data directory (where the secrets files live).</summary>
    private static async Task<Opened> OpenAsync(string? db, string? dataDirectory, bool mustExist, CancellationToken ct)
    {
        var directory = ServerCommand.DataDirectory(dataDirectory);
        var server = await ServerCommand.OpenStoreAsync(db, directory, mustExist, ct);
        try
        {
            return new Opened(server, await ServerCommand.Guard(() => WebhookStore.OpenAsync(server, ct)), directory);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    private sealed record Opened(Server.Storage.IServerStore Server, WebhookStore Store, string DataDirectory) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => Server.DisposeAsync();
    }
}
