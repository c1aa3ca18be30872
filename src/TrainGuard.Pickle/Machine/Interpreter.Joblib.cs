using System.Diagnostics.CodeAnalysis;
using TrainGuard.Parsing;
using Op = TrainGuard.Pickle.Opcodes.PickleOp;

namespace TrainGuard.Pickle.Machine;

/// <summary>joblib class names whose BUILD is followed by raw array bytes in the stream.</summary>
internal static class JoblibArrays
{
    public static bool IsArrayWrapper(string classPath) =>
        classPath is "joblib.numpy_pickle.NumpyArrayWrapper" or "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper";
}

/// <summary>
/// joblib's <c>NumpyPickler</c> writes a <c>NumpyArrayWrapper</c> and, right after the BUILD that sets its
/// state, the array itself: raw bytes (after a padding-length byte and padding when
/// <c>numpy_array_alignment_bytes</c> is set, joblib &gt;= 1.2), or, for object arrays, a complete protocol 2
/// pickle. <c>NumpyUnpickler.load_build</c> reads them from the stream; so do we, or we fail.
/// </summary>
internal sealed partial class Interpreter
{
    private const int DefaultAlignment = 16;

    private int JoblibArray(ReadOnlySpan<byte> data, CallInfo wrapper, ulong state, int op, int pos)
    {
        ulong shape = 0;
        ulong dtype = 0;
        var aligned = false;
        var alignmentKnown = true;

        // REDUCE/INST/OBJ run __init__(subclass, shape, order, dtype, allow_mmap=False, numpy_array_alignment_bytes=16).
        if (wrapper.Opcode is Op.Reduce or Op.Inst or Op.Obj)
        {
            shape = Arg(wrapper.Args, 1);
            dtype = Arg(wrapper.Args, 3);
            var count = ArgCount(wrapper.Args);
            if (count > 5)
            {
                var a = Arg(wrapper.Args, 5);
                alignmentKnown = a != 0;
                aligned = a != 0 && V.Kind(a) != ValKind.None;
            }
            else
            {
                aligned = true;
            }
        }

        var complete = true;
        var found = false;
        Span<ulong> kids = stackalloc ulong[ObjectStore.MaxKept];
        foreach (var dict in StateDicts(state))
        {
            found = true;
            var id = V.Node(dict);
            complete &= _store.IsComplete(id);
            var n = _store.CopyKept(id, kids);
            for (var i = 0; i + 1 < n; i += 2)
            {
                if (V.Kind(kids[i]) != ValKind.Str)
                {
                    continue;
                }

                switch (DecodeName(data, V.Offset(kids[i])))
                {
                    case "shape":
                        shape = kids[i + 1];
                        break;
                    case "dtype":
                        dtype = kids[i + 1];
                        break;
                    case "numpy_array_alignment_bytes":
                        aligned = V.Kind(kids[i + 1]) != ValKind.None;
                        alignmentKnown = true;
                        break;
                }
            }
        }

        if (!found && V.Kind(state) is not (ValKind.None or ValKind.Tuple))
        {
            FailJoblib("its state is not a dict", op);
        }

        if (!complete || !alignmentKnown)
        {
            FailJoblib("its state is too large or was built too far from the BUILD to be read back", op);
        }

        var elements = ElementCount(shape, op);
        var (itemSize, isObject) = ItemSize(data, dtype, op);
        if (isObject)
        {
            return InlineObjectArray(data, pos);
        }

        if (aligned)
        {
            if (pos >= data.Length)
            {
                Fail($"truncated: the joblib array padding length after the BUILD at {op} runs past the end of the input", pos);
            }

            int padding = data[pos];
            pos += 1;
            if (padding > data.Length - pos)
            {
                Fail($"truncated: the joblib array padding ({padding} bytes) after the BUILD at {op} runs past the end of the input", pos - 1, InputErrorKind.Truncated);
            }

            pos += padding;
        }

        if (elements != 0 && itemSize > long.MaxValue / elements)
        {
            FailJoblib("its shape and dtype overflow a 64-bit size", op);
        }

        var size = elements * itemSize;
        if (size > data.Length - pos)
        {
            Fail($"truncated: the joblib array after the BUILD at {op} declares {size:N0} bytes but only {data.Length - pos:N0} remain", pos, InputErrorKind.Truncated);
        }

        SpeculativeScan(data.Slice(pos, (int)size), pos);
        return pos + (int)size;
    }

    private IEnumerable<ulong> StateDicts(ulong state)
    {
        var kind = V.Kind(state);
        if (kind == ValKind.Dict)
        {
            return [state];
        }

        if (kind == ValKind.Tuple && _store.ChildCount(V.Node(state)) == 2)
        {
            var kids = new ulong[ObjectStore.MaxKept];
            var n = _store.CopyKept(V.Node(state), kids);
            return kids.Take(n).Where(v => V.Kind(v) == ValKind.Dict).ToArray();
        }

        return [];
    }

