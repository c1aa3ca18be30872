namespace TrainGuard.Review.Parsing;

/// <summary>Which parser reads Python: tree-sitter (primary), CPython's ast (fallback), or the first that works.</summary>
public enum ParserChoice
{
    Auto,
    TreeSitter,
    PythonAst,
}

/// <summary>Creates the parser a review uses.</summary>
public static class PythonParsers
{
    /// <summary>
    /// The parser <paramref name="choice"/> names; with <see cref="ParserChoice.Auto"/> tree-sitter, else (its library not
    /// built on this machine) the ast fallback, with <paramref name="warning"/> saying why.
    /// </summary>
    /// <exception cref="InvalidOperationException">The parser asked for cannot be used here (the message says why).</exception>
    public static IPythonParser Create(ParserChoice choice, out string? warning, string interpreter = PythonAstParser.DefaultInterpreter)
    {
        warning = null;
        switch (choice)
        {
            case ParserChoice.PythonAst:
                return PythonAstParser.Start(interpreter);
            case ParserChoice.TreeSitter:
                return TreeSitterParser.TryCreate() ?? throw new InvalidOperationException($"tree-sitter is not available: {TreeSitterParser.Unavailable}");
            default:
                if (TreeSitterParser.TryCreate() is { } parser)
                {
                    return parser;
                }

                warning = $"tree-sitter is not available ({TreeSitterParser.Unavailable}); Python is parsed with {interpreter} -I -S (ast)";
                return PythonAstParser.Start(interpreter);
        }
    }
}
