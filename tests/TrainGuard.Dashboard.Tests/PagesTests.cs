using Microsoft.Playwright;
using TrainGuard.Dashboard.Tests.Support;
using TrainGuard.Server.Dashboard;

namespace TrainGuard.Dashboard.Tests;

/// <summary>The other pages over the recorded incident: events search and paging, event proofs, hosts, checkpoints, environments, ledger.</summary>
[Collection(DashboardCollection.Name)]
public sealed class PagesTests
{
    private readonly DashboardFixture _fixture;

    public PagesTests(DashboardFixture fixture)
    {
        _fixture = fixture;
    }

    [Fact]
    public async Task EventsAreSearchedByEcsFieldsAndPagedByLedgerIndex()
    {
        var (context, page, console) = await _fixture.OpenAsync(_fixture.ReaderToken);
        await using var _ = context;
        await page.GotoAsync(_fixture.BaseUrl + "/dashboard/events");
        await page.FillAsync("input[name=host]", "vm");
        await page.ClickAsync("#event-search button[type=submit]");
        await page.WaitForURLAsync("**/dashboard/events?host=vm*");
        var first = await IndexesAsync(page);
        Assert.Equal(50, first.Count);
        Assert.True(first.SequenceEqual(first.OrderDescending()));
        Assert.All(await page.Locator("#event-table tbody td:nth-child(3)").AllInnerTextsAsync(), h => Assert.Equal("vm", h));

        await page.ClickAsync("#older");
        await page.WaitForURLAsync("**before=*");
        var second = await IndexesAsync(page);
        Assert.Equal(69 - 50, second.Count);
        Assert.True(second.Max() < first.Min());

        // By action and time range; by id; a bad time is an error naming the field.
        await page.GotoAsync(_fixture.BaseUrl + "/dashboard/events?action=process-signal&from=2026-12-07T01:11:00&to=2026-12-07T01:12:00");
        Assert.All(await page.Locator("#event-table tbody td:nth-child(5)").AllInnerTextsAsync(), a => Assert.Equal("process-signal", a));
        Assert.True(await page.Locator("#event-table tbody tr").CountAsync() >= 3);
        await page.GotoAsync(_fixture.BaseUrl + "/dashboard/events?id=01a24e0e-6acd-7843-b72a-927474a2deca");
        Assert.Equal(1, await page.Locator("#event-table tbody tr").CountAsync());
        var bad = await page.GotoAsync(_fixture.BaseUrl + "/dashboard/events?from=yesterday");
        Assert.Equal(400, bad!.Status);
        Assert.Contains("from", await page.InnerTextAsync("#problem"), StringComparison.Ordinal);
        Assert.DoesNotContain(console, c => c.StartsWith("pageerror", StringComparison.Ordinal) || c.Contains("Content Security Policy", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnEventPageSaysWhatItsInclusionProofVerified()
    {
        var (context, page, _) = await _fixture.OpenAsync(_fixture.ReaderToken);
        await using var _ = context;
        await page.GotoAsync(_fixture.BaseUrl + "/dashboard/events/3");
        Assert.Contains("Verified", await page.InnerTextAsync("#proof-verdict"), StringComparison.Ordinal);
        var steps = await page.Locator("#proof-steps li.ok").AllInnerTextsAsync();
        Assert.Equal(3, steps.Count);
        Assert.Contains("SHA-256(0x00 || the", steps[0], StringComparison.Ordinal);
        Assert.Contains(_fixture.Server.VerifierKey, steps[2], StringComparison.Ordinal);
        var missing = await page.GotoAsync(_fixture.BaseUrl + "/dashboard/events/99999999");
        Assert.Equal(404, missing!.Status);
        Assert.Contains("no entry 99999999", await page.InnerTextAsync("#problem"), StringComparison.Ordinal);
        var noAlert = await page.GotoAsync(_fixture.BaseUrl + "/dashboard/alerts/alt_nothing");
        Assert.Equal(404, noAlert!.Status);
        Assert.Contains("alt_nothing", await page.InnerTextAsync("#problem"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task HostsCheckpointsEnvironmentsAndLedgerShowTheIncident()
    {
        var (context, page, console) = await _fixture.OpenAsync(_fixture.AdminToken);
        await using var _ = context;
        await page.GotoAsync(_fixture.BaseUrl + "/dashboard/hosts/gpu-node-2");
        Assert.True(await page.Locator("#host-events tbody tr").CountAsync() >= 9);
        await page.GotoAsync(_fixture.BaseUrl + "/dashboard/checkpoints");
        Assert.Contains("checkpoint-6", await page.InnerTextAsync("#inspected"), StringComparison.Ordinal);
        await page.GotoAsync(_fixture.BaseUrl + "/dashboard/environments");
        Assert.Contains("TG-ENV-001", await page.InnerTextAsync("main"), StringComparison.Ordinal);
        Assert.Contains("gpu-node-2", await page.InnerTextAsync("main"), StringComparison.Ordinal);

        await page.GotoAsync(_fixture.BaseUrl + "/dashboard/ledger");
        Assert.Contains("verifies", await page.InnerTextAsync("#th-signature"), StringComparison.Ordinal);
        Assert.Contains("consistent", await page.InnerTextAsync("#th-previous"), StringComparison.Ordinal);
        await page.ClickAsync("#run-audit");
        await Assertions.Expect(page.Locator("#audit-result")).ToContainTextAsync("Intact", new() { Timeout = 60_000 });
        Assert.True(console.Count == 0, string.Join("\n", console));
    }

    [Fact]
    public async Task TheAttackersTimelineListsItsVictimsAndTheKeysAndAccountsItAdded()
    {
        var (context, page, console) = await _fixture.OpenAsync(_fixture.ReaderToken);
        await using var _ = context;
        await page.GotoAsync(_fixture.BaseUrl + "/dashboard/timeline?user=intern7");
        async Task<IReadOnlyList<string>> Listed(string id) => await page.Locator($"#{id} li").AllInnerTextsAsync();

        Assert.Equal(["lena"], await Listed("victim-users"));
        Assert.Equal(["gpu-node-2", "vm"], await Listed("victim-hosts"));
        Assert.Contains(await Listed("victim-processes"), p => p.Contains("python3 (lena)", StringComparison.Ordinal));
        Assert.Contains("/home/lena/.ssh/authorized_keys", await Listed("victim-files"));
        Assert.Contains("llama-ft-7b", await Listed("victim-runs"));
        Assert.Equal(["SHA256:i+wFshFRZjYOqgRgnLZl/keeDsTBdDpl6KaOP0XzhKg"], await Listed("added-keys"));
        Assert.Equal(["sysbackup (uid 0)"], await Listed("added-accounts"));
        Assert.Equal(0, await page.Locator("#victims-scope").CountAsync());

        // The run whose checkpoints were scanned and inspected on gpu-node-2 is also its host timeline's victim.
        await page.GotoAsync(_fixture.BaseUrl + "/dashboard/timeline?host=gpu-node-2");
        Assert.Contains("llama-ft-7b", await Listed("victim-runs"));

        // A page that is not the whole timeline says its victims are its own entries'.
        await page.GotoAsync(_fixture.BaseUrl + "/dashboard/timeline?user=intern7&until=2026-12-07T01:11:43");
        Assert.Contains("on this page", await page.InnerTextAsync("#victims-scope"), StringComparison.Ordinal);
        Assert.DoesNotContain("lena", await Listed("victim-users"));
        Assert.True(console.Count == 0, string.Join("\n", console));
    }

    [Fact]
    public async Task AssetsAreVendoredCompressedAndCached()
    {
        using var http = new HttpClient { BaseAddress = _fixture.Server.BaseAddress };
        foreach (var path in DashboardAssets.Paths)
        {
            var url = DashboardAssets.Url(path);
            using var response = await http.GetAsync(url);
            Assert.True(response.IsSuccessStatusCode, $"{url} answered {(int)response.StatusCode}");
            Assert.Contains("immutable", response.Headers.CacheControl!.ToString(), StringComparison.Ordinal);
        }

        Assert.Contains("lib/htmx/htmx.min.js", DashboardAssets.Paths);
        Assert.Contains("lib/uplot/uPlot.iife.min.js", DashboardAssets.Paths);
        Assert.Contains("lib/htmx/LICENSE", DashboardAssets.Paths);
        Assert.Contains("lib/uplot/LICENSE", DashboardAssets.Paths);
        using var missing = await http.GetAsync("/dashboard/assets/lib/nothing.js");
        Assert.Equal(System.Net.HttpStatusCode.NotFound, missing.StatusCode);

        // Sent compressed to a browser that accepts it: assets as stored (gzip), pages compressed as they are made.
        using var gzipped = new HttpRequestMessage(HttpMethod.Get, DashboardAssets.Url("lib/htmx/htmx.min.js"));
        gzipped.Headers.AcceptEncoding.ParseAdd("gzip");
        using var asset = await http.SendAsync(gzipped);
        Assert.Equal(["gzip"], asset.Content.Headers.ContentEncoding);
        Assert.Equal(DashboardAssets.SizeOf("lib/htmx/htmx.min.js", gzip: true), (await asset.Content.ReadAsByteArrayAsync()).Length);
        Assert.True(DashboardAssets.SizeOf("lib/htmx/htmx.min.js", gzip: true) * 2 < DashboardAssets.SizeOf("lib/htmx/htmx.min.js", gzip: false));
        foreach (var encoding in new[] { "br", "gzip" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/dashboard/login");
            request.Headers.AcceptEncoding.ParseAdd(encoding);
            using var login = await http.SendAsync(request);
            Assert.Equal([encoding], login.Content.Headers.ContentEncoding);
            Assert.True(login.Headers.CacheControl!.NoStore);
        }
    }

    private static async Task<List<long>> IndexesAsync(IPage page) =>
        [.. (await page.Locator("#event-table tbody td:first-child").AllInnerTextsAsync()).Select(t => long.Parse(t, System.Globalization.CultureInfo.InvariantCulture))];
}
