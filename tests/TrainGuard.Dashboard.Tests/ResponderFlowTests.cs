using System.Text.Json;
using Microsoft.Playwright;
using TrainGuard.Dashboard.Tests.Support;

namespace TrainGuard.Dashboard.Tests;

/// <summary>
/// The responder's path through the recorded incident: log in, open the critical alert, check its proof, acknowledge
/// and close it with a classification, follow it to the attacker's timeline and find the victims there.
/// </summary>
[Collection(DashboardCollection.Name)]
public sealed class ResponderFlowTests
{
    private readonly DashboardFixture _fixture;

    public ResponderFlowTests(DashboardFixture fixture)
    {
        _fixture = fixture;
    }

    [Fact]
    public async Task AResponderAcknowledgesAndClosesTheCriticalAlertThenFollowsItToTheAttackersTimeline()
    {
        var critical = (await _fixture.AlertsAsync()).Where(a => a.Severity == "critical" && a.Status == "open" && a.AccountName == "intern7").OrderBy(a => a.FirstSeen).First();
        var (context, page, console) = await _fixture.OpenAsync(_fixture.ResponderToken);
        await using var _ = context;

        // The overview counts it and links to it; the README's screenshot is taken here.
        var tile = page.Locator("#severity-tiles a.sev-critical .n");
        Assert.True(int.Parse(await tile.InnerTextAsync(), System.Globalization.CultureInfo.InvariantCulture) >= 1);
        await page.WaitForSelectorAsync("[data-chart=alerts] canvas");
        await Screenshots.SaveAsync(page, "dashboard-overview.png");

        await page.GotoAsync(_fixture.BaseUrl + "/dashboard/alerts?severity=critical");
        await page.ClickAsync($"a[href='/dashboard/alerts/{critical.Id}']");
        await page.WaitForURLAsync(_fixture.BaseUrl + "/dashboard/alerts/" + critical.Id);
        Assert.Equal(critical.Reason, await page.InnerTextAsync("#reason"));
        Assert.Contains(critical.Rule.Guidance, await page.InnerTextAsync("#guidance"), StringComparison.Ordinal);
        Assert.True(await page.Locator("#events .proof-ok").CountAsync() >= 1);
        Assert.Equal(0, await page.Locator("#events .proof-bad").CountAsync());

        // The proofs download as JSON a person can check elsewhere.
        var download = await page.RunAndWaitForDownloadAsync(() => page.ClickAsync("#proof-download"));
        var path = await download.PathAsync();
        using (var proof = JsonDocument.Parse(await File.ReadAllTextAsync(path!)))
        {
            var events = proof.RootElement.GetProperty("events");
            Assert.Equal(critical.Events.Count, events.GetArrayLength());
            Assert.All(events.EnumerateArray(), e => Assert.True(e.GetProperty("verified").GetProperty("inclusion").GetBoolean()));
            Assert.Equal(_fixture.Server.VerifierKey, proof.RootElement.GetProperty("verifier_key").GetString());
        }

        // Acknowledge (alice is the responder token's person: she becomes the assignee), then close with a classification.
        await page.FillAsync("#note-input", "looking at intern7's sessions");
        await page.ClickAsync("#acknowledge");
        await Assertions.Expect(page.Locator("#status")).ToHaveTextAsync("acknowledged");
        Assert.Equal("alice", await page.InnerTextAsync("#assignee"));

        await page.ClickAsync("#close");
        await Assertions.Expect(page.Locator("#problem")).ToContainTextAsync("classification");
        await page.SelectOptionAsync("#classification-input", "true-positive");
        await page.FillAsync("#note-input", "planted key and uid-0 account confirmed");
        await page.ClickAsync("#close");
        await Assertions.Expect(page.Locator("#status")).ToHaveTextAsync("closed");
        Assert.Equal("true-positive", await page.InnerTextAsync("#classification"));
        Assert.Equal(2, await page.Locator("#history tbody tr").CountAsync());
        Assert.Contains("alice (responder token", await page.InnerTextAsync("#history"), StringComparison.Ordinal);

        var stored = await _fixture.Server.Alerts.GetAsync(critical.Id);
        Assert.Equal("closed", stored!.Status);
        Assert.Equal("true-positive", stored.Classification);
        Assert.Equal(["acknowledged", "closed"], stored.History.Select(h => h.To));

        // One click to the attacker's timeline: the victims and hosts are listed.
        await page.ClickAsync("#timeline-link");
        await page.WaitForURLAsync("**/dashboard/timeline?user=*");
        var users = await page.Locator("#victim-users li").AllInnerTextsAsync();
        Assert.Contains("lena", users);
        var hosts = await page.Locator("#victim-hosts li").AllInnerTextsAsync();
        Assert.Contains("vm", hosts);
        Assert.Contains(await page.Locator("#added-accounts li").AllInnerTextsAsync(), a => a.Contains("uid 0", StringComparison.Ordinal));
        Assert.True(await page.Locator("#entries tr.kind-alert").CountAsync() >= 1);
        await page.WaitForSelectorAsync("[data-chart=timeline] canvas");
        await Screenshots.SaveAsync(page, "dashboard-timeline.png");
        Assert.True(console.Count == 0, string.Join("\n", console));
    }
}
