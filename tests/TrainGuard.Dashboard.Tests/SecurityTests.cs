using System.Net;
using Microsoft.Playwright;
using TrainGuard.Dashboard.Tests.Support;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Dashboard;
using TrainGuard.Server.Storage;

namespace TrainGuard.Dashboard.Tests;

/// <summary>Login, roles, anti-forgery, the Content-Security-Policy, and attacker-controlled text shown as text.</summary>
[Collection(DashboardCollection.Name)]
public sealed class SecurityTests
{
    /// <summary>Every page, as an admin sees it (the hostile host included).</summary>
    private static readonly string[] Pages =
    [
        "/dashboard", "/dashboard/alerts?status=all", "/dashboard/events", "/dashboard/events?host=lab-7", "/dashboard/events/0",
        "/dashboard/hosts", "/dashboard/hosts/vm", "/dashboard/hosts/lab-7", "/dashboard/checkpoints", "/dashboard/environments",
        "/dashboard/ledger", "/dashboard/timeline?host=vm", "/dashboard/timeline?user=mallory", "/dashboard/timeline?user=intern7",
    ];

    private readonly DashboardFixture _fixture;

    public SecurityTests(DashboardFixture fixture)
    {
        _fixture = fixture;
    }

    [Fact]
    public async Task MarkupInAProcessNameOrKeyCommentIsShownAsText()
    {
        var (context, page, console) = await _fixture.OpenAsync(_fixture.ReaderToken);
        await using var _ = context;
        foreach (var (path, keyShown) in new[] { ("/dashboard/events?host=lab-7", true), ("/dashboard/hosts/lab-7", true), ("/dashboard/timeline?user=mallory", false) })
        {
            await page.GotoAsync(_fixture.BaseUrl + path);
            var text = await page.InnerTextAsync("main");
            Assert.Contains("<img src=x id=pwned-img", text, StringComparison.Ordinal);
            if (keyShown)
            {
                Assert.Contains("<b id=pwned-b>bold</b>", text, StringComparison.Ordinal);
            }

            Assert.Equal(0, await page.Locator("#pwned-img, #pwned-b, main script").CountAsync());
            Assert.NotEqual("pwned", await page.TitleAsync());
        }

        // The event page shows the committed JSON, markup and all, as text.
        var events = await _fixture.Server.Store.QueryAsync(new TrainGuard.Server.Storage.EventQuery { Host = "lab-7", Action = "process-signal" });
        await page.GotoAsync(_fixture.BaseUrl + "/dashboard/events/" + events[0].Index);
        Assert.Contains(DashboardFixture.HostileProcessName.Replace("\"", "\\\"", StringComparison.Ordinal), await page.InnerTextAsync("#event-json"), StringComparison.Ordinal);
        Assert.Equal(0, await page.Locator("#pwned-img, main script").CountAsync());
        Assert.True(console.Count == 0, string.Join("\n", console));
    }

    [Fact]
    public async Task EveryPageCarriesTheStrictCspAndRendersWithoutAViolation()
    {
        var (context, page, console) = await _fixture.OpenAsync(_fixture.AdminToken);
        await using var _ = context;
        foreach (var path in Pages)
        {
            var response = await page.GotoAsync(_fixture.BaseUrl + path);
            Assert.True(response!.Ok, $"{path} answered {response.Status}");
            var headers = await response.AllHeadersAsync();
            Assert.Equal(DashboardSecurity.ContentSecurityPolicy, headers["content-security-policy"]);
            Assert.DoesNotContain("unsafe", headers["content-security-policy"], StringComparison.Ordinal);
            Assert.Equal("nosniff", headers["x-content-type-options"]);
            Assert.Equal("DENY", headers["x-frame-options"]);
            Assert.Contains("no-store", headers["cache-control"], StringComparison.Ordinal);

            // No inline script anywhere: every script element has a src on this origin; no inline style attribute.
            var html = await response.TextAsync();
            Assert.Equal(0, await page.Locator("script:not([src])").CountAsync());
            Assert.DoesNotContain(" style=", html, StringComparison.Ordinal);
            Assert.DoesNotMatch(@"<[^>]*\son[a-z]+\s*=", html);

            // Every form that changes something carries an anti-forgery token.
            foreach (var form in await page.Locator("form[method=post]").AllAsync())
            {
                Assert.Equal(1, await form.Locator("input[name=__RequestVerificationToken]").CountAsync());
            }
        }

        Assert.True(console.Count == 0, string.Join("\n", console));
    }

    [Fact]
    public async Task ASessionCookieIsHttpOnlyAndSameSiteStrictAndTheTokenIsNotKept()
    {
        var (context, page, _) = await _fixture.OpenAsync(_fixture.ReaderToken);
        await using var __ = context;
        var cookies = await context.CookiesAsync();
        var session = Assert.Single(cookies, c => c.Name == DashboardSecurity.CookieName);
        Assert.True(session.HttpOnly);
        Assert.Equal(SameSiteAttribute.Strict, session.SameSite);
        Assert.False(session.Secure); // plain HTTP on loopback; Secure (and the __Host- name) under HTTPS
        Assert.DoesNotContain(cookies, c => c.Value.Contains(_fixture.ReaderToken, StringComparison.Ordinal));
        Assert.Equal(0, await page.EvaluateAsync<int>("() => document.cookie.length"));
        var antiforgery = Assert.Single(cookies, c => c.Name == "tg_csrf");
        Assert.True(antiforgery.HttpOnly);
        Assert.Equal(SameSiteAttribute.Strict, antiforgery.SameSite);
    }

