using TrainGuard.Parsing;
using TrainGuard.Pickle.Objects;
using TrainGuard.Pickle.Tests.Support;

namespace TrainGuard.Pickle.Tests.Objects;

/// <summary>Random and mutated inputs, deterministic seeds: the reader throws nothing but <see cref="MalformedInputException"/>.</summary>
public class ObjectFuzzTests
{
    private static void Check(byte[] input) => FuzzHarness.Check(PickleObjectReader.Fuzz, input);

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
        foreach (var input in FuzzHarness.Inputs([], 20_000, 424242, FuzzInputs.Opcodes, FuzzInputs.SoupLength))
        {
            Check(input);
        }
    }

    [Fact]
    public void Mutated_real_pickles_never_escape()
    {
        foreach (var input in FuzzHarness.Inputs(Seeds().ToArray(), 5_000, 99, FuzzInputs.Opcodes))
        {
            Check(input);
        }
    }
}
