using TrainGuard.Agent.Shipping;
using TrainGuard.Agent.Spool;
using TrainGuard.Agent.Tests.Support;

namespace TrainGuard.Agent.Tests.Shipping;

public sealed class EventShipperTests
{
    private static ShipperOptions Options(FakeEventServer server, int batch = 10) => new()
    {
        ServerUrl = server.Url,
        Token = "s3cret",
        BatchSize = batch,
        BackoffBase = TimeSpan.FromMilliseconds(10),
        BackoffMax = TimeSpan.FromMilliseconds(50),
        IdlePoll = TimeSpan.FromMilliseconds(50),
        RequestTimeout = TimeSpan.FromSeconds(5),
    };

    [Fact]
    public async Task Batches_are_posted_with_the_bearer_token_and_acknowledged_in_the_spool()
    {
        using var dir = new TempDir();
        using var server = new FakeEventServer { ExpectedToken = "s3cret" };
        server.Start();
        using var spool = EventSpool.Open(dir.Path);
        spool.Append(Enumerable.Range(0, 25).Select(ChildProgram.MakeEvent).ToList());
        using var shipper = new EventShipper(spool, Options(server));

        Assert.Equal(ShipOutcome.Sent, await shipper.ShipOnceAsync());
        Assert.Equal(10, spool.AckedSeq);
        Assert.Equal(ShipOutcome.Sent, await shipper.ShipOnceAsync());
        Assert.Equal(ShipOutcome.Sent, await shipper.ShipOnceAsync());
        Assert.Equal(ShipOutcome.Idle, await shipper.ShipOnceAsync());

        Assert.Equal(25, server.DistinctCount);
        Assert.Equal(0, server.Duplicates);
        Assert.All(server.Authorizations, a => Assert.Equal("Bearer s3cret", a));
        Assert.Equal(ChildProgram.IdOf(24), shipper.Stats.LastShippedId);
        Assert.Equal(25, shipper.Stats.EventsSent);
    }

    [Fact]
    public async Task Server_errors_keep_the_batch_in_the_spool_until_a_retry_succeeds()
    {
        using var dir = new TempDir();
        using var server = new FakeEventServer { FailWith = 503 };
        server.Start();
        using var spool = EventSpool.Open(dir.Path);
        spool.Append(Enumerable.Range(0, 5).Select(ChildProgram.MakeEvent).ToList());
        using var shipper = new EventShipper(spool, Options(server));

        Assert.Equal(ShipOutcome.RetryLater, await shipper.ShipOnceAsync());
        Assert.Equal(ShipOutcome.RetryLater, await shipper.ShipOnceAsync());
        Assert.Equal(0, spool.AckedSeq);
        Assert.Equal(2, shipper.Stats.ConsecutiveFailures);
        Assert.Contains("503", shipper.Stats.LastError, StringComparison.Ordinal);

        server.FailWith = null;
        Assert.Equal(ShipOutcome.Sent, await shipper.ShipOnceAsync());
        Assert.Equal(5, spool.AckedSeq);
        Assert.Equal(0, shipper.Stats.ConsecutiveFailures);
    }

    [Fact]
    public async Task A_stopped_server_is_a_retry_not_a_loss()
    {
        using var dir = new TempDir();
        using var server = new FakeEventServer();
        using var spool = EventSpool.Open(dir.Path);
        spool.Append(ChildProgram.MakeEvent(1));
        using var shipper = new EventShipper(spool, Options(server));

        Assert.Equal(ShipOutcome.RetryLater, await shipper.ShipOnceAsync());
        Assert.Contains("cannot reach", shipper.Stats.LastError, StringComparison.Ordinal);
        server.Start();
        Assert.Equal(ShipOutcome.Sent, await shipper.ShipOnceAsync());
    }

    [Fact]
    public async Task A_rejected_batch_goes_to_the_dead_letter_file_and_is_never_silently_dropped()
    {
        using var dir = new TempDir();
        using var server = new FakeEventServer { FailWith = 422 };
        server.Start();
        using var spool = EventSpool.Open(dir.Path);
        spool.Append(Enumerable.Range(0, 3).Select(ChildProgram.MakeEvent).ToList());
        var logged = new List<string>();
        using var shipper = new EventShipper(spool, Options(server), logged.Add);

        Assert.Equal(ShipOutcome.Rejected, await shipper.ShipOnceAsync());
        Assert.Equal(3, spool.AckedSeq);
        var dead = File.ReadAllLines(Path.Combine(dir.Path, SpoolFormat.DeadLetterFile));
        Assert.Equal(3, dead.Length);
        Assert.Contains("\"status\":422", dead[0], StringComparison.Ordinal);
        Assert.Contains(ChildProgram.IdOf(2), dead[2], StringComparison.Ordinal);
        Assert.Contains(logged, l => l.Contains("rejected a batch of 3 events", StringComparison.Ordinal));
    }

