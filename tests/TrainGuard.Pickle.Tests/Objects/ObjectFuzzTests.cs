using TrainGuard.Parsing;
using TrainGuard.Pickle.Objects;
using TrainGuard.Pickle.Tests.Support;

namespace TrainGuard.Pickle.Tests.Objects;

/// <summary>Random and mutated inputs, deterministic seeds: the reader throws nothing but <see cref="MalformedInputException"/>.</summary>
public class ObjectFuzzTests
{
    private static readonly byte[] Opcodes = "(.012FIJKLMNPQRSTUVXabcdegh}ijl]opqrst)uGBC"u8.ToArray()
        .Concat(Enumerable.Range(0x80, 0x19).Select(i => (byte)i)).ToArray();

    private static void Check(byte[] input)
    {
        try
        {
            PickleObjectReader.Fuzz(input);
        }
        catch (Exception ex)
        {
            Assert.Fail($"{ex.GetType().Name} escaped for input {Convert.ToHexString(input)}: {ex}");
        }
    }

    private static IEnumerable<byte[]> Seeds()
    {
        yield return PickleBuilder.Create(2).Global("collections", "OrderedDict").EmptyTuple().Reduce().Mark().Str("w").Int(1).SetItems().EmptyDict().Build().Stop().ToArray();
        yield return "(dp0\nS'a'\np1\nI1\nsS'b'\np2\nF1.5\nsVh\\u00e9\np3\nL12345678901234567890L\ns."u8.ToArray();
        yield return PickleBuilder.Create(5).NextBuffer().ReadOnlyBuffer().ByteArray8([1, 2]).EmptySet().Mark().Int(1).AddItems().Tuple3().Stop().ToArray();
        yield return PickleBuilder.Create(2).EmptyList().BinPut(0).BinGet(0).Append().Stop().ToArray();
        foreach (var file in FixtureFiles.BenignPickles().Take(40))
        {
            yield return file.Pickles[0];
        }
    }

    [Fact]
    public void Random_opcode_soup_never_escapes()
    {
        var random = new Random(424242);
        for (var i = 0; i < 20_000; i++)
        {
            var input = new byte[random.Next(0, 96)];
            for (var k = 0; k < input.Length; k++)
            {
                input[k] = random.Next(3) == 0 ? (byte)random.Next(256) : Opcodes[random.Next(Opcodes.Length)];
            }

            Check(input);
        }
    }

    [Fact]
    public void Mutated_real_pickles_never_escape()
    {
        var random = new Random(99);
        var seeds = Seeds().ToArray();
        for (var i = 0; i < 5_000; i++)
        {
            var input = seeds[random.Next(seeds.Length)].ToArray();
            var mutations = random.Next(1, 5);
            for (var m = 0; m < mutations && input.Length > 0; m++)
            {
                var at = random.Next(input.Length);
                input[at] = random.Next(4) switch
                {
                    0 => (byte)random.Next(256),
                    1 => Opcodes[random.Next(Opcodes.Length)],
                    2 => 0xff,
                    _ => (byte)(input[at] ^ (1 << random.Next(8))),
                };
            }

            if (random.Next(4) == 0)
            {
                input = input[..random.Next(input.Length + 1)];
            }

            Check(input);
        }
    }
}
