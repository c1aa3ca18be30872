using System.Globalization;
using TrainGuard.Formats.Torch;
using TrainGuard.Parsing;
using TrainGuard.Pickle.Objects;

namespace TrainGuard.Scanning.Scanner;

/// <summary>
/// Checks a torch checkpoint's tensors against their storages, as the loader would use them: each storage must be
/// there and hold at least its declared element count × element size (torch 1.13 builds a storage of the declared
/// size over a shorter zip record and reads past its end), and each tensor's offset, sizes and strides must stay
/// inside its storage (<c>Tensor.set_</c> refuses otherwise). Reads the object pickle with the non-executing
/// <see cref="PickleObjectReader"/>; nothing is imported or called.
/// </summary>
internal static class TorchStorageCheck
{
    /// <summary>Object pickles larger than this are not checked (their scan is unaffected).</summary>
    private const int MaxPickleBytes = 64 * 1024 * 1024;

    private const int MaxNodesVisited = 2_000_000;
    private const int MaxProblems = 20;

    private static readonly PickleObjectLimits Limits = new() { MaxPickleBytes = MaxPickleBytes, MaxNodes = 4_000_000, MaxItems = 8_000_000 };

    /// <summary>One problem: what is wrong, and the storage member (or key) it concerns.</summary>
    public readonly record struct Problem(string Message, string Storage);

    /// <summary>
    /// Checks the object pickle <paramref name="pickle"/>. <paramref name="storageBytes"/> gives the byte length of
    /// the storage with a key (null when the loader would not find it).
    /// </summary>
    public static IReadOnlyList<Problem> Check(ReadOnlySpan<byte> pickle, Func<string, (long Bytes, string Name)?> storageBytes)
    {
        if (pickle.Length > MaxPickleBytes)
        {
            return [];
        }

        PickleObjectResult result;
        try
        {
            result = PickleObjectReader.Read(pickle, Limits);
        }
        catch (MalformedInputException)
        {
            return []; // the scan of the same pickle reports why it does not parse
        }

        var problems = new List<Problem>();
        var storages = new Dictionary<string, (long Numel, int ElementSize, string Type)>(StringComparer.Ordinal);
        foreach (var reference in result.PersistentRefs)
        {
            if (StorageId(reference) is not { } id)
            {
                continue;
            }

            if (!storages.TryAdd(id.Key, (id.Numel, id.ElementSize, id.Type)))
            {
                continue;
            }

            var stored = storageBytes(id.Key);
            var need = id.Numel * (long)id.ElementSize;
            if (stored is not { } s)
            {
                Add(problems, $"storage '{id.Key}' is not in the checkpoint: the loader fails when it reaches the tensor that needs it ({id.Numel:N0} elements of {id.Type})", id.Key);
            }
            else if (s.Bytes < need)
            {
                Add(problems, $"storage '{s.Name}' holds {s.Bytes:N0} bytes but its persistent id declares {id.Numel:N0} elements of {id.Type} ({need:N0} bytes): the loader builds a storage of the declared size over it and reads past its end", s.Name);
            }
        }

        foreach (var tensor in Tensors(result.Root))
        {
            if (StorageId(tensor.Storage) is not { } id || tensor.Args.Count < 4)
            {
                continue;
            }

            var offset = tensor.Args[1].AsInt64();
            var sizes = Longs(tensor.Args[2]);
            var strides = Longs(tensor.Args[3]);
            if (offset is not { } o || sizes is null || strides is null || sizes.Length != strides.Length)
            {
                continue;
            }

            var extent = Extent(o, sizes, strides);
            if (extent is null || extent > id.Numel)
            {
                Add(problems, $"a tensor at storage offset {o} with sizes ({Join(sizes)}) and strides ({Join(strides)}) reaches element {(extent is { } e ? e.ToString("N0", CultureInfo.InvariantCulture) : "beyond any storage")} of storage '{id.Key}', which has {id.Numel:N0}", id.Key);
            }
        }

        return problems;
    }

    /// <summary>One past the last element a view uses (0 for an empty tensor), or null for a negative offset or stride or an overflow.</summary>
    internal static long? Extent(long offset, long[] sizes, long[] strides)
    {
        if (offset < 0)
        {
            return null;
        }

        long last = 0;
        for (var i = 0; i < sizes.Length; i++)
        {
            if (sizes[i] < 0 || strides[i] < 0)
            {
                return null;
            }

            if (sizes[i] == 0)
            {
                return 0;
            }

            try
            {
                last = checked(last + ((sizes[i] - 1) * strides[i]));
            }
            catch (OverflowException)
            {
                return null;
            }
        }

        try
        {
            return checked(offset + last + 1);
        }
        catch (OverflowException)
        {
            return null;
        }
    }

    private static void Add(List<Problem> problems, string message, string storage)
    {
        if (problems.Count < MaxProblems)
        {
            problems.Add(new Problem(message, storage));
        }
    }

    private static string Join(long[] values) => string.Join(", ", values.Select(v => v.ToString(CultureInfo.InvariantCulture)));

    /// <summary><c>('storage', torch.FloatStorage, key, location, numel)</c>: the zip format's storage id (legacy ids have a sixth element, a view).</summary>
    private static (string Key, long Numel, int ElementSize, string Type)? StorageId(PyValue? value)
    {
        if (value is not PyPersistentRef { Id: PyTuple { Count: 5 } id } || id[0].AsString() != "storage" || id[1] is not PyGlobal type)
        {
            return null;
        }

        var key = id[2].AsString();
        var numel = id[4].AsInt64();
        if (key is null || numel is not { } n || n < 0)
        {
            return null;
        }

        var dtype = TorchDtype.FromStorageClass(type.Name);
        return dtype is null ? null : (key, n, dtype.ElementSize, type.FullName);
    }

    private static long[]? Longs(PyValue value)
    {
        var items = value.AsSequence();
        if (items is null && value is PyObject { CallableName: "torch.Size" } size && size.Arguments.Count == 1)
        {
            items = size.Arguments[0].AsSequence();
        }

        if (items is null)
        {
            return null;
        }

        var result = new long[items.Count];
        for (var i = 0; i < items.Count; i++)
        {
            if (items[i].AsInt64() is not { } v)
            {
                return null;
            }

            result[i] = v;
        }

        return result;
    }

    private readonly record struct TensorCall(PyValue Storage, IReadOnlyList<PyValue> Args);

    /// <summary>Every <c>_rebuild_tensor(_v2/_v3)</c> call reachable from the root (bounded, each node once).</summary>
    private static IEnumerable<TensorCall> Tensors(PyValue root) =>
        PyWalk.Objects(root, MaxNodesVisited)
            .Where(o => o.CallableName is "torch._utils._rebuild_tensor_v2" or "torch._utils._rebuild_tensor_v3" or "torch._utils._rebuild_tensor" && o.Arguments.Count > 0)
            .Select(o => new TensorCall(o.Arguments[0], o.Arguments));
}
