using System.Text.Json;
using TrainGuard.Events;
using TrainGuard.Parsing;
using TrainGuard.Runs.Detectors;
using TrainGuard.Runs.Readers;
using TrainGuard.Server.Events;

namespace TrainGuard.Server.Runs;

/// <summary>
/// The server's live run detectors: fed every committed ledger entry in order by the <see cref="Alerts.AlertDeriver"/>
/// (the same loop, the same cursor), it reads the <c>run-*</c> events, runs <see cref="RunDetectors"/> (bounded state
/// per run, at most <see cref="RunDetectorOptions.MaxRuns"/> runs) and returns the <c>run-anomaly</c> events to append.
/// Their ids are derived from the anomaly, so the entries re-derived after a restart are stored once. Entries that are
/// not run events cost one byte search. Not thread-safe.
/// </summary>
public sealed class RunAnomalyDerivation
{
    private readonly RunDetectors _detectors;
    private readonly List<RunAnomaly> _found = [];

    public RunAnomalyDerivation(RunDetectorOptions options)
    {
        _detectors = new RunDetectors(options);
    }

    /// <summary>Run events read.</summary>
    public long RunEvents => _detectors.Observed;

    /// <summary>Run events with a bad field (skipped, counted).</summary>
    public long MalformedRunEvents { get; private set; }

    /// <summary>Anomalies found (leads included).</summary>
    public long Anomalies { get; private set; }

    /// <summary>Reads the entry at <paramref name="index"/>; adds the anomaly events it completes to <paramref name="appends"/> (none when warming up).</summary>
    public void Observe(long index, byte[] entry, List<EventAppend>? appends)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (entry.AsSpan().IndexOf("\"run-"u8) < 0)
        {
            return;
        }

        try
        {
            using var document = JsonDocument.Parse(entry, new JsonDocumentOptions { MaxDepth = CanonicalJson.MaxDepth });
            if (RunEventParser.Read(document.RootElement, index, "ledger", line: null) is not { } e)
            {
                return;
            }

            _detectors.Observe(e, _found);
        }
        catch (Exception ex) when (ex is JsonException or MalformedInputException)
        {
            MalformedRunEvents++;
            return;
        }

        if (_found.Count == 0)
        {
            return;
        }

        Anomalies += _found.Count;
        if (appends is not null)
        {
            foreach (var anomaly in _found)
            {
                appends.Add(ToAppend(anomaly));
            }
        }

        _found.Clear();
    }

    /// <summary>The ledger entry of an anomaly, keyed in the server's own scope (no token can write it).</summary>
    public static EventAppend ToAppend(RunAnomaly anomaly)
    {
        var record = RunAnomalyEvents.ToEvent(anomaly, DateTimeOffset.UnixEpoch).Set("trainguard.submitter.role", ConflictAlert.ServerScope);
        return ConflictAlert.ServerAppend(record, "the run-anomaly event");
    }
}
