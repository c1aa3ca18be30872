using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TrainGuard.Detections;
using TrainGuard.Events;
using TrainGuard.Parsing;
using TrainGuard.Server.Events;

namespace TrainGuard.Server.Alerts;

/// <summary>
/// Turns stored events, read in ledger order, into alerts: the one derivation the live server (<see cref="AlertDeriver"/>)
/// and <c>trainguard rules run</c> share, so the same events give the same alerts. Each event is attributed
/// (<see cref="PlantedKeyAttribution"/>), evaluated by one <see cref="DetectionEngine"/>, and every hit folds into the
/// open alert of its rule and group (docs/alerts.md). <c>alert-status-changed</c> events from the ledger set an alert's
/// status and whether it still folds. Deterministic: it reads no clock but the one that stamps
/// <see cref="Alert.CreatedAt"/>/<see cref="Alert.UpdatedAt"/>. Not thread-safe.
/// </summary>
public sealed class AlertDerivation
{
    private const int FactsCacheSize = 50_000;

    /// <summary>Facts kept of events that matched a rule (rare), for correlations that name their first event's account.</summary>
    private const int HitFactsCacheSize = 20_000;

    private readonly DetectionEngine _engine;
    private readonly PlantedKeyAttribution _attribution = new();
    private readonly AlertDerivationOptions _options;
    private readonly Dictionary<string, Alert> _byId = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Alert> _folds = new(StringComparer.Ordinal);
    private readonly Dictionary<long, EventFacts> _facts = [];
    private readonly Queue<long> _factsOrder = new();
    private readonly Dictionary<long, EventFacts> _hitFacts = [];
    private readonly Queue<long> _hitFactsOrder = new();
    private readonly List<DetectionHit> _hits = [];
    private readonly List<(long Index, byte[] Entry, Planter Planter)> _refeed = [];

    public AlertDerivation(AlertDerivationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _engine = options.Rules.CreateEngine();
    }

    /// <summary>The alerts this derivation holds (all of them for a replay; the ones still folding for the server).</summary>
    public IReadOnlyCollection<Alert> Alerts => _byId.Values;

    /// <summary>Events that were not one JSON object the engine could read (skipped, counted).</summary>
    public long MalformedEvents { get; private set; }

    /// <summary>Status changes naming an alert this derivation does not hold (e.g. an agent-silent alert during a replay).</summary>
    public long UnknownAlertStatusChanges { get; private set; }

    public DetectionStats EngineStats => _engine.Stats;

    /// <summary>Sessions put on another account through a planted key.</summary>
    public long PlantedKeySessions => _attribution.PlantedSessions;

    /// <summary>Adds stored alerts (the open ones a restarted server folds into, or those a status change names).</summary>
    public void Load(IEnumerable<Alert> alerts)
    {
        ArgumentNullException.ThrowIfNull(alerts);
        foreach (var alert in alerts)
        {
            _byId[alert.Id] = alert;
            if (alert.FoldOpen && (!_folds.TryGetValue(alert.FoldKey, out var current) || !current.FoldOpen || current.LastSeen <= alert.LastSeen))
            {
                _folds[alert.FoldKey] = alert;
            }
        }
    }

    public Alert? Find(string id) => _byId.GetValueOrDefault(id);

    /// <summary>Drops closed alerts from memory (they stay stored; a reopening loads them again).</summary>
    public void ForgetClosed()
    {
        foreach (var alert in _byId.Values.Where(a => !a.FoldOpen).ToList())
        {
            _byId.Remove(alert.Id);
            if (_folds.TryGetValue(alert.FoldKey, out var current) && ReferenceEquals(current, alert))
            {
                _folds.Remove(alert.FoldKey);
            }
        }
    }

    /// <summary>The alert ids the <c>alert-status-changed</c> events among <paramref name="entries"/> name (to load them first).</summary>
    public static IEnumerable<string> StatusChangeTargets(IEnumerable<byte[]> entries)
    {
        foreach (var entry in entries)
        {
            if (entry.AsSpan().IndexOf("\"alert-status-changed\""u8) < 0)
            {
                continue;
            }

            string? id = null;
            try
            {
                using var document = JsonDocument.Parse(entry);
                id = AlertStatusEvent.Read(0, document.RootElement)?.AlertId;
            }
            catch (JsonException)
            {
            }

            if (id is not null)
            {
                yield return id;
            }
        }
    }

