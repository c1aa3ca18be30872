using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using TrainGuard.Server.Alerts;
using TrainGuard.Server.Notifications;

namespace TrainGuard.Server.Tests.Notifications;

public sealed partial class PayloadTests
{
    /// <summary>A process name and path an attacker chose: a Slack link, mentions, a channel link, pre-escaped text, a tag.</summary>
    public const string HostileReason =
        "mallory (login uid 1602) sent SIGKILL to `python <https://evil.example/login|Click to re-authenticate>` <!here> <!channel> &lt;b&gt; <#C024BE7LR> from /tmp/<script>.sh";

    /// <summary>An account name (from a key comment) shaped as a user mention.</summary>
    public const string HostileAccount = "<@U024BE7LH> & co";

    private const string OurLink = "<https://trainguard.example.org/api/v1/alerts/alt_01JD2Q8X7K|Open alert alt_01JD2Q8X7K>";

    private static readonly DateTimeOffset Now = new(2026, 11, 23, 10, 5, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(AlertNotificationKind.Opened, "alert.opened")]
    [InlineData(AlertNotificationKind.Updated, "alert.updated")]
    [InlineData(AlertNotificationKind.StatusChanged, "alert.status_changed")]
    public void The_standard_payload_has_type_timestamp_and_the_alert_as_data(AlertNotificationKind kind, string type)
    {
        var body = JsonNode.Parse(WebhookPayloads.Alert(WebhookMode.Standard, Webhooks.Alert(kind: kind), Now))!.AsObject();

        Assert.Equal(["type", "timestamp", "data"], body.Select(p => p.Key));
        Assert.Equal(type, (string?)body["type"]);
        Assert.Equal("2026-11-23T10:05:00.000000Z", (string?)body["timestamp"]);
        var data = body["data"]!.AsObject();
        Assert.Equal(
            ["id", "rule_id", "title", "severity", "risk_score", "status", "reason", "account", "hosts", "first_seen", "last_seen", "count", "events", "link"],
            data.Select(p => p.Key));
        Assert.Equal("kill_other_user_many_nodes", (string?)data["rule_id"]);
        Assert.Equal(99, (int?)data["risk_score"]);
        Assert.Equal("1601", (string?)data["account"]!["login_uid"]);
        Assert.Equal(["gpu-node-1", "gpu-node-2", "gpu-node-3"], data["hosts"]!.AsArray().Select(h => (string?)h));
        Assert.Equal("2026-11-23T10:00:00.000000Z", (string?)data["first_seen"]);
        Assert.Equal(6, (long?)data["count"]);
        Assert.Equal("0192f0c1-0000-7000-8000-000000000002", (string?)data["events"]![1]!["id"]);
    }

    [Fact]
    public void The_standard_payload_carries_hostile_text_as_exact_json_string_data()
    {
        var alert = Webhooks.Alert(reason: HostileReason + "\"}],\"injected\":{\"x\":\"", account: HostileAccount) with { AccountName = HostileAccount, LoginUid = null };
        var body = JsonNode.Parse(WebhookPayloads.Alert(WebhookMode.Standard, alert, Now))!.AsObject();

        Assert.Equal(HostileReason + "\"}],\"injected\":{\"x\":\"", (string?)body["data"]!["reason"]);
        Assert.Equal(HostileAccount, (string?)body["data"]!["account"]!["name"]);
        Assert.Null(body["data"]!["account"]!["login_uid"]);
        Assert.Null(body["injected"]);
        Assert.Null(body["data"]!["injected"]);
    }

    [Fact]
    public void The_standard_payload_lists_at_most_fifty_events_and_keeps_the_total_count()
    {
        var alert = Webhooks.Alert() with { Count = 5000, Events = [.. Enumerable.Range(0, 500).Select(i => new AlertEventRef(Guid.CreateVersion7().ToString(), i))] };
        var bytes = WebhookPayloads.Alert(WebhookMode.Standard, alert, Now);
        var data = JsonNode.Parse(bytes)!["data"]!;

        Assert.Equal(WebhookPayloads.MaxEvents, data["events"]!.AsArray().Count);
        Assert.Equal(5000, (long?)data["count"]);
        Assert.True(bytes.Length < 20_000, $"{bytes.Length} bytes: Standard Webhooks recommends under 20 KB");
    }

