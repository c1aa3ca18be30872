using System.Globalization;
using TrainGuard.Findings;

namespace TrainGuard.Server.Alerts;

/// <summary>
/// <c>agent-silent</c> alerts: an agent (host) whose latest <c>agent-heartbeat</c> reached the server longer ago than
/// its announced interval × <see cref="AlertServerOptions.SilentFactor"/> (absence is not an event pattern, so the
/// server computes it on its own clock). One alert per silence, opened once; when the agent's next heartbeat arrives
/// the alert is updated (the reason says when it came back, a notification is sent) and stays for a responder to
/// close: a node that went quiet may have been tampered with. The server's own downtime does not count: silence is
/// measured from the later of the heartbeat and the server's start.
/// </summary>
public sealed class AgentSilence
{
    /// <summary>The interval assumed for a heartbeat that announces none.</summary>
    public const double DefaultIntervalSeconds = 60;

    public const string RuleId = "agent-silent";

    public static readonly AlertRuleInfo Rule = new(
        RuleId,
        "Agent silent past its heartbeat interval",
        "high",
        "Check the node: is the agent running (systemctl status trainguard-agent), can it reach the server, was it stopped or its spool removed? Until it reports again, treat the node's silence as unknown, not clean: read its last events and who logged in before it went quiet.",
        "The node's agent sent no heartbeat for longer than its announced interval times the server's silent factor: it was stopped, lost its network, or someone with root on the node silenced it.");

    private readonly Dictionary<string, AgentHeartbeat> _heartbeats = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Alert> _silent = new(StringComparer.Ordinal);
    private readonly double _factor;
    private readonly DateTimeOffset _started;

    public AgentSilence(double factor, DateTimeOffset started)
    {
        if (!double.IsFinite(factor) || factor < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(factor), factor, "the silent factor is a number of intervals, at least 1");
        }

        _factor = factor;
        _started = started;
    }

    /// <summary>Hosts whose agent is silent now.</summary>
    public IReadOnlyCollection<string> SilentHosts => _silent.Keys;

    /// <summary>Loads the stored heartbeats and the silences still open (<see cref="Alert.FoldOpen"/>).</summary>
    public void Load(IEnumerable<AgentHeartbeat> heartbeats, IEnumerable<Alert> folding)
    {
        foreach (var beat in heartbeats)
        {
            _heartbeats[beat.Host] = beat;
        }

        foreach (var alert in folding.Where(a => a.Rule.Id == RuleId && a.FoldOpen))
        {
            _silent[alert.FoldKey] = alert;
        }
    }

    /// <summary>New heartbeats (in ledger order): an agent that was silent is back, and its alert says so.</summary>
    public void Observe(IEnumerable<AgentHeartbeat> heartbeats, DateTimeOffset now, AlertChanges changes)
    {
        ArgumentNullException.ThrowIfNull(changes);
        foreach (var beat in heartbeats)
        {
            if (_heartbeats.TryGetValue(beat.Host, out var known) && known.LedgerIndex >= beat.LedgerIndex)
            {
                continue;
            }

            _heartbeats[beat.Host] = beat;
            if (_silent.Remove(FoldKey(beat.Host), out var alert))
            {
                alert.FoldOpen = false;
                alert.LastSeen = beat.ReceivedAt;
                alert.Reason = Reason(beat.Host, known, alert.FirstSeen, beat.ReceivedAt);
                alert.UpdatedAt = now;
                changes.Changed(alert, AlertNotificationKind.Updated);
            }
        }
    }

    /// <summary>Opens an alert for every agent silent longer than its interval × the factor at <paramref name="now"/>.</summary>
    public void Check(DateTimeOffset now, AlertChanges changes)
    {
        ArgumentNullException.ThrowIfNull(changes);
        foreach (var beat in _heartbeats.Values)
        {
            var key = FoldKey(beat.Host);
            if (_silent.ContainsKey(key))
            {
                continue;
            }

            var allowed = TimeSpan.FromSeconds(beat.IntervalSeconds * _factor);
            var since = beat.ReceivedAt > _started ? beat.ReceivedAt : _started;
            if (now - since <= allowed)
            {
                continue;
            }

            var alert = new Alert
            {
                Id = AlertIds.Silent(beat.Host, beat.LedgerIndex, beat.ReceivedAt),
                Rule = Rule,
                Severity = Rule.Level,
                FoldKey = key,
                FirstSeen = beat.ReceivedAt,
                LastSeen = now,
                Count = 1,
                MaxEventIndex = beat.LedgerIndex,
                CreatedAt = now,
                UpdatedAt = now,
            };
            alert.Hosts.Add(TextSanitizer.Escape(beat.Host, AlertFacts.MaxValueLength));
            alert.Events.Add(new AlertEventRef(beat.EventId, beat.LedgerIndex));
            alert.Facts.Actions.Add("agent-heartbeat");
            alert.Reason = Reason(beat.Host, beat, beat.ReceivedAt, null, now);
            alert.RiskScore = AlertReason.RiskScore(alert);
            _silent[key] = alert;
            changes.Changed(alert, AlertNotificationKind.Opened);
        }
    }

    private string Reason(string host, AgentHeartbeat? last, DateTimeOffset lastAt, DateTimeOffset? back, DateTimeOffset? now = null)
    {
        var interval = last?.IntervalSeconds ?? DefaultIntervalSeconds;
        var text = string.Create(CultureInfo.InvariantCulture,
            $"the agent on {TextSanitizer.Escape(host, AlertReason.MaxNameLength)} sent no heartbeat after {AlertJson.Time(lastAt)} (it announced one every {interval:0.###} s; silent after {_factor:0.##} intervals)");
        return back is { } returned
            ? text + string.Create(CultureInfo.InvariantCulture, $"; it came back at {AlertJson.Time(returned)}, {AlertReason.Span(returned - lastAt)} after its last heartbeat")
            : text + $"; silent for {AlertReason.Span((now ?? lastAt) - lastAt)} when detected";
    }

    private static string FoldKey(string host) => RuleId + ";" + host;
}