    [Fact]
    public async Task AReaderSeesNoActionsAndIsRefusedAStatusChange()
    {
        var alert = (await _fixture.AlertsAsync()).First(a => a.Status == "open");
        var (context, page, _) = await _fixture.OpenAsync(_fixture.ReaderToken);
        await using var _ = context;
        await page.GotoAsync(_fixture.BaseUrl + "/dashboard/alerts/" + alert.Id);
        Assert.Equal(0, await page.Locator("#actions").CountAsync());
        Assert.Contains("role reader", await page.InnerTextAsync("#read-only"), StringComparison.Ordinal);

        // Posting anyway, with a valid anti-forgery token from the page (the logout form's): 403, nothing changes.
        var token = await page.Locator("input[name=__RequestVerificationToken]").First.GetAttributeAsync("value");
        var response = await context.APIRequest.PostAsync(_fixture.BaseUrl + "/dashboard/alerts/" + alert.Id, new APIRequestContextOptions
        {
            Form = context.APIRequest.CreateFormData().Set("__RequestVerificationToken", token!).Set("status", "closed").Set("classification", "false-positive"),
            MaxRedirects = 0,
        });
        Assert.Equal(403, response.Status);
        Assert.Equal("open", (await _fixture.Server.Alerts.GetAsync(alert.Id))!.Status);
    }

    [Fact]
    public async Task APostWithoutAnAntiforgeryTokenIsRefused()
    {
        var alert = (await _fixture.AlertsAsync()).First(a => a.Status == "open");
        var (context, _, _) = await _fixture.OpenAsync(_fixture.AdminToken);
        await using var __ = context;
        var response = await context.APIRequest.PostAsync(_fixture.BaseUrl + "/dashboard/alerts/" + alert.Id, new APIRequestContextOptions
        {
            Form = context.APIRequest.CreateFormData().Set("status", "acknowledged"),
            MaxRedirects = 0,
        });
        Assert.Equal(400, response.Status);
        Assert.Equal("open", (await _fixture.Server.Alerts.GetAsync(alert.Id))!.Status);
    }

    [Fact]
    public async Task WithoutASessionEveryPageRedirectsToTheLogin()
    {
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = _fixture.Server.BaseAddress };
        foreach (var path in Pages)
        {
            using var response = await http.GetAsync(path);
            Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
            Assert.StartsWith("/dashboard/login?return=", response.Headers.Location!.OriginalString, StringComparison.Ordinal);
        }

        // A bearer token is no session: the API takes it, the dashboard does not.
        using var request = new HttpRequestMessage(HttpMethod.Get, "/dashboard");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _fixture.AdminToken);
        using var bearer = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Redirect, bearer.StatusCode);
    }

    [Fact]
    public async Task LoginRefusesUnknownAgentAndRevokedTokens()
    {
        var (context, page, _) = await _fixture.OpenAsync(null);
        await using var _ = context;
        foreach (var (token, expected) in new[]
        {
            ("tgt_not-a-token", "does not know that token"),
            (_fixture.AgentToken, "role 'agent' cannot open the dashboard"),
        })
        {
            await page.GotoAsync(_fixture.BaseUrl + "/dashboard/login");
            await page.FillAsync("#token", token);
            await page.ClickAsync("form.login button[type=submit]");
            Assert.Contains(expected, await page.InnerTextAsync(".problem"), StringComparison.Ordinal);
            Assert.DoesNotContain(await context.CookiesAsync(), c => c.Name == DashboardSecurity.CookieName);
        }

        // A session ends when its token is revoked.
        var revocable = await _fixture.NewTokenAsync(new TokenGrant(Role.Reader, Label: "short-lived"));
        var (context2, page2, _) = await _fixture.OpenAsync(revocable);
        await using var __ = context2;
        await _fixture.Server.RevokeTokenAsync(ApiTokens.Id(ApiTokens.Hash(revocable)));
        await page2.GotoAsync(_fixture.BaseUrl + "/dashboard/ledger");
        Assert.StartsWith(_fixture.BaseUrl + "/dashboard/login", page2.Url, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheLoginReturnsOnlyToADashboardPath()
    {
        Assert.Equal("/dashboard/events?host=vm", DashboardSecurity.SafeReturnPath("/dashboard/events?host=vm"));
        foreach (var bad in new[] { "https://evil.example/", "//evil.example/dashboard", "/dashboard//evil", "/\\evil", "/api/v1/events", "/dashboard/login?return=x", null, "" })
        {
            Assert.Equal("/dashboard", DashboardSecurity.SafeReturnPath(bad));
        }

        var (context, page, _) = await _fixture.OpenAsync(null);
        await using var _ = context;
        await page.GotoAsync(_fixture.BaseUrl + "/dashboard/login?return=" + Uri.EscapeDataString("//evil.example/x"));
        await page.FillAsync("#token", _fixture.ReaderToken);
        await page.ClickAsync("form.login button[type=submit]");
        await page.WaitForURLAsync(_fixture.BaseUrl + "/dashboard");
    }
}
