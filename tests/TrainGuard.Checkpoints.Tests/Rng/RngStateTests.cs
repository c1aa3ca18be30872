using System.Buffers.Binary;
using System.Numerics;
using System.Text.Json;
using TrainGuard.Checkpoints.Rng;
using TrainGuard.Parsing;

namespace TrainGuard.Checkpoints.Tests.Rng;

public sealed class RngStateTests
{
    public static TheoryData<int> TorchIndexes => new(Enumerable.Range(0, RngVectors.Torch.Count()));

    public static TheoryData<int> NumpyIndexes => new(Enumerable.Range(0, RngVectors.Numpy.Count()));

    public static TheoryData<int> PythonIndexes => new(Enumerable.Range(0, RngVectors.Python.Count()));

    [Fact]
    public void Init_genrand_matches_numpy_right_after_seeding()
    {
        var vector = RngVectors.Numpy.First(v => v.GetProperty("seed").GetInt64() == 42 && v.GetProperty("draws").GetInt32() == 0);
        Assert.Equal(Words(vector.GetProperty("key")), Mt19937.InitGenrand(42));
    }

    [Fact]
    public void Init_by_array_matches_cpython_right_after_seeding()
    {
        var vector = RngVectors.Python.First(v => v.GetProperty("seed").GetString() == "42" && v.GetProperty("draws").GetInt32() == 0);
        Assert.Equal(Words(vector.GetProperty("state"))[..Mt19937.N], Mt19937.InitByArray([42]));
    }

    [Fact]
    public void Twist_then_untwist_restores_every_bit_the_stream_depends_on()
    {
        var start = Mt19937.InitGenrand(2024);
        var state = (uint[])start.Clone();
        for (var i = 0; i < 50; i++)
        {
            Mt19937.Twist(state);
        }

        for (var i = 0; i < 50; i++)
        {
            Mt19937.Untwist(state);
        }

        Assert.True(Mt19937.SameStream(start, state));
    }

    [Fact]
    public void Numpy_state_after_624_draws_is_exactly_one_twist_of_the_seeding()
    {
        var vector = RngVectors.Numpy.First(v => v.GetProperty("seed").GetInt64() == 42 && v.GetProperty("draws").GetInt32() == 624);
        var expected = Mt19937.InitGenrand(42);
        Mt19937.Twist(expected);
        Assert.Equal(expected, Words(vector.GetProperty("key")));
    }

    [Theory]
    [MemberData(nameof(TorchIndexes))]
    public void Torch_cpu_state_names_its_seed_and_position_and_rewinds_to_its_seeding(int index)
    {
        var vector = RngVectors.Torch.ElementAt(index);
        var state = TorchCpuGeneratorState.Parse(System.Convert.FromBase64String(vector.GetProperty("state_b64").GetString()!));
        var seed = RngVectors.Seed(vector);
        Assert.Equal(vector.GetProperty("initial_seed").GetUInt64(), state.InitialSeed);
        Assert.Equal((ulong)(long)seed, state.InitialSeed);
        Assert.True(state.Seeded);
        Assert.True(state.PositionConsistent, $"left {state.Left} next {state.Next}");

        var assessment = SeedFinder.Assess(state.Words, state.Position, RngKind.TorchCpu, seed, SeedFinder.DefaultMaxTwists);
        Assert.Equal(SeedVerdict.DeclaredSeed, assessment.Verdict);
        Assert.Equal(SeedFinder.Low32(seed), (uint)assessment.Origin.Seed);
        var draws = vector.GetProperty("draws").GetInt32();
        if (draws >= 0)
        {
            Assert.Equal(draws, assessment.Origin.WordsDrawn(state.Position));
        }
        else
        {
            Assert.True(state.NormalIsValid);
        }
    }

    [Fact]
    public void Torch_state_right_after_seeding_has_left_one_and_next_zero()
    {
        var vector = RngVectors.Torch.First(v => v.GetProperty("seed").GetInt64() == 42 && v.GetProperty("draws").GetInt32() == 0);
        var state = TorchCpuGeneratorState.Parse(System.Convert.FromBase64String(vector.GetProperty("state_b64").GetString()!));
        Assert.Equal((1, 0L), (state.Left, state.Next));
        Assert.Equal(Mt19937.InitGenrand(42), state.Words);
    }

