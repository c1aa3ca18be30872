using TrainGuard.Agent.Audit;
using TrainGuard.Agent.Common;
using TrainGuard.Agent.Sshd;
using TrainGuard.Events;

namespace TrainGuard.Agent.Replay;

/// <summary>Options of <see cref="ForensicReplay"/>.</summary>
public sealed class ReplayOptions
{
    /// <summary><c>host.name</c> for records that do not name their node (default <c>unknown</c>).</summary>
    public string? HostName { get; init; }

    /// <summary>Names for numeric ids in raw audit logs (the node's <c>/etc/passwd</c>, copied with the logs).</summary>
    public IAccountNames? AccountNames { get; init; }

    /// <summary>Reference time for syslog year inference and undated sshd lines; default: each file's last write time.</summary>
    public DateTimeOffset? ReferenceTime { get; init; }

    /// <summary>Zone of RFC 3164 syslog timestamps; UTC when null.</summary>
    public TimeZoneInfo? SyslogTimeZone { get; init; }

    /// <summary>Put the raw audit records in <c>event.original</c>.</summary>
    public bool IncludeOriginal { get; init; }

    /// <summary>Emit <c>kill(pid, 0)</c> probes.</summary>
    public bool IncludeSignalProbes { get; init; }
}

/// <summary>Which collector read a replayed file.</summary>
public enum ReplayFileKind
{
    Audit,
    Auth,
}

/// <summary>What one replayed file yielded.</summary>
public sealed record ReplayFileStats(string Path, ReplayFileKind Kind, long Lines, long Records, long ParseErrors);

/// <summary>What <see cref="ForensicReplay.Read"/> derived, not yet written.</summary>
public sealed record ReplayInput(IReadOnlyList<EventRecord> Events, IReadOnlyList<ReplayFileStats> Files, long ParseErrors, IReadOnlyList<ParseError> FirstErrors)
{
    /// <summary>
    /// Files that are not what they were given as: an audit file with lines but not one audit record, or an auth
    /// log none of whose lines is a syslog or journal line (a README passed as --audit). Empty files are not listed.
    /// </summary>
    public IReadOnlyList<ReplayFileStats> Unrecognized =>
        [.. Files.Where(f => f.Lines > 0 && f.Records == 0 && (f.Kind == ReplayFileKind.Audit || f.ParseErrors >= f.Lines))];
}

/// <summary>What a replay read and wrote.</summary>
public sealed record ReplayResult(
    long AuditLines,
    long AuditRecords,
    long AuthLines,
    long AuthRecords,
    long Events,
    long ParseErrors,
    IReadOnlyList<ParseError> FirstErrors,
    IReadOnlyDictionary<string, long> EventsByAction);

/// <summary>
/// Forensic replay: reads a node's saved audit logs and sshd/auth logs and writes the events the
/// agent would have derived, as JSON lines sorted by <c>@timestamp</c>. Plain files only (no .gz).
/// Audit files are read oldest first (ordered by their first record), with one grouper across
/// them, so an event split by a rotation is reassembled.
/// </summary>
public static class ForensicReplay
{
    public static ReplayResult Run(string? auditPath, string? authPath, TextWriter output, ReplayOptions? options = null) =>
        Run(auditPath is null ? [] : [auditPath], authPath is null ? [] : [authPath], output, options);

    /// <summary>Replays several audit files (rotations) and several auth logs.</summary>
    /// <exception cref="IOException">A file cannot be read (the caller reports it; nothing is written).</exception>
    public static ReplayResult Run(IReadOnlyList<string> auditPaths, IReadOnlyList<string> authPaths, TextWriter output, ReplayOptions? options = null) =>
        Write(Read(auditPaths, authPaths, options), output);

