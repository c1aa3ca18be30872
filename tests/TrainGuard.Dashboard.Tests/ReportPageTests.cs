using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;
using TrainGuard.Dashboard.Tests.Support;
using TrainGuard.Server.Alerts;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Hosting;
using TrainGuard.Server.Storage;

namespace TrainGuard.Dashboard.Tests;

/// <summary>
/// The HTML audit report in Chromium: issued by a server into which the recorded incident and an access change naming
/// an account whose name is markup were posted (its own server, so the dashboard's fixture is not changed), opened
/// from a file with no network: it renders every section, its open alerts are the server's, the markup is text, no
/// script runs, and it prints. The README's docs/report.png is taken here.
/// </summary>
[Collection(DashboardCollection.Name)]
public sealed class ReportPageTests
{
    /// <summary>An account name that is markup (as an access change would carry it from a hostile passwd line).</summary>
    private const string HostileAccount = "<img src=x id=pwned-report onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>";

    private readonly DashboardFixture _fixture;

    public ReportPageTests(DashboardFixture fixture)
    {
        _fixture = fixture;
    }

    [Fact]
    public async Task TheHtmlReportRendersOfflineWithTheServersOpenAlertsAndHostileTextAsText()
    {
        var directory = Path.Combine(Path.GetTempPath(), "tg-report-page", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        await using var server = await TrainGuardServer.StartAsync(new ServerOptions
        {
            DataDirectory = directory,
            Urls = ["http://127.0.0.1:0"],
            Origin = "test.trainguard/ledger",
            LogLevel = LogLevel.Warning,
            LogFormat = LogFormat.Text,
        });
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        foreach (var (file, host) in new[] { ("vm.jsonl", "vm"), ("gpu-node-2.jsonl", "gpu-node-2") })
        {
            var events = File.ReadLines(Path.Combine(DashboardFixture.RepositoryRoot, "tests", "fixtures", "dashboard", file))
                .Where(l => !string.IsNullOrWhiteSpace(l))
                .Select(l => JsonNode.Parse(l)!.AsObject())
                .Select(e => { e["host"] ??= new JsonObject { ["name"] = host }; return (JsonNode)e; });
            await PostAsync(http, await TokenAsync(server, new TokenGrant(Role.Agent, host)), [.. events]);
        }

        await PostAsync(http, await TokenAsync(server, new TokenGrant(Role.Agent, "lab-7")), [HostileWriterAdded()]);
        await WaitForAlertsAsync(server);

        var admin = await TokenAsync(server, new TokenGrant(Role.Admin, Label: "admin"));
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/v1/reports?since=2026-12-07T00:00:00Z&format=html");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", admin);
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var path = Path.Combine(directory, "report.html");
        await File.WriteAllBytesAsync(path, await response.Content.ReadAsByteArrayAsync());

        var context = await _fixture.Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1100, Height = 760 }, TimezoneId = "UTC", Offline = true });
        await using var _ = context;
        var page = await context.NewPageAsync();
        var problems = new List<string>();
        page.PageError += (_, e) => problems.Add("pageerror: " + e);
        page.Console += (_, m) => problems.Add(m.Type + ": " + m.Text);
        page.Request += (_, r) =>
        {
            if (!r.Url.StartsWith("file:", StringComparison.Ordinal))
            {
                problems.Add("request: " + r.Url);
            }
        };
        await page.GotoAsync(new Uri(path).AbsoluteUri);

        Assert.StartsWith("TrainGuard audit report", await page.TitleAsync(), StringComparison.Ordinal);
        foreach (var section in new[] { "#alerts", "#nodes", "#checkpoints", "#ledger", "#accounts" })
        {
            Assert.True(await page.Locator(section + " h2").IsVisibleAsync(), section);
        }

        // The open alerts are the server's, most severe first; intern7 heads the accounts.
        var open = (await server.Alerts.ListAsync(new AlertQuery { Limit = 1000 })).Alerts;
        Assert.Equal(open.Count, await page.Locator("#alerts table:not(.counts) tr:has(td)").CountAsync());
        Assert.Equal(open.OrderByDescending(a => a.SeverityRank).First().Severity, await page.Locator("#alerts table:not(.counts) tr:has(td) .sev").First.InnerTextAsync());
        Assert.Equal("intern7", await page.Locator("#accounts h3 code").First.InnerTextAsync());
        Assert.Contains("lab-7", await page.InnerTextAsync("#nodes"), StringComparison.Ordinal);

        // The hostile account is shown as the text it is; nothing of it became an element or ran.
        Assert.Contains(HostileAccount, await page.InnerTextAsync("#alerts"), StringComparison.Ordinal);
        Assert.Equal(0, await page.Locator("#pwned-report, script").CountAsync());
        Assert.NotEqual("pwned", await page.TitleAsync());
        Assert.Empty(problems);

        // It prints (A4, the sections' own page breaks), and the README's screenshot is this page.
        var pdf = await page.PdfAsync(new PagePdfOptions { Format = "A4" });
        Assert.True(pdf.Length > 10_000, $"the printed report is only {pdf.Length} bytes");
        await Screenshots.SaveAsync(page, "report.png");
    }

    private static JsonObject HostileWriterAdded() => new()
    {
        ["id"] = Guid.CreateVersion7().ToString("D"),
        ["@timestamp"] = TrainGuard.Events.EventRecord.FormatTimestamp(DateTimeOffset.UtcNow.AddMinutes(-1)),
        ["event"] = new JsonObject { ["kind"] = "event", ["action"] = "access-writer-added", ["module"] = "access", ["dataset"] = "access" },
        ["host"] = new JsonObject { ["name"] = "lab-7" },
        ["user"] = new JsonObject { ["name"] = HostileAccount },
        ["file"] = new JsonObject { ["path"] = "/opt/envs/torch" },
        ["trainguard"] = new JsonObject
        {
            ["access"] = new JsonObject { ["asset"] = "/opt/envs/torch", ["kind"] = "code", ["account"] = HostileAccount, ["allowed"] = false, ["reasons"] = new JsonArray(HostileAccount + " via group ml-shared (g+w on /opt/envs/torch)") },
        },
    };

    private static async Task<string> TokenAsync(TrainGuardServer server, TokenGrant grant)
    {
        var token = ApiTokens.NewToken();
        await server.Store.AddTokenAsync(ApiTokens.Hash(token), grant);
        return token;
    }

    private static async Task PostAsync(HttpClient http, string token, JsonArray events)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/v1/events") { Content = new StringContent(new JsonObject { ["events"] = events }.ToJsonString(), Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    private static async Task WaitForAlertsAsync(TrainGuardServer server)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (await server.Alerts.ReadCursorAsync() < server.Log.Size || (await server.Alerts.ListAsync(new AlertQuery { RuleId = "TG-DET-020" })).Alerts.Count == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the server derived no TG-DET-020 alert within 60 s");
            await Task.Delay(100);
        }
    }
}
