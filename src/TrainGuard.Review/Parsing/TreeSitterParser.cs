using System.Runtime.InteropServices;
using System.Text;
using static TrainGuard.Review.Parsing.TreeSitterNative;

namespace TrainGuard.Review.Parsing;

/// <summary>
/// The primary parser: tree-sitter-python (error-tolerant: Python 3.12 syntax, Python 2 files and conflict markers give a
/// tree with error nodes), its concrete syntax tree reduced to <see cref="PyNode"/>s.
/// </summary>
public sealed class TreeSitterParser : IPythonParser
{
    /// <summary>Deeper nesting is cut (kept as an <c>Other</c> node without children), so a hostile file cannot exhaust the stack.</summary>
    public const int MaxDepth = 400;

    private IntPtr _parser;

    private TreeSitterParser(IntPtr parser) => _parser = parser;

    public string Name => "tree-sitter";

    /// <summary>Why tree-sitter cannot be used on this machine, or null.</summary>
    public static string? Unavailable => Problem;

    /// <summary>A parser, or null when the native library is not available (<see cref="Unavailable"/> says why).</summary>
    public static TreeSitterParser? TryCreate()
    {
        if (Problem is not null)
        {
            return null;
        }

        var parser = ts_parser_new();
        if (parser == IntPtr.Zero || !ts_parser_set_language(parser, tree_sitter_python()))
        {
            if (parser != IntPtr.Zero)
            {
                ts_parser_delete(parser);
            }

            return null;
        }

        return new TreeSitterParser(parser);
    }

    public PythonParse Parse(byte[] source)
    {
        ArgumentNullException.ThrowIfNull(source);
        ObjectDisposedException.ThrowIf(_parser == IntPtr.Zero, this);
        var tree = ts_parser_parse_string(_parser, IntPtr.Zero, source, (uint)source.Length);
        if (tree == IntPtr.Zero)
        {
            return new PythonParse(null, true, "tree-sitter returned no tree", null, Name);
        }

        try
        {
            var root = ts_tree_root_node(tree);
            var cursor = ts_tree_cursor_new(root);
            try
            {
                var raw = Read(ref cursor, source, 0);
                return new PythonParse(Reduce(raw, source, 0), ts_node_has_error(root), null, null, Name);
            }
            finally
            {
                ts_tree_cursor_delete(ref cursor);
            }
        }
        finally
        {
            ts_tree_delete(tree);
        }
    }

    public void Dispose()
    {
        if (_parser != IntPtr.Zero)
        {
            ts_parser_delete(_parser);
            _parser = IntPtr.Zero;
        }
    }

    /// <summary>One node of the concrete tree as read through the cursor.</summary>
    private sealed record Raw(string Type, string? Field, int Start, int End, int Line, bool Named, List<Raw> Children)
    {
        public Raw? ByField(string field) => Children.Find(c => c.Field == field);

        public IEnumerable<Raw> NamedChildren => Children.Where(c => c.Named && c.Type != "comment");
    }

    private static readonly Dictionary<IntPtr, string> Names = [];

    private static string Text(IntPtr utf8)
    {
        if (utf8 == IntPtr.Zero)
        {
            return string.Empty;
        }

        lock (Names)
        {
            if (!Names.TryGetValue(utf8, out var text))
            {
                text = Marshal.PtrToStringUTF8(utf8) ?? string.Empty;
                Names[utf8] = text;
            }

            return text;
        }
    }

    private static Raw Read(ref TSTreeCursor cursor, byte[] source, int depth)
    {
        var node = ts_tree_cursor_current_node(ref cursor);
        var fieldPointer = ts_tree_cursor_current_field_name(ref cursor);
        var raw = new Raw(
            Text(ts_node_type(node)),
            fieldPointer == IntPtr.Zero ? null : Text(fieldPointer),
            (int)ts_node_start_byte(node),
            (int)ts_node_end_byte(node),
            (int)ts_node_start_point(node).Row + 1,
            ts_node_is_named(node),
            []);
        if (depth < MaxDepth && ts_tree_cursor_goto_first_child(ref cursor))
        {
            do
            {
                raw.Children.Add(Read(ref cursor, source, depth + 1));
            }
            while (ts_tree_cursor_goto_next_sibling(ref cursor));
            ts_tree_cursor_goto_parent(ref cursor);
        }

        return raw;
    }

