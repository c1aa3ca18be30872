using Microsoft.Extensions.Logging;
using TrainGuard.Server.Alerts;

namespace TrainGuard.Server.Notifications;

/// <summary>
/// The <see cref="IAlertNotifier"/> of the server: each alert change becomes one message (one <c>webhook-id</c>)
/// queued in the outbox for every enabled target, rendered for the target's mode, in one transaction; the
/// dispatcher is woken to send it. Once <see cref="NotifyAsync"/> has returned the message survives a restart and is
/// delivered at least once. A failure to queue is logged, not thrown (the alert itself is already stored).
/// </summary>
public sealed class WebhookNotifier : IAlertNotifier
{
    private readonly WebhookStore _store;
    private readonly Action _queued;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    public WebhookNotifier(WebhookStore store, Action queued, ILogger logger, TimeProvider time)
    {
        _store = store;
        _queued = queued;
        _logger = logger;
        _time = time;
    }

    public async Task NotifyAsync(AlertNotification notification, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(notification);
        try
        {
            var now = _time.GetUtcNow();
            var messageId = await QueueAsync(_store, WebhookPayloads.EventType(notification.Kind), null, t => WebhookPayloads.Alert(t.Mode, notification, now), now, cancellationToken);
            if (messageId is not null)
            {
                _queued();
            }
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            _logger.LogError(ex, "webhooks: could not queue the notification of alert {AlertId} ({Kind})", notification.AlertId, notification.Kind);
        }
    }

    /// <summary>
    /// Queues one message for every enabled target (or only <paramref name="onlyTarget"/>), the body rendered per
    /// target; returns its webhook id, or null when there was no target.
    /// </summary>
    public static async Task<string?> QueueAsync(WebhookStore store, string eventType, string? onlyTarget, Func<WebhookTarget, byte[]> render, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(render);
        var targets = (await store.EnabledTargetsAsync(cancellationToken)).Where(t => onlyTarget is null || t.Name == onlyTarget).ToList();
        if (targets.Count == 0)
        {
            return null;
        }

        var messageId = StandardWebhook.NewMessageId();
        await store.EnqueueAsync([.. targets.Select(t => new OutboxItem(messageId, t, eventType, render(t)))], now, cancellationToken);
        return messageId;
    }
}