    [Fact]
    public void The_slack_message_has_text_and_blocks_with_reason_severity_account_and_link()
    {
        var text = System.Text.Encoding.UTF8.GetString(WebhookPayloads.Alert(WebhookMode.Slack, Webhooks.Alert(), Now));
        var body = JsonNode.Parse(text)!.AsObject();

        Assert.Equal("[CRITICAL] One account kills training processes on several nodes: intern7 (login uid 1601) sent SIGKILL to 6 processes of 2 other users' runs on 3 nodes within 4 minutes", (string?)body["text"]);
        var blocks = body["blocks"]!.AsArray();
        Assert.Equal(["section", "section", "section"], blocks.Select(b => (string?)b!["type"]));
        Assert.Contains("intern7 (login uid 1601) sent SIGKILL", (string?)blocks[0]!["text"]!["text"], StringComparison.Ordinal);
        var fields = blocks[1]!["fields"]!.AsArray().Select(f => (string?)f!["text"]).ToList();
        Assert.Contains("*Severity*\ncritical (risk 99)", fields);
        Assert.Contains("*Account*\nintern7 (login uid 1601)", fields);
        Assert.Contains("*Hosts*\ngpu-node-1, gpu-node-2, gpu-node-3", fields);
        Assert.Contains("*Seen*\n6 times, 2026-11-23T10:00:00Z to 2026-11-23T10:04:00Z", fields);
        Assert.Equal(OurLink, (string?)blocks[2]!["text"]!["text"]);
        Assert.False((bool?)body["unfurl_links"]);
        Assert.False((bool?)body["unfurl_media"]);
    }

    [Fact]
    public void The_slack_message_escapes_a_hostile_process_name_so_it_makes_no_link_or_mention()
    {
        var alert = Webhooks.Alert(reason: HostileReason, account: HostileAccount) with { Hosts = ["<!everyone>", "gpu&node"] };
        AssertNoMarkupFromEvents(System.Text.Encoding.UTF8.GetString(WebhookPayloads.Alert(WebhookMode.Slack, alert, Now)));
    }

    [Fact]
    public void A_link_that_is_not_an_absolute_url_is_shown_as_escaped_text_not_as_a_slack_link()
    {
        var alert = Webhooks.Alert() with { Link = "/api/v1/alerts/alt_1|<!channel>" };
        var body = JsonNode.Parse(WebhookPayloads.Alert(WebhookMode.Slack, alert, Now))!;

        Assert.Equal("Open alert alt_01JD2Q8X7K: /api/v1/alerts/alt_1|&lt;!channel&gt;", (string?)body["blocks"]![2]!["text"]!["text"]);
    }

    [Theory]
    [InlineData("a & b", "a &amp; b")]
    [InlineData("<!channel>", "&lt;!channel&gt;")]
    [InlineData("&lt;", "&amp;lt;")]
    [InlineData("plain *bold* _it_", "plain *bold* _it_")]
    public void Slack_escaping_replaces_exactly_ampersand_and_angle_brackets(string text, string escaped)
    {
        Assert.Equal(escaped, SlackMessage.Escape(text));
    }

    /// <summary>
    /// Every text of a Slack message: no <c>&lt;</c> or <c>&gt;</c> but those of our own alert link, so no text from an
    /// event opens a link or mention; the hostile forms are there, escaped; mrkdwn is verbatim and previews are off.
    /// </summary>
    internal static void AssertNoMarkupFromEvents(string json)
    {
        var body = JsonNode.Parse(json)!.AsObject();
        Assert.False((bool?)body["unfurl_links"]);
        Assert.False((bool?)body["unfurl_media"]);
        var texts = new List<string>();
        Collect(body, texts);
        var all = string.Join("\n", texts);
        Assert.DoesNotMatch(AngleBrackets(), all.Replace(OurLink, string.Empty, StringComparison.Ordinal));
        Assert.Contains("&lt;https://evil.example/login|Click to re-authenticate&gt;", all, StringComparison.Ordinal);
        Assert.Contains("&lt;!channel&gt;", all, StringComparison.Ordinal);
        Assert.Contains("&lt;!here&gt;", all, StringComparison.Ordinal);
        Assert.Contains("&amp;lt;b&amp;gt;", all, StringComparison.Ordinal);
        Assert.Contains("&lt;@U024BE7LH&gt; &amp; co", all, StringComparison.Ordinal);
        Assert.DoesNotContain("<!", all, StringComparison.Ordinal);
        Assert.DoesNotContain("<@", all, StringComparison.Ordinal);
        Assert.DoesNotContain("<#", all, StringComparison.Ordinal);

        static void Collect(JsonNode? node, List<string> texts)
        {
            switch (node)
            {
                case JsonObject o:
                    if ((string?)o["type"] == "mrkdwn")
                    {
                        Assert.True((bool?)o["verbatim"], "a mrkdwn text object must be verbatim (no automatic links)");
                    }

                    foreach (var (key, value) in o)
                    {
                        if (key == "text" && value is JsonValue v && v.TryGetValue<string>(out var s))
                        {
                            texts.Add(s);
                        }
                        else
                        {
                            Collect(value, texts);
                        }
                    }

                    break;
                case JsonArray a:
                    foreach (var item in a)
                    {
                        Collect(item, texts);
                    }

                    break;
            }
        }
    }

    [GeneratedRegex("[<>]")]
    private static partial Regex AngleBrackets();
}
