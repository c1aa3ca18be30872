namespace TrainGuard.Pickle.Objects;

/// <summary>Walks a value graph read by <see cref="PickleObjectReader"/>: each container once, bounded.</summary>
public static class PyWalk
{
    /// <summary>Every call result (<see cref="PyObject"/>) reachable from <paramref name="root"/>, visiting at most <paramref name="maxNodes"/> containers.</summary>
    public static IEnumerable<PyObject> Objects(PyValue root, int maxNodes = 2_000_000)
    {
        ArgumentNullException.ThrowIfNull(root);
        var seen = new HashSet<PyValue>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<PyValue>();
        stack.Push(root);
        var budget = maxNodes;
        while (stack.Count > 0 && budget-- > 0)
        {
            var value = stack.Pop();
            if (value is not PyContainer || !seen.Add(value))
            {
                continue;
            }

            switch (value)
            {
                case PyObject o:
                    yield return o;
                    Push(stack, o.Args);
                    Push(stack, o.Kwargs);
                    Push(stack, o.State);
                    foreach (var item in o.Appended)
                    {
                        Push(stack, item);
                    }

                    Push(stack, o.Items);
                    break;
                case PyDict d:
                    foreach (var (key, item) in d.Items)
                    {
                        Push(stack, key);
                        Push(stack, item);
                    }

                    break;
                default:
                    foreach (var item in value.AsSequence() ?? [])
                    {
                        Push(stack, item);
                    }

                    break;
            }
        }
    }

    private static void Push(Stack<PyValue> stack, PyValue? value)
    {
        if (value is PyContainer)
        {
            stack.Push(value);
        }
    }
}
