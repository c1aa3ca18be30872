using System.Net;
using System.Text.Json.Nodes;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Notifications;
using TrainGuard.Server.Tests.Notifications;
using TrainGuard.Server.Tests.Support;

namespace TrainGuard.Server.Tests.Alerting;

/// <summary>
/// Alerts the server derives reach webhook receivers on 127.0.0.1 (SQLite and PostgreSQL): one signed
/// <c>alert.opened</c> per new alert, <c>alert.updated</c> when events fold in, <c>alert.status_changed</c> on a
/// responder's change, retried with the same webhook id after a receiver fails.
/// </summary>
public sealed class AlertNotificationTests
{
    public static TheoryData<string> Backends => Support.Backends.All;

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Derived_alerts_are_delivered_signed_and_retried_after_a_failure(string backend)
    {
        await using var receiver = await LoopbackReceiver.StartAsync(LoopbackReceiver.Script(500, 200));
        await using var harness = await Webhooks.StartAsync(backend);
        var added = await Webhooks.AddAsync(harness.Server, harness.Directory, "soc", receiver.Url);
        var agent = await harness.NewTokenAsync(Role.Agent, Incident.Host);

        await harness.PostInBatchesAsync(agent, Incident.TimeOrder, batch: 100);
        await harness.WaitForDerivedAsync();
        var alerts = await harness.AlertsAsync();
        Assert.Equal(4, alerts.Count);

        // Four alerts, one message each; the first attempt of the first failed and was sent again with the same id.
        var received = await receiver.WaitForAsync(5);
        Assert.All(received, r => Assert.Equal(WebhookVerification.Valid, r.Verify(added.Secret!)));
        Assert.Equal(4, received.Select(r => r.Id).Distinct().Count());
        Assert.Equal(received[0].Id, received.Skip(1).First(r => r.Id == received[0].Id).Id);
        var bodies = received.GroupBy(r => r.Id).Select(g => Webhooks.Json(g.Last())).ToList();
        Assert.All(bodies, b => Assert.Equal("alert.opened", (string?)b["type"]));
        Assert.Equal(alerts.Select(a => (string?)a["id"]).Order(), bodies.Select(b => (string?)b["data"]!["id"]).Order());
        Assert.All(bodies, b =>
        {
            Assert.Equal(("intern7", "2007"), ((string?)b["data"]!["account"]!["name"], (string?)b["data"]!["account"]!["login_uid"]));
            Assert.StartsWith("intern7 (login uid 2007)", (string?)b["data"]!["reason"], StringComparison.Ordinal);
            Assert.EndsWith("/api/v1/alerts/" + (string?)b["data"]!["id"], (string?)b["data"]!["link"], StringComparison.Ordinal);
        });
        var log = await Webhooks.WaitForLogAsync(harness.Server.Webhooks.Store, "soc", l => l.Count(d => d.Outcome == DeliveryOutcome.Delivered) == 4);
        Assert.Single(log, d => d.Outcome == DeliveryOutcome.Retrying);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Folding_and_status_changes_notify_once_each(string backend)
    {
        await using var receiver = await LoopbackReceiver.StartAsync();
        await using var harness = await Webhooks.StartAsync(backend);
        await Webhooks.AddAsync(harness.Server, harness.Directory, "soc", receiver.Url);
        var responder = await harness.NewTokenAsync(Role.Responder, "alice");

        await harness.PostEventsAsAsync(harness.AgentToken, AlertLifecycleTests.Kill(1, 100));
        await harness.WaitForDerivedAsync();
        await receiver.WaitForAsync(1);
        await harness.PostEventsAsAsync(harness.AgentToken, AlertLifecycleTests.Kill(2, 101));
        await harness.WaitForDerivedAsync();
        await receiver.WaitForAsync(2);
        var id = (string)Assert.Single(await harness.AlertsAsync())["id"]!;
        using (var ack = await harness.PostStatusAsync(id, responder, new JsonObject { ["status"] = "acknowledged" }))
        {
            Assert.Equal(HttpStatusCode.OK, ack.StatusCode);
        }

        await harness.WaitForDerivedAsync();
        var received = await receiver.WaitForAsync(3);
        await Task.Delay(300);
        Assert.Equal(3, receiver.Received.Count);
        var types = received.Select(r => (string?)Webhooks.Json(r)["type"]).ToList();
        Assert.Equal(["alert.opened", "alert.updated", "alert.status_changed"], types);
        var last = Webhooks.Json(received[2])["data"]!;
        Assert.Equal(("acknowledged", 2L), ((string?)last["status"], (long?)last["count"]));
    }
}
