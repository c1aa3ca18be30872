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
    private readonly AuditRecordParser _parser = new();
    private readonly AuditEventGrouper _grouper;
    private readonly AuditEventDeriver _deriver;
    private readonly Action<EventRecord> _sink;
    private readonly AuditCollectorOptions _options;

    public AuditCollector(AuditCollectorOptions options, Action<EventRecord> sink)
    {
        _options = options;
        _sink = sink;
        _deriver = new AuditEventDeriver(options, Stats);
        _grouper = new AuditEventGrouper(OnGroupClosed, options.MaxOpenGroups, options.GroupTimeout);
    }

    public CollectorStats Stats { get; } = new();

    /// <summary>Audit events still being assembled.</summary>
    public int OpenGroups => _grouper.OpenCount;

    /// <summary>Feeds one line (without its line feed).</summary>
    /// <param name="terminated">False for a final line without a line feed: it is used when it parses, but a parse error there is reported as a cut-short line.</param>
    public void ProcessLine(ReadOnlySpan<byte> line, long lineNumber, bool terminated = true)
    {
        Stats.Lines++;
        if (line.IsEmpty || line.Trim((byte)' ').IsEmpty)
        {
            return;
        }

        if (line.Length > _options.MaxLineLength)
        {
            Stats.AddError(_options.SourcePath, lineNumber, $"line longer than {_options.MaxLineLength} bytes");
            return;
        }

        if (!_parser.TryParse(line, lineNumber, out var record, out var error) || record is null)
        {
            Stats.AddError(_options.SourcePath, lineNumber, terminated ? error ?? "invalid record" : $"last line cut short: {error}");
            return;
        }

        Stats.Records++;
        _grouper.Add(record);
    }

    /// <summary>Reads a whole stream (a log file) through <see cref="ProcessLine"/>; does not flush.</summary>
    public void ProcessStream(Stream stream)
    {
        var reader = new LineReader(_options.MaxLineLength) { OverlongHandler = n => { Stats.Lines++; Stats.AddError(_options.SourcePath, n, $"line longer than {_options.MaxLineLength} bytes"); } };
        reader.Read(stream, ProcessLine);
    }

    /// <summary>Closes groups older than <paramref name="now"/> minus the group timeout (live tailing).</summary>
    public void CloseExpired(DateTimeOffset now) =>
        _grouper.CloseOlderThan(now.ToUnixTimeMilliseconds() - (long)_options.GroupTimeout.TotalMilliseconds);

    /// <summary>Closes every open group (end of input).</summary>
    public void Flush() => _grouper.Flush();

    private void OnGroupClosed(AuditEventGroup group)
    {
        Stats.Groups++;
        try
        {
            _deriver.Derive(group, e =>
            {
                Stats.Events++;
                _sink(e);
            });
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A record shape the deriver did not anticipate must not stop the collector.
            Stats.AddError(_options.SourcePath, group.FirstLine, $"could not derive events from {group.Records[0].Type} event {group.Serial}: {ex.Message}");
        }
    }
}
