using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using TrainGuard.Parsing;
using TrainGuard.Server.Alerts;
using TrainGuard.Server.Events;

namespace TrainGuard.Server.Http;

/// <summary>
/// <c>GET /api/v1/alerts</c>, <c>GET /api/v1/alerts/{id}</c>, <c>POST /api/v1/alerts/{id}/status</c> and
/// <c>GET /api/v1/timeline</c> (docs/server.md, "Alerts").
/// </summary>
internal static class AlertEndpoints
{
    /// <summary>Largest status change body, in bytes.</summary>
    private const int MaxStatusBody = 64 * 1024;

    public static async Task ListAsync(HttpContext context, ServerState state)
    {
        var q = context.Request.Query;
        AlertQuery query;
        try
        {
            var status = Text(q["status"]);
            if (status is not null && status != "all" && !AlertStatus.IsStatus(status))
            {
                Bad("status", "status: open, acknowledged, closed or all");
            }

            var severity = Text(q["severity"]);
            if (severity is not null && AlertSeverity.Rank(severity) < 0)
            {
                Bad("severity", $"severity: one of {string.Join(", ", AlertSeverity.All)}");
            }

            query = new AlertQuery
            {
                Status = status == "all" ? null : status,
                AllStatuses = status == "all",
                Severity = severity,
                RuleId = Text(q["rule"]),
                User = Text(q["user"]),
                Host = Text(q["host"]),
                SinceMicros = Time(q["since"], "since"),
                UntilMicros = Time(q["until"], "until"),
                Limit = (int)(Number(q["limit"], "limit", 1, AlertQuery.MaxLimit) ?? AlertQuery.DefaultLimit),
                After = Text(q["after"]) is { } after ? Cursor(after) : null,
            };
        }
        catch (MalformedInputException ex)
        {
            await HttpJson.ProblemAsync(context, StatusCodes.Status400BadRequest, "bad-query", "Bad query", ex.Message);
            return;
        }

        var (alerts, next) = await state.Alerts.ListAsync(query, context.RequestAborted);
        await HttpJson.WriteAsync(context, StatusCodes.Status200OK, w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("alerts");
            foreach (var alert in alerts)
            {
                AlertJson.Write(w, alert);
            }

            w.WriteEndArray();
            if (next is null)
            {
                w.WriteNull("next");
            }
            else
            {
                w.WriteString("next", next);
            }

            w.WriteEndObject();
        });
    }

    public static async Task GetAsync(HttpContext context, ServerState state)
    {
        var id = context.Request.RouteValues["id"] as string ?? string.Empty;
        var alert = AlertIds.IsWellFormed(id) ? await state.Alerts.GetAsync(id, context.RequestAborted) : null;
        if (alert is null)
        {
            await NotFoundAsync(context, id);
            return;
        }

        await HttpJson.WriteAsync(context, StatusCodes.Status200OK, w => AlertJson.Write(w, alert));
    }

    public static async Task StatusAsync(HttpContext context, ServerState state)
    {
        var id = context.Request.RouteValues["id"] as string ?? string.Empty;
        AlertStatusChange change;
        try
        {
            change = await ReadChangeAsync(context.Request, context.RequestAborted);
        }
        catch (MalformedInputException ex)
        {
            await HttpJson.ProblemAsync(context, StatusCodes.Status400BadRequest, "bad-status-change", "Bad status change", ex.Message);
            return;
        }

        var alert = AlertIds.IsWellFormed(id) ? await state.Alerts.GetAsync(id, context.RequestAborted) : null;
        if (alert is null)
        {
            await NotFoundAsync(context, id);
            return;
        }

        var submitter = Authorization.SubmitterOf(context);
        if (change.Assignee is null && change.Status == AlertStatus.Acknowledged && alert.Assignee is null && submitter.Identity is { } person)
        {
            change = change with { Assignee = person };
        }

        if (AlertLifecycle.Check(alert, change) is { } problem)
        {
            await HttpJson.ProblemAsync(
                context,
                problem.Conflict ? StatusCodes.Status409Conflict : StatusCodes.Status400BadRequest,
                problem.Conflict ? "status-conflict" : "bad-status-change",
                problem.Conflict ? "Status change not allowed" : "Bad status change",
                problem.Problem);
            return;
        }

        // Recorded in the ledger first (not cancelled by the client going away): the answer names its ledger index.
        var now = state.Time.GetUtcNow();
        var append = AlertStatusEvent.Create(alert, change, submitter, now);
        var (result, _) = await state.TreeHeads.AppendAsync([append], CancellationToken.None);
        var index = result.Indices[0];
        var entry = new AlertHistoryEntry(now, AlertStatusEvent.By(submitter), alert.Status, change.Status, change.Classification, change.Assignee, change.Note, index);
        var stored = await state.Alerts.ChangeStatusAsync(alert.Id, entry, CancellationToken.None) ?? alert;
        state.Deriver?.Wake();
        await state.Notifier.NotifyAsync(stored.ToNotification(AlertNotificationKind.StatusChanged, Link(state, stored.Id)), CancellationToken.None);
        state.Logger.LogInformation("alert {AlertId} {From} -> {To} by token {TokenId} (ledger index {Index})", alert.Id, alert.Status, change.Status, submitter.TokenId, index);
        await HttpJson.WriteAsync(context, StatusCodes.Status200OK, w => AlertJson.Write(w, stored));
    }

    public static async Task TimelineAsync(HttpContext context, ServerState state)
    {
        var q = context.Request.Query;
        string? user, host;
        long? since, until;
        int limit;
        try
        {
            (user, host) = (Text(q["user"]), Text(q["host"]));
            if ((user is null) == (host is null))
            {
                Bad("user", "give user=NAME_OR_LOGIN_UID or host=NAME (one of them)");
            }

            since = Time(q["since"], "since");
            until = Time(q["until"], "until");
            limit = (int)(Number(q["limit"], "limit", 1, AlertTimeline.MaxLimit) ?? AlertTimeline.DefaultLimit);
        }
        catch (MalformedInputException ex)
        {
            await HttpJson.ProblemAsync(context, StatusCodes.Status400BadRequest, "bad-query", "Bad query", ex.Message);
            return;
        }

        var timeline = await AlertTimeline.LoadAsync(state.Alerts, user, host, since, until, limit, context.RequestAborted);
        if (timeline is null)
        {
            var what = user is not null ? $"user '{Findings.TextSanitizer.Escape(user, 128)}'" : $"host '{Findings.TextSanitizer.Escape(host, 128)}'";
            await HttpJson.ProblemAsync(context, StatusCodes.Status404NotFound, "not-found", "No events", $"no events for {what}" + (since is not null || until is not null ? " in that time range" : string.Empty));
            return;
        }

        await HttpJson.WriteAsync(context, StatusCodes.Status200OK, timeline.Write);
    }

    /// <summary>The alert's URL as notifications give it: the server's first address and the API path.</summary>
    internal static string Link(ServerState state, string id) => state.PublicUrl.TrimEnd('/') + "/api/v1/alerts/" + id;

    private static Task NotFoundAsync(HttpContext context, string id) =>
        HttpJson.ProblemAsync(context, StatusCodes.Status404NotFound, "not-found", "No such alert", $"no alert with id '{Findings.TextSanitizer.Escape(id, 64)}' is stored");

    /// <summary>Reads <c>{"status", "classification", "assignee", "note"}</c>: strings or null, nothing else.</summary>
    private static async Task<AlertStatusChange> ReadChangeAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentType is { } type && !type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
        {
            Bad(null, $"send the status change as application/json, not {type}");
        }

        if (request.ContentLength > MaxStatusBody)
        {
            Bad(null, $"a status change is at most {MaxStatusBody} bytes");
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > MaxStatusBody)
            {
                Bad(null, $"a status change is at most {MaxStatusBody} bytes");
            }
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(buffer.ToArray());
        }
        catch (JsonException ex)
        {
            return MalformedInputException.Throw<AlertStatusChange>(InputErrorKind.Syntax, $"the body is not JSON: {ex.Message}");
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                Bad(null, "the body is a JSON object: {\"status\": \"acknowledged|closed|open\", \"classification\", \"assignee\", \"note\"}");
            }

            string? status = null, classification = null, assignee = null, note = null;
            foreach (var member in document.RootElement.EnumerateObject())
            {
                if (member.Value.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
                {
                    Bad(member.Name, $"{Findings.TextSanitizer.Escape(member.Name, 40)}: a string or null");
                }

                var value = member.Value.ValueKind == JsonValueKind.String ? member.Value.GetString() : null;
                switch (member.Name)
                {
                    case "status": status = value; break;
                    case "classification": classification = value; break;
                    case "assignee": assignee = value; break;
                    case "note": note = value; break;
                    default: Bad(member.Name, $"unknown member '{Findings.TextSanitizer.Escape(member.Name, 40)}': status, classification, assignee, note"); break;
                }
            }

            if (status is null)
            {
                Bad("status", $"status: one of {string.Join(", ", AlertStatus.All)}");
            }

            return new AlertStatusChange(status!, classification, assignee, note);
        }
    }

    private static (long, string) Cursor(string text)
    {
        var dot = text.IndexOf('.', StringComparison.Ordinal);
        if (dot > 0 && long.TryParse(text.AsSpan(0, dot), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var micros) && AlertIds.IsWellFormed(text[(dot + 1)..]))
        {
            return (micros, text[(dot + 1)..]);
        }

        return MalformedInputException.Throw<(long, string)>(InputErrorKind.Syntax, "after: the 'next' value of the previous page", field: "after");
    }

    private static string? Text(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static long? Time(string? value, string name) =>
        string.IsNullOrEmpty(value) ? null : Rfc3339.ToUnixMicroseconds(Rfc3339.Parse(value, name));

    private static long? Number(string? value, string name, long min, long max)
    {
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        return long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n
            : MalformedInputException.Throw<long>(InputErrorKind.Syntax, $"{name}: a whole number from {min} to {max}", field: name);
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void Bad(string? field, string message) => MalformedInputException.Throw(InputErrorKind.Syntax, message, field: field);
}
