using System.Buffers.Binary;
using TrainGuard.Parsing;

namespace TrainGuard.Checkpoints.Rng;

/// <summary>
/// <c>torch.get_rng_state()</c>: the CPU generator's state as the 5056-byte <c>THGeneratorStateNew</c> that
/// torch 1.x and 2.x write (little-endian, x86-64 alignment): <c>u64 the_initial_seed, i32 left, i32 seeded,
/// u64 next, u64 state[624], f64 normal_x, normal_y, normal_rho, i32 normal_is_valid, (4 pad), f32
/// next_float_normal_sample, u8 is_next_float_normal_sample_valid, (3 pad)</c>.
/// </summary>
public sealed record TorchCpuGeneratorState
{
    public const int Size = 5056;

    /// <summary>The seed <c>torch.manual_seed</c> was given when nothing else seeded the generator.</summary>
    public const ulong DefaultSeed = 67280421310721;

    private const int InitialSeedOffset = 0;
    private const int LeftOffset = 8;
    private const int SeededOffset = 12;
    private const int NextOffset = 16;
    private const int StateOffset = 24;
    private const int NormalXOffset = StateOffset + (Mt19937.N * 8);
    private const int NormalYOffset = NormalXOffset + 8;
    private const int NormalRhoOffset = NormalYOffset + 8;
    private const int NormalIsValidOffset = NormalRhoOffset + 8;
    private const int NextFloatNormalOffset = NormalIsValidOffset + 8;
    private const int NextFloatNormalValidOffset = NextFloatNormalOffset + 4;

    /// <summary>The seed the generator was last seeded with (what <c>torch.initial_seed()</c> returns).</summary>
    public required ulong InitialSeed { get; init; }

    /// <summary>Draws left before the next twist, plus one (1 right after seeding, 624 right after a twist).</summary>
    public required int Left { get; init; }

    public required bool Seeded { get; init; }

    /// <summary>Index of the next word to return within the current block (0 right after seeding).</summary>
    public required long Next { get; init; }

    /// <summary>The 624 MT19937 words.</summary>
    public required uint[] Words { get; init; }

    public required double NormalY { get; init; }

    /// <summary>A cached second normal sample is waiting (after an odd number of <c>randn</c> scalars).</summary>
    public required bool NormalIsValid { get; init; }

    public required bool NextFloatNormalIsValid { get; init; }

    /// <summary>Left and next agree with each other as the generator keeps them (left = 625 - next after a draw; 1 and 0 after seeding).</summary>
    public bool PositionConsistent => (Left == 1 && Next == 0) || (Next is >= 1 and <= Mt19937.N && Left == Mt19937.N + 1 - Next);

    /// <summary>Words drawn since the last twist (the position within the current block, 0..624).</summary>
    public int Position => Next is >= 0 and <= Mt19937.N ? (int)Next : Mt19937.N;

    /// <exception cref="MalformedInputException">Not 5056 bytes, or a state word or position out of range.</exception>
    public static TorchCpuGeneratorState Parse(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"torch CPU generator state must be {Size} bytes (torch.get_rng_state()), not {bytes.Length}", 0);
        }

        var left = BinaryPrimitives.ReadInt32LittleEndian(bytes[LeftOffset..]);
        var next = BinaryPrimitives.ReadUInt64LittleEndian(bytes[NextOffset..]);
        if (left is < 1 or > Mt19937.N)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"torch CPU generator state: 'left' is {left}, outside 1..{Mt19937.N}", LeftOffset);
        }

        if (next > Mt19937.N)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"torch CPU generator state: 'next' is {next}, outside 0..{Mt19937.N}", NextOffset);
        }

        var words = new uint[Mt19937.N];
        for (var i = 0; i < Mt19937.N; i++)
        {
            var offset = StateOffset + (i * 8);
            var word = BinaryPrimitives.ReadUInt64LittleEndian(bytes[offset..]);
            if (word > uint.MaxValue)
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, $"torch CPU generator state: word {i} is 0x{word:x}, wider than 32 bits", offset);
            }

            words[i] = (uint)word;
        }

        return new TorchCpuGeneratorState
        {
            InitialSeed = BinaryPrimitives.ReadUInt64LittleEndian(bytes[InitialSeedOffset..]),
            Left = left,
            Seeded = BinaryPrimitives.ReadInt32LittleEndian(bytes[SeededOffset..]) != 0,
            Next = (long)next,
            Words = words,
            NormalY = BinaryPrimitives.ReadDoubleLittleEndian(bytes[NormalYOffset..]),
            NormalIsValid = BinaryPrimitives.ReadInt32LittleEndian(bytes[NormalIsValidOffset..]) != 0,
            NextFloatNormalIsValid = bytes[NextFloatNormalValidOffset] != 0,
        };
    }

    /// <summary>Fuzz target: never throws anything but <see cref="MalformedInputException"/>.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        try
        {
            var state = Parse(data);
            _ = SeedFinder.Find(state.Words, RngKind.TorchCpu, 4);
        }
        catch (MalformedInputException)
        {
        }
    }
}

/// <summary>
/// A CUDA generator's state in torch 1.13+ (<c>torch.cuda.get_rng_state()</c>): 16 bytes, <c>u64 seed, i64
/// philox_offset_per_thread</c>. The Philox stream is fully determined by the seed and the offset.
/// </summary>
public sealed record TorchCudaGeneratorState(ulong Seed, long PhiloxOffset)
{
    public const int Size = 16;

    /// <exception cref="MalformedInputException">Not 16 bytes.</exception>
    public static TorchCudaGeneratorState Parse(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"torch CUDA generator state must be {Size} bytes (seed, philox offset), not {bytes.Length}", 0);
        }

        return new TorchCudaGeneratorState(BinaryPrimitives.ReadUInt64LittleEndian(bytes), BinaryPrimitives.ReadInt64LittleEndian(bytes[8..]));
    }

    /// <summary>
    /// Fuzz target: the input as one state and, like the <c>cuda</c> list of an rng file, as consecutive
    /// 16-byte states; throws nothing but <see cref="MalformedInputException"/>.
    /// </summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        for (var at = 0; at + Size <= data.Length; at += Size)
        {
            var state = Parse(data.Slice(at, Size));
            _ = $"seed {state.Seed}, philox offset {state.PhiloxOffset}";
        }

        _ = Parse(data);
    }
}
