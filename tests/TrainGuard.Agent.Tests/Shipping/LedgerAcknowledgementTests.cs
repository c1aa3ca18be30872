using TrainGuard.Agent.Shipping;
using TrainGuard.Agent.Spool;
using TrainGuard.Agent.Tests.Support;
using TrainGuard.Events;
using TrainGuard.Ledger.Notes;

namespace TrainGuard.Agent.Tests.Shipping;

/// <summary>
/// An answer is an acknowledgement only with a signed tree head that verifies, is consistent with the one the agent
/// kept, and covers the events: otherwise the events stay in the spool, and a cut or forked log raises TG-AGT-122.
/// </summary>
public sealed class LedgerAcknowledgementTests
{
    private static ShipperOptions Options(FakeEventServer server, NoteVerifier? logKey) => new()
    {
        ServerUrl = server.Url,
        BatchSize = 100,
        BackoffBase = TimeSpan.FromMilliseconds(10),
        BackoffMax = TimeSpan.FromMilliseconds(50),
        RequestTimeout = TimeSpan.FromSeconds(5),
        LogKey = logKey,
    };

    [Fact]
    public async Task Acknowledgement_from_a_ledger_cut_at_its_end_keeps_the_events_and_raises_a_rollback_alert_once()
    {
        using var dir = new TempDir();
        using var server = new FakeEventServer();
        server.Start();
        using var spool = EventSpool.Open(dir.Path);
        spool.Append(Enumerable.Range(0, 6).Select(ChildProgram.MakeEvent).ToList());
        using var shipper = new EventShipper(spool, Options(server, server.LogKey));
        Assert.Equal(ShipOutcome.Sent, await shipper.ShipOnceAsync());
        Assert.Equal(0, spool.Pending);

        // Someone with the server's database cuts the newest four events; the agent's next batch lands on the stub.
        server.Truncate(2);
        spool.Append(ChildProgram.MakeEvent(100));

        Assert.Equal(ShipOutcome.RetryLater, await shipper.ShipOnceAsync());
        Assert.Contains("shrank from 6 to 3", shipper.Stats.LastError, StringComparison.Ordinal);
        var pending = spool.ReadPending(100);
        Assert.Equal(2, pending.Count);
        var alert = EventRecord.Parse(pending[1].EventJson);
        Assert.Equal("ledger-rolled-back", alert.Action);
        Assert.Equal("TG-AGT-122", alert.GetString("trainguard.finding.rule"));
        Assert.Equal(6, alert.GetInt64("trainguard.ledger.kept_size"));
        Assert.Equal(3, alert.GetInt64("trainguard.ledger.new_size"));
        Assert.StartsWith("fake.trainguard/ledger\n6\n", alert.GetString("trainguard.ledger.kept_tree_head"), StringComparison.Ordinal);

        // Every later answer stays a non-acknowledgement (the kept head does not move), without a second alert.
        Assert.Equal(ShipOutcome.RetryLater, await shipper.ShipOnceAsync());
        Assert.Equal(2, spool.Pending);
    }

    [Fact]
    public async Task Answer_signed_by_another_key_than_the_pinned_one_is_no_acknowledgement()
    {
        using var dir = new TempDir();
        using var server = new FakeEventServer();
        server.Start();
        using var other = NoteSigner.Generate("fake.trainguard/ledger");
        using var spool = EventSpool.Open(dir.Path);
        spool.Append(Enumerable.Range(0, 3).Select(ChildProgram.MakeEvent).ToList());
        using var shipper = new EventShipper(spool, Options(server, other.Verifier));

        Assert.Equal(ShipOutcome.RetryLater, await shipper.ShipOnceAsync());
        Assert.Equal(3, spool.Pending);
        Assert.Contains("not signed by", shipper.Stats.LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_configured_key_the_announced_one_is_pinned_in_the_spool_folder_and_kept()
    {
        using var dir = new TempDir();
        using var server = new FakeEventServer();
        server.Start();
        using var spool = EventSpool.Open(dir.Path);
        spool.Append(Enumerable.Range(0, 3).Select(ChildProgram.MakeEvent).ToList());
        using (var shipper = new EventShipper(spool, Options(server, null)))
        {
            Assert.Equal(ShipOutcome.Sent, await shipper.ShipOnceAsync());
        }

        Assert.Equal(server.LogKey.VerifierKey, File.ReadAllText(Path.Combine(dir.Path, LedgerAcknowledgements.PinnedKeyFile)).Trim());
        Assert.Single(Directory.GetFiles(dir.Path, "*.tree-head"));

        // A later server with another key under the same address is not believed.
        File.WriteAllText(Path.Combine(dir.Path, LedgerAcknowledgements.PinnedKeyFile), NoteSigner.Generate("fake.trainguard/ledger").VerifierKey);
        spool.Append(ChildProgram.MakeEvent(9));
        using var again = new EventShipper(spool, Options(server, null));
        Assert.Equal(ShipOutcome.RetryLater, await again.ShipOnceAsync());
        Assert.Equal(1, spool.Pending);
    }
}