    [Theory]
    [MemberData(nameof(NumpyIndexes))]
    public void Numpy_state_rewinds_to_its_seed_and_counts_the_draws(int index)
    {
        var vector = RngVectors.Numpy.ElementAt(index);
        var state = NumpyState(vector);
        var seed = RngVectors.Seed(vector);
        var assessment = SeedFinder.Assess(state.Words, state.Position, RngKind.Numpy, seed, SeedFinder.DefaultMaxTwists);
        Assert.Equal(SeedVerdict.DeclaredSeed, assessment.Verdict);
        var draws = vector.GetProperty("draws").GetInt32();
        if (draws >= 0)
        {
            Assert.Equal(draws, assessment.Origin.WordsDrawn(state.Position));
        }
        else
        {
            Assert.True(state.HasGauss);
        }
    }

    [Theory]
    [MemberData(nameof(PythonIndexes))]
    public void Python_state_rewinds_to_its_seed_and_counts_the_draws(int index)
    {
        var vector = RngVectors.Python.ElementAt(index);
        var state = PythonState(vector);
        var seed = RngVectors.Seed(vector);
        var assessment = SeedFinder.Assess(state.Words, state.Position, RngKind.Python, seed, SeedFinder.DefaultMaxTwists);
        Assert.Equal(SeedVerdict.DeclaredSeed, assessment.Verdict);
        var draws = vector.GetProperty("draws").GetInt32();
        if (draws >= 0)
        {
            Assert.Equal(draws, assessment.Origin.WordsDrawn(state.Position));
        }
        else
        {
            Assert.NotNull(state.GaussNext);
        }
    }

    [Fact]
    public void Python_seed_recovered_is_the_integer_random_seed_was_given()
    {
        var vector = RngVectors.Python.First(v => v.GetProperty("seed").GetString() == "12345678901234567890123");
        var state = PythonState(vector);
        var origin = SeedFinder.Find(state.Words, RngKind.Python, SeedFinder.DefaultMaxTwists);
        Assert.True(origin.Found);
        Assert.Equal(BigInteger.Parse("12345678901234567890123", System.Globalization.CultureInfo.InvariantCulture), origin.Seed);
    }

    [Fact]
    public void Python_seeds_that_init_by_array_cannot_tell_apart_are_the_same_stream()
    {
        // random.seed(5 + 4 * 2**32) and random.seed(5) produce the same state: the key words add up the same way.
        var vector = RngVectors.Python.First(v => v.GetProperty("seed").GetString() == "17179869189");
        var origin = SeedFinder.Find(PythonState(vector).Words, RngKind.Python, 10);
        Assert.Equal(new BigInteger(5), origin.Seed);
        Assert.True(SeedFinder.SameStream(RngKind.Python, 5, 17179869189));
    }

    [Theory]
    [InlineData(RngKind.Numpy)]
    [InlineData(RngKind.Python)]
    [InlineData(RngKind.TorchCpu)]
    public void State_from_seed_7_is_reported_as_seed_7_when_42_is_declared(RngKind kind)
    {
        var mt = kind == RngKind.Python ? Mt19937.InitByArray([7]) : Mt19937.InitGenrand(7);
        for (var i = 0; i < 12; i++)
        {
            Mt19937.Twist(mt);
        }

        var assessment = SeedFinder.Assess(mt, 100, kind, 42, SeedFinder.DefaultMaxTwists);
        Assert.Equal(SeedVerdict.OtherSeed, assessment.Verdict);
        Assert.Equal(new BigInteger(7), assessment.Origin.Seed);
        Assert.Equal(12, assessment.Origin.Twists);
        Assert.Equal((11 * 624) + 100, assessment.Origin.WordsDrawn(100));
    }