    private static string Slice(Raw raw, byte[] source) =>
        Encoding.UTF8.GetString(source, raw.Start, Math.Max(0, Math.Min(raw.End, source.Length) - raw.Start));

    private static PyNode Reduce(Raw raw, byte[] source, int depth)
    {
        if (depth > MaxDepth)
        {
            return new PyNode("Other", raw.Line);
        }

        var d = depth + 1;
        PyNode R(Raw r) => Reduce(r, source, d);
        List<PyNode> Rs(IEnumerable<Raw> rs) => rs.Select(R).ToList();
        PyNode Block(Raw? r, int line) => r is null ? new PyNode("Block", line) : r.Type == "block" ? new PyNode("Block", r.Line, children: Rs(r.NamedChildren)) : new PyNode("Block", r.Line, children: [R(r)]);
        switch (raw.Type)
        {
            case "module":
                return new PyNode("Module", 1, children: [new PyNode("Block", 1, children: Rs(raw.NamedChildren))]);
            case "block":
                return new PyNode("Block", raw.Line, children: Rs(raw.NamedChildren));
            case "expression_statement":
                var inner = raw.NamedChildren.ToList();
                return inner.Count == 1 && inner[0].Type is "assignment" or "augmented_assignment" ? R(inner[0]) : new PyNode("Expr", raw.Line, children: Rs(inner));
            case "parenthesized_expression":
                var only = raw.NamedChildren.ToList();
                return only.Count == 1 ? R(only[0]) : new PyNode("Tuple", raw.Line, children: Rs(only));
            case "identifier":
                return new PyNode("Name", raw.Line, Slice(raw, source));
            case "true":
            case "false":
            case "none":
                return new PyNode("Const", raw.Line, raw.Type switch { "true" => "True", "false" => "False", _ => "None" });
            case "integer":
            case "float":
                return new PyNode("Num", raw.Line, value: Slice(raw, source).Replace("_", string.Empty, StringComparison.Ordinal));
            case "string":
                return StringNode(raw, source, d);
            case "concatenated_string":
                var parts = raw.NamedChildren.Select(R).ToList();
                return parts.All(p => p.Kind == "Str")
                    ? new PyNode("Str", raw.Line, value: string.Concat(parts.Select(p => p.Value)))
                    : new PyNode("FString", raw.Line, children: parts.SelectMany(p => p.Kind == "FString" ? p.Children : []).ToList());
            case "attribute":
                return new PyNode("Attribute", raw.Line, raw.ByField("attribute") is { } attr ? Slice(attr, source) : string.Empty, children: [R(raw.ByField("object") ?? raw.Children[0])]);
            case "call":
                var call = new List<PyNode> { R(raw.ByField("function") ?? raw.Children[0]) };
                if (raw.ByField("arguments") is { } args)
                {
                    foreach (var arg in args.Type == "argument_list" ? args.NamedChildren : [args])
                    {
                        call.Add(arg.Type switch
                        {
                            "keyword_argument" => new PyNode("Keyword", arg.Line, arg.ByField("name") is { } n ? Slice(n, source) : null, children: [arg.ByField("value") is { } v ? R(v) : new PyNode("Other", arg.Line)]),
                            "dictionary_splat" => new PyNode("Keyword", arg.Line, children: Rs(arg.NamedChildren)),
                            "list_splat" => new PyNode("Starred", arg.Line, children: Rs(arg.NamedChildren)),
                            _ => R(arg),
                        });
                    }
                }

                return new PyNode("Call", raw.Line, children: call);
            case "assignment":
                // a = b = c nests: (a, (b, c)); flatten to targets then the value.
                var targets = new List<PyNode>();
                var current = raw;
                while (true)
                {
                    if (current.ByField("left") is { } left)
                    {
                        targets.Add(R(left));
                    }

                    if (current.ByField("right") is { Type: "assignment" } next)
                    {
                        current = next;
                        continue;
                    }

                    if (current.ByField("right") is { } right)
                    {
                        targets.Add(R(right));
                    }

                    break;
                }

                return new PyNode("Assign", raw.Line, children: targets);
            case "augmented_assignment":
                return new PyNode("AugAssign", raw.Line, raw.ByField("operator") is { } op ? Slice(op, source) : "?=", children: [R(raw.ByField("left")!), R(raw.ByField("right")!)]);
            case "if_statement":
            case "elif_clause":
                var ifChildren = new List<PyNode> { R(raw.ByField("condition")!), Block(raw.ByField("consequence"), raw.Line) };
                var alternatives = raw.Children.Where(c => c.Field == "alternative").ToList();
                if (alternatives.Count > 0)
                {
                    // elif chains become nested Ifs in the else block, as in Python's ast.
                    ifChildren.Add(ElseChain(alternatives, 0));
                }

                return new PyNode("If", raw.Line, children: ifChildren);

                PyNode ElseChain(List<Raw> alts, int index)
                {
                    var alt = alts[index];
                    if (alt.Type == "else_clause")
                    {
                        return Block(alt.ByField("body"), alt.Line);
                    }

                    var nested = new List<PyNode> { R(alt.ByField("condition")!), Block(alt.ByField("consequence"), alt.Line) };
                    if (index + 1 < alts.Count)
                    {
                        nested.Add(ElseChain(alts, index + 1));
                    }

                    return new PyNode("Block", alt.Line, children: [new PyNode("If", alt.Line, children: nested)]);
                }

            case "while_statement":
                var loop = new List<PyNode> { R(raw.ByField("condition")!), Block(raw.ByField("body"), raw.Line) };
                if (raw.ByField("alternative") is { } whileElse)
                {
                    loop.Add(Block(whileElse.ByField("body"), whileElse.Line));
                }

                return new PyNode("While", raw.Line, children: loop);
            case "for_statement":
                return new PyNode("For", raw.Line, children: [R(raw.ByField("left")!), R(raw.ByField("right")!), Block(raw.ByField("body"), raw.Line)]);
            case "function_definition":
                return new PyNode("FunctionDef", raw.Line, raw.ByField("name") is { } fname ? Slice(fname, source) : null, children: [Block(raw.ByField("body"), raw.Line)]);
            case "class_definition":
                return new PyNode("ClassDef", raw.Line, raw.ByField("name") is { } cname ? Slice(cname, source) : null, children: [Block(raw.ByField("body"), raw.Line)]);
            case "decorated_definition":
                var definition = raw.ByField("definition");
                var decorated = definition is null ? new PyNode("Other", raw.Line) : R(definition);
                var decorators = raw.NamedChildren.Where(c => c.Type == "decorator").SelectMany(c => c.NamedChildren).Select(R);
                return new PyNode(decorated.Kind, decorated.Line, decorated.Name, decorated.Value, [.. decorated.Children, .. decorators]);
            case "comparison_operator":
                var operands = raw.NamedChildren.ToList();
                var operators = raw.Children.Where(c => c.Field == "operators").Select(c => Slice(c, source)).ToList();
                return new PyNode("Compare", raw.Line, string.Join(',', operators), children: Rs(operands));
            case "not_operator":
                return new PyNode("UnaryOp", raw.Line, "not", children: [R(raw.ByField("argument")!)]);
            case "unary_operator":
                return new PyNode("UnaryOp", raw.Line, raw.ByField("operator") is { } uop ? Slice(uop, source) : "-", children: [R(raw.ByField("argument")!)]);
            case "binary_operator":
                return new PyNode("BinOp", raw.Line, raw.ByField("operator") is { } bop ? Slice(bop, source) : "?", children: [R(raw.ByField("left")!), R(raw.ByField("right")!)]);
            case "boolean_operator":
                return new PyNode("BoolOp", raw.Line, raw.ByField("operator") is { } lop ? Slice(lop, source) : "and", children: [R(raw.ByField("left")!), R(raw.ByField("right")!)]);
            case "subscript":
                var subscripts = raw.Children.Where(c => c.Field == "subscript").Select(R).ToList();
                return new PyNode("Subscript", raw.Line, children: [R(raw.ByField("value")!), subscripts.Count == 1 ? subscripts[0] : new PyNode("Tuple", raw.Line, children: subscripts)]);
            case "import_statement":
                return new PyNode("Import", raw.Line, children: raw.Children.Where(c => c.Field == "name").Select(c => Alias(c, source)).ToList());
            case "import_from_statement":
                var module = raw.ByField("module_name") is { } m ? Slice(m, source) : string.Empty;
                var names = raw.Children.Where(c => c.Field == "name").Select(c => Alias(c, source)).ToList();
                if (raw.Children.Any(c => c.Type == "wildcard_import"))
                {
                    names.Add(new PyNode("Alias", raw.Line, "*"));
                }

                return new PyNode("ImportFrom", raw.Line, value: module, children: names);
            case "try_statement":
                var blocks = new List<PyNode> { Block(raw.ByField("body"), raw.Line) };
                blocks.AddRange(raw.NamedChildren.Where(c => c.Type is "except_clause" or "except_group_clause" or "else_clause" or "finally_clause")
                    .Select(c => Block(c.NamedChildren.LastOrDefault(x => x.Type == "block"), c.Line)));
                return new PyNode("Try", raw.Line, children: blocks);
            case "with_statement":
                var withItems = raw.NamedChildren.Where(c => c.Type == "with_clause").SelectMany(c => c.NamedChildren).SelectMany(i => i.NamedChildren).Select(R).ToList();
                withItems.Add(Block(raw.ByField("body"), raw.Line));
                return new PyNode("With", raw.Line, children: withItems);
            case "as_pattern":
                return R(raw.NamedChildren.First());
            default:
                return new PyNode(raw.Type == "ERROR" ? "Error" : raw.Type, raw.Line, children: Rs(raw.NamedChildren));
        }
    }

