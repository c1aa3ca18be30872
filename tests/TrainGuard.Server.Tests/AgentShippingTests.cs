using System.Text;
using System.Text.Json.Nodes;
using TrainGuard.Agent.Shipping;
using TrainGuard.Agent.Spool;
using TrainGuard.Events;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Tests.Support;

namespace TrainGuard.Server.Tests;

/// <summary>The agent's spool and shipper against a real server: per-event answers decide what leaves the spool and what becomes a dead letter.</summary>
public sealed class AgentShippingTests
{
    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_pre_claimed_event_id_no_longer_loses_the_agents_event(string backend)
    {
        await using var h = await ServerHarness.StartAsync(backend);
        var node = await h.NewTokenAsync(Role.Agent, "gpu-node-17");
        var attacker = await h.NewTokenAsync(Role.Agent, "node1");
        var spoolDirectory = Path.Combine(h.Directory, "spool");

        // The agent derives ids from what it saw (path, size, mtime, hash): the attacker can compute them and post first.
        var scan = AgentEvent("artifact-scanned", 1);
        scan.Set("file.path", "/ckpt/run-7/model.pt").Set("trainguard.scan.verdict", "malicious");
        var claim = new JsonObject { ["id"] = scan.Id, ["@timestamp"] = scan.GetString("@timestamp"), ["event"] = new JsonObject { ["action"] = "artifact-scanned" }, ["host"] = new JsonObject { ["name"] = "node1" } };
        await h.PostEventsAsAsync(attacker, claim);
        await h.PostEventsAsAsync(h.AgentToken, claim);

        using var spool = EventSpool.Open(spoolDirectory);
        spool.Append([AgentEvent("user-login", 0), scan, AgentEvent("user-logout", 2)]);
        using var shipper = new EventShipper(spool, new ShipperOptions { ServerUrl = h.Server.BaseAddress, Token = node });

        Assert.Equal(ShipOutcome.Sent, await shipper.ShipOnceAsync());
        Assert.Equal(3, spool.AckedSeq);
        Assert.Equal(0, shipper.DeadLetters.Count);
        Assert.Equal(3, shipper.Stats.EventsSent);

        // The reader finds the node's verdict under its id, beside the claims.
        var got = await h.GetJsonAsync($"api/v1/events/{scan.Id}");
        var leaves = got["same_id_at"]!.AsArray().Select(l => (long)l!).Append((long)got["index"]!).ToList();
        var verdicts = new List<string?>();
        foreach (var leaf in leaves)
        {
            verdicts.Add(EventRecord.Parse(Encoding.UTF8.GetString((await h.Server.Store.Ledger.GetEntryAsync(leaf))!)).GetString("trainguard.scan.verdict"));
        }

        Assert.Contains("malicious", verdicts);
    }

    [Fact]
    public async Task Events_the_server_does_not_store_become_counted_dead_letters_and_the_rest_of_the_batch_leaves_the_spool()
    {
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite);
        var node = await h.NewTokenAsync(Role.Agent, "gpu-node-17");
        using var spool = EventSpool.Open(Path.Combine(h.Directory, "spool"));
        var oversized = AgentEvent("ssh-key-added", 1).Set("trainguard.ssh.key_comment", new string('A', 70_000));
        var otherHost = AgentEvent("user-login", 2).Set(EventFields.HostName, "gpu-node-17.cluster.example");
        spool.Append([AgentEvent("ssh-key-added", 0), oversized, otherHost, AgentEvent("user-login", 3)]);
        var logged = new List<string>();
        using var shipper = new EventShipper(spool, new ShipperOptions { ServerUrl = h.Server.BaseAddress, Token = node }, logged.Add);

        Assert.Equal(ShipOutcome.Sent, await shipper.ShipOnceAsync());

        Assert.Equal(4, spool.AckedSeq);
        Assert.Equal(2, shipper.Stats.EventsSent);
        Assert.Equal(2, shipper.Stats.EventsRejected);
        Assert.Equal(2, shipper.DeadLetters.Count);
        var letters = shipper.DeadLetters.ReadAll();
        Assert.Equal([oversized.Id, otherHost.Id], letters.Select(l => l.Record.EventId));
        Assert.StartsWith("too-large:", letters[0].Reason, StringComparison.Ordinal);
        Assert.StartsWith("refused:", letters[1].Reason, StringComparison.Ordinal);
        Assert.Contains(logged, l => l.Contains("did not store 2 of 4 events", StringComparison.Ordinal));
        Assert.Equal(2, await h.Server.Store.Ledger.SizeAsync());

        // Sent again on their own: the oversized event is capped to the agent's limit and stored; the other host's stays.
        Assert.Equal(1, await shipper.ReshipDeadLettersAsync());
        var remaining = Assert.Single(shipper.DeadLetters.ReadAll());
        Assert.Equal((otherHost.Id, 1, 207), (remaining.Record.EventId, remaining.Attempts, remaining.LastStatus));
        var capped = await h.GetJsonAsync($"api/v1/events/{oversized.Id}");
        Assert.Contains("trainguard.ssh.key_comment", capped["event"]!["trainguard"]!["truncated"]!.ToJsonString(), StringComparison.Ordinal);
    }

    private static EventRecord AgentEvent(string action, int n)
    {
        var at = DateTimeOffset.UtcNow.AddSeconds(-10 + n);
        return new EventRecord(at, action, EventKinds.Event, UuidV7.FromKey(at, Encoding.UTF8.GetBytes($"{action}/{n}/{Guid.NewGuid()}")))
            .Set(EventFields.HostName, "gpu-node-17")
            .Set("user.name", "alice")
            .Set(EventFields.AgentId, "agent-under-test");
    }
}
