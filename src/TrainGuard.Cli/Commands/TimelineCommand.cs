using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using TrainGuard.Cli.Options;
using TrainGuard.Cli.Output;
using TrainGuard.Findings;
using static TrainGuard.Cli.Output.DataText;

namespace TrainGuard.Cli.Commands;

/// <summary>
/// <c>trainguard timeline --user NAME | --host NAME</c>: every event and alert of one account (by name or login uid,
/// across every node) or of one node, in time order, with the victims it touched and the keys and accounts it added.
/// </summary>
public static class TimelineCommand
{
    public const string Description = """
        The story of one account or one node, from the server: every event and alert in time order, across all
        nodes, with the victims touched (users, runs, processes, hosts, files) and the keys and accounts added.
        An account is found by name or login uid, so what it did under sudo, or under another account's name with a
        key it planted, is on its timeline too when the server could attribute it.

        Examples:
          trainguard timeline --user intern7 --server http://127.0.0.1:8470 --token-file reader.token
          trainguard timeline --user 2007 --since 7d -f json --server ... --token-file reader.token
          trainguard timeline --host gpu-node-17 --server ... --token-file reader.token

        Exit codes: 0 the timeline holds no alert, 1 it holds alerts, 2 error (nothing known of that user or host,
        server unreachable or refusing: the server's reason and what to do; bad usage).
        """;

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var server = new ServerClientOptions(required: true, "The timeline is read from it (a reader token).");
        var user = new Option<string?>("--user") { HelpName = "NAME", Description = "The account: a user name or a login uid (every event under that login, whatever user it ran as)." };
        var host = new Option<string?>("--host") { HelpName = "NAME", Description = "The node (host.name)." };
        var since = new Option<string?>("--since") { HelpName = "TIME", Description = "From TIME: RFC 3339 (2026-12-07T01:00:00Z) or an age back from now (30m, 24h, 7d)." };
        var until = new Option<string?>("--until") { HelpName = "TIME", Description = "Before TIME (as --since)." };
        var limit = new Option<int?>("--limit") { HelpName = "N", Description = "At most N entries (the server's default applies otherwise; a cut timeline says so)." };
        limit.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is < 1)
            {
                r.AddError("--limit must be at least 1");
            }
        });
        var output = new ReportOptions(sarif: false);
        var command = new Command("timeline", Description);
        command.AddOptions(user, host);
        server.AddTo(command);
        command.AddOptions(since, until, limit);
        output.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            output.Validate(parse);
            var started = DateTimeOffset.UtcNow;
            var (kind, value) = (parse.GetValue(user), parse.GetValue(host)) switch
            {
                ({ } u, null) => ("user", u),
                (null, { } h) => ("host", h),
                (null, null) => throw new CliException("give --user NAME (an account: name or login uid) or --host NAME (a node)"),
                _ => throw new CliException("give --user or --host, not both"),
            };
            if (value.Length == 0 || value.Any(char.IsControl))
            {
                throw new CliException($"--{kind}: '{Safe(value, 60)}' is not a {kind} name");
            }

            var path = AlertsCommand.Query(
                "api/v1/timeline",
                (kind, value),
                ("since", AlertsCommand.TimeBound(parse.GetValue(since), "--since", started)),
                ("until", AlertsCommand.TimeBound(parse.GetValue(until), "--until", started)),
                ("limit", parse.GetValue(limit)?.ToString(CultureInfo.InvariantCulture)));
            using var client = server.CreateClient(parse)!;
            var notFound = kind == "user"
                ? $"the server holds no event of user '{Safe(value, 60)}': check the name ('trainguard alerts list' names the accounts alerts are about; a login uid such as --user 2007 works too)"
                : $"the server holds no event of host '{Safe(value, 60)}': check the name (host.name as the node's agent sends it)";
            var timeline = await ApiCalls.GetAsync(client, path, ApiCalls.ReaderToken, notFound, ct);
            var entries = Items(timeline, "entries").ToList();
            var alerts = entries.Count(e => Str(e, "kind") == "alert");
            var report = new Report
            {
                Command = "timeline",
                Items = [new AnalyzedItem { Path = $"{kind} {value}", Format = "timeline", Verdict = alerts > 0 ? Verdict.Suspicious : Verdict.Clean }],
                ItemsName = "subjects",
                StartedAt = started,
                Elapsed = DateTimeOffset.UtcNow - started,
                Details = new CommandDetails(
                    new JsonObject
                    {
                        ["server"] = client.BaseUrl.ToString(),
                        ["query"] = path,
                        ["subject"] = Node(timeline, "subject"),
                        ["entries"] = Node(timeline, "entries"),
                        ["victims"] = Node(timeline, "victims"),
                        ["added"] = Node(timeline, "added"),
                        ["truncated"] = Node(timeline, "truncated"),
                    },
                    text => WriteText(timeline, entries, alerts, kind, value, text)),
            };
            return output.Write(parse, report, stdout, stderr);
        });
        return command;
    }

    private static JsonNode? Node(JsonElement timeline, string name) =>
        timeline.TryGetProperty(name, out var value) ? JsonNode.Parse(value.GetRawText()) : null;

    private static void WriteText(JsonElement timeline, List<JsonElement> entries, int alerts, string kind, string value, TextWriter text)
    {
        var subject = Obj(timeline, "subject");
        var uids = subject is { } s ? Strings(s, "login_uids") : [];
        var names = subject is { } n ? Strings(n, "names") : [];
        var who = kind == "user"
            ? $"user {Safe(value, 80)}" + (uids.Count + names.Count > 0 ? $" (login uid {string.Join(", ", uids.Select(u => Safe(u, 20)))}{(names.Count > 0 ? "; names " + string.Join(", ", names.Select(x => Safe(x, 60))) : string.Empty)})" : string.Empty)
            : $"host {Safe(value, 80)}";
        var span = entries.Count > 0 ? $", {Time(Str(entries[0], "at"))} to {Time(Str(entries[^1], "at"))}" : string.Empty;
        text.WriteLine($"timeline of {who}: {entries.Count} {(entries.Count == 1 ? "entry" : "entries")}{span}");
        text.WriteLine();
        var rows = new List<string[]> { new[] { "TIME", "HOST", "WHAT", "SUMMARY" } };
        foreach (var entry in entries)
        {
            if (Str(entry, "kind") == "alert")
            {
                rows.Add([
                    Time(Str(entry, "at"), milliseconds: true),
                    "-",
                    "ALERT " + OrDash(Str(entry, "severity"), 16),
                    $"{OrDash(Str(entry, "rule_id"), 40)}: {OrDash(Str(entry, "summary"), 400)}  [{OrDash(Str(entry, "alert_id"), 60)}]",
                ]);
                continue;
            }

            var alertIds = Strings(entry, "alert_ids");
            rows.Add([
                Time(Str(entry, "at"), milliseconds: true),
                OrDash(Str(entry, "host"), 40),
                OrDash(Str(entry, "action"), 40),
                OrDash(Str(entry, "summary"), 300) + (alertIds.Count > 0 ? $"  [alert {string.Join(", ", alertIds.Select(a => Safe(a, 60)))}]" : string.Empty),
            ]);
        }

        WriteColumns(text, rows);
        if (Str(timeline, "truncated") == "true")
        {
            text.WriteLine("... cut at the server's limit: narrow it with --since/--until or raise --limit");
        }

        if (Obj(timeline, "victims") is { } victims)
        {
            text.WriteLine();
            text.WriteLine(kind == "user" ? "victims (what the account touched):" : "victims (touched on this host):");
            WriteColumns(text, [.. new[] { "users", "runs", "processes", "hosts", "files" }.Select(k => new[] { k + ":", List(victims, k) })], "  ");
        }

        if (Obj(timeline, "added") is { } added)
        {
            text.WriteLine();
            text.WriteLine(kind == "user" ? "added by the account:" : "added on this host:");
            WriteColumns(text, [.. new[] { "keys", "accounts" }.Select(k => new[] { k + ":", List(added, k) })], "  ");
        }

        text.WriteLine();
        text.WriteLine(alerts == 0
            ? "no alert on this timeline"
            : $"{alerts} {(alerts == 1 ? "alert" : "alerts")} on this timeline: trainguard alerts show ID (same --server and token) for each one's evidence and what to do");
    }

    private static string List(JsonElement owner, string name)
    {
        var values = Strings(owner, name);
        return values.Count == 0 ? "-" : string.Join(", ", values.Take(50).Select(v => Safe(v, 200))) + (values.Count > 50 ? $" (+{values.Count - 50} more)" : string.Empty);
    }
}
