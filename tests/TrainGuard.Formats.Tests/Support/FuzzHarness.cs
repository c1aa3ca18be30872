using System.Diagnostics;
using TrainGuard.Parsing;

namespace TrainGuard.Formats.Tests.Support;

/// <summary>
/// Runs a fuzz target over random inputs and mutations of seed inputs with a fixed seed and a time budget.
/// Anything other than <see cref="MalformedInputException"/> fails the test with the input as hex.
/// </summary>
internal static class FuzzHarness
{
    public delegate void Target(ReadOnlySpan<byte> data);

    public static int Run(Target target, IReadOnlyList<byte[]> seeds, int seed, TimeSpan budget, int maxIterations = 20_000)
    {
        var random = new Random(seed);
        var clock = Stopwatch.StartNew();
        var iterations = 0;
        foreach (var input in seeds)
        {
            Check(target, input);
        }

        while (iterations < maxIterations && clock.Elapsed < budget)
        {
            var input = seeds.Count == 0 || random.Next(8) == 0 ? RandomBytes(random) : Mutate(random, seeds[random.Next(seeds.Count)]);
            Check(target, input);
            iterations++;
        }

        return iterations;
    }

    public static void Check(Target target, byte[] input)
    {
        try
        {
            target(input);
        }
        catch (MalformedInputException)
        {
        }
        catch (Exception ex)
        {
            Assert.Fail($"{ex.GetType().Name}: {ex.Message}\ninput ({input.Length} bytes): {Fixture.Hex(input.AsSpan(0, Math.Min(input.Length, 4096)))}\n{ex.StackTrace}");
        }
    }

    private static byte[] RandomBytes(Random random)
    {
        var data = new byte[random.Next(0, 600)];
        random.NextBytes(data);
        return data;
    }

    private static byte[] Mutate(Random random, byte[] seed)
    {
        var data = new List<byte>(seed);
        var edits = 1 + random.Next(4);
        for (var i = 0; i < edits; i++)
        {
            var position = data.Count == 0 ? 0 : random.Next(data.Count);
            switch (random.Next(7))
            {
                case 0 when data.Count > 0:
                    data[position] ^= (byte)(1 << random.Next(8));
                    break;
                case 1 when data.Count > 0:
                    data[position] = (byte)random.Next(256);
                    break;
                case 2 when data.Count > 0:
                    data.RemoveRange(position, Math.Min(data.Count - position, 1 + random.Next(16)));
                    break;
                case 3:
                    data.InsertRange(position, Enumerable.Range(0, 1 + random.Next(16)).Select(_ => (byte)random.Next(256)));
                    break;
                case 4 when data.Count > 0:
                    data.RemoveRange(position, data.Count - position);
                    break;
                case 5 when data.Count > 4:
                    // Interesting values: 0, -1, huge, into a 4- or 8-byte field.
                    var value = random.Next(4) switch { 0 => 0UL, 1 => ulong.MaxValue, 2 => 0x7FFFFFFFUL, _ => (ulong)random.Next() };
                    for (var k = 0; k < 4 && position + k < data.Count; k++)
                    {
                        data[position + k] = (byte)(value >> (8 * k));
                    }

                    break;
                default:
                    if (data.Count > 0)
                    {
                        data[position] = (byte)"0123456789 \0\n{}[],:\"'-PK\x03\x04"[random.Next(24)];
                    }

                    break;
            }
        }

        return [.. data];
    }
}