    private static PyNode Alias(Raw raw, byte[] source) => raw.Type == "aliased_import"
        ? new PyNode("Alias", raw.Line, raw.ByField("name") is { } n ? Slice(n, source) : string.Empty, raw.ByField("alias") is { } a ? Slice(a, source) : null)
        : new PyNode("Alias", raw.Line, Slice(raw, source));

    /// <summary>A string literal: its text (escape sequences decoded for the common cases), or an f-string with its expressions.</summary>
    private static PyNode StringNode(Raw raw, byte[] source, int depth)
    {
        var start = raw.Children.FirstOrDefault(c => c.Type == "string_start");
        var prefix = start is null ? string.Empty : Slice(start, source).ToLowerInvariant();
        var interpolations = raw.Children.Where(c => c.Type == "interpolation").ToList();
        if (prefix.Contains('f', StringComparison.Ordinal) || interpolations.Count > 0)
        {
            return new PyNode("FString", raw.Line, children: interpolations.Select(i => i.ByField("expression")).OfType<Raw>().Select(e => Reduce(e, source, depth + 1)).ToList());
        }

        var raw_ = prefix.Contains('r', StringComparison.Ordinal);
        var text = new StringBuilder();
        foreach (var part in raw.Children)
        {
            if (part.Type == "string_content")
            {
                text.Append(Slice(part, source));
            }
            else if (part.Type == "escape_sequence")
            {
                var escape = Slice(part, source);
                text.Append(raw_ ? escape : Unescape(escape));
            }
        }

        return new PyNode("Str", raw.Line, value: text.ToString());
    }

    private static string Unescape(string escape) => escape switch
    {
        "\\n" => "\n",
        "\\t" => "\t",
        "\\r" => "\r",
        "\\\\" => "\\",
        "\\'" => "'",
        "\\\"" => "\"",
        "\\0" => "\0",
        _ when escape.Length == 4 && escape[1] == 'x' && int.TryParse(escape.AsSpan(2), System.Globalization.NumberStyles.HexNumber, null, out var code) => ((char)code).ToString(),
        _ when escape.Length == 6 && escape[1] == 'u' && int.TryParse(escape.AsSpan(2), System.Globalization.NumberStyles.HexNumber, null, out var code) => ((char)code).ToString(),
        _ => escape,
    };
}
