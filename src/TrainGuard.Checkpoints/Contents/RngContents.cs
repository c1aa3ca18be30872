using System.Numerics;
using TrainGuard.Checkpoints.Rng;
using TrainGuard.Checkpoints.Torch;
using TrainGuard.Parsing;
using TrainGuard.Pickle.Objects;

namespace TrainGuard.Checkpoints.Contents;

/// <summary>One generator state found in a checkpoint, decoded, with the seeding it was traced back to.</summary>
/// <param name="Name">Where it was: <c>python</c>, <c>numpy</c>, <c>cpu</c>.</param>
/// <param name="Kind">Which library's seeding applies.</param>
/// <param name="Words">The 624 MT19937 words.</param>
/// <param name="Position">Words drawn from the current block.</param>
/// <param name="Origin">The seeding the state rewinds to (or not found within the bound).</param>
/// <param name="DeclaredSeedField">torch only: the seed stored in the state (<c>torch.initial_seed()</c>).</param>
/// <param name="PositionConsistent">torch only: <c>left</c> and <c>next</c> agree.</param>
/// <param name="GaussCached">A cached normal sample is waiting.</param>
public sealed record RngGenerator(string Name, RngKind Kind, uint[] Words, int Position, SeedOrigin Origin, ulong? DeclaredSeedField, bool PositionConsistent, bool GaussCached)
{
    public long? WordsDrawn => Origin.Found ? Origin.WordsDrawn(Position) : null;

    /// <summary>For torch: the seed field disagrees with the seeding the words rewind to (low 32 bits, which is all the words carry).</summary>
    public bool SeedFieldContradictsState => DeclaredSeedField is { } seedField && Origin.Found && SeedFinder.Low32(seedField) != SeedFinder.Low32(Origin.Seed);
}

/// <summary>An <c>rng_state.pth</c> / <c>rng_state_&lt;rank&gt;.pth</c> file: the generators it holds and what could not be decoded.</summary>
public sealed record RngFileContents
{
    public required string File { get; init; }

    /// <summary>The rank from <c>rng_state_&lt;rank&gt;.pth</c>; null for <c>rng_state.pth</c> or a state found elsewhere.</summary>
    public int? Rank { get; init; }

    /// <summary>Dotted path of the RNG dict inside the file ("" at the root).</summary>
    public string TreePath { get; init; } = string.Empty;

    public IReadOnlyList<RngGenerator> Generators { get; init; } = [];

    public IReadOnlyList<TorchCudaGeneratorState> Cuda { get; init; } = [];

    /// <summary>Keys of the RNG dict this reader does not decode (<c>xla</c>, <c>npu</c>, <c>mps</c>...).</summary>
    public IReadOnlyList<string> OtherKeys { get; init; } = [];

    /// <summary>Parts that were present but could not be decoded, with the reason.</summary>
    public IReadOnlyList<string> Problems { get; init; } = [];
}

/// <summary>Reads the RNG dict the Trainer saves (<c>{python, numpy, cpu, cuda}</c>) from a symbolic pickle tree.</summary>
internal static class RngReader
{
    private static readonly HashSet<string> Known = new(StringComparer.Ordinal) { "python", "numpy", "cpu", "cuda" };

    /// <summary>True when <paramref name="dict"/> looks like an RNG dict (at least two of python/numpy/cpu, or cpu alone with a 5056-byte tensor).</summary>
    public static bool Looks(PyDict dict)
    {
        var keys = dict.StringKeys.ToHashSet(StringComparer.Ordinal);
        return (keys.Contains("python") ? 1 : 0) + (keys.Contains("numpy") ? 1 : 0) + (keys.Contains("cpu") ? 1 : 0) >= 2;
    }

    /// <summary>
    /// True for a bare <c>torch.get_rng_state()</c> tensor kept under a key that says so (<c>rng</c>, <c>rng_state</c>,
    /// <c>torch_rng_state</c>...) in a single-file checkpoint: uint8, exactly one generator state long.
    /// </summary>
    public static bool LooksLikeTorchState(PyValue value, TorchCheckpoint checkpoint, string treePath) =>
        treePath.Split('.')[^1].Contains("rng", StringComparison.OrdinalIgnoreCase)
        && checkpoint.TensorOf(value) is { } tensor
        && tensor.Dtype.Name == "uint8"
        && tensor.ByteSize == TorchCpuGeneratorState.Size;