    /// <summary>
    /// Reads every file and derives the events, writing nothing yet, so a caller can refuse input that yielded
    /// nothing (see <see cref="ReplayInput.Unrecognized"/>) before any event is written.
    /// </summary>
    /// <exception cref="IOException">A file cannot be read.</exception>
    public static ReplayInput Read(IReadOnlyList<string> auditPaths, IReadOnlyList<string> authPaths, ReplayOptions? options = null)
    {
        options ??= new ReplayOptions();
        var events = new List<EventRecord>();
        var errors = new List<ParseError>();
        var files = new List<ReplayFileStats>();
        long parseErrors = 0;
        if (auditPaths.Count > 0)
        {
            foreach (var path in OrderByFirstRecord(auditPaths))
            {
                var collector = new AuditCollector(
                    new AuditCollectorOptions
                    {
                        HostName = options.HostName,
                        SourcePath = path,
                        AccountNames = options.AccountNames,
                        IncludeOriginal = options.IncludeOriginal,
                        IncludeSignalProbes = options.IncludeSignalProbes,
                    },
                    events.Add);
                using (var stream = OpenRead(path))
                {
                    collector.ProcessStream(stream);
                }

                collector.Flush();
                files.Add(new ReplayFileStats(path, ReplayFileKind.Audit, collector.Stats.Lines, collector.Stats.Records, collector.Stats.ParseErrors));
                parseErrors += collector.Stats.ParseErrors;
                errors.AddRange(collector.Stats.FirstErrors);
            }
        }

        foreach (var path in authPaths)
        {
            var collector = new SshdCollector(
                new SshdCollectorOptions
                {
                    HostName = options.HostName,
                    SourcePath = path,
                    ReferenceTime = options.ReferenceTime ?? new DateTimeOffset(File.GetLastWriteTimeUtc(path), TimeSpan.Zero),
                    TimeZone = options.SyslogTimeZone,
                },
                events.Add);
            using (var stream = OpenRead(path))
            {
                collector.ProcessStream(stream);
            }

            files.Add(new ReplayFileStats(path, ReplayFileKind.Auth, collector.Stats.Lines, collector.Stats.Records, collector.Stats.ParseErrors));
            parseErrors += collector.Stats.ParseErrors;
            errors.AddRange(collector.Stats.FirstErrors);
        }

        return new ReplayInput(events, files, parseErrors, errors.Take(CollectorStats.MaxRecordedErrors).ToList());
    }

    /// <summary>Writes the events as JSON lines sorted by <c>@timestamp</c>.</summary>
    public static ReplayResult Write(ReplayInput input, TextWriter output)
    {
        var byAction = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (var e in input.Events.OrderBy(e => e.GetString(EventFields.Timestamp), StringComparer.Ordinal))
        {
            output.Write(e.ToJsonLine());
            output.Write('\n');
            var action = e.Action ?? "unknown";
            byAction[action] = byAction.GetValueOrDefault(action) + 1;
        }

        output.Flush();
        var audit = input.Files.Where(f => f.Kind == ReplayFileKind.Audit).ToList();
        var auth = input.Files.Where(f => f.Kind == ReplayFileKind.Auth).ToList();
        return new ReplayResult(audit.Sum(f => f.Lines), audit.Sum(f => f.Records), auth.Sum(f => f.Lines), auth.Sum(f => f.Records), input.Events.Count, input.ParseErrors, input.FirstErrors, byAction);
    }

    private static FileStream OpenRead(string path) =>
        new(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16, FileOptions.SequentialScan);

    /// <summary>Orders rotated audit logs by the timestamp of their first parseable record (unreadable first lines sort by name).</summary>
    private static List<string> OrderByFirstRecord(IReadOnlyList<string> paths)
    {
        var keyed = new List<(long Stamp, string Path)>();
        foreach (var path in paths)
        {
            long stamp = long.MaxValue;
            using (var stream = OpenRead(path))
            {
                var parser = new AuditRecordParser();
                var reader = new LineReader();
                var found = false;
                try
                {
                    reader.Read(new FirstLinesStream(stream, 1 << 20), (line, number, terminated) =>
                    {
                        if (!found && parser.TryParse(line, number, out var record, out _) && record is not null)
                        {
                            stamp = record.TimestampMs;
                            found = true;
                        }
                    });
                }
                catch (IOException)
                {
                    // The real read below reports it.
                }
            }

            keyed.Add((stamp, path));
        }

        return keyed.OrderBy(k => k.Stamp).ThenBy(k => k.Path, StringComparer.Ordinal).Select(k => k.Path).ToList();
    }

    /// <summary>Exposes only the first bytes of a stream (the first record is near the start).</summary>
    private sealed class FirstLinesStream(Stream inner, long limit) : Stream
    {
        private long _remaining = limit;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_remaining <= 0)
            {
                return 0;
            }

            var read = inner.Read(buffer, offset, (int)Math.Min(count, _remaining));
            _remaining -= read;
            return read;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
