using System.Globalization;
using System.Text;
using System.Text.Json;
using static TrainGuard.Cli.Output.DataText;

namespace TrainGuard.Cli.Output;

/// <summary>One contributing event of an alert as <c>alerts show</c> fetched it: its JSON, or why it could not be read.</summary>
internal sealed record AlertEvent(string EventId, long? LedgerIndex, JsonElement? Event, string? Problem);

/// <summary>
/// Alerts (the server's alert objects, docs/alerts.md) as text for people: the table of <c>alerts list</c> and the
/// page of <c>alerts show</c>. Every string from the server goes through <see cref="DataText.Safe"/>.
/// </summary>
internal static class AlertText
{
    /// <summary>Width text paragraphs (reason, guidance) are wrapped to.</summary>
    private const int Width = 100;

    /// <summary>Severities from the most to the least urgent.</summary>
    public static readonly string[] Severities = ["critical", "high", "medium", "low", "informational"];

    /// <summary>The rank of a severity, 0 for critical; unknown ones last.</summary>
    public static int Rank(string? severity) => Array.IndexOf(Severities, severity) is var i and >= 0 ? i : Severities.Length;

    /// <summary>The table: one row per alert (id, severity, status, rule, account, hosts, count, last seen), its reason sentence below.</summary>
    public static void WriteTable(IReadOnlyList<JsonElement> alerts, TextWriter output)
    {
        var rows = new List<string[]> { new[] { "ID", "SEVERITY", "STATUS", "RULE", "ACCOUNT", "HOSTS", "COUNT", "LAST SEEN" } };
        rows.AddRange(alerts.Select(a => new[]
        {
            OrDash(Str(a, "id"), 60),
            OrDash(Str(a, "severity"), 16),
            OrDash(Str(a, "status"), 16),
            OrDash(RuleId(a), 40),
            Account(a, 40),
            Hosts(a, 3),
            Number(a, "count")?.ToString(CultureInfo.InvariantCulture) ?? "-",
            Time(Str(a, "last_seen")),
        }));

        // The header and each row, then the reason indented under its row.
        var lines = Columns(rows);
        output.WriteLine(lines[0]);
        for (var i = 0; i < alerts.Count; i++)
        {
            output.WriteLine(lines[i + 1]);
            foreach (var line in Wrap(OrDash(Str(alerts[i], "reason"), 1000), Width - 4))
            {
                output.WriteLine("    " + line);
            }
        }
    }

