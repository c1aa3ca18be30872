using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Http;

namespace TrainGuard.Server.Notifications;

/// <summary>
/// Admin-only reads of the webhook configuration and delivery log: <c>GET /api/v1/webhooks</c> (targets, never a
/// secret or a Slack URL's path) and <c>GET /api/v1/webhooks/deliveries</c> (attempts, newest first).
/// </summary>
internal static class WebhookEndpoints
{
    public static void Map(WebApplication app, ServerState state, WebhookStore store)
    {
        app.MapGet("/api/v1/webhooks", Authorization.Require(state, Role.Admin, context => TargetsAsync(context, store)));
        app.MapGet("/api/v1/webhooks/deliveries", Authorization.Require(state, Role.Admin, context => DeliveriesAsync(context, store)));
    }

    private static async Task TargetsAsync(HttpContext context, WebhookStore store)
    {
        var targets = await store.ListTargetsAsync(context.RequestAborted);
        await HttpJson.WriteAsync(context, StatusCodes.Status200OK, w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("targets");
            foreach (var status in targets)
            {
                WebhookJson.WriteTarget(w, status);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private static async Task DeliveriesAsync(HttpContext context, WebhookStore store)
    {
        var query = context.Request.Query;
        var limit = WebhookDeliveryQuery.DefaultLimit;
        long? before = null;
        if (query.TryGetValue("limit", out var limitText) && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > WebhookDeliveryQuery.MaxLimit))
        {
            await HttpJson.ProblemAsync(context, StatusCodes.Status400BadRequest, "bad-query", "Bad query", $"limit must be an integer from 1 to {WebhookDeliveryQuery.MaxLimit}");
            return;
        }

        if (query.TryGetValue("before", out var beforeText))
        {
            if (!long.TryParse(beforeText, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                await HttpJson.ProblemAsync(context, StatusCodes.Status400BadRequest, "bad-query", "Bad query", "before must be a delivery id (a non-negative integer)");
                return;
            }

            before = value;
        }

        string? target = query.TryGetValue("target", out var targetText) ? targetText.ToString() : null;
        if (target is not null && await store.FindTargetAsync(target, context.RequestAborted) is null
            && (await store.QueryDeliveriesAsync(new WebhookDeliveryQuery { Target = target, Limit = 1 }, context.RequestAborted)).Count == 0)
        {
            await HttpJson.ProblemAsync(context, StatusCodes.Status404NotFound, "no-such-target", "No such webhook target", "no webhook target has this name and none had deliveries logged under it");
            return;
        }

        var deliveries = await store.QueryDeliveriesAsync(
            new WebhookDeliveryQuery { Target = target, MessageId = query.TryGetValue("message", out var message) ? message.ToString() : null, Before = before, Limit = limit },
            context.RequestAborted);
        await HttpJson.WriteAsync(context, StatusCodes.Status200OK, w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("deliveries");
            foreach (var d in deliveries)
            {
                WebhookJson.WriteDelivery(w, d);
            }

            w.WriteEndArray();
            if (deliveries.Count == limit)
            {
                w.WriteNumber("next_before", deliveries[^1].Id);
            }
            else
            {
                w.WriteNull("next_before");
            }

            w.WriteEndObject();
        });
    }
}