    /// <summary>Evaluates the event at ledger index <paramref name="index"/>, recording what changed in <paramref name="changes"/>.</summary>
    public void Process(long index, byte[] entry, AlertChanges changes)
    {
        ArgumentNullException.ThrowIfNull(changes);
        Read(index, entry, changes);
    }

    /// <summary>
    /// Evaluates an event that was derived before (a restarted server rebuilding the engine's windows and the
    /// attribution state from the events before its cursor): nothing is folded or recorded.
    /// </summary>
    public void Warm(long index, byte[] entry) => Read(index, entry, null);

    private void Read(long index, byte[] entry, AlertChanges? changes)
    {
        EventFacts facts;
        try
        {
            facts = EventFacts.Read(index, entry);
        }
        catch (JsonException)
        {
            MalformedEvents++;
            return;
        }

        if (changes is not null && facts.Action == AlertStatusEvent.Action)
        {
            using var document = JsonDocument.Parse(entry, new JsonDocumentOptions { MaxDepth = CanonicalJson.MaxDepth });
            if (AlertStatusEvent.Read(index, document.RootElement) is { } status)
            {
                ApplyStatus(status.AlertId, status.Entry, changes);
            }
        }

        if (changes is not null && facts.Action == "agent-heartbeat" && facts.Host is { } host)
        {
            changes.Heartbeats[host.ToLowerInvariant()] = new AgentHeartbeat(
                host.ToLowerInvariant(),
                facts.Ingested ?? facts.Timestamp ?? DateTimeOffset.UnixEpoch,
                facts.HeartbeatIntervalSeconds is > 0 ? facts.HeartbeatIntervalSeconds.Value : AgentSilence.DefaultIntervalSeconds,
                index,
                facts.EventId);
        }

        _refeed.Clear();
        var planter = _attribution.Observe(facts, entry, _refeed);
        Evaluate(index, entry, facts, planter, changes);
        foreach (var (earlier, earlierEntry, earlierPlanter) in _refeed)
        {
            Evaluate(earlier, earlierEntry, null, earlierPlanter, changes);
        }
    }

    private void Evaluate(long index, byte[] entry, EventFacts? facts, Planter? planter, AlertChanges? changes)
    {
        if (planter is not null)
        {
            entry = Attribute(entry, planter);
            facts = null;
        }

        if (facts is null)
        {
            try
            {
                facts = EventFacts.Read(index, entry);
            }
            catch (JsonException)
            {
                MalformedEvents++;
                return;
            }
        }

        Remember(facts);
        _hits.Clear();
        try
        {
            _engine.Process(entry, index, _hits);
        }
        catch (MalformedInputException)
        {
            MalformedEvents++;
            return;
        }

        if (_hits.Count > 0)
        {
            Keep(_hitFacts, _hitFactsOrder, HitFactsCacheSize, facts);
        }

        if (changes is null)
        {
            return;
        }

        if (facts.Actor is { } actor && (actor.Name is not null || actor.LoginUid is not null))
        {
            var at = facts.Timestamp ?? facts.Ingested ?? DateTimeOffset.UnixEpoch;
            changes.Actors[index] = new ActorRow(index, Rfc3339.ToUnixMicroseconds(at), facts.Host, actor.LoginUid, actor.Name, facts.Attribution, facts.SessionUser);
        }

        foreach (var hit in _hits)
        {
            Fold(hit, facts, changes);
        }
    }

