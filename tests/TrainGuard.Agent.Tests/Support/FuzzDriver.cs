using TrainGuard.Parsing;

namespace TrainGuard.Agent.Tests.Support;

/// <summary>Deterministic, bounded fuzzing: random inputs and mutations of seed inputs; a failure names the input in hex.</summary>
public static class FuzzDriver
{
    public delegate void Target(ReadOnlySpan<byte> data);

    public static void Run(Target target, IReadOnlyList<byte[]> seeds, int iterations, int seed = 8785)
    {
        var random = new Random(seed);
        for (var i = 0; i < iterations; i++)
        {
            byte[] input;
            if (seeds.Count == 0 || i % 4 == 0)
            {
                input = new byte[random.Next(0, 512)];
                random.NextBytes(input);
                if (i % 8 == 0)
                {
                    // Mostly printable with separators, so the parsers get past the first checks.
                    const string alphabet = "type=SYSCALL msg=audit(1.2:3): a0=\"x\" '\u001d\n =0123456789abcdef";
                    for (var j = 0; j < input.Length; j++)
                    {
                        input[j] = (byte)alphabet[input[j] % alphabet.Length];
                    }
                }
            }
            else
            {
                input = Mutate(seeds[random.Next(seeds.Count)], random);
            }

            try
            {
                target(input);
            }
            catch (MalformedInputException)
            {
                // The one allowed exception type.
            }
            catch (Exception ex)
            {
                Assert.Fail($"fuzz input {Convert.ToHexString(input)} threw {ex.GetType().Name}: {ex.Message}");
            }
        }
    }

    private static byte[] Mutate(byte[] seed, Random random)
    {
        var data = new List<byte>(seed.Length > 4096 ? seed[..4096] : seed);
        var edits = random.Next(1, 8);
        for (var e = 0; e < edits && data.Count > 0; e++)
        {
            var at = random.Next(data.Count);
            switch (random.Next(5))
            {
                case 0: data[at] = (byte)random.Next(256); break;
                case 1: data.RemoveRange(at, Math.Min(random.Next(1, 32), data.Count - at)); break;
                case 2: data.Insert(at, (byte)"\"'= \n\u001d:()."[random.Next(10)]); break;
                case 3:
                    var from = random.Next(data.Count);
                    data.InsertRange(at, data.GetRange(from, Math.Min(16, data.Count - from)));
                    break;
                default: data.RemoveRange(at, data.Count - at); break;
            }
        }

        return data.ToArray();
    }
}
