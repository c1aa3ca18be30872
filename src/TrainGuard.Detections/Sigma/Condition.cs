namespace TrainGuard.Detections.Sigma;

/// <summary>A parsed Sigma condition.</summary>
internal abstract record ConditionNode;

/// <summary>A search identifier by name.</summary>
internal sealed record IdentifierNode(string Name, int Position) : ConditionNode;

/// <summary><c>1 of pattern</c> / <c>all of pattern</c>; the pattern <c>them</c> is every identifier not starting with <c>_</c>.</summary>
internal sealed record OfNode(bool All, string Pattern, int Position) : ConditionNode;

/// <summary>Operands joined by <c>and</c> (a flat list, so a long chain does not nest).</summary>
internal sealed record AndNode(IReadOnlyList<ConditionNode> Parts) : ConditionNode;

/// <summary>Operands joined by <c>or</c>.</summary>
internal sealed record OrNode(IReadOnlyList<ConditionNode> Parts) : ConditionNode;

internal sealed record NotNode(ConditionNode Inner) : ConditionNode;

/// <summary>
/// The Sigma condition grammar: <c>or</c> binds least, then <c>and</c>, <c>not</c>, <c>1 of</c>/<c>all of</c>, and
/// brackets most. Keywords are lowercase. The Sigma 1 aggregation (<c>| count() by</c>) is refused: correlation
/// documents replace it.
/// </summary>
internal static class ConditionParser
{
    /// <summary>Deepest nesting of brackets and <c>not</c>.</summary>
    public const int MaxDepth = 64;

    /// <summary>Parses <paramref name="text"/>; on an error returns null and says where (a 1-based character position).</summary>
    public static ConditionNode? Parse(string text, out string? problem)
    {
        problem = null;
        var tokens = Tokenize(text, out problem);
        if (tokens is null)
        {
            return null;
        }

        var parser = new Parser(tokens, text);
        try
        {
            var node = parser.Or(0);
            if (parser.Position < tokens.Count)
            {
                throw new ConditionException($"unexpected '{tokens[parser.Position].Text}' at character {tokens[parser.Position].Position}");
            }

            return node;
        }
        catch (ConditionException ex)
        {
            problem = ex.Message;
            return null;
        }
    }

    private static List<Token>? Tokenize(string text, out string? problem)
    {
        problem = null;
        var tokens = new List<Token>();
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
                continue;
            }

            if (c is '(' or ')')
            {
                tokens.Add(new Token(c.ToString(), i + 1));
                i++;
                continue;
            }

            if (c == '|')
            {
                problem = $"'|' at character {i + 1}: Sigma 1 aggregations (| count() by ...) are not supported; write a correlation document";
                return null;
            }

            var start = i;
            while (i < text.Length && (char.IsAsciiLetterOrDigit(text[i]) || text[i] is '_' or '-' or '*' or '.'))
            {
                i++;
            }

            if (i == start)
            {
                problem = $"unexpected character '{c}' at character {i + 1}";
                return null;
            }

            tokens.Add(new Token(text[start..i], start + 1));
        }

        if (tokens.Count == 0)
        {
            problem = "the condition is empty";
            return null;
        }

        return tokens;
    }

    private readonly record struct Token(string Text, int Position);

    private sealed class ConditionException(string message) : Exception(message);

    private sealed class Parser(List<Token> tokens, string text)
    {
        public int Position { get; private set; }

        public ConditionNode Or(int depth)
        {
            var parts = new List<ConditionNode> { And(depth) };
            while (Accept("or"))
            {
                parts.Add(And(depth));
            }

            return parts.Count == 1 ? parts[0] : new OrNode(parts);
        }

        private ConditionNode And(int depth)
        {
            var parts = new List<ConditionNode> { Not(depth) };
            while (Accept("and"))
            {
                parts.Add(Not(depth));
            }

            return parts.Count == 1 ? parts[0] : new AndNode(parts);
        }

        private ConditionNode Not(int depth)
        {
            if (depth > MaxDepth)
            {
                throw new ConditionException($"the condition nests deeper than {MaxDepth} levels");
            }

            return Accept("not") ? new NotNode(Not(depth + 1)) : Atom(depth);
        }

        private ConditionNode Atom(int depth)
        {
            if (Position >= tokens.Count)
            {
                throw new ConditionException($"the condition '{text}' ends where a search identifier, 'not', '1 of', 'all of' or '(' was expected");
            }

            var token = tokens[Position++];
            switch (token.Text)
            {
                case "(":
                    var inner = Or(depth + 1);
                    if (!Accept(")"))
                    {
                        throw new ConditionException($"the '(' at character {token.Position} is not closed");
                    }

                    return inner;
                case ")" or "and" or "or" or "of" or "them":
                    throw new ConditionException($"unexpected '{token.Text}' at character {token.Position}");
                case "1" or "all":
                    if (!Accept("of"))
                    {
                        throw new ConditionException($"'{token.Text}' at character {token.Position} must be followed by 'of'");
                    }

                    if (Position >= tokens.Count || tokens[Position].Text is "(" or ")" or "and" or "or" or "not" or "of")
                    {
                        throw new ConditionException($"'{token.Text} of' at character {token.Position} needs a pattern such as selection* or them");
                    }

                    var pattern = tokens[Position++];
                    return new OfNode(token.Text == "all", pattern.Text, pattern.Position);
                case "any":
                    throw new ConditionException($"'any' at character {token.Position}: write '1 of'");
                default:
                    if (Position < tokens.Count && tokens[Position].Text == "of")
                    {
                        throw new ConditionException($"'{token.Text} of' at character {token.Position}: only '1 of' and 'all of' exist");
                    }

                    if (token.Text.Contains('*', StringComparison.Ordinal))
                    {
                        throw new ConditionException($"'{token.Text}' at character {token.Position}: a pattern needs '1 of' or 'all of' before it");
                    }

                    return new IdentifierNode(token.Text, token.Position);
            }
        }

        private bool Accept(string keyword)
        {
            if (Position < tokens.Count && tokens[Position].Text == keyword)
            {
                Position++;
                return true;
            }

            return false;
        }
    }
}