    /// <summary>The event as the planter's: <c>user.audit</c> set to the planter, <c>trainguard.cross_user</c> recomputed, <c>trainguard.attribution</c> added.</summary>
    private static byte[] Attribute(byte[] entry, Planter planter)
    {
        if (JsonNode.Parse(entry, documentOptions: new JsonDocumentOptions { MaxDepth = CanonicalJson.MaxDepth }) is not JsonObject root)
        {
            return entry;
        }

        var record = EventRecord.FromObject(root);
        record.Set("user.audit.id", planter.LoginUid)
            .Set("user.audit.name", planter.Name)
            .Set("trainguard.attribution.kind", AlertAttribution.PlantedKey)
            .Set("trainguard.attribution.session_user", planter.SessionUser)
            .Set("trainguard.attribution.key_fingerprint", planter.KeyFingerprint);
        if (record.Action == "process-signal" && planter.LoginUid is { } uid && record.GetString("trainguard.target.user.audit.id") is { } target)
        {
            record.Set("trainguard.cross_user", target != uid);
        }

        return Encoding.UTF8.GetBytes(record.ToJsonLine());
    }

    private void Remember(EventFacts facts) => Keep(_facts, _factsOrder, FactsCacheSize, facts);

    /// <summary>Keeps an event's facts in a cache of the newest <paramref name="capacity"/> (facts read again replace the earlier ones).</summary>
    private static void Keep(Dictionary<long, EventFacts> cache, Queue<long> order, int capacity, EventFacts facts)
    {
        if (cache.TryAdd(facts.Index, facts))
        {
            order.Enqueue(facts.Index);
            if (order.Count > capacity)
            {
                cache.Remove(order.Dequeue());
            }
        }
        else
        {
            cache[facts.Index] = facts;
        }
    }

    private void Fold(DetectionHit hit, EventFacts facts, AlertChanges changes)
    {
        var rule = hit.Rule;
        var key = FoldKey(hit, facts);
        var at = hit.Timestamp ?? facts.Timestamp ?? facts.Ingested ?? DateTimeOffset.UnixEpoch;
        var now = _options.Time.GetUtcNow();
        AlertNotificationKind kind;
        if (_folds.TryGetValue(key, out var alert) && alert.FoldOpen && at <= alert.LastSeen + _options.FoldWindow)
        {
            kind = AlertNotificationKind.Updated;
        }
        else
        {
            var first = hit.FirstSeen ?? at;
            var (name, uid) = Account(hit, rule.AccountOfFirstEvent ? FirstEventFacts(hit) ?? facts : facts);
            alert = new Alert
            {
                Id = AlertIds.Create(key, facts.Index, facts.EventId, first),
                Rule = new AlertRuleInfo(rule.Id, rule.Title, AlertSeverity.FromSeverity(rule.Severity), rule.Guidance, rule.Why),
                Severity = AlertSeverity.FromSeverity(rule.Severity),
                FoldKey = key,
                AccountName = name is null ? null : Findings.TextSanitizer.Escape(name, AlertReason.MaxNameLength * 4),
                LoginUid = uid is null ? null : Findings.TextSanitizer.Escape(uid, AlertReason.MaxNameLength),
                Attribution = facts.Attribution,
                GroupBy = hit.GroupBy,
                FirstSeen = first,
                LastSeen = hit.LastSeen ?? at,
                CreatedAt = now,
            };
            _byId[alert.Id] = alert;
            _folds[key] = alert;
            kind = AlertNotificationKind.Opened;
        }

        if (hit.FirstSeen is { } firstSeen && firstSeen < alert.FirstSeen)
        {
            alert.FirstSeen = firstSeen;
        }

        var lastSeen = hit.LastSeen ?? at;
        if (lastSeen > alert.LastSeen)
        {
            alert.LastSeen = lastSeen;
        }

        if (hit.Rule.IsCorrelation)
        {
            foreach (var reference in hit.EventRefs)
            {
                if (reference > alert.MaxEventIndex || (reference == facts.Index && !alert.Events.Any(e => e.LedgerIndex == reference)))
                {
                    AddEvent(alert, reference == facts.Index ? facts : _facts.GetValueOrDefault(reference), reference);
                }
            }
        }
        else if (!alert.Events.Any(e => e.LedgerIndex == facts.Index) || alert.Events.Count >= Alert.MaxEvents)
        {
            AddEvent(alert, facts, facts.Index);
        }

        if (facts.Attribution == AlertAttribution.PlantedKey)
        {
            alert.Attribution = AlertAttribution.PlantedKey;
        }

        alert.Reason = AlertReason.Sentence(alert);
        alert.RiskScore = AlertReason.RiskScore(alert);
        alert.UpdatedAt = now;
        changes.Changed(alert, kind);
    }

