using TrainGuard.Parsing;

namespace TrainGuard.Ledger.Tests.Support;

/// <summary>
/// Runs a fuzz target over random and mutated inputs with a fixed seed; any exception other than
/// <see cref="MalformedInputException"/> fails the test and reports the input as hex.
/// </summary>
public static class FuzzHarness
{
    public delegate void FuzzTarget(ReadOnlySpan<byte> data);

    public static void Run(FuzzTarget target, IReadOnlyList<byte[]> seeds, int iterations = 3000, int seed = 20240901)
    {
        var random = new Random(seed);
        foreach (var input in seeds)
        {
            Check(target, input);
        }

        for (var i = 0; i < iterations; i++)
        {
            byte[] input;
            if (seeds.Count == 0 || random.Next(4) == 0)
            {
                input = new byte[random.Next(0, 200)];
                random.NextBytes(input);
            }
            else
            {
                input = Mutate(seeds[random.Next(seeds.Count)], random);
            }

            Check(target, input);
        }
    }

    private static void Check(FuzzTarget target, byte[] input)
    {
        try
        {
            target(input);
        }
        catch (MalformedInputException)
        {
        }
        catch (Exception e)
        {
            Assert.Fail($"fuzz target threw {e.GetType().Name}: {e.Message}\ninput (hex): {Convert.ToHexString(input)}");
        }
    }

    private static byte[] Mutate(byte[] original, Random random)
    {
        var data = new List<byte>(original);
        var mutations = random.Next(1, 5);
        for (var m = 0; m < mutations; m++)
        {
            switch (random.Next(6))
            {
                case 0 when data.Count > 0:
                    data[random.Next(data.Count)] ^= (byte)(1 << random.Next(8));
                    break;
                case 1 when data.Count > 0:
                    data.RemoveAt(random.Next(data.Count));
                    break;
                case 2:
                    data.Insert(random.Next(data.Count + 1), (byte)random.Next(256));
                    break;
                case 3:
                    data.Insert(random.Next(data.Count + 1), "\n\u2014 +=0\r"u8[random.Next(8)]);
                    break;
                case 4 when data.Count > 0:
                    var start = random.Next(data.Count);
                    data.RemoveRange(start, random.Next(1, Math.Min(8, data.Count - start) + 1));
                    break;
                default:
                    if (data.Count > 0)
                    {
                        var at = random.Next(data.Count);
                        data.InsertRange(random.Next(data.Count + 1), data.GetRange(at, Math.Min(6, data.Count - at)));
                    }

                    break;
            }
        }

        return [.. data];
    }
}
