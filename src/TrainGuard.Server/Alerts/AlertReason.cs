using System.Globalization;
using System.Text;
using TrainGuard.Findings;

namespace TrainGuard.Server.Alerts;

/// <summary>
/// The reason sentence of an alert (who did what to whom, where, over how long) and its risk score, both made from the
/// alert's folded <see cref="AlertFacts"/> (docs/alerts.md, "How alerts are made"). Text that came from events is
/// escaped already (<see cref="AlertFacts"/>) and is never interpreted.
/// </summary>
public static class AlertReason
{
    /// <summary>Longest account name put in a sentence.</summary>
    public const int MaxNameLength = 64;

    /// <summary>Values listed by name in a sentence before "and N more".</summary>
    private const int Listed = 3;

    /// <summary>The actor as a sentence starts with it: <c>intern7 (login uid 2007)</c>, with the planted-key session.</summary>
    public static string Actor(string? name, string? loginUid, string attribution, IReadOnlyList<string> sessionUsers)
    {
        var who = (Name(name), Name(loginUid)) switch
        {
            ({ } n, { } uid) => $"{n} (login uid {uid})",
            (null, { } uid) => $"login uid {uid}",
            ({ } n, null) => n,
            _ => "an unknown account",
        };
        if (attribution == AlertAttribution.PlantedKey)
        {
            who += sessionUsers.Count > 0
                ? $", logged in as {List(sessionUsers, "account")} with a key {Name(name) ?? "it"} planted,"
                : ", in a session opened with a key it planted,";
        }

        return who;
    }

    /// <summary>The reason sentence of <paramref name="alert"/>.</summary>
    public static string Sentence(Alert alert)
    {
        ArgumentNullException.ThrowIfNull(alert);
        var f = alert.Facts;
        var actor = Actor(alert.AccountName, alert.LoginUid, alert.Attribution, f.SessionUsers);
        var hosts = Hosts(alert.Hosts);
        var span = Span(alert.LastSeen - alert.FirstSeen);
        var within = alert.Count > 1 ? $" within {span}" : string.Empty;
        var actions = f.Actions;
        if (actions.Contains("process-signal"))
        {
            var processes = f.CountOf(f.Processes, nameof(f.Processes));
            var victims = f.CountOf(f.Victims, nameof(f.Victims));
            var signals = f.Signals.Count == 0 ? "signals" : string.Join("/", f.Signals);
            var whose = victims > 0 ? $" of {Count(victims, "other user")} ({List(f.Victims, "user")})" : string.Empty;
            return $"{actor} sent {signals} to {Count(processes, "process", "processes")}{whose} on {hosts} within {span}";
        }

        if (actions.Contains("user-created") || actions.Contains("user-changed"))
        {
            var verb = actions.Contains("user-created") ? "created" : "changed";
            var accounts = f.Accounts.Count == 0 ? "an account" : $"{(f.Accounts.Count == 1 ? "account" : "accounts")} {List(f.Accounts, "account")}";
            return $"{actor} {verb} {accounts} on {hosts}{within}";
        }

        if (actions.Contains("ssh-key-added") && actions.Contains("user-login"))
        {
            var asWhom = f.Victims.Count > 0 ? $" as {List(f.Victims, "account")}" : string.Empty;
            return $"{actor} logged in{asWhom} with key {List(f.Keys, "key")}, less than {span} after it was added, on {hosts}";
        }

        if (actions.Contains("ssh-key-added"))
        {
            var into = f.Victims.Count > 0 ? $" to the authorized_keys of {List(f.Victims, "account")}" : string.Empty;
            return $"{actor} added key {List(f.Keys, "key")}{into} on {hosts}{within}";
        }

        if (actions.Contains("loginuid-changed"))
        {
            return $"{actor} set a process's login uid with {List(f.Executables, "program")} on {hosts}{within}";
        }

        if (actions.Contains("socket-listen"))
        {
            return $"{actor} listened on {List(f.Addresses, "address")} with {List(f.Executables, "program")} on {hosts}{within}";
        }

        if (actions.Contains("artifact-scanned") || actions.Contains("checkpoint-verified") || actions.Contains("checkpoint-inspected"))
        {
            var what = actions.Contains("artifact-scanned") ? "scanned" : actions.Contains("checkpoint-verified") ? "failed verification" : "inspected";
            var verdicts = f.Verdicts.Count > 0 ? $" ({List(f.Verdicts, "finding")})" : string.Empty;
            var owner = alert.AccountName is null && alert.LoginUid is null ? string.Empty
                : alert.Attribution == AlertAttribution.FileOwner ? $" owned by {actor}" : $" of {actor}";
            return $"checkpoint {List(f.Files, "file")}{owner} {what}{verdicts} on {hosts}{within}";
        }

        if (actions.Contains("env-finding"))
        {
            var owner = alert.Attribution == AlertAttribution.FileOwner && alert.AccountName is not null ? $" owned by {actor}" : string.Empty;
            var files = f.Files.Count > 0 ? $" in {List(f.Files, "file")}{owner}" : string.Empty;
            return $"env verify found {List(f.Verdicts, "finding")}{files} on {hosts}{within}";
        }

        if (actions.Contains("access-writer-added"))
        {
            return $"{actor} can now modify {List(f.Files, "asset")} on {hosts}{within}";
        }

        if (actions.Contains("audit-config-changed"))
        {
            return $"{actor} changed the audit configuration with {List(f.Executables, "program")} on {hosts}{within}";
        }

        if (actions.Any(a => a.StartsWith("file-", StringComparison.Ordinal)) || actions.Contains("persistence-changed"))
        {
            var verb = actions.Contains("file-deleted") ? "deleted" : actions.Contains("file-renamed") && !actions.Contains("file-changed") ? "renamed" : "wrote";
            var files = f.CountOf(f.Files, nameof(f.Files));
            var list = files == 1 ? List(f.Files, "file") : $"{Count(files, "file")} ({List(f.Files, "file")})";
            var owned = f.Victims.Count > 0 ? $" owned by {List(f.Victims, "account")}" : string.Empty;
            return $"{actor} {verb} {list}{owned} on {hosts}{within}";
        }

        if (actions.Contains("user-login"))
        {
            var asWhom = f.SessionUsers.Count > 0 ? $" as {List(f.SessionUsers, "account")}" : string.Empty;
            var key = f.Keys.Count > 0 ? $" with key {List(f.Keys, "key")}" : string.Empty;
            return $"{actor} logged in{asWhom}{key} on {hosts}{within}";
        }

        return $"{actor} matched '{TextSanitizer.Escape(alert.Rule.Title, 200)}' with {Count(alert.Count, "event")} ({List(actions, "action")}) on {hosts}{within}";
    }

