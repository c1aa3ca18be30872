using System.Text.Json.Nodes;
using TrainGuard.Server.Alerts;
using TrainGuard.Server.Hosting;
using TrainGuard.Server.Notifications;
using TrainGuard.Server.Tests.Support;

namespace TrainGuard.Server.Tests.Notifications;

/// <summary>What the webhook tests share: fast delivery options, sample alerts, targets added as an admin would.</summary>
internal static class Webhooks
{
    /// <summary>Short timeouts, a quick schedule with many steps (a failing receiver is retried, not given up), fast polling.</summary>
    public static ServerOptions Fast(ServerOptions options, TimeSpan? requestTimeout = null, IReadOnlyList<TimeSpan>? schedule = null, bool deliver = true) => options with
    {
        Webhooks = new WebhookOptions
        {
            RequestTimeout = requestTimeout ?? TimeSpan.FromSeconds(5),
            RetrySchedule = schedule ?? [.. Enumerable.Repeat(TimeSpan.FromMilliseconds(300), 20)],
            PollInterval = TimeSpan.FromMilliseconds(100),
            Deliver = deliver,
        },
    };

    public static AlertNotification Alert(string reason = "intern7 (login uid 1601) sent SIGKILL to 6 processes of 2 other users' runs on 3 nodes within 4 minutes", AlertNotificationKind kind = AlertNotificationKind.Opened, string? account = "intern7") => new()
    {
        Kind = kind,
        AlertId = "alt_01JD2Q8X7K",
        RuleId = "kill_other_user_many_nodes",
        Title = "One account kills training processes on several nodes",
        Severity = "critical",
        RiskScore = 99,
        Reason = reason,
        AccountName = account,
        LoginUid = "1601",
        Hosts = ["gpu-node-1", "gpu-node-2", "gpu-node-3"],
        FirstSeen = new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero),
        LastSeen = new DateTimeOffset(2026, 11, 23, 10, 4, 0, TimeSpan.Zero),
        Count = 6,
        Status = "open",
        Events = [new AlertEventRef("0192f0c1-0000-7000-8000-000000000001", 17), new AlertEventRef("0192f0c1-0000-7000-8000-000000000002", 18)],
        Link = "https://trainguard.example.org/api/v1/alerts/alt_01JD2Q8X7K",
    };

    public static Task<AddedWebhookTarget> AddAsync(TrainGuardServer server, string dataDirectory, string name, string url, WebhookMode mode = WebhookMode.Standard) =>
        WebhookAdmin.AddAsync(server.Webhooks.Store, dataDirectory, name, url, mode, allowInsecureHttp: false, DateTimeOffset.UtcNow);

    /// <summary>Waits until <paramref name="done"/> holds for the delivery log of <paramref name="target"/> (newest first).</summary>
    public static async Task<IReadOnlyList<WebhookDelivery>> WaitForLogAsync(WebhookStore store, string target, Func<IReadOnlyList<WebhookDelivery>, bool> done, TimeSpan? timeout = null)
    {
        var deadline = DateTimeOffset.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var log = await store.QueryDeliveriesAsync(new WebhookDeliveryQuery { Target = target });
            if (done(log))
            {
                return log;
            }

            if (DateTimeOffset.UtcNow > deadline)
            {
                Assert.Fail($"the delivery log of {target} did not reach the expected state: " + string.Join("; ", log.Select(d => $"#{d.Attempt} {d.Outcome} {d.StatusCode} {d.Error}")));
            }

            await Task.Delay(50);
        }
    }

    public static JsonObject Json(ReceivedWebhook received) => JsonNode.Parse(received.Body)!.AsObject();

    public static Task<ServerHarness> StartAsync(string backend, TimeSpan? requestTimeout = null, bool deliver = true) =>
        ServerHarness.StartAsync(backend, o => Fast(o, requestTimeout, deliver: deliver));
}
