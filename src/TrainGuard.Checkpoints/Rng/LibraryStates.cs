using System.Buffers.Binary;
using TrainGuard.Parsing;

namespace TrainGuard.Checkpoints.Rng;

/// <summary>Which library a generator state belongs to (each seeds MT19937 its own way).</summary>
public enum RngKind
{
    /// <summary><c>torch.get_rng_state()</c>: <c>init_genrand</c> with the seed's low 32 bits.</summary>
    TorchCpu,

    /// <summary><c>numpy.random.get_state()</c> (legacy RandomState): <c>init_genrand(uint32 seed)</c>.</summary>
    Numpy,

    /// <summary><c>random.getstate()</c>: <c>init_by_array</c> over the 32-bit words of <c>abs(seed)</c>.</summary>
    Python,
}

/// <summary>
/// numpy's legacy state tuple <c>('MT19937', uint32[624], pos, has_gauss, cached_gaussian)</c>, as
/// <c>numpy.random.get_state()</c> returns it and the Trainer saves it in <c>rng_state.pth</c>.
/// </summary>
public sealed record NumpyRandomState
{
    public required uint[] Words { get; init; }

    /// <summary>Words drawn from the current block (624 right after seeding: the next draw twists).</summary>
    public required int Position { get; init; }

    public required bool HasGauss { get; init; }

    public required double CachedGaussian { get; init; }

    /// <summary>
    /// Builds the state from the tuple's parts: the key array's raw bytes (624 × 4, in
    /// <paramref name="byteOrder"/> <c>'&lt;'</c>, <c>'&gt;'</c>, <c>'='</c> or <c>'|'</c>), its position and gauss cache.
    /// </summary>
    /// <exception cref="MalformedInputException">Wrong algorithm name, array size or position.</exception>
    public static NumpyRandomState FromParts(string algorithm, ReadOnlySpan<byte> keyBytes, char byteOrder, long position, long hasGauss, double cachedGaussian)
    {
        if (algorithm != "MT19937")
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"numpy random state names algorithm '{algorithm}', not 'MT19937'", 0);
        }

        if (keyBytes.Length != Mt19937.N * 4)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"numpy MT19937 key must be {Mt19937.N} uint32 words ({Mt19937.N * 4} bytes), not {keyBytes.Length} bytes", 0);
        }

        if (position is < 0 or > Mt19937.N)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"numpy MT19937 position is {position}, outside 0..{Mt19937.N}", 0);
        }

        var bigEndian = byteOrder == '>';
        var words = new uint[Mt19937.N];
        for (var i = 0; i < words.Length; i++)
        {
            var slice = keyBytes.Slice(i * 4, 4);
            words[i] = bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(slice) : BinaryPrimitives.ReadUInt32LittleEndian(slice);
        }

        return new NumpyRandomState { Words = words, Position = (int)position, HasGauss = hasGauss != 0, CachedGaussian = cachedGaussian };
    }
}

/// <summary>CPython's <c>random.getstate()</c>: <c>(3, (624 words..., index), gauss_next)</c>.</summary>
public sealed record PythonRandomState
{
    public required int Version { get; init; }

    public required uint[] Words { get; init; }

    /// <summary>Words drawn from the current block (624 right after seeding).</summary>
    public required int Position { get; init; }

    public required double? GaussNext { get; init; }

    /// <exception cref="MalformedInputException">Not version 3, not 625 integers, a word over 32 bits or an index out of range.</exception>
    public static PythonRandomState FromParts(long version, IReadOnlyList<System.Numerics.BigInteger> internalState, double? gaussNext)
    {
        if (version != 3)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"Python random state version is {version}; only version 3 (Python 3) is understood", 0);
        }

        if (internalState.Count != Mt19937.N + 1)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"Python random state must hold {Mt19937.N + 1} integers (624 words and the index), not {internalState.Count}", 0);
        }

        var words = new uint[Mt19937.N];
        for (var i = 0; i < Mt19937.N; i++)
        {
            var value = internalState[i];
            if (value.Sign < 0 || value > uint.MaxValue)
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, $"Python random state word {i} ({value}) is not a 32-bit unsigned integer", 0);
            }

            words[i] = (uint)value;
        }

        var index = internalState[Mt19937.N];
        if (index.Sign < 0 || index > Mt19937.N)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"Python random state index is {index}, outside 0..{Mt19937.N}", 0);
        }

        return new PythonRandomState { Version = 3, Words = words, Position = (int)index, GaussNext = gaussNext };
    }
}
