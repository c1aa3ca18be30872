using System.Globalization;
using TrainGuard.Pickle.Objects;
using TrainGuard.Parsing;

namespace TrainGuard.Checkpoints.Torch;

/// <summary>A leaf of a checkpoint's object tree: a tensor (<see cref="Tensor"/> set) or any other value, with its dotted path.</summary>
public sealed record TorchTreeEntry(string Path, PyValue Value, TensorRef? Tensor)
{
    public bool IsTensor => Tensor is not null;
}

/// <summary>
/// Walks an object tree depth-first: dicts (and OrderedDict-like objects) by key, lists, tuples and sets by
/// index; a tensor is a leaf; another object is a leaf too, and its state and items are walked for tensors
/// inside it. Cycles are cut (a container already on the path is not entered again); depth and visits are bounded.
/// </summary>
internal static class TorchTreeWalker
{
    public static List<TorchTreeEntry> Walk(PyValue root, TorchCheckpoint checkpoint)
    {
        var state = new WalkState(checkpoint);
        Visit(root, string.Empty, 0, state);
        return state.Entries;
    }

    private static void Visit(PyValue value, string path, int depth, WalkState s)
    {
        if (++s.Visits > s.Checkpoint.Options.MaxWalkVisits)
        {
            MalformedInputException.ThrowLimit("values visited while walking the object tree (shared sub-trees count once per path)", s.Checkpoint.Options.MaxWalkVisits, value.Offset, s.Checkpoint.PickleMember);
        }

        if (depth > s.Checkpoint.Options.MaxWalkDepth)
        {
            MalformedInputException.ThrowLimit("nesting depth of the object tree", s.Checkpoint.Options.MaxWalkDepth, value.Offset, s.Checkpoint.PickleMember);
        }

        switch (value)
        {
            case PyObject o when TensorResolver.IsRebuild(o):
                {
                    var tensor = s.Checkpoint.TensorOf(o);
                    if (tensor is null)
                    {
                        tensor = TensorResolver.Resolve(o, path, s.Checkpoint);
                        if (tensor is not null)
                        {
                            s.Checkpoint.Remember(o, tensor);
                        }
                    }
                    else if (tensor.Path != path)
                    {
                        tensor = tensor with { Path = path };
                    }

                    s.Entries.Add(new TorchTreeEntry(path, o, tensor));
                    return;
                }

            case PyPersistentRef r when s.Checkpoint.PersistentTensor(r) is { } tarTensor:
                s.Checkpoint.Remember(r, tarTensor);
                s.Entries.Add(new TorchTreeEntry(path, r, tarTensor with { Path = path, Node = r }));
                return;
        }

        if (value is not PyContainer container)
        {
            s.Entries.Add(new TorchTreeEntry(path, value, null));
            return;
        }

        if (!s.OnPath.Add(container))
        {
            return;
        }

        try
        {
            switch (container)
            {
                case PyDict d:
                    Entries(d, path, depth, s);
                    break;
                case PyTuple or PyList or PySet:
                    Items(container.AsSequence()!, path, depth, s);
                    break;
                case PyObject o:
                    if (o.AsDict() is { } mapping)
                    {
                        Entries(mapping, path, depth, s);
                        Items(o.Appended, path, depth, s);
                        break;
                    }

                    s.Entries.Add(new TorchTreeEntry(path, o, null));
                    if (o.State is { } st)
                    {
                        if (st.AsDict() is { } stateDict)
                        {
                            Entries(stateDict, path, depth, s);
                        }
                        else
                        {
                            Visit(st, Join(path, "__state__"), depth + 1, s);
                        }
                    }

                    Items(o.Appended, path, depth, s);
                    break;
            }
        }
        finally
        {
            s.OnPath.Remove(container);
        }
    }

    private static void Entries(PyDict d, string path, int depth, WalkState s)
    {
        foreach (var (key, v) in d.Items)
        {
            Visit(v, Join(path, Segment(key)), depth + 1, s);
        }
    }

    private static void Items(IReadOnlyList<PyValue> items, string path, int depth, WalkState s)
    {
        for (var i = 0; i < items.Count; i++)
        {
            Visit(items[i], Join(path, i.ToString(CultureInfo.InvariantCulture)), depth + 1, s);
        }
    }

    private static string Segment(PyValue key) => key switch
    {
        PyStr str => str.Value,
        PyInt i => i.Value.ToString(CultureInfo.InvariantCulture),
        _ => PyRender.ToText(key, maxDepth: 2, maxItems: 4, maxLength: 80),
    };

    private static string Join(string path, string segment) => path.Length == 0 ? segment : path + "." + segment;

    private sealed class WalkState(TorchCheckpoint checkpoint)
    {
        public TorchCheckpoint Checkpoint { get; } = checkpoint;

        public List<TorchTreeEntry> Entries { get; } = [];

        public HashSet<PyValue> OnPath { get; } = new(ReferenceEqualityComparer.Instance);

        public long Visits { get; set; }
    }
}
