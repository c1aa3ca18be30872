using System.Text.Json.Nodes;
using TrainGuard.Server.Tests.Support;

namespace TrainGuard.Server.Tests.Runs;

/// <summary>
/// The server's run detectors: the training client's committed <c>run-*</c> events become <c>run-anomaly</c> events
/// in the ledger (once, even when derived again after a restart), and the built-in rules turn them and a failed
/// attestation into alerts naming the run's user and host.
/// </summary>
public sealed class RunAnomalyTests
{
    public static TheoryData<string> Backends => Support.Backends.All;

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Flipped_steps_and_a_failed_attestation_become_anomalies_and_alerts_naming_user_and_host(string backend)
    {
        await using var harness = await ServerHarness.StartAsync(backend);
        var start = DateTimeOffset.UtcNow.AddMinutes(-10);
        var events = new List<JsonObject> { Run("run-attestation", start, 0, new JsonObject { ["outcome"] = "failure", ["kind"] = "alert" }, null, new JsonObject { ["step"] = 0, ["checks"] = new JsonArray(new JsonObject { ["name"] = "step-code", ["ok"] = false, ["detail"] = "AdamW.step is not torch/optim/adamw.py" }) }) };
        for (var step = 0; step < 220; step++)
        {
            events.Add(Run("run-step", start.AddSeconds(step + 1), step, null, new JsonObject { ["step"] = step, ["time_ms"] = 900.0, ["optimizer_ms"] = 20.0, ["loss"] = 2.0, ["cosine"] = step is >= 150 and < 160 ? -0.9 : 0.8 }, null));
        }

        await harness.PostInBatchesAsync(harness.AgentToken, events, batch: 100);
        await harness.WaitForDerivedAsync();
        await harness.WaitForDerivedAsync(); // the anomalies appended by the first round are derived by the next

        // Live: the first flipped step is reported when it arrives (high), the window as critical at the second (2 of
        // the 100 samples the window can hold), and nothing more when the window ends.
        var anomalies = await Anomalies(harness);
        Assert.Equal(["attestation-failed", "direction", "direction"], anomalies.Select(a => (string?)a["trainguard"]!["anomaly"]!["kind"]).Order(StringComparer.Ordinal));
        var direction = anomalies.Where(a => (string?)a["trainguard"]!["anomaly"]!["kind"] == "direction").ToList();
        Assert.Equal([(150L, 150L, "high"), (150L, 151L, "critical")], direction.Select(a => ((long)a["trainguard"]!["anomaly"]!["first_step"]!, (long)a["trainguard"]!["anomaly"]!["last_step"]!, (string)a["trainguard"]!["severity"]!)).Order());
        Assert.All(direction, a => Assert.Equal(("lena", "vm"), ((string?)a["user"]!["name"], (string?)a["host"]!["name"])));

        var alerts = await harness.AlertsAsync();
        var rules = alerts.Select(a => (string?)a["rule"]!["id"]).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(["TG-DET-017", "TG-DET-018", "TG-DET-019"], rules);
        Assert.All(alerts, a => Assert.Equal("lena", (string?)a["account"]!["name"]));
        Assert.All(alerts, a => Assert.Contains("vm", a["hosts"]!.AsArray().Select(h => (string?)h)));

        // Derived again from the start (a restart re-reads the window before its cursor): nothing new is stored.
        var size = await harness.Server.Store.Ledger.SizeAsync();
        await harness.RestartAsync();
        await harness.WaitForDerivedAsync();
        Assert.Equal(size, await harness.Server.Store.Ledger.SizeAsync());
    }