    /// <summary>
    /// 0-100: the severity's base (informational 5, low 20, medium 40, high 60, critical 80), +10 for a planted-key
    /// attribution, +5 per host beyond the first and +5 per victim beyond the first (each at most +10), +5 from 3
    /// contributing events (+10 from 10), +5 when an event ran with uid 0.
    /// </summary>
    public static int RiskScore(Alert alert)
    {
        ArgumentNullException.ThrowIfNull(alert);
        var f = alert.Facts;
        var score = AlertSeverity.Rank(alert.Severity) switch
        {
            0 => 5,
            1 => 20,
            2 => 40,
            3 => 60,
            4 => 80,
            _ => 40,
        };
        score += alert.Attribution == AlertAttribution.PlantedKey ? 10 : 0;
        score += (int)Math.Min(10, 5 * Math.Max(0, alert.Hosts.Count - 1));
        score += (int)Math.Min(10, 5 * Math.Max(0, f.CountOf(f.Victims, nameof(f.Victims)) - 1));
        score += alert.Count >= 10 ? 10 : alert.Count >= 3 ? 5 : 0;
        score += f.AsRoot ? 5 : 0;
        return Math.Clamp(score, 0, 100);
    }

    /// <summary>A duration as a sentence says it: <c>0 s</c>, <c>4 minutes</c>, <c>3 hours</c>, <c>2 days</c>.</summary>
    public static string Span(TimeSpan span)
    {
        if (span < TimeSpan.Zero)
        {
            span = -span;
        }

        return span.TotalSeconds < 60 ? string.Create(CultureInfo.InvariantCulture, $"{(int)span.TotalSeconds} s")
            : span.TotalMinutes < 60 ? Count((long)Math.Ceiling(span.TotalMinutes), "minute")
            : span.TotalHours < 48 ? Count((long)Math.Ceiling(span.TotalHours), "hour")
            : Count((long)Math.Ceiling(span.TotalDays), "day");
    }

    /// <summary>One host by name; several as <c>3 nodes (a, b, c)</c>.</summary>
    public static string Hosts(IReadOnlyCollection<string> hosts) => hosts.Count switch
    {
        0 => "an unnamed node",
        1 => TextSanitizer.Escape(hosts.First(), MaxNameLength),
        _ => $"{hosts.Count} nodes ({List([.. hosts], "node")})",
    };

    /// <summary><c>1 process</c>, <c>6 processes</c>.</summary>
    public static string Count(long n, string one, string? many = null) =>
        string.Create(CultureInfo.InvariantCulture, $"{n} {(n == 1 ? one : many ?? one + "s")}");

    /// <summary>Up to three values, then <c>and N more</c>.</summary>
    public static string List(IReadOnlyList<string> values, string noun)
    {
        if (values.Count == 0)
        {
            return "an unknown " + noun;
        }

        var text = new StringBuilder();
        for (var i = 0; i < Math.Min(Listed, values.Count); i++)
        {
            text.Append(i == 0 ? string.Empty : ", ").Append(TextSanitizer.Escape(values[i], AlertFacts.MaxValueLength));
        }

        if (values.Count > Listed)
        {
            text.Append(CultureInfo.InvariantCulture, $" and {values.Count - Listed} more");
        }

        return text.ToString();
    }

    private static string? Name(string? text) => text is null ? null : TextSanitizer.Escape(text, MaxNameLength);
}
