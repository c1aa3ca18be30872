namespace TrainGuard.Review.Parsing;

/// <summary>
/// One node of a Python syntax tree in the reduced, parser-neutral shape the analyzer reads. Both parsers (tree-sitter
/// and the <c>ast</c> fallback) produce it; the conventions per <see cref="Kind"/>:
/// <list type="bullet">
/// <item><c>Call</c>: <c>Children[0]</c> the callee, then positional arguments and <c>Keyword</c> nodes (<see cref="Name"/> the
/// argument name, null for <c>**kwargs</c>; <c>Children[0]</c> the value).</item>
/// <item><c>Attribute</c>: <see cref="Name"/> the attribute, <c>Children[0]</c> the object. <c>Name</c>: <see cref="Name"/> the identifier.</item>
/// <item><c>Str</c> (<see cref="Value"/> the text), <c>Num</c> (<see cref="Value"/> the literal), <c>Const</c> (<see cref="Name"/> True, False or None),
/// <c>FString</c> (children: the interpolated expressions).</item>
/// <item><c>Assign</c>: targets then the value (last child). <c>AugAssign</c>: <see cref="Name"/> the operator (<c>*=</c>), target, value.</item>
/// <item><c>If</c>/<c>While</c>: test, body <c>Block</c>, optional else <c>Block</c>. <c>For</c>: target, iterable, body <c>Block</c>.</item>
/// <item><c>FunctionDef</c>/<c>ClassDef</c>: <see cref="Name"/> the name, children: a body <c>Block</c>.</item>
/// <item><c>Compare</c>: <see cref="Name"/> the operators joined by commas, children: the operands. <c>UnaryOp</c>, <c>BinOp</c>,
/// <c>BoolOp</c>: <see cref="Name"/> the operator, the operands. <c>Subscript</c>: value, index.</item>
/// <item><c>Import</c>/<c>ImportFrom</c>: <see cref="Value"/> the module (ImportFrom), children <c>Alias</c> nodes
/// (<see cref="Name"/> the imported dotted name, <see cref="Value"/> the alias or null).</item>
/// <item>Anything else keeps the parser's own kind and its children (<c>Block</c>, <c>Expr</c>, <c>Return</c>, <c>With</c>, lists...).</item>
/// </list>
/// </summary>
public sealed class PyNode
{
    public PyNode(string kind, int line, string? name = null, string? value = null, IReadOnlyList<PyNode>? children = null)
    {
        Kind = kind;
        Line = line;
        Name = name;
        Value = value;
        Children = children ?? [];
    }

    public string Kind { get; }

    /// <summary>1-based line where the node starts.</summary>
    public int Line { get; }

    public string? Name { get; }

    public string? Value { get; }

    public IReadOnlyList<PyNode> Children { get; }

    public PyNode? Child(int index) => index < Children.Count ? Children[index] : null;

    /// <summary>The node and every node below it, depth first.</summary>
    public IEnumerable<PyNode> DescendantsAndSelf()
    {
        var stack = new Stack<PyNode>();
        stack.Push(this);
        while (stack.Count > 0)
        {
            var node = stack.Pop();
            yield return node;
            for (var i = node.Children.Count - 1; i >= 0; i--)
            {
                stack.Push(node.Children[i]);
            }
        }
    }

    /// <summary>The node as a short Python-like text, for messages and for matching a finding before and after a change.</summary>
    public override string ToString() => PyNodeText.Render(this);
}
