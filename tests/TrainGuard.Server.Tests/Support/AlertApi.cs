using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace TrainGuard.Server.Tests.Support;

/// <summary>The alert API as the tests call it: post events in batches, wait for derivation, read alerts and timelines.</summary>
public static class AlertApi
{
    /// <summary>Posts <paramref name="events"/> with <paramref name="token"/>, <paramref name="batch"/> at a time.</summary>
    public static async Task PostInBatchesAsync(this ServerHarness harness, string token, IReadOnlyList<JsonObject> events, int batch = 10)
    {
        for (var i = 0; i < events.Count; i += batch)
        {
            await harness.PostEventsAsAsync(token, [.. events.Skip(i).Take(batch)]);
        }
    }

    /// <summary>Waits until the server's deriver has read every committed ledger entry.</summary>
    public static async Task WaitForDerivedAsync(this ServerHarness harness, TimeSpan? timeout = null)
    {
        var deadline = DateTimeOffset.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        var deriver = harness.Server.Deriver ?? throw new InvalidOperationException("the server derives no alerts");
        while (true)
        {
            var size = await harness.Server.Store.Ledger.SizeAsync();
            if (deriver.Cursor >= size)
            {
                return;
            }

            Assert.True(DateTimeOffset.UtcNow < deadline, $"the deriver is at {deriver.Cursor} of {size} ledger entries (failures: {deriver.Failures})");
            await Task.Delay(20);
        }
    }

    /// <summary>Every alert (all statuses), newest first, following the pages.</summary>
    public static async Task<List<JsonObject>> AlertsAsync(this ServerHarness harness, string query = "status=all", string? token = null)
    {
        var result = new List<JsonObject>();
        var path = "api/v1/alerts?" + query;
        while (true)
        {
            var page = await harness.GetJsonAsync(path, token);
            result.AddRange(page["alerts"]!.AsArray().Select(a => a!.AsObject()));
            if (page["next"] is not JsonValue next)
            {
                return result;
            }

            path = $"api/v1/alerts?{query}&after={Uri.EscapeDataString((string)next!)}";
        }
    }

    public static async Task<HttpResponseMessage> PostStatusAsync(this ServerHarness harness, string alertId, string token, JsonObject body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"api/v1/alerts/{alertId}/status") { Content = new StringContent(body.ToJsonString(), Encoding.UTF8) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await harness.Http.SendAsync(request);
    }

    /// <summary>What identifies an alert's content whatever ledger positions its events have: rule, account, attribution and its events' ids.</summary>
    public static string Shape(JsonObject alert) =>
        $"{alert["rule"]!["id"]} {alert["account"]!["name"]}/{alert["account"]!["login_uid"]} {alert["attribution"]} count {alert["count"]} events [{string.Join(",", alert["events"]!.AsArray().Select(e => (string?)e!["event_id"]).Order(StringComparer.Ordinal))}]";
}
