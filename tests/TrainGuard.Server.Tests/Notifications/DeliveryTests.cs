using System.Net;
using System.Runtime.Versioning;
using TrainGuard.Server.Notifications;
using TrainGuard.Server.Tests.Support;

namespace TrainGuard.Server.Tests.Notifications;

/// <summary>Alerts delivered by a real server to real receivers on 127.0.0.1, on SQLite and PostgreSQL.</summary>
public sealed class DeliveryTests
{
    public static TheoryData<string> Backends => Support.Backends.All;

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task An_alert_reaches_a_standard_target_with_a_valid_signature_and_is_logged_as_delivered(string backend)
    {
        await using var receiver = await LoopbackReceiver.StartAsync();
        await using var harness = await Webhooks.StartAsync(backend);
        var added = await Webhooks.AddAsync(harness.Server, harness.Directory, "soc", receiver.Url);

        await harness.Server.Webhooks.Notifier.NotifyAsync(Webhooks.Alert(), CancellationToken.None);

        var received = Assert.Single(await receiver.WaitForAsync(1));
        Assert.Equal(WebhookVerification.Valid, received.Verify(added.Secret!));
        Assert.Matches("^msg_[0-9a-f]{32}$", received.Id);
        Assert.StartsWith("application/json", received.ContentType, StringComparison.Ordinal);
        var body = Webhooks.Json(received);
        Assert.Equal("alert.opened", (string?)body["type"]);
        Assert.Equal("alt_01JD2Q8X7K", (string?)body["data"]!["id"]);
        Assert.Equal("intern7", (string?)body["data"]!["account"]!["name"]);
        Assert.Equal(17, (long?)body["data"]!["events"]![0]!["ledger_index"]);

        var log = await Webhooks.WaitForLogAsync(harness.Server.Webhooks.Store, "soc", l => l.Count == 1);
        var attempt = Assert.Single(log);
        Assert.Equal((DeliveryOutcome.Delivered, 200, 1, received.Id, "alert.opened"), (attempt.Outcome, attempt.StatusCode, attempt.Attempt, attempt.MessageId, attempt.EventType));
        Assert.Null(attempt.Error);
        Assert.Equal(0, Assert.Single(await harness.Server.Webhooks.Store.ListTargetsAsync()).Pending);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task A_500_is_retried_with_the_same_webhook_id_and_a_fresh_signature_until_delivered(string backend)
    {
        await using var receiver = await LoopbackReceiver.StartAsync(LoopbackReceiver.Script(500, 503, 200));
        receiver.ErrorBody = "upstream exploded: " + new string('x', 5000);
        await using var harness = await Webhooks.StartAsync(backend);
        var added = await Webhooks.AddAsync(harness.Server, harness.Directory, "soc", receiver.Url);

        await harness.Server.Webhooks.Notifier.NotifyAsync(Webhooks.Alert(), CancellationToken.None);

        var received = await receiver.WaitForAsync(3);
        Assert.Single(received.Select(r => r.Id).Distinct());
        Assert.All(received, r => Assert.Equal(WebhookVerification.Valid, r.Verify(added.Secret!)));
        Assert.Single(received.Select(r => r.Text).Distinct());
        var log = await Webhooks.WaitForLogAsync(harness.Server.Webhooks.Store, "soc", l => l.Count == 3);
        Assert.Equal([3, 2, 1], log.Select(d => d.Attempt));
        Assert.Equal([DeliveryOutcome.Delivered, DeliveryOutcome.Retrying, DeliveryOutcome.Retrying], log.Select(d => d.Outcome));
        Assert.Equal([200, 503, 500], log.Select(d => d.StatusCode ?? 0));
        Assert.StartsWith("HTTP 500: upstream exploded: xxx", log[2].Error, StringComparison.Ordinal);
        Assert.True(log[2].Error!.Length < WebhookDispatcher.ResponseExcerptChars + 20, "the log keeps an excerpt of the response, never the whole body");
        var first = log[2];
        Assert.NotNull(first.NextAttemptAt);
        Assert.True(first.NextAttemptAt.Value - first.AttemptedAt <= TimeSpan.FromMilliseconds(300 + first.DurationMs + 5), "the retry is planned within the schedule's first step (300 ms) of the attempt's end");
        Assert.True(log[1].AttemptedAt >= first.NextAttemptAt.Value.AddMilliseconds(-5), "the retry waited for its planned time");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task A_410_disables_the_target_and_later_alerts_are_not_sent_to_it(string backend)
    {
        await using var gone = await LoopbackReceiver.StartAsync(_ => 410);
        await using var other = await LoopbackReceiver.StartAsync();
        await using var harness = await Webhooks.StartAsync(backend);
        await Webhooks.AddAsync(harness.Server, harness.Directory, "gone", gone.Url);
        await Webhooks.AddAsync(harness.Server, harness.Directory, "other", other.Url);

        await harness.Server.Webhooks.Notifier.NotifyAsync(Webhooks.Alert(), CancellationToken.None);
        await gone.WaitForAsync(1);
        var log = await Webhooks.WaitForLogAsync(harness.Server.Webhooks.Store, "gone", l => l.Count == 1);
        Assert.Equal((DeliveryOutcome.Gone, 410), (log[0].Outcome, log[0].StatusCode));
        var target = (await harness.Server.Webhooks.Store.FindTargetAsync("gone"))!;
        Assert.False(target.Enabled);
        Assert.Contains("410 Gone", target.DisabledReason, StringComparison.Ordinal);

        await harness.Server.Webhooks.Notifier.NotifyAsync(Webhooks.Alert(kind: Alerts.AlertNotificationKind.Updated), CancellationToken.None);
        await other.WaitForAsync(2);
        await Webhooks.WaitForLogAsync(harness.Server.Webhooks.Store, "other", l => l.Count == 2);
        Assert.Single(gone.Received);
        Assert.Single(await harness.Server.Webhooks.Store.QueryDeliveriesAsync(new WebhookDeliveryQuery { Target = "gone" }));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task A_message_still_being_retried_when_the_server_stops_is_delivered_by_the_next_server(string backend)
    {
        var accepting = false;
        await using var receiver = await LoopbackReceiver.StartAsync(_ => Volatile.Read(ref accepting) ? 200 : 500);
        await using var harness = await Webhooks.StartAsync(backend);
        var added = await Webhooks.AddAsync(harness.Server, harness.Directory, "soc", receiver.Url);
        await harness.Server.Webhooks.Notifier.NotifyAsync(Webhooks.Alert(), CancellationToken.None);
        await Webhooks.WaitForLogAsync(harness.Server.Webhooks.Store, "soc", l => l.Count >= 1 && l.All(d => d.Outcome == DeliveryOutcome.Retrying));

        await harness.RestartAsync(o => o with { Webhooks = o.Webhooks with { Deliver = false } });
        Volatile.Write(ref accepting, true);
        var failedAttempts = receiver.Received.Count;
        await harness.RestartAsync(o => Webhooks.Fast(o));

        var log = await Webhooks.WaitForLogAsync(harness.Server.Webhooks.Store, "soc", l => l[0].Outcome == DeliveryOutcome.Delivered);
        var received = receiver.Received;
        Assert.Equal(failedAttempts + 1, received.Count);
        Assert.Single(received.Select(r => r.Id).Distinct());
        Assert.Equal(WebhookVerification.Valid, received[^1].Verify(added.Secret!));
        Assert.True(log[0].Attempt >= 2);
        Assert.Equal(Enumerable.Range(1, log[0].Attempt).Reverse(), log.Select(d => d.Attempt));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task A_message_leased_by_a_server_that_died_is_sent_once_the_lease_runs_out(string backend)
    {
        await using var receiver = await LoopbackReceiver.StartAsync();
        await using var harness = await Webhooks.StartAsync(backend, deliver: false);
        await Webhooks.AddAsync(harness.Server, harness.Directory, "soc", receiver.Url);
        await harness.Server.Webhooks.Notifier.NotifyAsync(Webhooks.Alert(), CancellationToken.None);
        var leaseEnds = DateTimeOffset.UtcNow.AddSeconds(2);
        await Database.ExecuteAsync(harness.Database, $"UPDATE webhook_outbox SET lease_owner = 'killed-server', lease_until_ms = {leaseEnds.ToUnixTimeMilliseconds()}");

        await harness.RestartAsync(o => Webhooks.Fast(o));

        var received = Assert.Single(await receiver.WaitForAsync(1));
        Assert.True(received.At >= leaseEnds.AddMilliseconds(-100), $"sent at {received.At:O}, while another server's lease ran until {leaseEnds:O}");
        await Webhooks.WaitForLogAsync(harness.Server.Webhooks.Store, "soc", l => l.Count == 1 && l[0].Outcome == DeliveryOutcome.Delivered);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task A_hanging_receiver_with_a_backlog_times_out_without_delaying_another_target(string backend)
    {
        await using var hanging = await LoopbackReceiver.StartAsync(_ => LoopbackReceiver.Hang);
        await using var fast = await LoopbackReceiver.StartAsync();
        await using var harness = await Webhooks.StartAsync(backend, requestTimeout: TimeSpan.FromSeconds(4));
        var slow = (await Webhooks.AddAsync(harness.Server, harness.Directory, "a-hanging", hanging.Url)).Target;
        await Webhooks.AddAsync(harness.Server, harness.Directory, "b-fast", fast.Url);
        var backlog = Enumerable.Range(0, 1500).Select(i => new OutboxItem(StandardWebhook.NewMessageId(), slow, WebhookPayloads.Test, [(byte)'{', (byte)'}'])).ToList();
        await harness.Server.Webhooks.Store.EnqueueAsync(backlog, DateTimeOffset.UtcNow.AddMinutes(-1));

        await harness.Server.Webhooks.Notifier.NotifyAsync(Webhooks.Alert(), CancellationToken.None);

        await hanging.WaitForAsync(1);
        await Webhooks.WaitForLogAsync(harness.Server.Webhooks.Store, "b-fast", l => l.Count == 1 && l[0].Outcome == DeliveryOutcome.Delivered);
        Assert.Empty(await harness.Server.Webhooks.Store.QueryDeliveriesAsync(new WebhookDeliveryQuery { Target = "a-hanging" }));

        var log = await Webhooks.WaitForLogAsync(harness.Server.Webhooks.Store, "a-hanging", l => l.Count >= 1);
        Assert.Equal(DeliveryOutcome.Retrying, log[^1].Outcome);
        Assert.Null(log[^1].StatusCode);
        Assert.Equal("no response within 4 s", log[^1].Error);
        Assert.InRange(log[^1].DurationMs, 3900, 30_000);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task A_slack_target_gets_an_unsigned_message_with_hostile_text_escaped(string backend)
    {
        await using var receiver = await LoopbackReceiver.StartAsync();
        await using var harness = await Webhooks.StartAsync(backend);
        await Webhooks.AddAsync(harness.Server, harness.Directory, "slack", receiver.Url, WebhookMode.Slack);

        await harness.Server.Webhooks.Notifier.NotifyAsync(Webhooks.Alert(reason: PayloadTests.HostileReason, account: PayloadTests.HostileAccount), CancellationToken.None);

        var received = Assert.Single(await receiver.WaitForAsync(1));
        Assert.Null(received.Signature);
        PayloadTests.AssertNoMarkupFromEvents(received.Text);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task The_delivery_log_and_targets_are_served_to_admins_only_and_never_hold_a_secret(string backend)
    {
        await using var receiver = await LoopbackReceiver.StartAsync(LoopbackReceiver.Script(500, 200));
        await using var harness = await Webhooks.StartAsync(backend);
        var added = await Webhooks.AddAsync(harness.Server, harness.Directory, "soc", receiver.Url);
        await harness.Server.Webhooks.Notifier.NotifyAsync(Webhooks.Alert(), CancellationToken.None);
        await Webhooks.WaitForLogAsync(harness.Server.Webhooks.Store, "soc", l => l.Count == 2);
        // Added after the alert, so nothing is queued for it (and nothing leaves this machine).
        await Webhooks.AddAsync(harness.Server, harness.Directory, "slack", "https://hooks.slack.com/services/T0001/B0001/SlackPathSecret", WebhookMode.Slack);

        using (var anonymous = await harness.GetAsync("api/v1/webhooks/deliveries", null))
        using (var reader = await harness.GetAsync("api/v1/webhooks/deliveries", harness.ReaderToken))
        using (var targetsAsReader = await harness.GetAsync("api/v1/webhooks", harness.ReaderToken))
        using (var agent = await harness.GetAsync("api/v1/webhooks/deliveries", harness.AgentToken))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, reader.StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, targetsAsReader.StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, agent.StatusCode);
        }

        var page = await harness.GetJsonAsync("api/v1/webhooks/deliveries?target=soc&limit=1", harness.AdminToken);
        var newest = Assert.Single(page["deliveries"]!.AsArray())!;
        Assert.Equal(("delivered", 2, 200), ((string?)newest["outcome"], (int?)newest["attempt"], (int?)newest["status_code"]));
        var next = (long?)page["next_before"];
        var older = await harness.GetJsonAsync($"api/v1/webhooks/deliveries?target=soc&before={next}", harness.AdminToken);
        var first = Assert.Single(older["deliveries"]!.AsArray())!;
        Assert.Equal(("retrying", 500), ((string?)first["outcome"], (int?)first["status_code"]));
        Assert.Equal("HTTP 500: receiver says no", (string?)first["error"]);
        Assert.Null(older["next_before"]);

        var targets = await harness.GetJsonAsync("api/v1/webhooks", harness.AdminToken);
        var text = targets.ToJsonString() + page.ToJsonString() + older.ToJsonString();
        Assert.DoesNotContain(added.Secret!.Format()["whsec_".Length..], text, StringComparison.Ordinal);
        Assert.DoesNotContain("SlackPathSecret", text, StringComparison.Ordinal);
        var listed = targets["targets"]!.AsArray().ToDictionary(t => (string)t!["name"]!, t => (string?)t!["url"]);
        Assert.Equal("https://hooks.slack.com/…", listed["slack"]);
        Assert.Equal(receiver.Url, listed["soc"]);

        using var unknown = await harness.GetAsync("api/v1/webhooks/deliveries?target=nobody", harness.AdminToken);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        using var badLimit = await harness.GetAsync("api/v1/webhooks/deliveries?limit=0", harness.AdminToken);
        Assert.Equal(HttpStatusCode.BadRequest, badLimit.StatusCode);
    }

    [Fact]
    [UnsupportedOSPlatform("windows")]
    public async Task A_target_whose_secrets_file_other_users_can_read_gets_nothing_until_it_is_fixed()
    {
        await using var receiver = await LoopbackReceiver.StartAsync();
        await using var harness = await Webhooks.StartAsync(Support.Backends.Sqlite);
        var added = await Webhooks.AddAsync(harness.Server, harness.Directory, "soc", receiver.Url);
        var file = WebhookSecretFile.PathFor(harness.Directory, added.Target.Id);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);

        await harness.Server.Webhooks.Notifier.NotifyAsync(Webhooks.Alert(), CancellationToken.None);
        await Task.Delay(700);
        Assert.Empty(receiver.Received);
        Assert.Equal(1, Assert.Single(await harness.Server.Webhooks.Store.ListTargetsAsync()).Pending);

        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        await receiver.WaitForAsync(1);
    }

    [Fact]
    public async Task During_a_rotation_both_secrets_sign_and_afterwards_only_the_new_one()
    {
        await using var receiver = await LoopbackReceiver.StartAsync();
        await using var harness = await Webhooks.StartAsync(Support.Backends.Sqlite);
        var added = await Webhooks.AddAsync(harness.Server, harness.Directory, "soc", receiver.Url);
        var store = harness.Server.Webhooks.Store;

        var fresh = await WebhookAdmin.RotateAsync(store, harness.Directory, "soc", dropPrevious: false);
        await harness.Server.Webhooks.Notifier.NotifyAsync(Webhooks.Alert(), CancellationToken.None);
        var during = (await receiver.WaitForAsync(1))[0];
        Assert.Equal(2, during.Signature!.Split(' ').Length);
        Assert.Equal(WebhookVerification.Valid, during.Verify(added.Secret!));
        Assert.Equal(WebhookVerification.Valid, during.Verify(fresh!));

        Assert.Null(await WebhookAdmin.RotateAsync(store, harness.Directory, "soc", dropPrevious: true));
        await harness.Server.Webhooks.Notifier.NotifyAsync(Webhooks.Alert(kind: Alerts.AlertNotificationKind.Updated), CancellationToken.None);
        var after = (await receiver.WaitForAsync(2))[1];
        Assert.Equal(WebhookVerification.SignatureMismatch, after.Verify(added.Secret!));
        Assert.Equal(WebhookVerification.Valid, after.Verify(fresh!));
    }
}
