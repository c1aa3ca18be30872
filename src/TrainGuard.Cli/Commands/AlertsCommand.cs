using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using TrainGuard.Cli.Options;
using TrainGuard.Cli.Output;
using TrainGuard.Findings;
using TrainGuard.Ledger.Client;
using TrainGuard.Parsing;
using TrainGuard.Server.Events;
using static TrainGuard.Cli.Output.DataText;

namespace TrainGuard.Cli.Commands;

/// <summary>
/// <c>trainguard alerts list|show|ack|close|reopen</c>: the server's alerts (docs/alerts.md) over its API — read with a
/// reader token, acknowledged, closed and reopened with a responder token.
/// </summary>
public static class AlertsCommand
{
    public const string Description = """
        The alerts the server raised from the event stream (detection rules, docs/detections.md), grouped by the
        account behind them; what a responder reads and acts on. Reading needs a reader token; ack, close and
        reopen need a responder (or admin) token, and each change is itself recorded in the ledger.

          list     the alerts not yet closed, newest first (filters: --status, --severity, --rule, --user, --host...)
          show     one alert: what, who, where, its contributing events, history and the rule's guidance
          ack      someone is looking at it (open -> acknowledged)
          close    done, with a classification: true-positive, benign-positive, false-positive, undetermined
          reopen   not done after all

        Examples:
          trainguard alerts list --server http://127.0.0.1:8470 --token-file responder.token
          trainguard alerts show ALERT_ID --server http://127.0.0.1:8470 --token-file responder.token
          trainguard alerts ack ALERT_ID --assignee alice --note "looking" --server ... --token-file responder.token
          trainguard alerts close ALERT_ID --classification tp --note "intern7's account, disabled" --server ...
        See docs/alerts.md; the account's whole story: trainguard timeline --user NAME.
        """;