    /// <summary>The <c>alerts show</c> page: what, who, where, when, status, contributing events, history, the rule's guidance.</summary>
    public static void WriteAlert(JsonElement alert, IReadOnlyList<AlertEvent>? events, TextWriter output)
    {
        var id = OrDash(Str(alert, "id"), 60);
        WriteSummary(alert, output);
        var count = Number(alert, "count");
        var listed = Items(alert, "events").Count();
        if (events is not null)
        {
            output.WriteLine();
            output.WriteLine($"contributing events ({events.Count} shown of {(count ?? listed).ToString(CultureInfo.InvariantCulture)}):");
            var rows = events.Select(e => e.Event is { } ev
                ? new[] { Time(Path(ev, "@timestamp"), milliseconds: true), OrDash(Path(ev, "host.name"), 40), OrDash(Path(ev, "event.action"), 40), Actor(ev), EventSummary(ev), LedgerRef(e) }
                : new[] { "-", "-", "-", "-", $"event {Safe(e.EventId, 80)}: {Safe(e.Problem, 300)}", LedgerRef(e) }).ToList();
            WriteColumns(output, rows, "  ");
            if ((count ?? listed) > events.Count)
            {
                output.WriteLine($"  ... the rest: trainguard alerts show {id} -f json lists every event id and ledger index kept with the alert (up to 100)");
            }
        }

        var history = Items(alert, "history").ToList();
        output.WriteLine();
        output.WriteLine(history.Count == 0 ? "history: none yet (never acknowledged or closed)" : "history:");
        WriteColumns(output, [.. history.Select(h => new[]
        {
            Time(Str(h, "at")),
            OrDash(Str(h, "by"), 120),
            $"{OrDash(Str(h, "from"), 20)} -> {OrDash(Str(h, "to"), 20)}",
            string.Join("  ", new[]
            {
                Str(h, "classification") is { Length: > 0 } c ? "classification " + Safe(c, 40) : null,
                Str(h, "assignee") is { Length: > 0 } who ? "assignee " + Safe(who, 80) : null,
                Str(h, "note") is { Length: > 0 } note ? $"note \"{Safe(note, 500)}\"" : null,
                Number(h, "ledger_index") is { } index ? $"(ledger {index.ToString(CultureInfo.InvariantCulture)})" : null,
            }.OfType<string>()),
        })], "  ");

        var rule = Obj(alert, "rule");
        var ruleId = OrDash(RuleId(alert), 40);
        if (rule is { } r && Str(r, "guidance") is { Length: > 0 } guidance)
        {
            output.WriteLine();
            output.WriteLine($"what to do ({ruleId}; docs/rules/{ruleId}.md):");
            Wrap(Safe(guidance, 4000), Width - 2).ForEach(l => output.WriteLine("  " + l));
        }

        if (rule is { } d && Str(d, "description") is { Length: > 0 } description)
        {
            output.WriteLine();
            output.WriteLine("the rule:");
            Wrap(Safe(description, 4000), Width - 2).ForEach(l => output.WriteLine("  " + l));
        }

        output.WriteLine();
        output.WriteLine("next:");
        var account = Obj(alert, "account");
        var name = account is { } a ? Str(a, "name") ?? Str(a, "login_uid") : null;
        var next = new List<string[]>();
        switch (Str(alert, "status"))
        {
            case "closed":
                next.Add([$"trainguard alerts reopen {id} --note \"...\"", "it is not over after all"]);
                break;
            case "acknowledged":
                next.Add([$"trainguard alerts close {id} --classification tp --note \"...\"", "done: true-positive (tp), benign-positive (bp), false-positive (fp), undetermined"]);
                break;
            default:
                next.Add([$"trainguard alerts ack {id} --assignee NAME --note \"...\"", "take it: someone is looking"]);
                next.Add([$"trainguard alerts close {id} --classification tp --note \"...\"", "done: true-positive (tp), benign-positive (bp), false-positive (fp), undetermined"]);
                break;
        }

        if (name is not null && Plain(name))
        {
            next.Add([$"trainguard timeline --user {name}", "everything the account did, on every node, with its victims"]);
        }

        foreach (var host in Strings(alert, "hosts").Where(Plain).Take(3))
        {
            next.Add([$"trainguard timeline --host {host}", "everything that happened on the node"]);
        }

        WriteColumns(output, next, "  ");
    }

    /// <summary>The head of <c>alerts show</c> (also printed after a status change): rule, reason, account, hosts, times, risk, status.</summary>
    public static void WriteSummary(JsonElement alert, TextWriter output)
    {
        var rule = Obj(alert, "rule");
        output.WriteLine($"alert {OrDash(Str(alert, "id"), 60)}  {OrDash(Str(alert, "severity"), 16).ToUpperInvariant()}  {OrDash(Str(alert, "status"), 16)}");
        var fields = new List<string[]>
        {
            new[] { "rule:", $"{OrDash(RuleId(alert), 40)}  {(rule is { } r ? OrDash(Str(r, "title"), 200) : "-")}{(rule is { } l && Str(l, "level") is { } level ? $" (level {Safe(level, 16)})" : string.Empty)}" },
            new[] { "what:", OrDash(Str(alert, "reason"), 1000) },
            new[] { "account:", Account(alert, 200, withAttribution: false) + Attribution(Str(alert, "attribution")) },
            new[] { "hosts:", Hosts(alert, 20) },
            new[] { "seen:", $"{Times(Number(alert, "count"))}, first {Time(Str(alert, "first_seen"))}, last {Time(Str(alert, "last_seen"))}" },
            new[] { "risk score:", Number(alert, "risk_score") is { } risk ? risk.ToString(CultureInfo.InvariantCulture) + "/100" : "-" },
            new[] { "status:", $"{OrDash(Str(alert, "status"), 20)} (classification {OrDash(Str(alert, "classification"), 40)}, assignee {OrDash(Str(alert, "assignee"), 80)})" },
        };
        if (Obj(alert, "group_by") is { } groupBy && groupBy.EnumerateObject().Any())
        {
            fields.Add(["grouped by:", string.Join(", ", groupBy.EnumerateObject().Select(p => $"{Safe(p.Name, 80)}={OrDash(Str(groupBy, p.Name), 120)}"))]);
        }

        WriteColumns(output, [.. fields.Select(f => new[] { f[0], string.Join("\n  " + new string(' ', 13), Wrap(f[1], Width - 15)) })], "  ");
    }

