using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using BenchmarkDotNet.Attributes;
using TrainGuard.Detections;

namespace TrainGuard.Benchmarks;

/// <summary>
/// Correlation state (issue 12: one million group keys under 200 MB). Each invocation fills one correlation of a
/// fresh engine with 1,000,000 distinct (user.name, host.name) groups, as many as
/// <see cref="DetectionOptions.MaxGroupsPerCorrelation"/> allows by default, so nothing is evicted. The allocated
/// column is everything the fill allocated; after the runs the state one engine keeps alive is measured (live heap
/// with the engine minus without it, after full collections) and printed as MB and bytes per group.
/// </summary>
[MemoryDiagnoser]
public class DetectionCorrelationMemoryBenchmarks
{
    /// <summary>Distinct group keys filled in.</summary>
    public const int GroupKeys = 1_000_000;

    private byte[][] _events = [];
    private DetectionRuleSet _rules = null!;
    private DetectionEngine? _lastEngine;

    /// <summary>The correlation type filled (its groups keep different state).</summary>
    [Params("event_count", "value_count", "temporal")]
    public string Type { get; set; } = "event_count";

    [GlobalSetup]
    public void Setup()
    {
        var condition = Type switch
        {
            "value_count" => "{field: source.ip, gte: 5}",
            "temporal" => "{gte: 2}",
            _ => "{gte: 5}",
        };
        var rules = Type == "temporal" ? "[login, logout]" : "[login]";
        var logout = Type == "temporal" ? """
            ---
            title: Logout
            name: logout
            taxonomy: ecs
            logsource: {product: linux, service: sshd}
            detection: {sel: {event.action: user-logout}, condition: sel}
            """ : string.Empty;
        _rules = DetectionRuleSet.Parse("groups.yml", $$"""
            title: Login
            name: login
            taxonomy: ecs
            logsource: {product: linux, service: sshd}
            detection: {sel: {event.action: user-login}, condition: sel}
            {{logout}}
            ---
            title: Logins of one account on one node
            id: TG-DET-900
            level: low
            description: d
            x-trainguard: {guidance: g}
            correlation: {type: {{Type}}, rules: {{rules}}, group-by: [user.name, host.name], timespan: 1d, condition: {{condition}}}
            """);
        _events = Enumerable.Range(0, GroupKeys).Select(Login).ToArray();
    }

    /// <summary>A million distinct (user, host) groups in one correlation.</summary>
    [Benchmark]
    public long OneMillionGroups()
    {
        var engine = _rules.CreateEngine();
        var hits = new List<DetectionHit>();
        var events = _events;
        for (var i = 0; i < events.Length; i++)
        {
            engine.Process(events[i], i, hits);
        }

        _lastEngine = engine;
        return engine.Stats.Groups;
    }

    /// <summary>Prints what the last engine of <see cref="OneMillionGroups"/> keeps alive (live heap with it minus without it).</summary>
    [GlobalCleanup]
    public void ReportRetainedState()
    {
        // The engine is reached and dropped in methods of their own, so no stack slot of this frame keeps it alive.
        var (groups, evictions) = LastEngineGroups();
        var with = GC.GetTotalMemory(forceFullCollection: true);
        DropLastEngine();
        var without = GC.GetTotalMemory(forceFullCollection: true);
        Console.WriteLine($"// {Type}: retained by {groups:N0} correlation groups ({evictions} evicted): {(with - without) / 1e6:F1} MB " +
            $"({(double)(with - without) / Math.Max(1, groups):F0} bytes per group)");
    }

    /// <summary>A user-login event of group <paramref name="i"/>: a distinct (user, host) pair, events 10 ms apart.</summary>
    private static byte[] Login(int i) => Encoding.UTF8.GetBytes(
        "{\"@timestamp\":\"" + DetectionCorpus.Time(i * 0.01) + "\",\"event\":{\"action\":\"user-login\",\"kind\":\"event\",\"outcome\":\"success\"}," +
        "\"user\":{\"name\":\"user" + i.ToString(CultureInfo.InvariantCulture) + "\"},\"host\":{\"name\":\"gpu-node-" + (i % 64).ToString("00", CultureInfo.InvariantCulture) + "\"}," +
        "\"source\":{\"ip\":\"10.1." + (i % 256).ToString(CultureInfo.InvariantCulture) + ".7\"}}");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private (long Groups, long Evictions) LastEngineGroups() => _lastEngine is { } e ? (e.Stats.Groups, e.Stats.Evictions) : (0, 0);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void DropLastEngine() => _lastEngine = null;
}