    /// <summary>Reads a bare torch CPU generator state tensor found at <paramref name="treePath"/> (see <see cref="LooksLikeTorchState"/>).</summary>
    public static RngFileContents ReadTorchState(PyValue value, TorchCheckpoint checkpoint, string file, string treePath, long maxTwists, CancellationToken ct)
    {
        var generators = new List<RngGenerator>();
        var problems = new List<string>();
        try
        {
            var cpu = TorchCpuGeneratorState.Parse(TensorBytes(value, checkpoint, treePath, TorchCpuGeneratorState.Size));
            generators.Add(new RngGenerator("cpu", RngKind.TorchCpu, cpu.Words, cpu.Position,
                SeedFinder.Find(cpu.Words, RngKind.TorchCpu, maxTwists, ct), cpu.InitialSeed, cpu.PositionConsistent, cpu.NormalIsValid || cpu.NextFloatNormalIsValid));
        }
        catch (MalformedInputException ex)
        {
            problems.Add($"{treePath}: {ex.Message}");
        }

        return new RngFileContents { File = file, TreePath = treePath, Generators = generators, Problems = problems };
    }

    public static RngFileContents Read(PyDict dict, TorchCheckpoint checkpoint, string file, int? rank, string treePath, long maxTwists, CancellationToken ct)
    {
        var generators = new List<RngGenerator>();
        var problems = new List<string>();
        var cuda = new List<TorchCudaGeneratorState>();
        foreach (var (keyValue, value) in dict.Items)
        {
            var key = keyValue.AsString();
            try
            {
                switch (key)
                {
                    case "python":
                        var python = Python(value);
                        generators.Add(new RngGenerator("python", RngKind.Python, python.Words, python.Position,
                            SeedFinder.Find(python.Words, RngKind.Python, maxTwists, ct), null, true, python.GaussNext is not null));
                        break;
                    case "numpy":
                        var numpy = Numpy(value);
                        generators.Add(new RngGenerator("numpy", RngKind.Numpy, numpy.Words, numpy.Position,
                            SeedFinder.Find(numpy.Words, RngKind.Numpy, maxTwists, ct), null, true, numpy.HasGauss));
                        break;
                    case "cpu":
                        var cpu = TorchCpuGeneratorState.Parse(TensorBytes(value, checkpoint, "cpu", TorchCpuGeneratorState.Size));
                        generators.Add(new RngGenerator("cpu", RngKind.TorchCpu, cpu.Words, cpu.Position,
                            SeedFinder.Find(cpu.Words, RngKind.TorchCpu, maxTwists, ct), cpu.InitialSeed, cpu.PositionConsistent, cpu.NormalIsValid || cpu.NextFloatNormalIsValid));
                        break;
                    case "cuda":
                        var states = value.AsSequence() is { } list && checkpoint.TensorOf(value) is null ? list : [value];
                        foreach (var state in states.Take(1024))
                        {
                            cuda.Add(TorchCudaGeneratorState.Parse(TensorBytes(state, checkpoint, "cuda", TorchCudaGeneratorState.Size)));
                        }

                        break;
                }
            }
            catch (MalformedInputException ex)
            {
                problems.Add($"{key}: {ex.Message}");
            }
        }

        return new RngFileContents
        {
            File = file,
            Rank = rank,
            TreePath = treePath,
            Generators = generators,
            Cuda = cuda,
            OtherKeys = dict.Items.Select(kv => PlainValues.KeyText(kv.Key)).Where(k => !Known.Contains(k)).ToList(),
            Problems = problems,
        };
    }

