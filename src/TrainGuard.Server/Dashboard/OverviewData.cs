using System.Text.Json;
using TrainGuard.Server.Alerts;

namespace TrainGuard.Server.Dashboard;

/// <summary>The overview's figures, computed from a page of not-closed alerts and the stored heartbeats.</summary>
public sealed class OverviewData
{
    /// <summary>Most not-closed alerts the overview counts (the alerts page pages through all).</summary>
    public const int MaxAlerts = 1000;

    public required IReadOnlyList<Alert> Open { get; init; }

    public bool OpenTruncated { get; init; }

    public required IReadOnlyList<(string Severity, int Count)> BySeverity { get; init; }

    public required IReadOnlyList<(string Name, string? LoginUid, int Count)> TopAccounts { get; init; }

    public required IReadOnlyList<(string Host, int Count)> TopHosts { get; init; }

    public required IReadOnlyList<(string Host, DateTimeOffset LastHeartbeat, double IntervalSeconds, TimeSpan SilentFor)> Silent { get; init; }

    public required int HostCount { get; init; }

    /// <summary>The alerts-over-time chart: <c>{"x": [unix seconds], "series": [{"label": severity, "y": [counts]}]}</c>.</summary>
    public required string SeriesJson { get; init; }

    public required TreeHeadStatus TreeHead { get; init; }

    /// <summary>The alerts the overview lists first: most severe, then newest.</summary>
    public IEnumerable<Alert> MostUrgent(int count) => Open.OrderByDescending(a => a.SeverityRank).ThenByDescending(a => a.LastSeen).Take(count);

    public static OverviewData Build(IReadOnlyList<Alert> open, bool truncated, IReadOnlyList<Alert> recent, IReadOnlyList<AgentHeartbeat> heartbeats, double silentFactor, DateTimeOffset now, TreeHeadStatus treeHead)
    {
        var bySeverity = AlertSeverity.All.Reverse().Select(s => (s, open.Count(a => a.Severity == s))).ToList();
        var accounts = open.Where(a => a.AccountName is not null || a.LoginUid is not null)
            .GroupBy(a => (a.AccountName ?? a.LoginUid!, a.LoginUid))
            .Select(g => (g.Key.Item1, g.Key.LoginUid, g.Count()))
            .OrderByDescending(x => x.Item3).ThenBy(x => x.Item1, StringComparer.Ordinal).Take(8).ToList();
        var hosts = open.SelectMany(a => a.Hosts).GroupBy(h => h, StringComparer.Ordinal)
            .Select(g => (g.Key, g.Count())).OrderByDescending(x => x.Item2).ThenBy(x => x.Key, StringComparer.Ordinal).Take(8).ToList();
        var silent = heartbeats
            .Select(b => (b.Host, b.ReceivedAt, b.IntervalSeconds, now - b.ReceivedAt))
            .Where(b => b.Item4 > TimeSpan.FromSeconds(b.IntervalSeconds * silentFactor))
            .OrderByDescending(b => b.Item4).ToList();
        return new OverviewData
        {
            Open = open,
            OpenTruncated = truncated,
            BySeverity = bySeverity,
            TopAccounts = accounts,
            TopHosts = hosts,
            Silent = silent,
            HostCount = heartbeats.Count,
            SeriesJson = Series(recent),
            TreeHead = treeHead,
        };
    }

    /// <summary>Alerts per time bucket (first seen) and severity; the bucket is chosen so the span makes about 30 of them.</summary>
    private static string Series(IReadOnlyList<Alert> alerts)
    {
        if (alerts.Count == 0)
        {
            return JsonSerializer.Serialize(new { x = Array.Empty<long>(), series = Array.Empty<object>() });
        }

        var first = alerts.Min(a => a.FirstSeen).ToUnixTimeSeconds();
        var last = alerts.Max(a => a.FirstSeen).ToUnixTimeSeconds();
        long[] steps = [60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400];
        var step = steps.FirstOrDefault(s => (last - first) / s <= 30, steps[^1]);
        var start = first / step * step;
        var buckets = (int)((last - start) / step) + 1;
        var x = Enumerable.Range(0, buckets).Select(i => start + (i * step)).ToArray();
        var series = AlertSeverity.All.Reverse()
            .Where(s => alerts.Any(a => a.Severity == s))
            .Select(s =>
            {
                var y = new int[buckets];
                foreach (var a in alerts.Where(a => a.Severity == s))
                {
                    y[(int)((a.FirstSeen.ToUnixTimeSeconds() - start) / step)]++;
                }

                return new { label = s, y };
            })
            .ToArray();
        return JsonSerializer.Serialize(new { x, series });
    }
}
