using System.Text;
using TrainGuard.Detections.Tests.Support;
using TrainGuard.Parsing;

namespace TrainGuard.Detections.Tests;

/// <summary>The rule parser's fuzz target and the event reader under generated hostile input: only MalformedInputException escapes.</summary>
public sealed class FuzzTests
{
    private static readonly string[] Seeds =
    [
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "kills.yml")),
        SigmaTest.Header + "detection:\n  sel:\n    file.path|re|i: '^/proc/[0-9]+/loginuid$'\n    source.ip|cidr: [10.0.0.0/8, 'fd00::/8']\n  k: ['a*b', 'c?d']\n  condition: (sel or 1 of k*) and not all of them\n",
        "title: t\nid: TG-DET-009\nlevel: low\ndescription: d\nx-trainguard: {guidance: g}\ncorrelation: {type: temporal_ordered, rules: [a, b], group-by: [host.name], timespan: 5m}\n---\ntitle: a\nname: a\ntaxonomy: ecs\nlogsource: {product: linux}\ndetection: {s: {event.action|expand: '%PackageManagers%'}, condition: s}\n---\ntitle: b\nname: b\ntaxonomy: ecs\nlogsource: {product: linux}\ndetection: {s: {process.command_line|base64offset|contains: abcdef}, condition: s}\n",
    ];

    private static readonly byte[] Alphabet = Encoding.ASCII.GetBytes("\n :-|*?\\%'\"{}[](),&!#>.0123456789abcdefgilmnorstx");

    private static readonly byte[] JsonAlphabet = Encoding.ASCII.GetBytes("{}[]\",:\\/ubfnrt0123456789-+.eE \x00\x1f\x7f");

    [Fact]
    public void The_rule_parser_fuzz_target_only_ever_raises_malformed_input()
    {
        var ran = FuzzHarness.Run(DetectionRuleSet.Fuzz, Seeds.Select(Encoding.UTF8.GetBytes).ToArray(), 3000, 20261122, Alphabet);
        Assert.Equal(3000, ran);
    }

    [Fact]
    public void The_event_reader_only_ever_raises_malformed_input()
    {
        var engine = DetectionRuleSet.Parse("f.yml", Seeds[1]).CreateEngine();
        var hits = new List<DetectionHit>();
        var seed = Encoding.UTF8.GetBytes("""{"@timestamp":"2026-11-22T10:00:00.000Z","file":{"path":"/proc/1/loginuid"},"source.ip":"10.1.2.3","x":[1,2.5e3,true,null,{"k":"a\u0041b"}]}""");
        var ran = FuzzHarness.Run(data => engine.Process(data, 0, hits), [seed], 5000, 7, JsonAlphabet);
        Assert.Equal(5000, ran);
        Assert.True(engine.Stats.Events > 0);
    }

    [Fact]
    public void The_event_reader_accepts_what_system_text_json_accepts_and_reads_the_same_strings()
    {
        var set = DetectionRuleSet.Parse("k.yml", SigmaTest.Header + "detection: {k: [needle], condition: k}\n");
        var view = new TrainGuard.Detections.Matching.EventView(set.Plan.Fields, collectStrings: true);
        byte[][] seeds =
        [
            Encoding.UTF8.GetBytes("""{"a":"plain","b":"esc \" \\ \/ \b\f\n\r\t \u0041\u00e9\u20ac \ud83d\ude00","c":["x",{"d":"y"}],"e":-0.5e+3,"f":[true,false,null],"g":{}, "h" : [ ] ,"i":"日本語 ✓"}"""),
            Encoding.UTF8.GetBytes("""{"@timestamp":"2026-11-22T10:00:00.000Z","event":{"action":"process-signal","category":["process"]},"n":[0,1.25,-3,4E2,5e-1]}"""),
        ];
        var both = 0;
        foreach (var input in seeds.Concat(FuzzHarness.Inputs(seeds, 20000, 11, JsonAlphabet)))
        {
            string[]? expected = null;
            try
            {
                using var document = System.Text.Json.JsonDocument.Parse(input);
                if (document.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object)
                {
                    expected = Strings(document.RootElement).ToArray();
                }
            }
            catch (System.Text.Json.JsonException)
            {
            }
            catch (InvalidOperationException)
            {
                // System.Text.Json parses bytes that are not UTF-8 and refuses them only when a string is read.
            }

            string[]? actual = null;
            try
            {
                view.Load(input);
                actual = Enumerable.Range(0, view.StringCount).Select(i => view.StringAt(i).ToString()).ToArray();
            }
            catch (MalformedInputException)
            {
            }

            if (expected is null)
            {
                Assert.True(actual is null, $"accepted what System.Text.Json refuses: {Encoding.UTF8.GetString(input)}");
            }
            else if (actual is null)
            {
                // Stricter on purpose: a member name that is not UTF-8, or an escaped lone surrogate, is not text.
                Assert.True(!System.Text.Unicode.Utf8.IsValid(input) || Encoding.UTF8.GetString(input).Contains("\\u", StringComparison.OrdinalIgnoreCase), $"refused what System.Text.Json accepts: {Encoding.UTF8.GetString(input)}");
            }
            else
            {
                Assert.Equal(expected, actual);
                both++;
            }
        }

        Assert.True(both > 1000, $"{both} inputs read by both");
    }

    private static IEnumerable<string> Strings(System.Text.Json.JsonElement element)
    {
        switch (element.ValueKind)
        {
            case System.Text.Json.JsonValueKind.String:
                yield return element.GetString()!;
                break;
            case System.Text.Json.JsonValueKind.Object:
                foreach (var member in element.EnumerateObject())
                {
                    foreach (var s in Strings(member.Value))
                    {
                        yield return s;
                    }
                }

                break;
            case System.Text.Json.JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    foreach (var s in Strings(item))
                    {
                        yield return s;
                    }
                }

                break;
        }
    }
}