    /// <summary><c>(3, (624 words..., index), gauss_next)</c>.</summary>
    public static PythonRandomState Python(PyValue value)
    {
        if (value.AsSequence() is not { Count: 3 } parts || parts[1].AsSequence() is not { } ints)
        {
            return MalformedInputException.Throw<PythonRandomState>(InputErrorKind.Syntax, "Python random state is not (version, (624 words, index), gauss_next)", value.Offset);
        }

        var version = parts[0].AsInt64() ?? -1;
        var words = new List<BigInteger>(ints.Count);
        foreach (var item in ints.Take(Mt19937.N + 2))
        {
            words.Add(item.AsBigInteger() ?? MalformedInputException.Throw<BigInteger>(InputErrorKind.Syntax, "Python random state holds a value that is not an integer", item.Offset));
        }

        if (ints.Count != Mt19937.N + 1)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"Python random state must hold {Mt19937.N + 1} integers, not {ints.Count}", parts[1].Offset);
        }

        var gauss = parts[2].IsNone ? (double?)null : parts[2].AsDouble() ?? MalformedInputException.Throw<double>(InputErrorKind.Syntax, "Python random state gauss_next is neither None nor a float", parts[2].Offset);
        return PythonRandomState.FromParts(version, words, gauss);
    }

    /// <summary><c>('MT19937', ndarray(uint32[624]), pos, has_gauss, cached_gaussian)</c>: the array as numpy pickles it (<c>_reconstruct</c> + <c>BUILD</c> with the raw bytes).</summary>
    public static NumpyRandomState Numpy(PyValue value)
    {
        if (value.AsSequence() is not { Count: 5 } parts)
        {
            return MalformedInputException.Throw<NumpyRandomState>(InputErrorKind.Syntax, "numpy random state is not ('MT19937', key, pos, has_gauss, cached_gaussian)", value.Offset);
        }

        var name = parts[0].AsString() ?? MalformedInputException.Throw<string>(InputErrorKind.Syntax, "numpy random state: the algorithm name is not a string", parts[0].Offset);
        var (bytes, order) = NumpyArrayBytes(parts[1]);
        var pos = parts[2].AsInt64() ?? MalformedInputException.Throw<long>(InputErrorKind.Syntax, "numpy random state: pos is not an integer", parts[2].Offset);
        var hasGauss = parts[3].AsInt64() ?? (parts[3].AsBool() is { } b ? (b ? 1 : 0) : MalformedInputException.Throw<long>(InputErrorKind.Syntax, "numpy random state: has_gauss is not an integer", parts[3].Offset));
        var gauss = parts[4].AsDouble() ?? MalformedInputException.Throw<double>(InputErrorKind.Syntax, "numpy random state: cached_gaussian is not a float", parts[4].Offset);
        return NumpyRandomState.FromParts(name, bytes, order, pos, hasGauss, gauss);
    }

    /// <summary>The raw bytes and byte order of a pickled uint32 numpy array (<c>numpy.core.multiarray._reconstruct</c> or <c>numpy._core...</c>).</summary>
    private static (byte[] Bytes, char Order) NumpyArrayBytes(PyValue value)
    {
        if (value is not PyObject { CallableName: "numpy.core.multiarray._reconstruct" or "numpy._core.multiarray._reconstruct" } array
            || array.State?.AsSequence() is not { Count: 5 } state)
        {
            return MalformedInputException.Throw<(byte[], char)>(InputErrorKind.Syntax, $"numpy random state key is not a pickled numpy array: {PyRender.ToText(value, 2, 4, 120)}", value.Offset);
        }

        var order = '<';
        if (state[2] is PyObject { CallableName: "numpy.dtype" } dtype)
        {
            var code = dtype.Arguments.Count > 0 ? dtype.Arguments[0].AsString() : null;
            if (code is not ("u4" or "uint32"))
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, $"numpy random state key has dtype '{code}', not uint32", dtype.Offset);
            }

            if (dtype.State?.AsSequence() is { Count: >= 2 } dtypeState && dtypeState[1].AsString() is { Length: 1 } o)
            {
                order = o[0];
            }
        }
        else
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "numpy random state key has no numpy.dtype", state[2].Offset);
        }

        var bytes = state[4].AsBytes() ?? MalformedInputException.Throw<byte[]>(InputErrorKind.Syntax, "numpy random state key data is not raw bytes", state[4].Offset);
        return (bytes, order);
    }

    private static byte[] TensorBytes(PyValue value, TorchCheckpoint checkpoint, string what, int expected)
    {
        if (checkpoint.TensorOf(value) is not { } tensor)
        {
            return MalformedInputException.Throw<byte[]>(InputErrorKind.Syntax, $"'{what}' is not a tensor: {PyRender.ToText(value, 2, 4, 120)}", value.Offset);
        }

        if (tensor.ByteSize != expected)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"'{what}' tensor is {tensor.ByteSize} bytes ({tensor.Dtype.Name}[{string.Join(", ", tensor.Shape)}]); a generator state is {expected}", value.Offset);
        }

        return checkpoint.ReadTensorBytes(tensor, expected);
    }
}
