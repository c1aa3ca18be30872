using System.Text;
using TrainGuard.Agent.Spool;
using TrainGuard.Agent.Tests.Support;
using TrainGuard.Events;

namespace TrainGuard.Agent.Tests.Spool;

public sealed class EventSpoolTests
{
    private static List<EventRecord> Events(int from, int count) => Enumerable.Range(from, count).Select(ChildProgram.MakeEvent).ToList();

    private static string[] SegmentFiles(string dir) =>
        Directory.GetFiles(dir, "seg-*.jsonl").OrderBy(f => f, StringComparer.Ordinal).ToArray();

    [Fact]
    public void Appended_events_are_read_back_in_order_and_survive_a_reopen()
    {
        using var dir = new TempDir();
        using (var spool = EventSpool.Open(dir.Path))
        {
            Assert.Equal([1L, 2, 3], spool.Append(Events(0, 3)));
            Assert.Equal(3, spool.Pending);
        }

        using (var spool = EventSpool.Open(dir.Path))
        {
            Assert.True(spool.OpenReport.Clean);
            var pending = spool.ReadPending(10);
            Assert.Equal([1L, 2, 3], pending.Select(r => r.Seq));
            Assert.Equal(ChildProgram.IdOf(0), pending[0].EventId);
            Assert.Equal(2, EventRecord.Parse(pending[2].EventJson).GetInt64("trainguard.test.n"));
            Assert.Equal(2, spool.LastEvent!.GetInt64("trainguard.test.n"));
        }
    }