    [Fact]
    public void State_advanced_past_the_bound_cannot_be_told()
    {
        var mt = Mt19937.InitGenrand(42);
        for (var i = 0; i < 20; i++)
        {
            Mt19937.Twist(mt);
        }

        var assessment = SeedFinder.Assess(mt, 1, RngKind.Numpy, 42, maxTwists: 10);
        Assert.Equal(SeedVerdict.Unknown, assessment.Verdict);
        Assert.Contains("neither confirmed nor refuted", assessment.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void Random_words_are_never_attributed_to_a_seed()
    {
        var random = new Random(5);
        var words = new uint[Mt19937.N];
        for (var i = 0; i < words.Length; i++)
        {
            words[i] = (uint)random.NextInt64(0, 1L << 32);
        }

        Assert.False(SeedFinder.Find(words, RngKind.Numpy, 200).Found);
        Assert.False(SeedFinder.Find(words, RngKind.Python, 200).Found);
    }

    [Theory]
    [InlineData(5055, "5056 bytes")]
    [InlineData(0, "5056 bytes")]
    public void Torch_state_of_the_wrong_size_is_malformed(int size, string expected)
    {
        var error = Assert.Throws<MalformedInputException>(() => TorchCpuGeneratorState.Parse(new byte[size]));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Torch_state_word_wider_than_32_bits_is_malformed_at_its_offset()
    {
        var bytes = System.Convert.FromBase64String(RngVectors.Torch.First().GetProperty("state_b64").GetString()!);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(24 + (8 * 10)), 1UL << 40);
        var error = Assert.Throws<MalformedInputException>(() => TorchCpuGeneratorState.Parse(bytes));
        Assert.Equal(24 + 80, error.Offset);
        Assert.Contains("word 10", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Numpy_state_with_a_short_key_or_bad_position_is_malformed()
    {
        Assert.Throws<MalformedInputException>(() => NumpyRandomState.FromParts("MT19937", new byte[100], '<', 624, 0, 0));
        Assert.Throws<MalformedInputException>(() => NumpyRandomState.FromParts("MT19937", new byte[2496], '<', 625, 0, 0));
        Assert.Throws<MalformedInputException>(() => NumpyRandomState.FromParts("PCG64", new byte[2496], '<', 0, 0, 0));
    }

    [Fact]
    public void Numpy_big_endian_key_is_read_in_its_byte_order()
    {
        var bytes = new byte[2496];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, 0x01020304);
        Assert.Equal(0x01020304u, NumpyRandomState.FromParts("MT19937", bytes, '>', 624, 0, 0).Words[0]);
    }

    [Fact]
    public void Fuzzing_the_torch_state_parser_throws_only_malformed_input()
    {
        var seedBytes = System.Convert.FromBase64String(RngVectors.Torch.First().GetProperty("state_b64").GetString()!);
        FuzzHarness.Run(TorchCpuGeneratorState.Fuzz, [seedBytes], 300, 1234, maxLength: 6000);
    }

    [Fact]
    public void Fuzzing_the_cuda_state_parser_throws_only_malformed_input()
    {
        var state = new byte[TorchCudaGeneratorState.Size * 2];
        BinaryPrimitives.WriteUInt64LittleEndian(state, 42);
        BinaryPrimitives.WriteInt64LittleEndian(state.AsSpan(8), 1 << 20);
        BinaryPrimitives.WriteUInt64LittleEndian(state.AsSpan(16), ulong.MaxValue);
        BinaryPrimitives.WriteInt64LittleEndian(state.AsSpan(24), long.MinValue);
        FuzzHarness.Run(TorchCudaGeneratorState.Fuzz, [state, state[..TorchCudaGeneratorState.Size]], 2000, 4321, maxLength: 64);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(15)]
    [InlineData(17)]
    public void A_cuda_state_of_the_wrong_size_is_malformed_input_naming_its_size(int length)
    {
        var ex = Assert.Throws<MalformedInputException>(() => TorchCudaGeneratorState.Parse(new byte[length]));
        Assert.Equal(InputErrorKind.Syntax, ex.Kind);
        Assert.Contains($"not {length}", ex.Message, StringComparison.Ordinal);
    }

    private static NumpyRandomState NumpyState(JsonElement vector)
    {
        var words = Words(vector.GetProperty("key"));
        var bytes = new byte[words.Length * 4];
        for (var i = 0; i < words.Length; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(i * 4), words[i]);
        }

        return NumpyRandomState.FromParts(vector.GetProperty("algorithm").GetString()!, bytes, '<', vector.GetProperty("pos").GetInt64(),
            vector.GetProperty("has_gauss").GetInt64(), vector.GetProperty("cached_gaussian").GetDouble());
    }

    private static PythonRandomState PythonState(JsonElement vector)
    {
        var ints = vector.GetProperty("state").EnumerateArray().Select(e => new BigInteger(e.GetUInt64())).ToList();
        var gauss = vector.GetProperty("gauss_next");
        return PythonRandomState.FromParts(vector.GetProperty("version").GetInt64(), ints, gauss.ValueKind == JsonValueKind.Null ? null : gauss.GetDouble());
    }

    private static uint[] Words(JsonElement array) => array.EnumerateArray().Select(e => e.GetUInt32()).ToArray();
}