    /// <summary>Classifications a closed alert carries, with the short forms accepted.</summary>
    private static readonly Dictionary<string, string> Classifications = new(StringComparer.Ordinal)
    {
        ["true-positive"] = "true-positive",
        ["tp"] = "true-positive",
        ["benign-positive"] = "benign-positive",
        ["bp"] = "benign-positive",
        ["false-positive"] = "false-positive",
        ["fp"] = "false-positive",
        ["undetermined"] = "undetermined",
    };

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var command = new Command("alerts", Description);
        command.Subcommands.Add(List(stdout, stderr));
        command.Subcommands.Add(Show(stdout, stderr));
        command.Subcommands.Add(Transition("ack", "acknowledged", "Acknowledge an alert: someone is looking at it (open -> acknowledged).", stdout, stderr));
        command.Subcommands.Add(Transition("close", "closed", "Close an alert with a classification (required): what it turned out to be.", stdout, stderr));
        command.Subcommands.Add(Transition("reopen", "open", "Reopen an acknowledged or closed alert: it is not over.", stdout, stderr));
        return command;
    }

    /// <summary><c>--since</c>/<c>--until</c>: an RFC 3339 time, or an age back from now (<c>30m</c>, <c>24h</c>, <c>7d</c>), as the RFC 3339 UTC time the API takes.</summary>
    internal static string? TimeBound(string? text, string option, DateTimeOffset now)
    {
        if (text is null)
        {
            return null;
        }

        var trimmed = text.Trim();
        if (trimmed.Length >= 2 && long.TryParse(trimmed.AsSpan(0, trimmed.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is > 0 and <= 1_000_000)
        {
            TimeSpan? age = trimmed[^1] switch
            {
                'd' => TimeSpan.FromDays(Math.Min(n, 100_000)),
                'h' => TimeSpan.FromHours(n),
                'm' => TimeSpan.FromMinutes(n),
                's' => TimeSpan.FromSeconds(n),
                _ => null,
            };
            if (age is { } span)
            {
                return Rfc3339Utc(now - span);
            }
        }

        return Rfc3339.TryParse(trimmed, out var at)
            ? Rfc3339Utc(at)
            : throw new CliException($"{option} '{Safe(trimmed, 40)}': give an RFC 3339 time (2026-12-07T01:00:00Z) or an age back from now (30m, 24h, 7d)");
    }

    internal static string Rfc3339Utc(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>Builds <c>path?name=value&amp;...</c> from the values given (escaped; absent ones left out).</summary>
    internal static string Query(string path, params (string Name, string? Value)[] parameters)
    {
        var given = parameters.Where(p => p.Value is not null).Select(p => $"{p.Name}={Uri.EscapeDataString(p.Value!)}").ToList();
        return given.Count == 0 ? path : path + "?" + string.Join('&', given);
    }

    /// <summary>The alert id argument: text the server could have made (no control characters, not empty, not huge).</summary>
    internal static string AlertId(string? id) =>
        id is { Length: > 0 and <= 200 } && !id.Any(c => char.IsControl(c) || char.IsWhiteSpace(c) || c == '/')
            ? id
            : throw new CliException($"ID '{Safe(id, 60)}' is not an alert id (as 'trainguard alerts list' shows it, e.g. alt_0194...)");

    private static Argument<string?> IdArgument() => new("ID")
    {
        Description = "The alert's id, as 'trainguard alerts list' shows it. Or leave it out and name the one alert with --rule, --user and --host.",
        Arity = ArgumentArity.ZeroOrOne,
    };

    /// <summary>
    /// The alert a verb acts on: its ID, or the one alert that <c>--rule</c>, <c>--user</c> and <c>--host</c> match among
    /// those of <paramref name="status"/> (none or several is an error that lists them), so a procedure can name "the
    /// open TG-DET-006 alert of intern7" without knowing its id.
    /// </summary>
    private sealed class AlertSelector(string status)
    {
        public Argument<string?> Id { get; } = IdArgument();

        public Option<string?> Rule { get; } = new("--rule") { HelpName = "ID", Description = $"Without ID: the one {status} alert of this rule (with --user, --host)." };

        public Option<string?> User { get; } = new("--user") { HelpName = "NAME", Description = $"Without ID: the one {status} alert of this account (name or login uid)." };

        public Option<string?> Host { get; } = new("--host") { HelpName = "NAME", Description = $"Without ID: the one {status} alert that involves this node." };

        public void AddTo(Command command)
        {
            command.Arguments.Add(Id);
            command.AddOptions(Rule, User, Host);
        }

        public async Task<string> ResolveAsync(ParseResult parse, TrainGuardApiClient client, CancellationToken ct)
        {
            var filters = new[] { ("rule", parse.GetValue(Rule)), ("user", parse.GetValue(User)), ("host", parse.GetValue(Host)) };
            var given = filters.Where(f => f.Item2 is not null).ToList();
            if (parse.GetValue(Id) is { } id)
            {
                return given.Count == 0 ? AlertId(id) : throw new CliException("give the alert's ID or --rule/--user/--host, not both");
            }

            if (given.Count == 0)
            {
                throw new CliException("which alert? give its ID (as 'trainguard alerts list' shows it), or --rule, --user and --host that match exactly one");
            }

            var lookup = status == "open or acknowledged" ? null : status;
            var path = Query("api/v1/alerts", [("status", lookup), .. given, ("limit", "11")]);
            var answer = await ApiCalls.GetAsync(client, path, ApiCalls.ReaderToken, "the server found nothing at " + path, ct);
            var ids = Items(answer, "alerts").Select(a => Str(a, "id")).OfType<string>().ToList();
            var what = $"{status} alert{string.Concat(given.Select(g => $" --{g.Item1} {Safe(g.Item2, 60)}"))}";
            return ids switch
            {
                [] => throw new CliException($"no {what}: 'trainguard alerts list --status all' shows them all"),
                [var one] => AlertId(one),
                _ => throw new CliException($"{(ids.Count > 10 ? "more than 10" : ids.Count.ToString(CultureInfo.InvariantCulture))} alerts match ({what}): {string.Join(", ", ids.Take(10).Select(i => Safe(i, 60)))}; give the ID of one"),
            };
        }
    }

    private static ServerClientOptions Server(string purpose) => new(required: true, purpose);

    private static Command List(TextWriter stdout, TextWriter stderr)
    {
        var server = Server("Its alerts are listed (a reader token).");
        var status = new Option<string?>("--status") { HelpName = "STATUS", Description = "open, acknowledged, closed or all. Default: the alerts not closed (open and acknowledged)." };
        status.AcceptOnlyFromAmong("open", "acknowledged", "closed", "all");
        var severity = new Option<string?>("--severity") { HelpName = "LEVEL", Description = "Only alerts of this severity: " + string.Join(", ", AlertText.Severities) + "." };
        severity.AcceptOnlyFromAmong(AlertText.Severities);
        var rule = new Option<string?>("--rule") { HelpName = "ID", Description = "Only alerts of this rule, e.g. TG-DET-001." };
        var user = new Option<string?>("--user") { HelpName = "NAME", Description = "Only alerts of this account (name or login uid)." };
        var host = new Option<string?>("--host") { HelpName = "NAME", Description = "Only alerts that involve this node." };
        var since = new Option<string?>("--since") { HelpName = "TIME", Description = "Only alerts last seen at or after TIME: RFC 3339 (2026-12-07T01:00:00Z) or an age back from now (30m, 24h, 7d)." };
        var until = new Option<string?>("--until") { HelpName = "TIME", Description = "Only alerts last seen before TIME (as --since)." };
        var limit = new Option<int?>("--limit") { HelpName = "N", Description = "At most N alerts (1-1000; the server's default is 100). When there are more, the text ends with the --after value of the next page." };
        limit.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is { } n and (< 1 or > 1000))
            {
                r.AddError("--limit must be 1 to 1000");
            }
        });
        var after = new Option<string?>("--after") { HelpName = "CURSOR", Description = "The next page: the cursor a previous listing ended with ('next')." };
        var output = new ReportOptions(sarif: false);
        var command = new Command("list", """
            List alerts, the most recently seen first: id, severity, status, rule, the account behind it, hosts, how
            often, when last seen, and the reason sentence (who did what to whom). Filters are the API's
            (GET /api/v1/alerts): an unknown value is refused by the server with the parameter named.

            Examples:
              trainguard alerts list --server http://127.0.0.1:8470 --token-file reader.token
              trainguard alerts list --severity critical --since 24h --server ... --token-file reader.token
              trainguard alerts list --user intern7 --status all -f json --server ... --token-file reader.token

            Exit codes: 0 no alert matches, 1 alerts listed, 2 error (server unreachable or refusing: the server's
            reason and what to do; bad usage).
            """);
        server.AddTo(command);
        command.AddOptions(status, severity, rule, user, host, since, until, limit, after);
        output.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            output.Validate(parse);
            var started = DateTimeOffset.UtcNow;
            var path = Query(
                "api/v1/alerts",
                ("status", parse.GetValue(status)),
                ("severity", parse.GetValue(severity)),
                ("rule", parse.GetValue(rule)),
                ("user", parse.GetValue(user)),
                ("host", parse.GetValue(host)),
                ("since", TimeBound(parse.GetValue(since), "--since", started)),
                ("until", TimeBound(parse.GetValue(until), "--until", started)),
                ("limit", parse.GetValue(limit)?.ToString(CultureInfo.InvariantCulture)),
                ("after", parse.GetValue(after)));
            using var client = server.CreateClient(parse)!;
            var answer = await ApiCalls.GetAsync(client, path, ApiCalls.ReaderToken, "the server found nothing at " + path, ct);
            var alerts = Items(answer, "alerts").ToList();
            var next = Str(answer, "next");
            var statusText = parse.GetValue(status) ?? "open or acknowledged";
            var report = new Report
            {
                Command = "alerts list",
                Items = [.. alerts.Select(a => new AnalyzedItem
                {
                    Path = Str(a, "id") ?? "?",
                    Format = "alert",
                    Verdict = AlertText.Rank(Str(a, "severity")) <= 1 ? Verdict.Malicious : Verdict.Suspicious,
                })],
                ItemsName = "items",
                StartedAt = started,
                Elapsed = DateTimeOffset.UtcNow - started,
                Details = new CommandDetails(
                    new JsonObject
                    {
                        ["server"] = client.BaseUrl.ToString(),
                        ["query"] = path,
                        ["alerts"] = new JsonArray([.. alerts.Select(a => JsonNode.Parse(a.GetRawText()))]),
                        ["next"] = next,
                    },
                    text =>
                    {
                        if (alerts.Count == 0)
                        {
                            text.WriteLine($"no alerts ({Safe(statusText, 40)}{Filters(parse, user, host, rule, severity)}) on {client.BaseUrl}");
                            return;
                        }

                        AlertText.WriteTable(alerts, text);
                        text.WriteLine();
                        var bySeverity = alerts.GroupBy(a => Str(a, "severity") ?? "?").OrderBy(g => AlertText.Rank(g.Key)).Select(g => $"{g.Count()} {Safe(g.Key, 16)}");
                        text.WriteLine($"{alerts.Count} {(alerts.Count == 1 ? "alert" : "alerts")} ({string.Join(", ", bySeverity)}; status {Safe(statusText, 40)}{Filters(parse, user, host, rule, severity)}), most recently seen first");
                        if (next is not null)
                        {
                            text.WriteLine($"more: the same command with --after {Safe(next, 200)}");
                        }

                        text.WriteLine("details: trainguard alerts show ID (with the same --server and token)");
                    }),
            };
            return output.Write(parse, report, stdout, stderr);
        });
        return command;
    }

    private static string Filters(ParseResult parse, params Option<string?>[] options)
    {
        var given = options.Where(o => parse.GetValue(o) is not null).Select(o => $"{o.Name.TrimStart('-')} {Safe(parse.GetValue(o), 60)}").ToList();
        return given.Count == 0 ? string.Empty : ", " + string.Join(", ", given);
    }

    private static Command Show(TextWriter stdout, TextWriter stderr)
    {
        var server = Server("The alert is read from it (a reader token).");
        var selector = new AlertSelector("open or acknowledged");
        var events = new Option<int>("--events")
        {
            HelpName = "N",
            Description = "Fetch and show up to N of the alert's contributing events (each with its ledger index); 0 shows only their ids in -f json.",
            DefaultValueFactory = _ => 20,
        }.AtLeast(0, "--events must be 0 or more");
        var output = new ReportOptions(sarif: false);
        var command = new Command("show", """
            Show one alert: rule and severity, the reason sentence, the account behind it (and how it was attributed),
            hosts, first and last seen, risk score, status, classification and assignee; its contributing events
            (fetched from the ledger: time, host, action, who, what), the history of its status changes (who, when,
            why, at which ledger index) and the rule's guidance: what to do now.

            Examples:
              trainguard alerts show alt_0194... --server http://127.0.0.1:8470 --token-file reader.token
              trainguard alerts show --rule TG-DET-006 --user intern7 --server http://127.0.0.1:8470 --token-file reader.token

            Exit codes: 0 shown, 2 error (no such alert, or not exactly one matching --rule/--user/--host; server
            unreachable or refusing; bad usage).
            """);
        selector.AddTo(command);
        server.AddTo(command);
        command.AddOptions(events);
        output.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            output.Validate(parse);
            var started = DateTimeOffset.UtcNow;
            using var client = server.CreateClient(parse)!;
            var alertId = await selector.ResolveAsync(parse, client, ct);
            var alert = await GetAlertAsync(client, alertId, ct);
            var fetched = await FetchEventsAsync(client, alert, parse.GetValue(events), ct);
            var json = new JsonObject
            {
                ["server"] = client.BaseUrl.ToString(),
                ["alert"] = JsonNode.Parse(alert.GetRawText()),
                ["events"] = new JsonArray([.. fetched.Select(e => (JsonNode)new JsonObject
                {
                    ["event_id"] = e.EventId,
                    ["ledger_index"] = e.LedgerIndex,
                    ["event"] = e.Event is { } ev ? JsonNode.Parse(ev.GetRawText()) : null,
                    ["problem"] = e.Problem,
                })]),
            };
            var report = ResultReports.Create("alerts show", alertId, "alert", json, text => AlertText.WriteAlert(alert, fetched, text), started, DateTimeOffset.UtcNow - started);
            return output.Write(parse, report, stdout, stderr);
        });
        return command;
    }

    private static Command Transition(string verb, string status, string summary, TextWriter stdout, TextWriter stderr)
    {
        var server = Server("The alert's status is changed there (a responder or admin token).");
        var selector = new AlertSelector(verb == "reopen" ? "closed" : "open or acknowledged");
        var note = new Option<string?>("--note") { HelpName = "TEXT", Description = "Why: kept in the alert's history and in the ledger event that records the change." };
        var assignee = new Option<string?>("--assignee") { HelpName = "NAME", Description = "Who handles it from now on." };
        var classification = new Option<string?>("--classification")
        {
            HelpName = "WHAT",
            Description = "What the alert turned out to be: true-positive (tp), benign-positive (bp: real but allowed), false-positive (fp) or undetermined." + (verb == "close" ? " Required." : string.Empty),
            Required = verb == "close",
        };
        classification.AcceptOnlyFromAmong([.. Classifications.Keys]);
        var output = new ReportOptions(sarif: false);
        var example = verb switch
        {
            "ack" => "trainguard alerts ack alt_0194... --assignee alice --note \"looking\" --server http://127.0.0.1:8470 --token-file responder.token\n  trainguard alerts ack --rule TG-DET-006 --user intern7 --server http://127.0.0.1:8470 --token-file responder.token",
            "close" => "trainguard alerts close alt_0194... --classification tp --note \"intern7's account disabled\" --server http://127.0.0.1:8470 --token-file responder.token",
            _ => "trainguard alerts reopen alt_0194... --note \"it happened again\" --server http://127.0.0.1:8470 --token-file responder.token",
        };
        var command = new Command(verb, $"""
            {summary} Needs a responder (or admin) token; the change (who, when, why) is appended to the ledger as an
            'alert-status-changed' event before the server answers, and its ledger index is in the alert's history.

            Example:
              {example}

            Exit codes: 0 changed, 2 error (no such alert, or not exactly one matching --rule/--user/--host; a reader
            token: this needs a responder token; closing without --classification; server unreachable; bad usage).
            """);
        selector.AddTo(command);
        server.AddTo(command);
        command.AddOptions(note, assignee);
        if (verb != "ack")
        {
            command.AddOptions(classification);
        }

        output.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            output.Validate(parse);
            var started = DateTimeOffset.UtcNow;
            using var client = server.CreateClient(parse)!;
            var alertId = await selector.ResolveAsync(parse, client, ct);
            var body = new JsonObject { ["status"] = status };
            if (verb != "ack" && parse.GetValue(classification) is { } c)
            {
                body["classification"] = Classifications[c];
            }

            if (parse.GetValue(assignee) is { } who)
            {
                body["assignee"] = who;
            }

            if (parse.GetValue(note) is { } why)
            {
                body["note"] = why;
            }

            var alert = await ApiCalls.PostAsync(client, $"api/v1/alerts/{Uri.EscapeDataString(alertId)}/status", body.ToJsonString(), ApiCalls.ResponderToken, NoSuchAlert(alertId), ct);
            var change = Items(alert, "history").LastOrDefault();
            var json = new JsonObject { ["server"] = client.BaseUrl.ToString(), ["alert"] = JsonNode.Parse(alert.GetRawText()) };
            var report = ResultReports.Create($"alerts {verb}", alertId, "alert", json, text =>
            {
                var where = change.ValueKind == JsonValueKind.Object && Number(change, "ledger_index") is { } index
                    ? $"; recorded in the ledger at index {index.ToString(CultureInfo.InvariantCulture)}"
                    : string.Empty;
                var by = change.ValueKind == JsonValueKind.Object ? $" by {OrDash(Str(change, "by"), 120)}" : string.Empty;
                text.WriteLine($"{Safe(alertId, 60)} is now {OrDash(Str(alert, "status"), 20)}{by}{where}");
                text.WriteLine();
                AlertText.WriteSummary(alert, text);
            }, started, DateTimeOffset.UtcNow - started);
            return output.Write(parse, report, stdout, stderr);
        });
        return command;
    }

    private static string NoSuchAlert(string alertId) =>
        $"no alert '{Safe(alertId, 60)}' on this server: 'trainguard alerts list --status all' lists them with their ids";

    private static Task<JsonElement> GetAlertAsync(TrainGuardApiClient client, string alertId, CancellationToken ct) =>
        ApiCalls.GetAsync(client, "api/v1/alerts/" + Uri.EscapeDataString(alertId), ApiCalls.ReaderToken, NoSuchAlert(alertId), ct);

    /// <summary>The first <paramref name="max"/> contributing events, each fetched from the ledger (a failure is noted on the event, not fatal).</summary>
    private static async Task<List<AlertEvent>> FetchEventsAsync(TrainGuardApiClient client, JsonElement alert, int max, CancellationToken ct)
    {
        var result = new List<AlertEvent>();
        foreach (var reference in Items(alert, "events").Take(max))
        {
            var eventId = Str(reference, "event_id");
            var index = Number(reference, "ledger_index");
            if (string.IsNullOrEmpty(eventId))
            {
                result.Add(new AlertEvent("?", index, null, "the alert names no event id"));
                continue;
            }

            try
            {
                var proven = await client.GetEventAsync(eventId, ct);
                if (proven is null)
                {
                    result.Add(new AlertEvent(eventId, index, null, "not found on the server"));
                    continue;
                }

                using var document = JsonDocument.Parse(proven.Entry);
                result.Add(new AlertEvent(eventId, index ?? proven.Index, document.RootElement.Clone(), null));
            }
            catch (TrainGuardApiException ex)
            {
                result.Add(new AlertEvent(eventId, index, null, ex.Message));
            }
            catch (Exception ex) when (ex is MalformedInputException or JsonException)
            {
                result.Add(new AlertEvent(eventId, index, null, "unreadable: " + ex.Message));
            }
        }

        return result;
    }
}
