using TrainGuard.Agent.Replay;
using TrainGuard.Agent.Tests.Support;
using TrainGuard.Events;

namespace TrainGuard.Agent.Tests.Replay;

public sealed class ForensicReplayTests
{
    [Fact]
    public void Replay_of_the_captures_writes_sorted_json_lines_and_counts()
    {
        var output = new StringWriter();

        var result = ForensicReplay.Run([Samples.SshSessionAudit, Samples.EnrichedAudit], [Samples.SshdVerbose], output,
            new ReplayOptions { HostName = "research-host", ReferenceTime = new DateTimeOffset(2026, 11, 23, 10, 30, 0, TimeSpan.Zero) });

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var events = lines.Select(EventRecord.Parse).ToList();
        Assert.Equal(result.Events, events.Count);
        Assert.Equal(0, result.ParseErrors);
        Assert.Equal(18 + 231, result.AuditLines);
        Assert.Equal(29, result.AuthLines);
        var stamps = events.Select(e => e.GetString("@timestamp")!).ToList();
        Assert.Equal(stamps.Order(StringComparer.Ordinal), stamps);
        Assert.Equal(2, result.EventsByAction[EventActions.ProcessSignal]);
        Assert.Equal(4, result.EventsByAction[EventActions.LoginUidChanged]);
        Assert.All(events, e => Assert.Equal("research-host", e.GetString("host.name")));
        Assert.Contains(events, e => e.GetString("log.file.path") == Samples.EnrichedAudit);
    }

    [Fact]
    public void Replay_reports_the_first_parse_errors_with_file_and_line()
    {
        var dir = Directory.CreateTempSubdirectory("tg-replay-");
        try
        {
            var audit = Path.Combine(dir.FullName, "audit.log");
            File.WriteAllText(audit, File.ReadAllText(Samples.EnrichedAudit) + "not a record\ntype=SYSCALL msg=audit(1795428999.000:99): comm=\"cut");
            var output = new StringWriter();

            var result = ForensicReplay.Run(audit, null, output);

            Assert.Equal(2, result.ParseErrors);
            Assert.Equal([19L, 20L], result.FirstErrors.Select(e => e.Line));
            Assert.All(result.FirstErrors, e => Assert.Equal(audit, e.Source));
            Assert.True(result.Events > 0);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
