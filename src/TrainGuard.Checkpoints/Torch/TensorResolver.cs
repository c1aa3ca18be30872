using TrainGuard.Formats.Torch;
using TrainGuard.Pickle.Objects;
using TrainGuard.Parsing;

namespace TrainGuard.Checkpoints.Torch;

/// <summary>
/// Recognises the calls torch pickles a tensor as (never calling them) and validates what they say
/// against the storage: <c>torch._utils._rebuild_tensor_v2/_v3</c>, <c>_rebuild_tensor</c>,
/// <c>_rebuild_parameter</c>, <c>_rebuild_parameter_with_state</c>, and <c>torch._tensor._rebuild_from_type_v2</c>
/// wrapping any of them.
/// </summary>
internal static class TensorResolver
{
    private const string Utils = "torch._utils";

    /// <summary>True when <paramref name="o"/> is a call torch uses to rebuild a tensor or parameter.</summary>
    public static bool IsRebuild(PyObject o) => o.Callable is PyGlobal g && IsRebuildName(g);

    /// <summary>Resolves a rebuild call to a tensor at <paramref name="path"/>; null when the call is a tensor form without storage bytes (meta, sparse, quantized...).</summary>
    public static TensorRef? Resolve(PyObject o, string path, TorchCheckpoint checkpoint) =>
        o.Callable is PyGlobal g ? ResolveCall(g, o.Arguments, o, path, checkpoint, 0) : null;

    private static TensorRef? ResolveCall(PyGlobal g, IReadOnlyList<PyValue> args, PyObject node, string path, TorchCheckpoint checkpoint, int depth)
    {
        var member = checkpoint.PickleMember;
        if (depth > 4)
        {
            return null;
        }

        if (g.Module == Utils)
        {
            switch (g.Name)
            {
                case "_rebuild_tensor_v2":
                case "_rebuild_tensor_v3":
                case "_rebuild_tensor":
                    return FromStorageCall(node, g.Name, args, path, checkpoint, member);
                case "_rebuild_parameter":
                case "_rebuild_parameter_with_state":
                    {
                        if (args.Count < 2 || args[0] is not PyObject { Callable: PyGlobal dataFunc } data)
                        {
                            MalformedInputException.Throw(InputErrorKind.Syntax, $"tensor '{path}': {g.Name} needs (data, requires_grad, ...) but has {PyRender.ToText(node.Args)}", node.Offset, member);
                            return null;
                        }

                        var inner = ResolveCall(dataFunc, data.Arguments, data, path, checkpoint, depth + 1);
                        return inner is null ? null : inner with { IsParameter = true, RequiresGrad = args[1].AsBool() ?? inner.RequiresGrad, Node = node };
                    }

                default:
                    return null;
            }
        }

        if (g.Module == "torch._tensor" && g.Name is "_rebuild_from_type_v2" or "_rebuild_from_type" && args.Count >= 3 && args[0] is PyGlobal func && IsRebuildName(func) && args[2].AsSequence() is { } innerArgs)
        {
            var inner = ResolveCall(func, innerArgs, node, path, checkpoint, depth + 1);
            var isParameter = args[1] is PyGlobal t && t.Is("torch.nn.parameter", "Parameter");
            return inner is null ? null : inner with { IsParameter = inner.IsParameter || isParameter, Node = node };
        }

        return null;
    }

