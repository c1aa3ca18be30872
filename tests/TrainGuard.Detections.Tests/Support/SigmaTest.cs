using System.Text;
using TrainGuard.Parsing;

namespace TrainGuard.Detections.Tests.Support;

/// <summary>Builds small rule files and runs events through them.</summary>
internal static class SigmaTest
{
    /// <summary>The header of a detection rule that raises hits (id TG-DET-001).</summary>
    public const string Header = """
        title: Test rule
        id: TG-DET-001
        taxonomy: ecs
        logsource: {product: linux, service: auditd}
        level: high
        description: A rule under test.
        x-trainguard: {guidance: Look at it.}

        """;

    /// <summary>A rule set of one detection rule whose <c>detection</c> is <paramref name="detection"/> (YAML, e.g. a flow mapping).</summary>
    public static DetectionRuleSet Detection(string detection, DetectionOptions? options = null) =>
        DetectionRuleSet.Parse("test.yml", Header + "detection: " + (detection.StartsWith('{') ? detection : "\n" + Indent(detection)) + "\n", options);

    public static DetectionRuleSet Load(string yaml, DetectionOptions? options = null) => DetectionRuleSet.Parse("rules.yml", yaml, options);

    /// <summary>True when <paramref name="eventJson"/> raises a hit.</summary>
    public static bool Fires(DetectionRuleSet set, string eventJson) => Run(set, eventJson).Count > 0;

    /// <summary>Runs events (JSON objects) in order through one engine; event references are 0, 1, 2...</summary>
    public static List<DetectionHit> Run(DetectionRuleSet set, params string[] events) => Run(set.CreateEngine(), events);

    public static List<DetectionHit> Run(DetectionEngine engine, params string[] events)
    {
        var hits = new List<DetectionHit>();
        for (var i = 0; i < events.Length; i++)
        {
            engine.Process(Encoding.UTF8.GetBytes(events[i]), i, hits);
        }

        return hits;
    }

    /// <summary>The load error of <paramref name="yaml"/> (the test fails when it loads).</summary>
    public static MalformedInputException LoadError(string yaml, DetectionOptions? options = null) =>
        Assert.Throws<MalformedInputException>(() => DetectionRuleSet.Parse("bad.yml", yaml, options));

    /// <summary>The load error of a detection rule with <paramref name="detection"/>.</summary>
    public static MalformedInputException DetectionError(string detection, DetectionOptions? options = null) =>
        Assert.Throws<MalformedInputException>(() => Detection(detection, options));

    public static string Indent(string text) => string.Join("\n", text.Split('\n').Select(line => "  " + line));

    /// <summary>An event at <paramref name="time"/> (minutes after 10:00 UTC) with extra members (JSON without braces).</summary>
    public static string At(double minutes, string members) =>
        $$"""{"@timestamp":"{{new DateTime(2026, 11, 22, 10, 0, 0, DateTimeKind.Utc).AddMinutes(minutes):yyyy-MM-dd'T'HH:mm:ss.fff'Z'}}",{{members}}}""";
}