    [Fact]
    public void Each_record_line_carries_its_seq_and_the_hash_of_the_previous_line()
    {
        using var dir = new TempDir();
        using (var spool = EventSpool.Open(dir.Path))
        {
            spool.Append(Events(0, 2));
        }

        var lines = File.ReadAllLines(SegmentFiles(dir.Path).Single());
        Assert.StartsWith("{\"seq\":1,\"prev\":\"" + new string('0', 64) + "\",\"event\":{", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("{\"seq\":2,\"prev\":\"" + SpoolFormat.HashLine(Encoding.UTF8.GetBytes(lines[0])) + "\"", lines[1], StringComparison.Ordinal);
    }

    [Fact]
    public void Acknowledged_records_are_not_read_again_after_a_restart()
    {
        using var dir = new TempDir();
        using (var spool = EventSpool.Open(dir.Path))
        {
            spool.Append(Events(0, 5));
            var batch = spool.ReadPending(2);
            Assert.Equal([1L, 2], batch.Select(r => r.Seq));
            Assert.Equal([1L, 2], spool.ReadPending(2).Select(r => r.Seq));
            spool.Acknowledge(2);
            Assert.Equal([3L, 4], spool.ReadPending(2).Select(r => r.Seq));
        }

        using (var spool = EventSpool.Open(dir.Path))
        {
            Assert.Equal(2, spool.AckedSeq);
            Assert.Equal([3L, 4, 5], spool.ReadPending(100).Select(r => r.Seq));
        }
    }

    [Fact]
    public void Whole_segments_are_trimmed_only_once_every_record_in_them_is_acknowledged()
    {
        using var dir = new TempDir();
        using var spool = EventSpool.Open(dir.Path, new SpoolOptions { MaxSegmentBytes = 2048 });
        for (var i = 0; i < 40; i++)
        {
            spool.Append(Events(i, 1));
        }

        var before = SegmentFiles(dir.Path);
        Assert.True(before.Length >= 4, $"expected several segments, got {before.Length}");
        var secondFirst = long.Parse(Path.GetFileName(before[1])[4..24]);

        spool.Acknowledge(secondFirst - 2);
        Assert.Equal(before, SegmentFiles(dir.Path));

        spool.Acknowledge(secondFirst - 1);
        Assert.Equal(before[1..], SegmentFiles(dir.Path));

        spool.Acknowledge(40);
        Assert.Single(SegmentFiles(dir.Path));
        Assert.Equal(0, spool.Pending);
        spool.Dispose();

        // The remaining records still chain to the trim anchor kept in the cursor.
        using var reopened = EventSpool.Open(dir.Path, new SpoolOptions { MaxSegmentBytes = 2048 });
        Assert.True(reopened.OpenReport.Clean, string.Join("; ", reopened.OpenReport.Findings.Select(f => f.Message)));
        Assert.Equal(41, reopened.Append(Events(40, 1))[0]);
    }

    [Fact]
    public void A_batch_larger_than_a_segment_rolls_into_new_segments_and_reads_back_whole()
    {
        using var dir = new TempDir();
        using (var spool = EventSpool.Open(dir.Path, new SpoolOptions { MaxSegmentBytes = 1024 }))
        {
            spool.Append(Events(0, 30));
        }

        Assert.True(SegmentFiles(dir.Path).Length > 3);
        using var reopened = EventSpool.Open(dir.Path, new SpoolOptions { MaxSegmentBytes = 1024 });
        Assert.True(reopened.OpenReport.Clean, string.Join("; ", reopened.OpenReport.Findings.Select(f => f.Message)));
        Assert.Equal(Enumerable.Range(1, 30).Select(i => (long)i), reopened.ReadPending(1000).Select(r => r.Seq));
    }

    [Fact]
    public void Records_appended_between_reads_are_not_skipped_when_the_segment_rolls_in_between()
    {
        using var dir = new TempDir();
        using var spool = EventSpool.Open(dir.Path, new SpoolOptions { MaxSegmentBytes = 4096 });
        var seen = new List<long>();
        var n = 0;
        for (var round = 0; round < 200; round++)
        {
            spool.Append(Events(n, 3));
            n += 3;
            var batch = spool.ReadPending(round % 2 == 0 ? 2 : 5);
            seen.AddRange(batch.Select(r => r.Seq));
            if (batch.Count > 0)
            {
                spool.Acknowledge(batch[^1].Seq);
            }
        }

        IReadOnlyList<SpoolRecord> rest;
        while ((rest = spool.ReadPending(7)).Count > 0)
        {
            seen.AddRange(rest.Select(r => r.Seq));
            spool.Acknowledge(rest[^1].Seq);
        }

        Assert.Equal(Enumerable.Range(1, n).Select(i => (long)i), seen);
    }

    [Fact]
    public void An_edited_record_breaks_the_chain_and_opens_with_a_tamper_finding_and_event()
    {
        using var dir = new TempDir();
        using (var spool = EventSpool.Open(dir.Path))
        {
            spool.Append(Events(0, 4));
        }

        var segment = SegmentFiles(dir.Path).Single();
        var lines = File.ReadAllLines(segment);
        lines[1] = lines[1].Replace("test-event", "test-evenT", StringComparison.Ordinal);
        File.WriteAllText(segment, string.Join('\n', lines) + "\n");

        var verified = EventSpool.Verify(dir.Path);
        Assert.True(verified.Tampered);
        var finding = Assert.Single(verified.Findings);
        Assert.Equal(AgentRules.SpoolTampered, finding.RuleId);
        Assert.Contains("record 3 does not chain to record 2", finding.Message, StringComparison.Ordinal);
        Assert.Equal(3, finding.Location.Line);

        using var opened = EventSpool.Open(dir.Path);
        Assert.True(opened.OpenReport.Tampered);
        var e = Assert.Single(opened.OpenReport.ToEvents(DateTimeOffset.UtcNow));
        Assert.Equal(AgentActions.SpoolTampered, e.Action);
        Assert.Equal(AgentRules.SpoolTampered, e.GetString("trainguard.finding.rule"));
        Assert.Equal(4, opened.ReadPending(10).Count);
    }

    [Fact]
    public void A_deleted_record_is_reported_as_missing_records()
    {
        using var dir = new TempDir();
        using (var spool = EventSpool.Open(dir.Path))
        {
            spool.Append(Events(0, 5));
        }

        var segment = SegmentFiles(dir.Path).Single();
        var lines = File.ReadAllLines(segment).ToList();
        lines.RemoveAt(2);
        File.WriteAllText(segment, string.Join('\n', lines) + "\n");

        var verified = EventSpool.Verify(dir.Path);
        Assert.True(verified.Tampered);
        Assert.Contains(verified.Findings, f => f.Message.Contains("records 3..3 are missing", StringComparison.Ordinal));
    }

    [Fact]
    public void A_deleted_first_segment_is_detected_through_the_sequence_gap()
    {
        using var dir = new TempDir();
        using (var spool = EventSpool.Open(dir.Path, new SpoolOptions { MaxSegmentBytes = 1024 }))
        {
            spool.Append(Events(0, 20));
        }

        File.Delete(SegmentFiles(dir.Path)[0]);
        Assert.True(EventSpool.Verify(dir.Path).Tampered);
    }

    [Fact]
    public void A_torn_last_line_is_reported_truncated_and_kept_aside_while_earlier_records_stay()
    {
        using var dir = new TempDir();
        using (var spool = EventSpool.Open(dir.Path))
        {
            spool.Append(Events(0, 3));
        }

        var segment = SegmentFiles(dir.Path).Single();
        File.AppendAllText(segment, "{\"seq\":4,\"prev\":\"ab");
        var lengthWithTorn = new FileInfo(segment).Length;

        var verified = EventSpool.Verify(dir.Path);
        Assert.False(verified.Tampered);
        Assert.Equal(AgentRules.SpoolTornTail, Assert.Single(verified.Findings).RuleId);
        Assert.Equal(lengthWithTorn, new FileInfo(segment).Length);

        using var spool2 = EventSpool.Open(dir.Path);
        Assert.Equal(AgentRules.SpoolTornTail, Assert.Single(spool2.OpenReport.Findings).RuleId);
        Assert.Equal(AgentActions.SpoolRecovered, Assert.Single(spool2.OpenReport.ToEvents(DateTimeOffset.UtcNow)).Action);
        Assert.NotNull(spool2.OpenReport.TornBytesSavedTo);
        Assert.Equal("{\"seq\":4,\"prev\":\"ab", File.ReadAllText(spool2.OpenReport.TornBytesSavedTo!));
        Assert.Equal(3, spool2.LastSeq);
        Assert.Equal(4, spool2.Append(ChildProgram.MakeEvent(3)));
        spool2.Dispose();
        Assert.True(EventSpool.Verify(dir.Path).Clean);
    }

    [Fact]
    public void A_second_process_cannot_open_a_spool_in_use()
    {
        using var dir = new TempDir();
        using var spool = EventSpool.Open(dir.Path);
        var ex = Assert.Throws<IOException>(() => EventSpool.Open(dir.Path));
        Assert.Contains("in use", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_damaged_cursor_is_reported_and_every_remaining_record_is_sent_again()
    {
        using var dir = new TempDir();
        using (var spool = EventSpool.Open(dir.Path))
        {
            spool.Append(Events(0, 3));
            spool.Acknowledge(2);
        }

        File.WriteAllText(Path.Combine(dir.Path, SpoolFormat.CursorFile), "{garbage");
        using var reopened = EventSpool.Open(dir.Path);
        Assert.Contains(reopened.OpenReport.Findings, f => f.RuleId == AgentRules.SpoolCursorDamaged);
        Assert.Equal(3, reopened.ReadPending(10).Count);
    }

    [Fact]
    public void A_cursor_acknowledging_more_than_the_spool_holds_is_tampering()
    {
        using var dir = new TempDir();
        using (var spool = EventSpool.Open(dir.Path))
        {
            spool.Append(Events(0, 3));
            spool.Acknowledge(3);
        }

        var segment = SegmentFiles(dir.Path).Single();
        var lines = File.ReadAllLines(segment);
        File.WriteAllText(segment, lines[0] + "\n");
        Assert.Contains(EventSpool.Verify(dir.Path).Findings, f => f.Message.Contains("acknowledged but the spool ends at record 1", StringComparison.Ordinal));
    }

    [Fact]
    public void Cutting_the_last_records_off_the_spool_no_longer_leaves_verify_saying_the_chain_is_intact()
    {
        using var dir = new TempDir();
        using (var spool = EventSpool.Open(dir.Path))
        {
            spool.Append(Events(0, 7));
            spool.Acknowledge(4);
            spool.Append(Events(7, 3));
        }

        // The attack: delete the last three records (one of them the event for a poisoned checkpoint) at line boundaries.
        var segment = SegmentFiles(dir.Path).Single();
        var lines = File.ReadAllLines(segment);
        File.WriteAllText(segment, string.Join('\n', lines[..^3]) + "\n");

        var verified = EventSpool.Verify(dir.Path);
        Assert.True(verified.Tampered);
        var finding = Assert.Single(verified.Findings);
        Assert.Equal(AgentRules.SpoolTampered, finding.RuleId);
        Assert.Contains("records 8..10 were cut from its end", finding.Message, StringComparison.Ordinal);
        Assert.Equal(10, verified.SealedHeadSeq);

        // The agent reports it on open and numbers on from the sealed head, so the gap stays visible.
        using (var reopened = EventSpool.Open(dir.Path))
        {
            Assert.Equal(AgentActions.SpoolTampered, Assert.Single(reopened.OpenReport.ToEvents(DateTimeOffset.UtcNow)).Action);
            Assert.Equal(11, reopened.Append(ChildProgram.MakeEvent(10)));
            Assert.Equal([5L, 6, 7, 11], reopened.ReadPending(100).Select(r => r.Seq));
        }

        Assert.Contains(EventSpool.Verify(dir.Path).Findings, f => f.Message.Contains("records 8..10 are missing", StringComparison.Ordinal));
    }

    [Fact]
    public void A_rewritten_last_record_that_still_chains_does_not_match_the_sealed_head()
    {
        using var dir = new TempDir();
        using (var spool = EventSpool.Open(dir.Path))
        {
            spool.Append(Events(0, 3));
        }

        // A forged record 3 with a correct prev: the chain checks pass, the seal does not.
        var segment = SegmentFiles(dir.Path).Single();
        var lines = File.ReadAllLines(segment);
        lines[2] = SpoolFormat.FormatRecord(3, SpoolFormat.HashLine(Encoding.UTF8.GetBytes(lines[1])), ChildProgram.MakeEvent(99).ToJsonLine());
        File.WriteAllText(segment, string.Join('\n', lines) + "\n");

        var finding = Assert.Single(EventSpool.Verify(dir.Path).Findings);
        Assert.Equal(AgentRules.SpoolTampered, finding.RuleId);
        Assert.Contains("is not the record that was sealed", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Records_newer_than_the_sealed_head_after_a_crash_are_not_tampering()
    {
        using var dir = new TempDir();
        var cursor = Path.Combine(dir.Path, SpoolFormat.CursorFile);
        string older;
        using (var spool = EventSpool.Open(dir.Path))
        {
            spool.Append(Events(0, 3));
            older = File.ReadAllText(cursor);
            Assert.Contains("\"head_seq\":3", older, StringComparison.Ordinal);
            spool.Append(Events(3, 2));
        }

        // A crash after the records were fsynced and before the cursor was rewritten.
        File.WriteAllText(cursor, older);
        Assert.True(EventSpool.Verify(dir.Path).Clean);
        using var reopened = EventSpool.Open(dir.Path);
        Assert.Equal((5L, SpoolFormat.HashLine(Encoding.UTF8.GetBytes(File.ReadAllLines(SegmentFiles(dir.Path).Single())[^1]))), reopened.Head);
    }

    [Fact]
    public void A_cursor_written_before_the_sealed_head_existed_still_opens_clean()
    {
        using var dir = new TempDir();
        using (var spool = EventSpool.Open(dir.Path))
        {
            spool.Append(Events(0, 3));
            spool.Acknowledge(1);
        }

        File.WriteAllText(Path.Combine(dir.Path, SpoolFormat.CursorFile), "{\"acked\":1,\"anchor_seq\":0,\"anchor_hash\":\"" + SpoolFormat.GenesisHash + "\"}\n");
        var verified = EventSpool.Verify(dir.Path);
        Assert.True(verified.Clean);
        Assert.Null(verified.SealedHeadSeq);
    }

    [Fact]
    public void Spool_record_parser_throws_only_malformed_input_on_fuzzed_lines()
    {
        var seeds = new List<byte[]>
        {
            Encoding.UTF8.GetBytes(SpoolFormat.FormatRecord(1, SpoolFormat.GenesisHash, ChildProgram.MakeEvent(1).ToJsonLine())),
            Encoding.UTF8.GetBytes("{\"seq\":99999999999999999999,\"prev\":\"\",\"event\":[]}"),
        };
        FuzzHarness.Run(SpoolFormat.Fuzz, seeds, 3000, 8785, Audit.FuzzTests.Alphabet);
    }
}
