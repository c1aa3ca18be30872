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

    [Fact]
    public void The_rule_parser_fuzz_target_only_ever_raises_malformed_input()
    {
        var random = new Random(20261122);
        var seeds = Seeds.Select(Encoding.UTF8.GetBytes).ToArray();
        var ran = 0;
        for (var i = 0; i < 3000; i++)
        {
            var input = Mutate(random, seeds[random.Next(seeds.Length)]);
            try
            {
                DetectionRuleSet.Fuzz(input);
            }
            catch (Exception ex)
            {
                Assert.Fail($"fuzz target threw {ex.GetType().Name}: {ex.Message}\ninput (hex): {Convert.ToHexString(input)}\n{ex}");
            }

            ran++;
        }

        Assert.Equal(3000, ran);
    }

    [Fact]
    public void The_event_reader_only_ever_raises_malformed_input()
    {
        var set = DetectionRuleSet.Parse("f.yml", Seeds[1]);
        var engine = set.CreateEngine();
        var random = new Random(7);
        var seed = Encoding.UTF8.GetBytes("""{"@timestamp":"2026-11-22T10:00:00.000Z","file":{"path":"/proc/1/loginuid"},"source.ip":"10.1.2.3","x":[1,2.5e3,true,null,{"k":"a\u0041b"}]}""");
        var hits = new List<DetectionHit>();
        for (var i = 0; i < 5000; i++)
        {
            var input = Mutate(random, seed);
            try
            {
                engine.Process(input, i, hits);
            }
            catch (MalformedInputException)
            {
            }
            catch (Exception ex)
            {
                Assert.Fail($"engine threw {ex.GetType().Name}: {ex.Message}\ninput (hex): {Convert.ToHexString(input)}\n{ex}");
            }
        }

        Assert.True(engine.Stats.Events > 0);
    }

    private static byte[] Mutate(Random random, byte[] seed)
    {
        var data = new List<byte>(seed);
        var edits = random.Next(1, 6);
        for (var e = 0; e < edits; e++)
        {
            var at = data.Count == 0 ? 0 : random.Next(data.Count);
            switch (random.Next(6))
            {
                case 0 when data.Count > 0:
                    data[at] = Alphabet[random.Next(Alphabet.Length)];
                    break;
                case 1 when data.Count > 0:
                    data.RemoveRange(at, Math.Min(data.Count - at, random.Next(1, 24)));
                    break;
                case 2:
                    data.InsertRange(at, Enumerable.Range(0, random.Next(1, 8)).Select(_ => Alphabet[random.Next(Alphabet.Length)]));
                    break;
                case 3 when data.Count > 0:
                    var from = random.Next(data.Count);
                    data.InsertRange(at, data.GetRange(from, Math.Min(random.Next(1, 64), data.Count - from)));
                    break;
                case 4 when data.Count > 0:
                    data[at] = (byte)random.Next(256);
                    break;
                default:
                    if (data.Count > 0)
                    {
                        data.RemoveRange(at, data.Count - at);
                    }

                    break;
            }
        }

        return [.. data];
    }
}
