using System.Text;
using System.Text.Json.Nodes;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Reports;
using TrainGuard.Server.Tests.Support;

namespace TrainGuard.Server.Tests.Reports;

/// <summary>
/// <c>trainguard report</c> over a server into which the recorded insider attack was replayed (node <c>vm</c>'s audit and
/// sshd logs, node <c>gpu-node-2</c>'s poisoned checkpoint, edited PyTorch and flipped optimizer, and intern7 gaining
/// write access to the shared site-packages): its figures are the alerts and events the server stored, it is recorded
/// in the ledger, <c>report verify</c> accepts it and refuses it once edited.
/// </summary>
public sealed class ReportTests
{
    private const string Since = "2026-12-07T00:00:00Z";
    private const string Until = "2026-12-08T00:00:00Z";

    [Fact]
    public async Task A_report_of_the_replayed_attack_has_the_stored_figures_and_verifies_until_edited()
    {
        await using var harness = await AttackedServerAsync();
        var alerts = await harness.AlertsAsync();
        var closed = alerts.First(a => (string?)a["rule"]!["id"] == "TG-DET-006");
        using (var close = await harness.PostStatusAsync((string)closed["id"]!, await harness.NewTokenAsync(Role.Responder, "alice"), new JsonObject { ["status"] = "closed", ["classification"] = "true-positive", ["note"] = "sysbackup removed" }))
        {
            Assert.True(close.IsSuccessStatusCode, await close.Content.ReadAsStringAsync());
        }

        alerts = await harness.AlertsAsync();
        var access = Assert.Single(alerts, a => (string?)a["rule"]!["id"] == "TG-DET-020");
        Assert.Equal("intern7 can now modify /mnt/shared/envs/torch-2.5/lib/python3.11/site-packages on gpu-node-2", (string?)access["reason"]);
        var dir = TestPaths.NewTempDirectory();
        var json = Path.Combine(dir, "report.json");
        var (code, _, stderr) = await CliRunner.RunAsync("report", "--db", harness.Database, "--data-dir", harness.Directory, "--since", Since, "--until", Until, "-f", "json", "-o", json);
        Assert.True(code == 1, stderr); // alerts are still open
        var report = JsonNode.Parse(File.ReadAllText(json))!["report"]!;

        // Alerts: every stored alert, by status and classification; the open ones with the time they opened.
        Assert.Equal(alerts.Count, (int)report["alerts"]!["total"]!);
        Assert.Equal(alerts.Count - 1, (int)report["alerts"]!["by_status"]!["open"]!);
        Assert.Equal(1, (int)report["alerts"]!["by_status"]!["closed"]!);
        Assert.Equal(1, (int)report["alerts"]!["by_classification"]!["true-positive"]!);
        var stillOpen = report["alerts"]!["still_open"]!.AsArray();
        Assert.Equal(
            alerts.Where(a => (string?)a["status"] != "closed").Select(a => (string)a["id"]!).Order(StringComparer.Ordinal),
            stillOpen.Select(a => (string)a!["id"]!).Order(StringComparer.Ordinal));
        Assert.All(stillOpen, o => Assert.Equal(
            (string?)alerts.Single(a => (string?)a["id"] == (string?)o!["id"])["first_seen"],
            (string?)o!["open_since"]));
        foreach (var severity in new[] { "critical", "high", "medium" })
        {
            Assert.Equal(alerts.Count(a => (string?)a["severity"] == severity), (int)report["alerts"]!["by_severity"]![severity]!);
        }

        // Nodes: both agents reporting; gpu-node-2's env verify finding and intern7 as a new writer of the shared PyTorch.
        var nodes = report["nodes"]!.AsArray().ToDictionary(n => (string)n!["host"]!, n => n!);
        Assert.Equal(["gpu-node-2", "vm"], nodes.Keys.Order(StringComparer.Ordinal));
        Assert.All(nodes.Values, n => Assert.Equal("reporting", (string?)n["agent_health"]));
        Assert.Equal((1, "malicious", 1, "intern7"), ((int)nodes["gpu-node-2"]["env_findings"]!, (string?)nodes["gpu-node-2"]["env_worst_verdict"], (int)nodes["gpu-node-2"]["access_writers_added"]!, (string?)nodes["gpu-node-2"]["access_accounts"]![0]));
        Assert.Equal(0, (int)nodes["vm"]["env_findings"]!);
        Assert.Equal(alerts.Count(a => a["hosts"]!.AsArray().Any(h => (string?)h == "vm")), (int)nodes["vm"]["alerts"]!);
        Assert.Equal(alerts.Count(a => a["hosts"]!.AsArray().Any(h => (string?)h == "gpu-node-2")), (int)nodes["gpu-node-2"]["alerts"]!);

        // Checkpoints: the watcher's scans as stored, the poisoned one and the flipped optimizer among the problems.
        var scanned = (await harness.GetJsonAsync("api/v1/events?action=artifact-scanned&limit=1000", harness.ReaderToken))["events"]!.AsArray();
        Assert.Equal(scanned.Count, (int)report["checkpoints"]!["scanned"]!);
        var problems = report["checkpoints"]!["problems"]!.AsArray();
        Assert.Contains(problems, p => (string?)p!["action"] == "checkpoint-inspected" && (string?)p["owner"] == "intern7");
        Assert.Contains(problems, p => (string?)p!["action"] == "artifact-scanned" && (string?)p["verdict"] == "malicious");

        // Ledger: grew by every stored entry, audited clean.
        var size = await harness.Server.Store.Ledger.SizeAsync();
        Assert.Equal(size - 1, (long)report["ledger"]!["tree_size"]!); // the report-issued entry came after
        Assert.Equal(("clean", 0), ((string?)report["ledger"]!["audit"]!["verdict"], (int)report["ledger"]!["audit"]!["findings"]!));

        // Accounts: intern7 first, with the alerts naming him and the headlines of his timeline.
        var account = report["accounts"]![0]!;
        Assert.Equal("intern7", (string?)account["name"]);
        Assert.Equal(alerts.Count(a => (string?)a["account"]!["name"] == "intern7"), (int)account["alerts"]!);
        Assert.Contains(account["headlines"]!.AsArray(), h => ((string?)h!["summary"])!.Contains("created account sysbackup", StringComparison.Ordinal));

        // Recorded in the ledger, verified, and refused once edited.
        var issued = (await harness.GetJsonAsync("api/v1/events?action=report-issued", harness.ReaderToken))["events"]!.AsArray();
        Assert.Equal((string?)report["id"], (string?)Assert.Single(issued)!["event"]!["trainguard"]!["report"]!["id"]);
        (code, var stdout, stderr) = await CliRunner.RunAsync("report", "verify", json, "--db", harness.Database, "--data-dir", harness.Directory);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("signature by test.trainguard/ledger verified, content unchanged", stdout, StringComparison.Ordinal);
        var vkey = Path.Combine(dir, "log.vkey");
        File.WriteAllText(vkey, harness.Server.VerifierKey + "\n");
        (code, stdout, stderr) = await CliRunner.RunAsync("report", "verify", json, "--server", harness.Server.BaseAddress.ToString(), "--token", harness.ReaderToken, "--log-key", vkey);
        Assert.True(code == 0, stdout + stderr);
        (code, _, stderr) = await CliRunner.RunAsync("report", "verify", json, "--server", harness.Server.BaseAddress.ToString(), "--token", harness.ReaderToken);
        Assert.Equal(2, code);
        Assert.Contains("--server needs --log-key", stderr, StringComparison.Ordinal);

        // The server keeps appending after the command line's entry, and the ledger stays whole.
        await harness.PostEventsAsAsync(await harness.NewTokenAsync(Role.Agent, Incident.Host), Heartbeat(Incident.Host));
        (code, stdout, _) = await CliRunner.RunAsync("ledger", "audit", "--db", harness.Database, "--log-key", vkey);
        Assert.True(code == 0, stdout);

        File.WriteAllText(json, File.ReadAllText(json).Replace("\"total\": " + alerts.Count, "\"total\": 0", StringComparison.Ordinal));
        (code, stdout, _) = await CliRunner.RunAsync("report", "verify", json, "--db", harness.Database, "--data-dir", harness.Directory);
        Assert.Equal(1, code);
        Assert.Contains("FAILED", stdout, StringComparison.Ordinal);
        Assert.Contains("the report was edited after it was signed", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_edited_html_report_fails_verify_and_a_report_signed_by_another_key_too()
    {
        await using var harness = await AttackedServerAsync();
        var html = Path.Combine(TestPaths.NewTempDirectory(), "report.html");
        var (code, _, stderr) = await CliRunner.RunAsync("report", "--db", harness.Database, "--data-dir", harness.Directory, "--since", Since, "--until", Until, "-o", html);
        Assert.True(code == 1, stderr);
        var text = File.ReadAllText(html);
        Assert.StartsWith("<!DOCTYPE html>", text, StringComparison.Ordinal);
        Assert.Contains("<code>intern7</code>", text, StringComparison.Ordinal);
        (code, var stdout, _) = await CliRunner.RunAsync("report", "verify", html, "--db", harness.Database, "--data-dir", harness.Directory);
        Assert.True(code == 0, stdout);

        // One name changed in the text: the content's digest no longer matches.
        File.WriteAllText(html, text.Replace("<code>intern7</code>", "<code>lena</code>", StringComparison.Ordinal));
        (code, stdout, _) = await CliRunner.RunAsync("report", "verify", html, "--db", harness.Database, "--data-dir", harness.Directory);
        Assert.Equal(1, code);
        Assert.Contains("the report was edited after it was signed", stdout, StringComparison.Ordinal);

        // The edit re-signed with another key: the signature is refused.
        using var other = TrainGuard.Ledger.Notes.NoteSigner.Generate("test.trainguard/ledger");
        var edited = text.Replace("<code>intern7</code>", "<code>lena</code>", StringComparison.Ordinal);
        var (_, _, note) = SignedReport.Open(Encoding.UTF8.GetBytes(text), html);
        var seal = SignedReport.ReadSeal(TrainGuard.Ledger.Notes.SignedNote.Parse(note).Text)!;
        var body = Encoding.UTF8.GetBytes(edited[..edited.LastIndexOf(SignedReport.HtmlMarker, StringComparison.Ordinal)]);
        var forged = SignedReport.Attach(body, SignedReport.Html, TrainGuard.Ledger.Notes.SignedNote.Sign(SignedReport.NoteText(seal with { Sha256 = SignedReport.Sha256(body) }), other));
        File.WriteAllBytes(html, forged);
        (code, stdout, _) = await CliRunner.RunAsync("report", "verify", html, "--db", harness.Database, "--data-dir", harness.Directory);
        Assert.Equal(1, code);
        Assert.Contains("the signature does not verify with the log key", stdout, StringComparison.Ordinal);

        // Not a report at all: an error, not a verdict.
        File.WriteAllText(html, "<html>hello</html>");
        (code, _, stderr) = await CliRunner.RunAsync("report", "verify", html, "--db", harness.Database, "--data-dir", harness.Directory);
        Assert.Equal(2, code);
        Assert.Contains("not a signed TrainGuard report", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_server_issues_the_report_on_its_schedule_and_tells_the_webhooks_and_an_admin_may_ask_for_one()
    {
        await using var harness = await AttackedServerAsync();
        await using var receiver = await Notifications.LoopbackReceiver.StartAsync();
        var added = await Notifications.Webhooks.AddAsync(harness.Server, harness.Directory, "audit", receiver.Url);
        await harness.RestartAsync(o => Notifications.Webhooks.Fast(o) with { Reports = new ReportServerOptions { Every = TimeSpan.FromDays(7), CheckInterval = TimeSpan.FromMilliseconds(200) } });

        var message = (await receiver.WaitForAsync(1)).Single(r => r.Text.Contains("\"type\":\"report.issued\"", StringComparison.Ordinal));
        Assert.Equal(TrainGuard.Server.Notifications.WebhookVerification.Valid, message.Verify(added.Secret!));
        var data = JsonNode.Parse(message.Text)!["data"]!;
        var files = Directory.GetFiles(Path.Combine(harness.Directory, "reports")).Order(StringComparer.Ordinal).ToList();
        Assert.Equal([".html", ".json"], files.Select(Path.GetExtension));
        if (!OperatingSystem.IsWindows())
        {
            foreach (var file in files)
            {
                Assert.Equal(TrainGuard.Server.Storage.PrivateFiles.FileMode, File.GetUnixFileMode(file));
            }
        }
        Assert.Equal((string?)data["id"], (string?)JsonNode.Parse(File.ReadAllText(files[1]))!["report"]!["id"]);
        Assert.Contains((string)data["id"]!, File.ReadAllText(files[0]), StringComparison.Ordinal);
        var alerts = await harness.AlertsAsync();
        Assert.Equal((alerts.Count, alerts.Count), ((int)data["summary"]!["alerts"]!, (int)data["summary"]!["still_open"]!));
        foreach (var (file, format) in files.Zip(new[] { "html", "json" }))
        {
            var described = data["files"]!.AsArray().Single(x => (string?)x!["format"] == format)!;
            var opened = SignedReport.Open(File.ReadAllBytes(file), file);
            Assert.Equal((string?)described["sha256"], opened.Sha256);
            var (code, stdout, _) = await CliRunner.RunAsync("report", "verify", file, "--db", harness.Database, "--data-dir", harness.Directory);
            Assert.True(code == 0, stdout);
            Assert.Contains($"recorded in ledger entry {(long)described["ledger_index"]!}", stdout, StringComparison.Ordinal);
        }

        // Not due again for a week: a restart issues nothing new.
        await harness.RestartAsync(o => Notifications.Webhooks.Fast(o) with { Reports = new ReportServerOptions { Every = TimeSpan.FromDays(7), CheckInterval = TimeSpan.FromMilliseconds(200) } });
        await Task.Delay(1000);
        Assert.Equal(2, Directory.GetFiles(Path.Combine(harness.Directory, "reports")).Length);

        // On demand: an admin token gets a signed report, a reader token does not.
        using var denied = await PostReportAsync(harness, harness.ReaderToken, "format=json");
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, denied.StatusCode);
        using var answer = await PostReportAsync(harness, harness.AdminToken, $"since={Since}&until={Until}&format=html");
        Assert.Equal(System.Net.HttpStatusCode.Created, answer.StatusCode);
        var html = Path.Combine(TestPaths.NewTempDirectory(), "on-demand.html");
        File.WriteAllBytes(html, await answer.Content.ReadAsByteArrayAsync());
        Assert.Equal(SignedReport.Open(File.ReadAllBytes(html), html).Sha256, answer.Headers.GetValues("TrainGuard-Report-Sha256").Single());
        var (verified, output, _) = await CliRunner.RunAsync("report", "verify", html, "--db", harness.Database, "--data-dir", harness.Directory);
        Assert.True(verified == 0, output);
    }

    [Fact]
    public void Hostile_process_and_account_strings_are_text_in_the_html_report()
    {
        const string Hostile = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>\u001b[31m";
        var report = new AuditReport
        {
            Id = "rpt_00000000000000000000000000000000",
            Since = new DateTimeOffset(2026, 12, 7, 0, 0, 0, TimeSpan.Zero),
            Until = new DateTimeOffset(2026, 12, 8, 0, 0, 0, TimeSpan.Zero),
            GeneratedAt = new DateTimeOffset(2026, 12, 8, 0, 0, 1, TimeSpan.Zero),
            Origin = "test.trainguard/ledger",
            Store = "sqlite:/tmp/x.db",
            Alerts = new AlertSection
            {
                Total = 1,
                ByStatus = [("open", 1)],
                ByClassification = [],
                BySeverity = [("critical", 1)],
                StillOpen = [new OpenAlert("alt_1", "TG-DET-001", "Signal sent to another user's process", "critical", "open", Hostile, [Hostile], DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, 1, $"{Hostile} sent SIGKILL to pid 7 ({Hostile})")],
            },
            Nodes = [new NodeSection { Host = Hostile, AgentHealth = "silent", EnvFindings = 1, EnvWorst = Hostile, AccessFindings = 1, AccessWritersAdded = 1, AccessAccounts = [Hostile], Alerts = 1 }],
            Checkpoints = new CheckpointSection { Signed = 0, Verified = 0, VerifyFailed = 0, Scanned = 1, Problems = [new CheckpointProblem(DateTimeOffset.UnixEpoch, Hostile, "artifact-scanned", Hostile, "malicious", Hostile, Hostile, 3)] },
            Ledger = new LedgerSection { SizeAtStart = 0, SizeAtEnd = 1, TreeSize = 1, TreeHeadsInPeriod = 1, Witnesses = [Hostile], WitnessedSize = 1, AuditVerdict = "clean", AuditFindings = 1, AuditMessages = [Hostile], AuditedAt = DateTimeOffset.UnixEpoch, ReportsIssued = 0 },
            Accounts = [new AccountSection(Hostile, Hostile, 1, "critical", 1, [new Headline(DateTimeOffset.UnixEpoch, Hostile, Hostile + " ran " + Hostile, Hostile)])],
        };

        var html = ReportHtml.Render(report);
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<img", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("\u001b", html, StringComparison.Ordinal);
        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(2)&gt;\\x1b[31m", html, StringComparison.Ordinal);
        Assert.Equal(html.Split("<tr>").Length, html.Split("</tr>").Length);

        // The hostile text cannot forge the signature block either: the marker is encoded like the rest.
        var marked = report with { Accounts = [report.Accounts[0] with { Name = SignedReport.HtmlMarker + "x -->" }] };
        Assert.DoesNotContain("<!--", ReportHtml.Render(marked), StringComparison.Ordinal);
    }

    private static async Task<HttpResponseMessage> PostReportAsync(ServerHarness harness, string token, string query)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "api/v1/reports?" + query);
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return await harness.Http.SendAsync(request);
    }

    /// <summary>A server holding the recorded attack on both nodes, a heartbeat of each agent, and intern7 gaining write access to the shared PyTorch.</summary>
    internal static async Task<ServerHarness> AttackedServerAsync()
    {
        var harness = await ServerHarness.StartAsync(Support.Backends.Sqlite);
        var vm = await harness.NewTokenAsync(Role.Agent, Incident.Host);
        await harness.PostInBatchesAsync(vm, [.. Incident.TimeOrder, Heartbeat(Incident.Host)]);
        var gpu = await harness.NewTokenAsync(Role.Agent, "gpu-node-2");
        var events = File.ReadAllLines(Path.Combine(TestPaths.RepositoryRoot, "tests", "fixtures", "dashboard", "gpu-node-2.jsonl"))
            .Select(line => JsonNode.Parse(line)!.AsObject())
            .Select(e => { e["host"] ??= new JsonObject { ["name"] = "gpu-node-2" }; return e; })
            .Append(WriterAdded())
            .Append(Heartbeat("gpu-node-2"))
            .ToList();
        await harness.PostInBatchesAsync(gpu, events);
        await harness.WaitForDerivedAsync();
        return harness;
    }

    private static JsonObject Heartbeat(string host) => new()
    {
        ["id"] = Guid.CreateVersion7().ToString(),
        ["@timestamp"] = ServerHarness.EventRecordTime(DateTimeOffset.UtcNow),
        ["event"] = new JsonObject { ["kind"] = "state", ["action"] = "agent-heartbeat", ["module"] = "agent", ["dataset"] = "agent" },
        ["host"] = new JsonObject { ["name"] = host },
        ["trainguard"] = new JsonObject { ["agent"] = new JsonObject { ["interval_seconds"] = 60, ["uptime_seconds"] = 600 } },
    };

    /// <summary>The agent's access check on gpu-node-2 before the edit: intern7 joined ml-shared, which may write the shared site-packages.</summary>
    private static JsonObject WriterAdded() => new()
    {
        ["id"] = Guid.CreateVersion7().ToString(),
        ["@timestamp"] = "2026-12-07T11:30:00.000Z",
        ["event"] = new JsonObject { ["kind"] = "event", ["action"] = "access-writer-added", ["module"] = "access", ["dataset"] = "access", ["severity"] = 99 },
        ["host"] = new JsonObject { ["name"] = "gpu-node-2" },
        ["user"] = new JsonObject { ["name"] = "intern7" },
        ["file"] = new JsonObject { ["path"] = "/mnt/shared/envs/torch-2.5/lib/python3.11/site-packages" },
        ["message"] = "intern7 can now modify /mnt/shared/envs/torch-2.5/lib/python3.11/site-packages",
        ["trainguard"] = new JsonObject
        {
            ["severity"] = "critical",
            ["access"] = new JsonObject
            {
                ["asset"] = "/mnt/shared/envs/torch-2.5/lib/python3.11/site-packages",
                ["kind"] = "code",
                ["account"] = "intern7",
                ["allowed"] = false,
                ["reasons"] = new JsonArray("intern7 via group ml-shared (g+w on /mnt/shared/envs/torch-2.5/lib/python3.11/site-packages/torch/optim)"),
            },
            ["finding"] = new JsonObject { ["rule"] = "TG-ACC-001", ["severity"] = "critical", ["verdict"] = "malicious", ["message"] = "intern7 can modify the shared site-packages" },
        },
    };
}
