using Microsoft.Extensions.Logging;
using TrainGuard.Server.Alerts;
using TrainGuard.Server.Storage;

namespace TrainGuard.Server.Notifications;

/// <summary>
/// Webhook notifications of one server: the tables (<see cref="Store"/>), the dispatcher that delivers the outbox,
/// and the <see cref="Notifier"/> the alert deriver calls. Started with the server, disposed before its store.
/// </summary>
public sealed class WebhookNotifications : IAsyncDisposable
{
    private readonly WebhookDispatcher? _dispatcher;

    private WebhookNotifications(WebhookStore store, WebhookDispatcher? dispatcher, IAlertNotifier notifier)
    {
        Store = store;
        _dispatcher = dispatcher;
        Notifier = notifier;
    }

    public WebhookStore Store { get; }

    /// <summary>Queues a message per enabled target for each alert change.</summary>
    public IAlertNotifier Notifier { get; }

    /// <summary>Creates the tables if needed and, unless <see cref="WebhookOptions.Deliver"/> is off, starts delivering what is queued (also what an earlier run left).</summary>
    public static async Task<WebhookNotifications> StartAsync(IServerStore store, string dataDirectory, WebhookOptions options, ILogger logger, TimeProvider time, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var webhooks = await WebhookStore.OpenAsync(store, cancellationToken);
        var dispatcher = options.Deliver ? new WebhookDispatcher(webhooks, dataDirectory, options, logger, time) : null;
        dispatcher?.Start();
        return new WebhookNotifications(webhooks, dispatcher, new WebhookNotifier(webhooks, () => dispatcher?.Wake(), logger, time));
    }

    /// <summary>Queues a <c>report.issued</c> message (the summary and both digests) for every enabled target; its webhook id, or null when there is no target.</summary>
    public async Task<string?> ReportIssuedAsync(Reports.IssuedReport html, Reports.IssuedReport json, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var id = await WebhookNotifier.QueueAsync(Store, WebhookPayloads.ReportIssued, null, t => WebhookPayloads.Report(t.Mode, html, json, now), now, cancellationToken);
        if (id is not null)
        {
            _dispatcher?.Wake();
        }

        return id;
    }

    public ValueTask DisposeAsync() => _dispatcher?.DisposeAsync() ?? ValueTask.CompletedTask;
}