    private long ElementCount(ulong shape, int op)
    {
        var kind = V.Kind(shape);
        if (kind is not (ValKind.Tuple or ValKind.List))
        {
            FailJoblib("its shape is not a tuple of ints", op);
        }

        var id = V.Node(shape);
        Span<ulong> kids = stackalloc ulong[ObjectStore.MaxKept];
        var n = _store.CopyKept(id, kids);
        if (!_store.IsComplete(id) || n != _store.ChildCount(id))
        {
            FailJoblib("its shape has too many dimensions", op);
        }

        long count = 1;
        for (var i = 0; i < n; i++)
        {
            if (V.Kind(kids[i]) != ValKind.Int || V.IntValue(kids[i]) < 0)
            {
                FailJoblib("its shape is not a tuple of non-negative ints", op);
            }

            var dim = V.IntValue(kids[i]);
            if (dim != 0 && count > long.MaxValue / dim)
            {
                FailJoblib("its shape overflows a 64-bit element count", op);
            }

            count *= dim;
        }

        return count;
    }

    private (long Size, bool IsObject) ItemSize(ReadOnlySpan<byte> data, ulong dtype, int op)
    {
        if (CallOf(dtype) is not { } info || StrArg(data, info.Args, 0) is not { Length: > 0 } typeString)
        {
            FailJoblib("its dtype is not numpy.dtype('<type>', ...)", op);
            return default;
        }

        var t = typeString.TrimStart('<', '>', '|', '=');
        if (t.Length == 0)
        {
            FailJoblib("its dtype string is empty", op);
        }

        var letter = t[0];
        if (letter == 'O')
        {
            return (0, true);
        }

        // dtype state: (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])
        if (V.Kind(info.State) == ValKind.Tuple)
        {
            var id = V.Node(info.State);
            Span<ulong> kids = stackalloc ulong[ObjectStore.MaxKept];
            var n = _store.CopyKept(id, kids);
            if (n > 5 && V.Kind(kids[5]) == ValKind.Int && V.IntValue(kids[5]) > 0)
            {
                return (V.IntValue(kids[5]), false);
            }
        }

        var digits = 0;
        while (1 + digits < t.Length && char.IsAsciiDigit(t[1 + digits]))
        {
            digits++;
        }

        if (digits == 0 || digits > 9 || 1 + digits != t.Length)
        {
            FailJoblib($"its dtype '{t}' has no item size", op);
        }

        var size = int.Parse(t.AsSpan(1, digits), provider: System.Globalization.CultureInfo.InvariantCulture);
        return (letter == 'U' ? size * 4L : size, false);
    }

    private int InlineObjectArray(ReadOnlySpan<byte> data, int pos)
    {
        if (_depth + 1 > _limits.MaxNestingDepth)
        {
            MalformedInputException.ThrowLimit("pickle nesting depth", _limits.MaxNestingDepth, pos);
        }

        var sub = PickleMachine.AnalyzeCore(data[pos..], 1, _limits, _ct, _depth + 1, _deadline);
        _a.Nested.Add(new NestedPickle(pos, "joblib inline", sub));
        if (sub.Error is { } error)
        {
            throw MalformedInputException.Create(
                error.Kind,
                $"the inline pickle of a joblib object array is malformed at offset {pos + (error.Offset ?? 0)}: {error.Message}",
                pos + (error.Offset ?? 0),
                inner: error);
        }

        return pos + (int)sub.EndOffset;
    }

    /// <summary>
    /// A plain <c>pickle.load</c> would read the array bytes as opcodes: if they do anything, say so, since a
    /// file cannot tell which loader will open it.
    /// </summary>
    private void SpeculativeScan(ReadOnlySpan<byte> region, int pos)
    {
        if (region.IsEmpty || _depth + 1 > _limits.MaxNestingDepth)
        {
            return;
        }

        var limits = _limits with
        {
            MaxObjects = Math.Min(_limits.MaxObjects, 100_000),
            MaxStackDepth = Math.Min(_limits.MaxStackDepth, 100_000),
            MaxMemoEntries = Math.Min(_limits.MaxMemoEntries, 100_000),
        };
        var sub = PickleMachine.AnalyzeCore(region, null, limits, _ct, _depth + 1, _deadline);
        if (sub.Globals.Count > 0 || sub.Calls.Count > 0 || sub.PersistentIds.Count > 0)
        {
            _a.Nested.Add(new NestedPickle(pos, "joblib array bytes read as pickle opcodes", sub));
        }
    }

    [DoesNotReturn]
    private static void FailJoblib(string why, int op) =>
        Fail($"cannot determine the length of the joblib array data after this BUILD: {why}", op);
}
