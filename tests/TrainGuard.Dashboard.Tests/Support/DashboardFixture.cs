using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;
using TrainGuard.Server.Alerts;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Hosting;
using TrainGuard.Server.Storage;

namespace TrainGuard.Dashboard.Tests.Support;

/// <summary>
/// One real server on 127.0.0.1 (port 0, SQLite in a temporary folder) into which the recorded insider incident
/// (<c>tests/fixtures/dashboard</c>) and a hostile event are posted with agent tokens, its alerts derived; tokens per
/// role; and Debian's Chromium driven by Playwright (never a downloaded browser).
/// </summary>
public sealed class DashboardFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    /// <summary>The process name of the hostile event: markup that must render as text.</summary>
    public const string HostileProcessName = "<img src=x id=pwned-img onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>";

    /// <summary>The key comment of the hostile key event.</summary>
    public const string HostileKeyComment = "<b id=pwned-b>bold</b><a href=\"javascript:alert(1)\">x</a>";

    private string _directory = string.Empty;

    public TrainGuardServer Server { get; private set; } = null!;

    public IPlaywright Playwright { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    public string ReaderToken { get; private set; } = string.Empty;

    public string ResponderToken { get; private set; } = string.Empty;

    public string AdminToken { get; private set; } = string.Empty;

    public string AgentToken { get; private set; } = string.Empty;

    public string BaseUrl => Server.BaseAddress.ToString().TrimEnd('/');

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public async Task InitializeAsync()
    {
        _directory = Path.Combine(Path.GetTempPath(), "tg-dashboard-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        Server = await TrainGuardServer.StartAsync(new ServerOptions
        {
            DataDirectory = _directory,
            Urls = ["http://127.0.0.1:0"],
            Origin = "test.trainguard/ledger",
            LogLevel = LogLevel.Warning,
            LogFormat = LogFormat.Text,
        });
        ReaderToken = await NewTokenAsync(new TokenGrant(Role.Reader, Label: "reader bob"));
        ResponderToken = await NewTokenAsync(new TokenGrant(Role.Responder, "alice", "alice on call"));
        AdminToken = await NewTokenAsync(new TokenGrant(Role.Admin, Label: "admin"));
        AgentToken = await NewTokenAsync(new TokenGrant(Role.Agent, "lab-7"));

        await PostFileAsync("vm.jsonl", "vm");
        await PostFileAsync("gpu-node-2.jsonl", "gpu-node-2");
        await PostHostileAsync();
        await WaitForAlertsAsync();

        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException($"{ChromiumPath} is missing: install Debian's Chromium (apt-get install -y chromium); the dashboard tests never download a browser");
        }

        Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
        Playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        Browser = await Playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox"],
        });
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        Playwright?.Dispose();
        if (Server is not null)
        {
            await Server.DisposeAsync();
        }

        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>A new browser page (its own context: no cookies shared with other tests), logged in with <paramref name="token"/> unless null.</summary>
    public async Task<(IBrowserContext Context, IPage Page, List<string> Console)> OpenAsync(string? token)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1360, Height = 900 }, TimezoneId = "UTC" });
        var page = await context.NewPageAsync();
        var console = new List<string>();
        page.Console += (_, m) => console.Add(m.Type + ": " + m.Text);
        page.PageError += (_, e) => console.Add("pageerror: " + e);
        page.Response += (_, r) =>
        {
            if (r.Status >= 400)
            {
                console.Add($"response: {r.Status} {r.Url}");
            }
        };
        if (token is not null)
        {
            await page.GotoAsync(BaseUrl + "/dashboard/login");
            await page.FillAsync("#token", token);
            await page.ClickAsync("form.login button[type=submit]");
            await page.WaitForURLAsync(BaseUrl + "/dashboard");
        }

        return (context, page, console);
    }

    /// <summary>The alerts of the incident as the store has them (every status).</summary>
    public async Task<List<Alert>> AlertsAsync() => (await Server.Alerts.ListAsync(new AlertQuery { AllStatuses = true, Limit = 1000 })).Alerts;

    public async Task<string> NewTokenAsync(TokenGrant grant)
    {
        var token = ApiTokens.NewToken();
        await Server.Store.AddTokenAsync(ApiTokens.Hash(token), grant);
        return token;
    }

    private async Task PostFileAsync(string file, string host)
    {
        var token = await NewTokenAsync(new TokenGrant(Role.Agent, host));
        var events = new JsonArray();
        foreach (var line in File.ReadLines(Path.Combine(RepositoryRoot, "tests", "fixtures", "dashboard", file)))
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            var e = JsonNode.Parse(line)!.AsObject();
            if (e["host"] is null)
            {
                e["host"] = new JsonObject { ["name"] = host };
            }

            events.Add(e);
        }

        await PostAsync(token, events);
    }

    /// <summary>A process on lab-7 whose name is markup, and a key whose comment is markup.</summary>
    private async Task PostHostileAsync()
    {
        var now = DateTimeOffset.UtcNow;
        var events = new JsonArray
        {
            new JsonObject
            {
                ["id"] = Guid.CreateVersion7(now).ToString("D"),
                ["@timestamp"] = TrainGuard.Events.EventRecord.FormatTimestamp(now.AddSeconds(-30)),
                ["event"] = new JsonObject { ["kind"] = "event", ["action"] = "process-signal", ["category"] = new JsonArray("process"), ["type"] = new JsonArray("info"), ["module"] = "auditd", ["outcome"] = "success" },
                ["host"] = new JsonObject { ["name"] = "lab-7" },
                ["user"] = new JsonObject { ["name"] = "mallory", ["id"] = "3001", ["audit"] = new JsonObject { ["id"] = "3001", ["name"] = "mallory" } },
                ["process"] = new JsonObject { ["pid"] = 4242, ["name"] = HostileProcessName, ["executable"] = "/usr/bin/" + HostileProcessName },
                ["trainguard"] = new JsonObject
                {
                    ["signal"] = new JsonObject { ["name"] = "SIGTERM", ["number"] = 15 },
                    ["target"] = new JsonObject { ["pid"] = 4243, ["name"] = HostileProcessName, ["user"] = new JsonObject { ["name"] = "mallory", ["id"] = "3001" } },
                },
            },
            new JsonObject
            {
                ["id"] = Guid.CreateVersion7(now.AddMilliseconds(1)).ToString("D"),
                ["@timestamp"] = TrainGuard.Events.EventRecord.FormatTimestamp(now.AddSeconds(-20)),
                ["event"] = new JsonObject { ["kind"] = "event", ["action"] = "ssh-key-added", ["category"] = new JsonArray("configuration"), ["type"] = new JsonArray("creation"), ["module"] = "snapshot" },
                ["host"] = new JsonObject { ["name"] = "lab-7" },
                ["user"] = new JsonObject { ["target"] = new JsonObject { ["name"] = "mallory" } },
                ["file"] = new JsonObject { ["path"] = "/home/mallory/.ssh/authorized_keys" },
                ["trainguard"] = new JsonObject
                {
                    ["ssh"] = new JsonObject { ["key_type"] = "ssh-ed25519", ["key_fingerprint"] = "SHA256:" + HostileKeyComment, ["key_comment"] = HostileKeyComment, ["key_file"] = "/home/mallory/.ssh/authorized_keys" },
                },
            },
        };
        await PostAsync(AgentToken, events);
    }

    private async Task PostAsync(string token, JsonArray events)
    {
        using var http = new HttpClient { BaseAddress = Server.BaseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/v1/events")
        {
            Content = new StringContent(new JsonObject { ["events"] = events }.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode || body.Contains("\"rejected\"", StringComparison.Ordinal) && !body.Contains("\"rejected\":0", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"POST /api/v1/events answered {(int)response.StatusCode}: {body}");
        }
    }

    /// <summary>Waits (at most 60 s) until the deriver has read the whole ledger.</summary>
    private async Task WaitForAlertsAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (await Server.Alerts.ReadCursorAsync() >= Server.Log.Size && (await AlertsAsync()).Count > 0)
            {
                return;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"the server derived no alerts within 60 s (cursor {await Server.Alerts.ReadCursorAsync()}, log size {Server.Log.Size})");
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "TrainGuard.slnx")))
            {
                return directory.FullName;
            }
        }

        throw new DirectoryNotFoundException($"no TrainGuard.slnx above {AppContext.BaseDirectory}");
    }
}
