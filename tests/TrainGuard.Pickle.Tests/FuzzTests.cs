using TrainGuard.Pickle.Tests.Support;

namespace TrainGuard.Pickle.Tests;

/// <summary>Random and mutated inputs, deterministic seed: nothing may escape except through <see cref="PickleAnalysis.Error"/>.</summary>
public class FuzzTests
{
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

        FuzzHarness.Check(PickleMachine.Fuzz, input);
    }

    [Fact]
    public void Random_opcode_soup_never_escapes()
    {
        foreach (var input in FuzzHarness.Inputs([], 10_000, 20240611, FuzzInputs.Opcodes, FuzzInputs.SoupLength))
        {
            Check(input);
        }
    }

    [Fact]
    public void Mutated_real_pickles_never_escape()
    {
        foreach (var input in FuzzHarness.Inputs(Seeds().ToArray(), 10_000, 7, FuzzInputs.Opcodes))
        {
            Check(input);
        }
    }

    [Fact]
    public void Fuzz_target_rethrows_an_internal_error_of_the_machine_instead_of_swallowing_it()
    {
        // No input is known to break the machine, so the failure is simulated: an Internal error must come back
        // out as the original exception, while a malformed-input error stays inside the analysis.
        var bug = new IndexOutOfRangeException("simulated bug");
        var analysis = new PickleAnalysis { Error = Parsing.MalformedInputException.Create(Parsing.InputErrorKind.Internal, "internal error", 0, inner: bug) };
        var thrown = Assert.Throws<IndexOutOfRangeException>(() => PickleMachine.ThrowIfInternal(analysis));
        Assert.Same(bug, thrown);
        PickleMachine.ThrowIfInternal(new PickleAnalysis { Error = Parsing.MalformedInputException.Create(Parsing.InputErrorKind.Truncated, "truncated", 0) });
    }
}
