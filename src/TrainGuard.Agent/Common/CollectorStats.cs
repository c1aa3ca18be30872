namespace TrainGuard.Agent.Common;

/// <summary>One input line a collector could not use, with the reason (control bytes escaped).</summary>
public sealed record ParseError(string? Source, long Line, string Reason)
{
    public override string ToString() => Source is null ? $"line {Line}: {Reason}" : $"{Source}:{Line}: {Reason}";
}

/// <summary>Counters a collector keeps; never reset, read at any time (single-threaded use).</summary>
public sealed class CollectorStats
{
    /// <summary>How many parse errors keep their details (<see cref="FirstErrors"/>).</summary>
    public const int MaxRecordedErrors = 10;

    private readonly List<ParseError> _firstErrors = [];

    /// <summary>Input lines seen (including blank and ignored ones).</summary>
    public long Lines { get; internal set; }

    /// <summary>Lines that parsed as records (audit records, sshd log lines).</summary>
    public long Records { get; internal set; }

    /// <summary>Lines that were not valid records: counted, never thrown.</summary>
    public long ParseErrors { get; private set; }

    /// <summary>Events emitted.</summary>
    public long Events { get; internal set; }

    /// <summary>Audit events (groups of records sharing a serial) closed.</summary>
    public long Groups { get; internal set; }

    /// <summary>Signal records without a SYSCALL record in their group: no sender to attribute.</summary>
    public long UnattributedSignals { get; internal set; }

    /// <summary><c>kill(pid, 0)</c> probes skipped (no signal is delivered).</summary>
    public long SignalProbesSkipped { get; internal set; }

    /// <summary>The first <see cref="MaxRecordedErrors"/> parse errors.</summary>
    public IReadOnlyList<ParseError> FirstErrors => _firstErrors;

    internal void AddError(string? source, long line, string reason)
    {
        ParseErrors++;
        if (_firstErrors.Count < MaxRecordedErrors)
        {
            _firstErrors.Add(new ParseError(source, line, Findings.TextSanitizer.Escape(reason, 300)));
        }
    }
}