    /// <summary>How the account was found, as a clause after it: its own login, or a key it planted.</summary>
    public static string Attribution(string? how) => how switch
    {
        null or "" => string.Empty,
        "direct" => " (attribution direct: its own login session)",
        "planted-key" => " (attribution planted-key: the session was opened with an ssh key this account planted)",
        "file-owner" => " (attribution file-owner: no event names who wrote the file; this account owns it)",
        _ => $" (attribution {Safe(how, 40)})",
    };

    /// <summary>The account behind an alert: <c>intern7 (login uid 2007)</c>, <c>login uid 2007</c>, or <c>-</c>; <c>, planted key</c> or <c>, file owner</c> when attributed through one.</summary>
    public static string Account(JsonElement alert, int maxLength, bool withAttribution = true)
    {
        if (Obj(alert, "account") is not { } account)
        {
            return "-";
        }

        var name = Str(account, "name");
        var uid = Str(account, "login_uid");
        var text = (name, uid) switch
        {
            ({ Length: > 0 }, { Length: > 0 }) => $"{Safe(name, maxLength)} (login uid {Safe(uid, 20)})",
            ({ Length: > 0 }, _) => Safe(name, maxLength),
            (_, { Length: > 0 }) => $"login uid {Safe(uid, 20)}",
            _ => "-",
        };
        return !withAttribution || text == "-" ? text : Str(alert, "attribution") switch
        {
            "planted-key" => text + ", planted key",
            "file-owner" => text + ", file owner",
            _ => text,
        };
    }

    /// <summary>The hosts of an alert, at most <paramref name="shown"/> named (<c>gpu01,gpu02 +3</c>).</summary>
    public static string Hosts(JsonElement alert, int shown)
    {
        var hosts = Strings(alert, "hosts");
        return hosts.Count == 0 ? "-" : string.Join(",", hosts.Take(shown).Select(h => Safe(h, 60))) + (hosts.Count > shown ? $" +{hosts.Count - shown}" : string.Empty);
    }

    /// <summary>The rule id of an alert (<c>rule.id</c>).</summary>
    public static string? RuleId(JsonElement alert) => Obj(alert, "rule") is { } rule ? Str(rule, "id") : Str(alert, "rule");

    /// <summary>Who did what an event records: <c>intern7</c>, <c>root (login intern7)</c>.</summary>
    public static string Actor(JsonElement ev)
    {
        var login = Path(ev, "user.audit.name") ?? Path(ev, "user.audit.id");
        var user = Path(ev, "user.name");
        return (login, user) switch
        {
            ({ Length: > 0 }, { Length: > 0 }) when login != user => $"{Safe(user, 60)} (login {Safe(login, 60)})",
            ({ Length: > 0 }, _) => Safe(login, 60),
            (_, { Length: > 0 }) => Safe(user, 60),
            _ => "-",
        };
    }

    /// <summary>One line of what an event says: its finding, else its command line, file or message.</summary>
    public static string EventSummary(JsonElement ev)
    {
        var text = Path(ev, "trainguard.finding.message") ?? Path(ev, "message") ?? Path(ev, "process.command_line") ?? Path(ev, "file.path");
        return OrDash(text, 200);
    }

    /// <summary>Wraps escaped text at spaces to lines of at most <paramref name="width"/> characters (longer words stay whole).</summary>
    public static List<string> Wrap(string text, int width)
    {
        var lines = new List<string>();
        foreach (var paragraph in text.Split('\n'))
        {
            var line = new StringBuilder();
            foreach (var word in paragraph.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                if (line.Length > 0 && line.Length + 1 + word.Length > width)
                {
                    lines.Add(line.ToString());
                    line.Clear();
                }

                line.Append(line.Length > 0 ? " " : string.Empty).Append(word);
            }

            lines.Add(line.ToString());
        }

        return lines;
    }

    /// <summary>A value that can be pasted into a shell command as one word without quoting.</summary>
    public static bool Plain(string value) =>
        value.Length is > 0 and <= 128 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '@');

    private static string Times(long? count) => count switch
    {
        null => "-",
        1 => "once",
        _ => count.Value.ToString(CultureInfo.InvariantCulture) + " times",
    };

    private static string LedgerRef(AlertEvent e) =>
        (e.LedgerIndex is { } index ? $"ledger {index.ToString(CultureInfo.InvariantCulture)}, " : string.Empty) + $"event {Safe(e.EventId, 80)}";
}
