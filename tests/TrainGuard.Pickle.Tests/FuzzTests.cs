using TrainGuard.Pickle.Tests.Support;

namespace TrainGuard.Pickle.Tests;

/// <summary>Random and mutated inputs, deterministic seed: nothing may escape except through <see cref="PickleAnalysis.Error"/>.</summary>
public class FuzzTests
{
    private static readonly byte[] Opcodes = "(.012FIJKLMNPQRSTUVXabcdegh}ijl]opqrst)uGBC"u8.ToArray()
        .Concat(Enumerable.Range(0x80, 0x19).Select(i => (byte)i)).ToArray();

    private static IEnumerable<byte[]> Seeds()
    {
        yield return PickleBuilder.Create(2).Global("os", "system").Str("id").Tuple1().Reduce().Stop().ToArray();
        yield return PickleBuilder.Create(4).Str("os").Memoize().Str("system").Memoize().StackGlobal().Str("id").Tuple1().Reduce().Stop().ToArray();
        yield return "(S'echo pwned'\nios\nsystem\n."u8.ToArray();
        yield return "(dp0\nS'a'\np1\nI1\nsS'b'\np2\nF1.5\nsVh\\u00e9\np3\nL12345678901234567890L\ns."u8.ToArray();
        yield return PickleBuilder.Create(2).Mark().Str("storage").Global("torch", "FloatStorage").Str("0").Str("cpu").Int(4).Tuple().BinPersId().Stop().ToArray();
        yield return PickleBuilder.Create(5).NextBuffer().ReadOnlyBuffer().ByteArray8([1, 2]).EmptySet().Mark().Int(1).AddItems().Tuple3().Stop().ToArray();
        foreach (var name in new[] { "benign-joblib.pkl", "benign-joblib-p2.pkl", "benign-torch-legacy.pt", "benign-torch-data.pkl", "benign-three-pickles.pkl" })
        {
            yield return Fixture.Read(name);
        }
    }

    private static void Check(byte[] input)
    {
        PickleAnalysis a;
        try
        {
            a = PickleMachine.Analyze(input, new PickleLimits { Timeout = TimeSpan.FromSeconds(20), MaxObjects = 200_000 });
        }
        catch (Exception ex)
        {
            Assert.Fail($"{ex.GetType().Name} escaped for input {Convert.ToHexString(input)}: {ex}");
            return;
        }

        if (a.Error is { } error && error.Message.StartsWith(PickleMachine.InternalErrorPrefix, StringComparison.Ordinal))
        {
            Assert.Fail($"internal error for input {Convert.ToHexString(input)}: {error.InnerException}");
        }

        foreach (var nested in a.Nested)
        {
            if (nested.Analysis.Error is { } e && e.Message.StartsWith(PickleMachine.InternalErrorPrefix, StringComparison.Ordinal))
            {
                Assert.Fail($"internal error in a nested pickle for input {Convert.ToHexString(input)}: {e.InnerException}");
            }
        }

        PickleMachine.Fuzz(input);
    }

    [Fact]
    public void Random_opcode_soup_never_escapes()
    {
        var random = new Random(20240611);
        for (var i = 0; i < 10_000; i++)
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
        var random = new Random(7);
        var seeds = Seeds().ToArray();
        for (var i = 0; i < 10_000; i++)
        {
            var input = seeds[random.Next(seeds.Length)].ToList();
            var mutations = random.Next(1, 5);
            for (var m = 0; m < mutations && input.Count > 0; m++)
            {
                var at = random.Next(input.Count);
                switch (random.Next(5))
                {
                    case 0: input[at] ^= (byte)(1 << random.Next(8)); break;
                    case 1: input[at] = (byte)random.Next(256); break;
                    case 2: input.Insert(at, Opcodes[random.Next(Opcodes.Length)]); break;
                    case 3: input.RemoveAt(at); break;
                    default: input.RemoveRange(at, input.Count - at); break;
                }
            }

            Check([.. input]);
        }
    }
}