    [Fact]
    public async Task One_event_whose_id_was_claimed_first_no_longer_takes_its_batch_to_the_dead_letter_file()
    {
        using var dir = new TempDir();
        using var server = new FakeEventServer();
        server.ConflictIds[ChildProgram.IdOf(2)] = true;
        server.Start();
        using var spool = EventSpool.Open(dir.Path);
        spool.Append(Enumerable.Range(0, 5).Select(ChildProgram.MakeEvent).ToList());
        using var shipper = new EventShipper(spool, Options(server));

        Assert.Equal(ShipOutcome.Rejected, await shipper.ShipOnceAsync());
        // Sent again one by one: every event but the contested one is on the server.
        Assert.Equal(4, server.DistinctCount);
        Assert.DoesNotContain(ChildProgram.IdOf(2), server.ReceivedIds);
        Assert.Equal(1, shipper.DeadLetters.Count);
        Assert.Equal(4, shipper.Stats.DeadLettersReshipped);
        var dead = Assert.Single(File.ReadAllLines(Path.Combine(dir.Path, SpoolFormat.DeadLetterFile)));
        Assert.Contains(ChildProgram.IdOf(2), dead, StringComparison.Ordinal);
        Assert.Contains("\"attempts\":1,\"last_status\":409", dead, StringComparison.Ordinal);

        // Once it can be shipped, it is, and the file is empty.
        server.ConflictIds.Clear();
        Assert.Equal(1, await shipper.ReshipDeadLettersAsync());
        Assert.Equal(0, shipper.DeadLetters.Count);
        Assert.Equal(5, server.DistinctCount);
        Assert.Empty(File.ReadAllLines(Path.Combine(dir.Path, SpoolFormat.DeadLetterFile)));
    }

    [Fact]
    public async Task An_oversized_event_from_an_older_agent_is_capped_when_its_dead_letter_is_sent_again()
    {
        using var dir = new TempDir();
        using var server = new FakeEventServer { MaxEventBytes = 20 * 1024 };
        server.Start();
        using var spool = EventSpool.Open(dir.Path);
        var big = ChildProgram.MakeEvent(0).Set("trainguard.ssh.key_comment", new string('A', 66_000));
        spool.Append([big, ChildProgram.MakeEvent(1), ChildProgram.MakeEvent(2)]);
        using var shipper = new EventShipper(spool, Options(server));

        Assert.Equal(ShipOutcome.Rejected, await shipper.ShipOnceAsync());
        Assert.Equal(3, server.DistinctCount);
        Assert.Equal(0, shipper.DeadLetters.Count);
        var capped = server.Events.Select(e => TrainGuard.Events.EventRecord.Parse(e.GetRawText())).Single(e => e.Id == big.Id);
        Assert.Equal(["trainguard.ssh.key_comment"], capped.GetStrings("trainguard.truncated"));
    }

    [Fact]
    public async Task Dead_letters_left_by_an_earlier_run_are_counted_when_the_shipper_starts()
    {
        using var dir = new TempDir();
        using var server = new FakeEventServer { FailWith = 422 };
        server.Start();
        using (var spool = EventSpool.Open(dir.Path))
        {
            spool.Append(Enumerable.Range(0, 3).Select(ChildProgram.MakeEvent).ToList());
            using var first = new EventShipper(spool, Options(server));
            Assert.Equal(ShipOutcome.Rejected, await first.ShipOnceAsync());
        }

        using var reopened = EventSpool.Open(dir.Path);
        using var shipper = new EventShipper(reopened, Options(server));
        Assert.Equal(3, shipper.DeadLetters.Count);
    }

    [Theory]
    [InlineData(401)]
    [InlineData(429)]
    public async Task Authentication_and_rate_limit_answers_are_retried_not_dead_lettered(int status)
    {
        using var dir = new TempDir();
        using var server = new FakeEventServer { FailWith = status };
        server.Start();
        using var spool = EventSpool.Open(dir.Path);
        spool.Append(ChildProgram.MakeEvent(1));
        using var shipper = new EventShipper(spool, Options(server));

        Assert.Equal(ShipOutcome.RetryLater, await shipper.ShipOnceAsync());
        Assert.False(File.Exists(Path.Combine(dir.Path, SpoolFormat.DeadLetterFile)));
        Assert.Equal(0, spool.AckedSeq);
    }

    [Fact]
    public void Back_off_grows_exponentially_with_full_jitter_and_is_capped()
    {
        using var dir = new TempDir();
        using var spool = EventSpool.Open(dir.Path);
        using var shipper = new EventShipper(spool, new ShipperOptions { ServerUrl = new Uri("http://127.0.0.1:9/"), BackoffBase = TimeSpan.FromSeconds(1), BackoffMax = TimeSpan.FromSeconds(30) });
        var first = Enumerable.Range(0, 200).Select(_ => shipper.NextDelay(1)).ToList();
        var tenth = Enumerable.Range(0, 200).Select(_ => shipper.NextDelay(10)).ToList();
        Assert.All(first, d => Assert.InRange(d.TotalMilliseconds, 50, 1000));
        Assert.All(tenth, d => Assert.InRange(d.TotalMilliseconds, 50, 30_000));
        Assert.True(tenth.Max() > TimeSpan.FromSeconds(10), "later retries wait longer");
        Assert.True(first.Distinct().Count() > 50, "delays are jittered");
    }
}