    [Fact]
    public async Task A_seed_other_than_the_manifest_in_the_run_manifests_folder_is_an_alert()
    {
        var manifests = Directory.CreateTempSubdirectory("tg-run-manifests-");
        try
        {
            await File.WriteAllTextAsync(Path.Combine(manifests.FullName, "llama-ft.yaml"), "version: 1\nseed: 42\n");
            var folder = new TrainGuard.Runs.Detectors.RunManifestFolder(manifests.FullName);
            await using var harness = await ServerHarness.StartAsync(Support.Backends.Sqlite, o => o with { Alerts = o.Alerts with { Runs = new TrainGuard.Runs.Detectors.RunDetectorOptions { Manifest = folder.Find } } });
            var start = DateTimeOffset.UtcNow.AddMinutes(-1);
            var started = Run("run-started", start, 0, null, null, null);
            started["trainguard"]!["run"]!["seed"] = new JsonObject { ["initial"] = "43" };
            await harness.PostInBatchesAsync(harness.AgentToken, [started, Run("run-step", start.AddSeconds(1), 1, null, new JsonObject { ["step"] = 1, ["cosine"] = 0.5 }, null)]);
            await harness.WaitForDerivedAsync();
            await harness.WaitForDerivedAsync();

            var anomaly = Assert.Single(await Anomalies(harness));
            Assert.Equal("seed-mismatch", (string?)anomaly["trainguard"]!["anomaly"]!["kind"]);
            var alert = Assert.Single(await harness.AlertsAsync());
            Assert.Equal(("TG-DET-018", "lena"), ((string?)alert["rule"]!["id"], (string?)alert["account"]!["name"]));
        }
        finally
        {
            manifests.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_run_going_wrong_after_an_account_edited_site_packages_on_its_node_is_one_incident_naming_the_editor()
    {
        await using var harness = await ServerHarness.StartAsync(Support.Backends.Sqlite);
        var start = DateTimeOffset.UtcNow.AddMinutes(-50);
        // intern7 (login uid 2007) edits the node's AdamW with vim as root; 40 minutes later lena's run flips.
        var edit = new JsonObject
        {
            ["id"] = Guid.CreateVersion7(start).ToString(),
            ["@timestamp"] = ServerHarness.EventRecordTime(start),
            ["event"] = new JsonObject { ["kind"] = "event", ["action"] = "file-changed", ["outcome"] = "success", ["module"] = "auditd" },
            ["host"] = new JsonObject { ["name"] = "vm" },
            ["user"] = new JsonObject { ["id"] = "0", ["name"] = "root", ["audit"] = new JsonObject { ["id"] = "2007", ["name"] = "intern7" } },
            ["process"] = new JsonObject { ["pid"] = 3131, ["executable"] = "/usr/bin/vim.basic" },
            ["file"] = new JsonObject { ["path"] = "/usr/lib/python3/dist-packages/torch/optim/adamw.py" },
            ["trainguard"] = new JsonObject { ["audit"] = new JsonObject { ["key"] = "tg-pyenv" } },
        };
        var events = new List<JsonObject> { edit };
        var flipped = start.AddMinutes(40);
        for (var step = 0; step < 20; step++)
        {
            events.Add(Run("run-step", flipped.AddSeconds(step), step, null, new JsonObject { ["step"] = step, ["cosine"] = step == 12 ? -0.9 : 0.8 }, null));
        }

        await harness.PostInBatchesAsync(harness.AgentToken, events, batch: 100);
        await harness.WaitForDerivedAsync();
        await harness.WaitForDerivedAsync();

        var alerts = await harness.AlertsAsync();
        var incident = Assert.Single(alerts, a => (string?)a["rule"]!["id"] == "TG-DET-021");
        Assert.Equal("critical", (string?)incident["severity"]);
        Assert.Equal(("intern7", "2007"), ((string?)incident["account"]!["name"], (string?)incident["account"]!["login_uid"]));
        Assert.Equal(2, (int)incident["count"]!);
        // The run's own alert still names its owner; the edit's own alert (TG-DET-009) names the editor.
        Assert.Equal("lena", (string?)alerts.Single(a => (string?)a["rule"]!["id"] == "TG-DET-018" || (string?)a["rule"]!["id"] == "TG-DET-017")["account"]!["name"]);
        Assert.Equal("intern7", (string?)alerts.Single(a => (string?)a["rule"]!["id"] == "TG-DET-009")["account"]!["name"]);

        var timeline = await harness.GetJsonAsync("api/v1/timeline?user=intern7", harness.ReaderToken);
        Assert.Contains(timeline["entries"]!.AsArray(), e => (string?)e!["kind"] == "alert" && (string?)e["rule_id"] == "TG-DET-021");
    }

    private static async Task<List<JsonObject>> Anomalies(ServerHarness harness)
    {
        var size = await harness.Server.Store.Ledger.SizeAsync();
        var entries = await harness.Server.Store.Ledger.GetEntriesAsync(0, (int)size);
        return [.. entries.Select(e => JsonNode.Parse(e)!.AsObject()).Where(e => (string?)e["event"]?["action"] == "run-anomaly")];
    }

    private static JsonObject Run(string action, DateTimeOffset at, int step, JsonObject? eventExtra, JsonObject? stepFields, JsonObject? attest)
    {
        var evt = new JsonObject { ["kind"] = "event", ["action"] = action, ["module"] = "run", ["dataset"] = "run" };
        foreach (var (key, value) in eventExtra ?? [])
        {
            evt[key] = value?.DeepClone();
        }

        var trainguard = new JsonObject { ["run"] = new JsonObject { ["id"] = "job-1002", ["name"] = "llama-ft", ["rank"] = 0, ["world_size"] = 1, ["local_rank"] = 0 } };
        if (stepFields is not null)
        {
            trainguard["step"] = stepFields;
        }

        if (attest is not null)
        {
            trainguard["attest"] = attest;
        }

        return new JsonObject
        {
            ["id"] = Guid.CreateVersion7(at).ToString(),
            ["@timestamp"] = ServerHarness.EventRecordTime(at.AddMilliseconds(step)),
            ["event"] = evt,
            ["host"] = new JsonObject { ["name"] = "vm" },
            ["user"] = new JsonObject { ["name"] = "lena", ["id"] = "2001" },
            ["process"] = new JsonObject { ["pid"] = 4242 },
            ["trainguard"] = trainguard,
        };
    }
}
