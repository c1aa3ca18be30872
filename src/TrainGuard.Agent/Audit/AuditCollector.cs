using TrainGuard.Agent.Common;
using TrainGuard.Events;

namespace TrainGuard.Agent.Audit;

/// <summary>
/// The audit collector: lines of <c>audit.log</c> in, attributed events out. Parses each line,
/// groups records into audit events and derives TrainGuard events. Bad lines are counted in
/// <see cref="Stats"/> with their line numbers; nothing a log contains makes it throw.
/// </summary>
public sealed class AuditCollector
{
    private readonly AuditRecordParser parser = new();
    private readonly AuditEventGrouper grouper;
    private readonly AuditEventDeriver deriver;
    private readonly Action<EventRecord> sink;
    private readonly AuditCollectorOptions options;

    public AuditCollector(AuditCollectorOptions options, Action<EventRecord> sink)
    {
        this.options = options;
        this.sink = sink;
        deriver = new AuditEventDeriver(options, Stats);
        grouper = new AuditEventGrouper(OnGroupClosed, options.MaxOpenGroups, options.GroupTimeout);
    }

    public CollectorStats Stats { get; } = new();

    /// <summary>Audit events still being assembled.</summary>
    public int OpenGroups => grouper.OpenCount;

    /// <summary>Feeds one line (without its line feed).</summary>
    /// <param name="terminated">False for a final line without a line feed: it is used when it parses, but a parse error there is reported as a cut-short line.</param>
    public void ProcessLine(ReadOnlySpan<byte> line, long lineNumber, bool terminated = true)
    {
        Stats.Lines++;
        if (line.IsEmpty || line.Trim((byte)' ').IsEmpty)
        {
            return;
        }

        if (line.Length > options.MaxLineLength)
        {
            Stats.AddError(options.SourcePath, lineNumber, $"line longer than {options.MaxLineLength} bytes");
            return;
        }

        if (!parser.TryParse(line, lineNumber, out var record, out var error) || record is null)
        {
            Stats.AddError(options.SourcePath, lineNumber, terminated ? error ?? "invalid record" : $"last line cut short: {error}");
            return;
        }

        Stats.Records++;
        grouper.Add(record);
    }

    /// <summary>Reads a whole stream (a log file) through <see cref="ProcessLine"/>; does not flush.</summary>
    public void ProcessStream(Stream stream)
    {
        var reader = new LineReader(options.MaxLineLength) { OverlongHandler = n => { Stats.Lines++; Stats.AddError(options.SourcePath, n, $"line longer than {options.MaxLineLength} bytes"); } };
        reader.Read(stream, ProcessLine);
    }

    /// <summary>Closes groups older than <paramref name="now"/> minus the group timeout (live tailing).</summary>
    public void CloseExpired(DateTimeOffset now) =>
        grouper.CloseOlderThan(now.ToUnixTimeMilliseconds() - (long)options.GroupTimeout.TotalMilliseconds);

    /// <summary>Closes every open group (end of input).</summary>
    public void Flush() => grouper.Flush();

    private void OnGroupClosed(AuditEventGroup group)
    {
        Stats.Groups++;
        try
        {
            deriver.Derive(group, e =>
            {
                Stats.Events++;
                sink(e);
            });
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A record shape the deriver did not anticipate must not stop the collector.
            Stats.AddError(options.SourcePath, group.FirstLine, $"could not derive events from {group.Records[0].Type} event {group.Serial}: {ex.Message}");
        }
    }
}