    private static void AddEvent(Alert alert, EventFacts? facts, long index)
    {
        alert.Count++;
        alert.MaxEventIndex = Math.Max(alert.MaxEventIndex, index);
        if (alert.Events.Count < Alert.MaxEvents)
        {
            alert.Events.Add(new AlertEventRef(facts?.EventId ?? string.Empty, index));
        }

        if (facts is not null)
        {
            alert.Facts.Add(facts);
            if (facts.Host is { } host)
            {
                alert.Hosts.Add(Findings.TextSanitizer.Escape(host, AlertFacts.MaxValueLength));
            }
        }
    }

    private void ApplyStatus(string alertId, AlertHistoryEntry entry, AlertChanges changes)
    {
        if (!_byId.TryGetValue(alertId, out var alert))
        {
            UnknownAlertStatusChanges++;
            return;
        }

        // An agent-silent alert's episode ends when the agent returns, not when it is closed (AgentSilence).
        alert.FoldOpen = alert.Rule.Id == AgentSilence.RuleId ? alert.FoldOpen : entry.To != AlertStatus.Closed;
        if (alert.FoldOpen && (!_folds.TryGetValue(alert.FoldKey, out var current) || !current.FoldOpen))
        {
            _folds[alert.FoldKey] = alert;
        }

        if (alert.StatusIndex < entry.LedgerIndex)
        {
            AlertLifecycle.Apply(alert, entry);
            changes.StatusChanges.Add((alert, entry));
            changes.Changed(alert, AlertNotificationKind.StatusChanged);
        }
        else
        {
            changes.Changed(alert, null);
        }
    }

    /// <summary>
    /// Rule and group: a correlation's group-by values; for a detection rule the account (login uid, else name), the
    /// host and the attribution, so one account's repeated matches on one node fold into one alert.
    /// </summary>
    private static string FoldKey(DetectionHit hit, EventFacts facts)
    {
        var key = new StringBuilder();
        Part(key, hit.Rule.IsCorrelation ? "correlation" : "detection");
        Part(key, hit.Rule.Id);
        if (hit.Rule.IsCorrelation)
        {
            foreach (var (_, value) in hit.GroupBy)
            {
                Part(key, value);
            }
        }
        else
        {
            var (name, uid) = facts.Actor;
            Part(key, uid is null ? "name:" + name : "uid:" + uid);
            Part(key, facts.Host?.ToLowerInvariant());
            Part(key, facts.Attribution);
        }

        return key.ToString();

        static void Part(StringBuilder builder, string? value) =>
            builder.Append(CultureInfo.InvariantCulture, $"{value?.Length ?? -1}:").Append(value).Append(';');
    }

    /// <summary>The facts of a correlation's earliest contributing event, when they are still held.</summary>
    private EventFacts? FirstEventFacts(DetectionHit hit) =>
        hit.EventRefs.Select(r => _hitFacts.GetValueOrDefault(r) ?? _facts.GetValueOrDefault(r))
            .OfType<EventFacts>()
            .MinBy(f => (f.Timestamp ?? f.Ingested ?? DateTimeOffset.MaxValue, f.Index));

    /// <summary>The account behind a hit: a correlation grouped by login uid names it; otherwise the event's actor.</summary>
    private static (string? Name, string? LoginUid) Account(DetectionHit hit, EventFacts facts)
    {
        var (name, uid) = facts.Actor;
        foreach (var (field, value) in hit.GroupBy)
        {
            if (field == "user.audit.id" && value != EventFacts.UnsetLoginUid)
            {
                return (uid == value ? name : null, value);
            }

            if (field is "user.name" or "user.audit.name" && uid is null)
            {
                name ??= value;
            }
        }

        return (name, uid);
    }
}
