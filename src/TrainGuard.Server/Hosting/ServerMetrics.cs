using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace TrainGuard.Server.Hosting;

/// <summary>The server's counters, rendered in the Prometheus text exposition format at <c>/metrics</c>.</summary>
public sealed class ServerMetrics
{
    private static readonly double[] Buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly ConcurrentDictionary<(string Method, string Route), Histogram> _durations = new();
    private readonly ConcurrentDictionary<(string Method, string Route, int Status), long> _requests = new();
    private long _eventsAppended;
    private long _eventsDuplicate;
    private long _eventsNotStored;
    private long _batchesAccepted;
    private long _batchesRejected;

    public void BatchAccepted(int appended, int duplicates, int notStored = 0)
    {
        Interlocked.Add(ref _eventsAppended, appended);
        Interlocked.Add(ref _eventsDuplicate, duplicates);
        Interlocked.Add(ref _eventsNotStored, notStored);
        Interlocked.Increment(ref _batchesAccepted);
    }

    public void BatchRejected() => Interlocked.Increment(ref _batchesRejected);

    public void Request(string method, string route, int status, TimeSpan elapsed)
    {
        _durations.GetOrAdd((method, route), _ => new Histogram()).Observe(elapsed.TotalSeconds);
        _requests.AddOrUpdate((method, route, status), 1, (_, n) => n + 1);
    }

    /// <summary>The exposition text; <paramref name="treeSize"/> and <paramref name="tree heads"/> are read at scrape time.</summary>
    public string Render(long treeSize, long checkpointSize, long checkpoints)
    {
        var text = new StringBuilder(4096);
        Metric(text, "trainguard_events_appended_total", "counter", "Events appended to the ledger by this process.", Interlocked.Read(ref _eventsAppended));
        Metric(text, "trainguard_events_duplicate_total", "counter", "Events received again (same id and content) and not appended.", Interlocked.Read(ref _eventsDuplicate));
        Metric(text, "trainguard_events_not_stored_total", "counter", "Events answered one by one without being stored (conflict, too large, refused).", Interlocked.Read(ref _eventsNotStored));
        text.Append("# HELP trainguard_batches_total Event batches received, by outcome.\n# TYPE trainguard_batches_total counter\n");
        text.Append(CultureInfo.InvariantCulture, $"trainguard_batches_total{{outcome=\"accepted\"}} {Interlocked.Read(ref _batchesAccepted)}\n");
        text.Append(CultureInfo.InvariantCulture, $"trainguard_batches_total{{outcome=\"rejected\"}} {Interlocked.Read(ref _batchesRejected)}\n");
        Metric(text, "trainguard_ledger_tree_size", "gauge", "Leaves in the ledger.", treeSize);
        Metric(text, "trainguard_ledger_checkpoint_size", "gauge", "Tree size of the latest signed checkpoint.", checkpointSize);
        Metric(text, "trainguard_checkpoints_published_total", "counter", "Signed checkpoints published by this process.", checkpoints);

        text.Append("# HELP trainguard_http_requests_total HTTP requests, by method, route and status.\n# TYPE trainguard_http_requests_total counter\n");
        foreach (var ((method, route, status), count) in _requests.OrderBy(p => p.Key.Route, StringComparer.Ordinal).ThenBy(p => p.Key.Method, StringComparer.Ordinal).ThenBy(p => p.Key.Status))
        {
            text.Append(CultureInfo.InvariantCulture, $"trainguard_http_requests_total{{method=\"{method}\",route=\"{Escape(route)}\",status=\"{status}\"}} {count}\n");
        }

        text.Append("# HELP trainguard_http_request_duration_seconds HTTP request durations.\n# TYPE trainguard_http_request_duration_seconds histogram\n");
        foreach (var ((method, route), histogram) in _durations.OrderBy(p => p.Key.Route, StringComparer.Ordinal).ThenBy(p => p.Key.Method, StringComparer.Ordinal))
        {
            histogram.Render(text, $"method=\"{method}\",route=\"{Escape(route)}\"");
        }

        return text.ToString();
    }

    internal static void Metric(StringBuilder text, string name, string type, string help, long value) =>
        text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} {type}\n{name} {value}\n");

    internal static void Metric(StringBuilder text, string name, string type, string help, double value) =>
        text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} {type}\n{name} {value:0.###}\n");

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);

    private sealed class Histogram
    {
        private readonly long[] _counts = new long[Buckets.Length + 1];
        private long _sumMicros;

        public void Observe(double seconds)
        {
            var i = 0;
            while (i < Buckets.Length && seconds > Buckets[i])
            {
                i++;
            }

            Interlocked.Increment(ref _counts[i]);
            Interlocked.Add(ref _sumMicros, (long)(seconds * 1e6));
        }

        public void Render(StringBuilder text, string labels)
        {
            long cumulative = 0;
            for (var i = 0; i < Buckets.Length; i++)
            {
                cumulative += Interlocked.Read(ref _counts[i]);
                text.Append(CultureInfo.InvariantCulture, $"trainguard_http_request_duration_seconds_bucket{{{labels},le=\"{Buckets[i]}\"}} {cumulative}\n");
            }

            cumulative += Interlocked.Read(ref _counts[^1]);
            text.Append(CultureInfo.InvariantCulture, $"trainguard_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {cumulative}\n");
            text.Append(CultureInfo.InvariantCulture, $"trainguard_http_request_duration_seconds_sum{{{labels}}} {Interlocked.Read(ref _sumMicros) / 1e6}\n");
            text.Append(CultureInfo.InvariantCulture, $"trainguard_http_request_duration_seconds_count{{{labels}}} {cumulative}\n");
        }
    }
}
