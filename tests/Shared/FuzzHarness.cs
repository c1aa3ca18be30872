using TrainGuard.Parsing;

namespace TrainGuard.Tests.Shared;

/// <summary>
/// The one fuzz harness of every test project (linked in as <c>Support/FuzzHarness.cs</c>). It drives a parser's
/// <c>static void Fuzz(ReadOnlySpan&lt;byte&gt;)</c> target over its seed inputs and then a fixed number of
/// generated inputs: random bytes, bytes drawn from an alphabet of the format's separators and opcodes, and
/// mutations of the seeds (bit flips, byte changes, deletions, insertions, truncation, boundary integers,
/// duplicated chunks). A given seed always yields the same inputs. Only <see cref="MalformedInputException"/>
/// may escape a target; anything else fails the test with the input as hex so it can be replayed.
/// </summary>
public static class FuzzHarness
{
    /// <summary>Largest input printed whole in a failure message (longer inputs are cut, with their length).</summary>
    public const int MaxHexBytes = 64 * 1024;

    public delegate void Target(ReadOnlySpan<byte> data);

    /// <summary>Checks every seed, then <paramref name="iterations"/> generated inputs; returns how many generated inputs ran.</summary>
    /// <param name="target">The fuzz target.</param>
    /// <param name="seeds">Valid (or interesting) inputs to mutate; may be empty.</param>
    /// <param name="iterations">Generated inputs to run (the bound of the test).</param>
    /// <param name="seed">Seed of the generator: the same seed gives the same inputs.</param>
    /// <param name="alphabet">Bytes that matter to the format (separators, quotes, opcodes), used in generated and inserted bytes.</param>
    /// <param name="maxLength">Longest fresh input generated (mutations keep roughly their seed's length).</param>
    public static int Run(Target target, IReadOnlyList<byte[]> seeds, int iterations, int seed = 20240611, byte[]? alphabet = null, int maxLength = 512)
    {
        foreach (var input in seeds)
        {
            Check(target, input);
        }

        var count = 0;
        foreach (var input in Inputs(seeds, iterations, seed, alphabet, maxLength))
        {
            Check(target, input);
            count++;
        }

        return count;
    }

    /// <summary>The generated inputs <see cref="Run"/> uses, for tests that check more than "only the malformed-input type escapes".</summary>
    public static IEnumerable<byte[]> Inputs(IReadOnlyList<byte[]> seeds, int iterations, int seed = 20240611, byte[]? alphabet = null, int maxLength = 512)
    {
        var random = new Random(seed);
        for (var i = 0; i < iterations; i++)
        {
            yield return seeds.Count == 0 || random.Next(4) == 0
                ? Fresh(random, alphabet, maxLength)
                : Mutate(random, seeds[random.Next(seeds.Count)], alphabet);
        }
    }

    /// <summary>Runs <paramref name="target"/> on one input: <see cref="MalformedInputException"/> passes, anything else fails with the input as hex.</summary>
    public static void Check(Target target, byte[] input)
    {
        try
        {
            target(input);
        }
        catch (MalformedInputException)
        {
            // The one exception type a parser may throw.
        }
        catch (Exception ex)
        {
            Assert.Fail($"fuzz target threw {ex.GetType().Name}: {ex.Message}\ninput ({input.Length:N0} bytes, hex): {Hex(input)}\n{ex}");
        }
    }

    /// <summary>An input as hex for a failure message (cut after <see cref="MaxHexBytes"/> bytes).</summary>
    public static string Hex(byte[] input) =>
        input.Length <= MaxHexBytes ? Convert.ToHexString(input) : Convert.ToHexString(input, 0, MaxHexBytes) + "…";

    private static byte[] Fresh(Random random, byte[]? alphabet, int maxLength)
    {
        var data = new byte[random.Next(0, maxLength + 1)];
        random.NextBytes(data);
        if (alphabet is { Length: > 0 } && random.Next(3) != 0)
        {
            // Mostly the format's own bytes, so the parser gets past its first checks.
            for (var k = 0; k < data.Length; k++)
            {
                if (random.Next(3) != 0)
                {
                    data[k] = alphabet[random.Next(alphabet.Length)];
                }
            }
        }

        return data;
    }

    private static byte[] Mutate(Random random, byte[] seed, byte[]? alphabet)
    {
        var data = new List<byte>(seed);
        var edits = random.Next(1, 5);
        for (var e = 0; e < edits; e++)
        {
            var at = data.Count == 0 ? 0 : random.Next(data.Count);
            switch (random.Next(9))
            {
                case 0 when data.Count > 0:
                    data[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1 when data.Count > 0:
                    data[at] = (byte)random.Next(256);
                    break;
                case 2 when data.Count > 0:
                    data.RemoveRange(at, Math.Min(data.Count - at, random.Next(1, 17)));
                    break;
                case 3:
                    data.InsertRange(at, Enumerable.Range(0, random.Next(1, 17)).Select(_ => (byte)random.Next(256)));
                    break;
                case 4 when data.Count > 0:
                    data.RemoveRange(at, data.Count - at);
                    break;
                case 5 when data.Count > 4:
                    // Boundary values into a 4- or 8-byte little-endian field.
                    var value = random.Next(5) switch { 0 => 0UL, 1 => ulong.MaxValue, 2 => 0x7FFFFFFFUL, 3 => 0x80000000UL, _ => (ulong)random.Next() };
                    var width = random.Next(2) == 0 ? 4 : 8;
                    for (var k = 0; k < width && at + k < data.Count; k++)
                    {
                        data[at + k] = (byte)(value >> (8 * k));
                    }

                    break;
                case 6 when data.Count > 0:
                    var from = random.Next(data.Count);
                    data.InsertRange(at, data.GetRange(from, Math.Min(random.Next(1, 33), data.Count - from)));
                    break;
                case 7 when alphabet is { Length: > 0 }:
                    data.Insert(at, alphabet[random.Next(alphabet.Length)]);
                    break;
                default:
                    if (data.Count > 0 && alphabet is { Length: > 0 })
                    {
                        data[at] = alphabet[random.Next(alphabet.Length)];
                    }
                    else if (data.Count > 0)
                    {
                        data[at] = (byte)random.Next(256);
                    }

                    break;
            }
        }

        return [.. data];
    }
}