    /// <summary>Builds and validates a tensor over a storage slice (also used by the legacy tar loader).</summary>
    public static TensorRef Make(string path, StorageSlice slice, long storageOffset, long[] shape, long[] stride, bool requiresGrad, bool isParameter, PyValue node, TorchCheckpoint checkpoint, long? offset, string member)
    {
        var what = path.Length == 0 ? "the root tensor" : $"tensor '{path}'";
        if (shape.Length > checkpoint.Options.MaxRank)
        {
            MalformedInputException.ThrowLimit($"{what}: rank {shape.Length}", checkpoint.Options.MaxRank, offset, member);
        }

        if (shape.Length != stride.Length)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"{what}: size has {shape.Length} dimensions but stride has {stride.Length}", offset, member);
        }

        if (storageOffset < 0)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"{what}: storage_offset {storageOffset:N0} is negative", offset, member);
        }

        long numel = 1;
        long last = storageOffset;
        try
        {
            for (var d = 0; d < shape.Length; d++)
            {
                if (shape[d] < 0)
                {
                    MalformedInputException.Throw(InputErrorKind.Syntax, $"{what}: size[{d}] is {shape[d]:N0} (negative)", offset, member);
                }

                if (stride[d] < 0)
                {
                    MalformedInputException.Throw(InputErrorKind.Syntax, $"{what}: stride[{d}] is {stride[d]:N0} (negative strides do not exist in torch)", offset, member);
                }

                numel = checked(numel * shape[d]);
            }

            if (numel > 0)
            {
                for (var d = 0; d < shape.Length; d++)
                {
                    last = checked(last + checked((shape[d] - 1) * stride[d]));
                }
            }

            _ = checked(numel * slice.Storage.Dtype.ElementSize);
        }
        catch (OverflowException)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"{what}: size [{string.Join(", ", shape)}] with stride [{string.Join(", ", stride)}] at offset {storageOffset:N0} overflows", offset, member);
        }

        if (numel > 0 && last >= slice.Count)
        {
            MalformedInputException.Throw(InputErrorKind.Corrupt, $"{what}: elements up to index {last:N0} (offset {storageOffset:N0}, size [{string.Join(", ", shape)}], stride [{string.Join(", ", stride)}]) lie beyond storage '{slice.Storage.Key}' of {slice.Count:N0} elements", offset, member);
        }

        if (numel == 0 && storageOffset > slice.Count)
        {
            MalformedInputException.Throw(InputErrorKind.Corrupt, $"{what}: storage_offset {storageOffset:N0} lies beyond storage '{slice.Storage.Key}' of {slice.Count:N0} elements", offset, member);
        }

        return new TensorRef
        {
            Path = path,
            Dtype = slice.Storage.Dtype,
            Shape = shape,
            Stride = stride,
            StorageOffset = slice.Offset + storageOffset,
            Storage = slice.Storage,
            ElementCount = numel,
            IsContiguous = IsContiguous(shape, stride, numel),
            RequiresGrad = requiresGrad,
            IsParameter = isParameter,
            Node = node,
        };
    }

    public static bool IsContiguous(IReadOnlyList<long> shape, IReadOnlyList<long> stride, long numel)
    {
        if (numel == 0)
        {
            return true;
        }

        long expected = 1;
        for (var d = shape.Count - 1; d >= 0; d--)
        {
            if (shape[d] == 1)
            {
                continue;
            }

            if (stride[d] != expected)
            {
                return false;
            }

            expected *= shape[d];
        }

        return true;
    }

    private static bool IsRebuildName(PyGlobal g) =>
        (g.Module == Utils && g.Name is "_rebuild_tensor_v2" or "_rebuild_tensor_v3" or "_rebuild_tensor" or "_rebuild_parameter" or "_rebuild_parameter_with_state")
        || (g.Module == "torch._tensor" && g.Name is "_rebuild_from_type_v2" or "_rebuild_from_type");

    private static TensorRef FromStorageCall(PyObject o, string name, IReadOnlyList<PyValue> args, string path, TorchCheckpoint checkpoint, string member)
    {
        var what = path.Length == 0 ? "the root tensor" : $"tensor '{path}'";
        if (args.Count < 4)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"{what}: {name} needs (storage, storage_offset, size, stride, ...) but has {args.Count} arguments", o.Offset, member);
        }

        if (args[0] is not PyPersistentRef r || checkpoint.StorageOf(r) is not { } slice)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"{what}: the storage argument {PyRender.ToText(args[0])} is not a storage of this checkpoint", o.Offset, member);
            return null!;
        }

        var storageOffset = args[1].AsInt64() ?? MalformedInputException.Throw<long>(InputErrorKind.Syntax, $"{what}: storage_offset {PyRender.ToText(args[1])} is not an int", o.Offset, member);
        var shape = Longs(args[2], what, "size", o.Offset, member);
        var stride = Longs(args[3], what, "stride", o.Offset, member);
        var requiresGrad = args.Count > 4 && args[4].AsBool() == true;
        if (name == "_rebuild_tensor_v3" && args.Count > 6 && args[6] is PyGlobal dtypeGlobal)
        {
            var dtype = TorchDtype.FromGlobal(dtypeGlobal.Module, dtypeGlobal.Name)
                ?? MalformedInputException.Throw<TorchDtype>(InputErrorKind.Syntax, $"{what}: dtype {dtypeGlobal.FullName} is not a known torch dtype", o.Offset, member);
            if (dtype != slice.Storage.Dtype)
            {
                MalformedInputException.Throw(InputErrorKind.Unsupported, $"{what}: dtype {dtype.Name} over a {slice.Storage.Dtype.Name} storage is not supported", o.Offset, member);
            }
        }

        var tensor = Make(path, slice, storageOffset, shape, stride, requiresGrad, false, o, checkpoint, o.Offset, member);
        return tensor;
    }

    private static long[] Longs(PyValue v, string what, string field, long offset, string member)
    {
        var items = v.AsSequence();
        if (items is null && v is PyObject { CallableName: "torch.Size" } size && size.Arguments.Count == 1)
        {
            items = size.Arguments[0].AsSequence();
        }

        if (items is null)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"{what}: {field} {PyRender.ToText(v)} is not a tuple of ints", offset, member);
        }

        if (items.Count > 1024)
        {
            MalformedInputException.ThrowLimit($"{what}: {field} length", 1024, offset, member);
        }

        var result = new long[items.Count];
        for (var i = 0; i < items.Count; i++)
        {
            result[i] = items[i].AsInt64() ?? MalformedInputException.Throw<long>(InputErrorKind.Syntax, $"{what}: {field}[{i}] is {PyRender.ToText(items[i])}, not an int that fits in 64 bits", offset, member);
        }

        return result;
    }
}
