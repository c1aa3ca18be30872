using System.Text;

namespace TrainGuard.Scanning.Policy;

/// <summary>One call in Python (or TorchScript) source: the dotted callee as imports resolve it, its text, where it is.</summary>
/// <param name="Name">The callee, resolved through the source's imports (<c>os.system</c> for <c>from os import system</c>; bare builtins as <c>builtins.exec</c>).</param>
/// <param name="Text">The call as written, shortened.</param>
/// <param name="Line">1-based line.</param>
/// <param name="Function">The enclosing <c>def</c> (<c>Class.method</c> when inside a class), or null at module level.</param>
public sealed record PythonCall(string Name, string Text, int Line, string? Function);

/// <summary>
/// Finds the calls in Python source without running or compiling it: a small tokenizer (strings, comments,
/// names) that resolves <c>import</c>/<c>from ... import</c> aliases and records every <c>a.b.c(...)</c> whose
/// callee is a dotted name (calls on other expressions, such as <c>(x).f()</c> or <c>x[0]()</c>, are values the
/// code computed and are not named). Used for the code a torch.fx <c>GraphModule</c> pickle carries (its load
/// <c>exec</c>s it) and for TorchScript archives' <c>code/</c> files. Bounded: at most <see cref="MaxCalls"/> calls.
/// </summary>
public static class PythonSourceCalls
{
    public const int MaxCalls = 5000;
    private const int MaxTextChars = 200;

    private static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "and", "or", "not", "if", "elif", "else", "while", "for", "in", "is", "return", "yield", "await", "lambda", "assert", "del", "raise", "with", "as", "print",
    };

    private static readonly HashSet<string> Builtins = new(StringComparer.Ordinal)
    {
        "exec", "eval", "compile", "open", "__import__", "getattr", "setattr", "delattr", "globals", "locals", "vars", "breakpoint", "input", "memoryview", "type", "super",
    };

    private enum Kind
    {
        Name,
        Op,
        String,
        Newline,
    }

    private readonly record struct Token(Kind Kind, string Text, int Line, int Start, int Indent);

    /// <summary>The calls in <paramref name="source"/>, in order.</summary>
    public static IReadOnlyList<PythonCall> Find(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var tokens = Tokenize(source);
        var aliases = new Dictionary<string, string>(StringComparer.Ordinal);
        var defined = new HashSet<string>(StringComparer.Ordinal);
        var calls = new List<PythonCall>();
        var scopes = new List<(int Indent, string Name)>();
        var lineIndent = 0;
        var atLineStart = true;
        for (var i = 0; i < tokens.Count && calls.Count < MaxCalls; i++)
        {
            var t = tokens[i];
            if (t.Kind == Kind.Newline)
            {
                atLineStart = true;
                continue;
            }

            if (atLineStart)
            {
                lineIndent = t.Indent;
                atLineStart = false;
                scopes.RemoveAll(s => s.Indent >= lineIndent);
            }

            if (t.Kind != Kind.Name)
            {
                continue;
            }

            switch (t.Text)
            {
                case "def" or "class" when i + 1 < tokens.Count && tokens[i + 1].Kind == Kind.Name:
                    {
                        var name = tokens[i + 1].Text;
                        defined.Add(name);
                        scopes.Add((lineIndent, name));
                        i++;
                        continue;
                    }

                case "import":
                    i = ReadImport(tokens, i + 1, null, aliases);
                    continue;
                case "from":
                    {
                        var (module, next) = ReadDotted(tokens, i + 1);
                        if (next < tokens.Count && tokens[next].Text == "import")
                        {
                            i = ReadImport(tokens, next + 1, module, aliases);
                        }

                        continue;
                    }
            }

            if (i > 0 && tokens[i - 1].Kind == Kind.Op && tokens[i - 1].Text == ".")
            {
                continue; // an attribute of some other expression
            }

            var (dotted, end) = ReadDotted(tokens, i);
            if (end < tokens.Count && tokens[end].Text == "(" && !Keywords.Contains(tokens[i].Text))
            {
                var head = dotted.Split('.')[0];
                string? resolved = aliases.TryGetValue(head, out var target) ? target + dotted[head.Length..]
                    : defined.Contains(head) ? null
                    : !dotted.Contains('.') && Builtins.Contains(dotted) ? "builtins." + dotted
                    : dotted;
                if (resolved is not null)
                {
                    var function = scopes.Count == 0 ? null : string.Join('.', scopes.Select(s => s.Name));
                    calls.Add(new PythonCall(resolved, CallText(source, t.Start, tokens, end), t.Line, function));
                }
            }

            i = end - 1;
        }

        return calls;
    }

    private static (string Dotted, int End) ReadDotted(List<Token> tokens, int i)
    {
        var sb = new StringBuilder();
        var j = i;
        while (j < tokens.Count && tokens[j].Kind == Kind.Name)
        {
            sb.Append(tokens[j].Text);
            if (j + 2 < tokens.Count && tokens[j + 1].Text == "." && tokens[j + 2].Kind == Kind.Name)
            {
                sb.Append('.');
                j += 2;
                continue;
            }

            j++;
            break;
        }

        return (sb.ToString(), j);
    }

    /// <summary><c>import a.b as c, d</c> or the names after <c>from m import</c>; returns the last token index consumed.</summary>
    private static int ReadImport(List<Token> tokens, int i, string? fromModule, Dictionary<string, string> aliases)
    {
        while (i < tokens.Count && tokens[i].Kind != Kind.Newline)
        {
            if (tokens[i].Kind == Kind.Op && tokens[i].Text is "(" or ")" or ",")
            {
                i++;
                continue;
            }

            if (tokens[i].Kind != Kind.Name)
            {
                i++;
                continue;
            }

            var (name, next) = ReadDotted(tokens, i);
            var alias = name.Split('.')[0];
            var target = fromModule is null ? alias : $"{fromModule}.{name}";
            if (fromModule is null && next < tokens.Count && tokens[next].Text != "as")
            {
                target = alias;
            }

            if (next + 1 < tokens.Count && tokens[next].Text == "as" && tokens[next + 1].Kind == Kind.Name)
            {
                alias = tokens[next + 1].Text;
                target = fromModule is null ? name : $"{fromModule}.{name}";
                next += 2;
            }

            if (name != "*")
            {
                aliases[alias] = target;
            }

            i = next;
        }

        return i;
    }

    private static string CallText(string source, int start, List<Token> tokens, int open)
    {
        var depth = 0;
        var end = source.Length;
        for (var j = open; j < tokens.Count; j++)
        {
            if (tokens[j].Kind != Kind.Op)
            {
                continue;
            }

            if (tokens[j].Text is "(" or "[" or "{")
            {
                depth++;
            }
            else if (tokens[j].Text is ")" or "]" or "}" && --depth == 0)
            {
                end = tokens[j].Start + 1;
                break;
            }
        }

        var text = source[start..Math.Min(end, source.Length)].ReplaceLineEndings(" ");
        return Findings.TextSanitizer.Escape(text.Length > MaxTextChars ? text[..MaxTextChars] + "…" : text);
    }

    private static List<Token> Tokenize(string s)
    {
        var tokens = new List<Token>();
        var line = 1;
        var indent = 0;
        var lineStart = true;
        var i = 0;
        while (i < s.Length)
        {
            var c = s[i];
            if (c == '\n')
            {
                tokens.Add(new Token(Kind.Newline, "\n", line, i, indent));
                line++;
                i++;
                lineStart = true;
                indent = 0;
                continue;
            }

            if (c is ' ' or '\t' or '\r' or '\f')
            {
                if (lineStart)
                {
                    indent += c == '\t' ? 8 : 1;
                }

                i++;
                continue;
            }

            lineStart = false;
            if (c == '#')
            {
                while (i < s.Length && s[i] != '\n')
                {
                    i++;
                }

                continue;
            }

            if (c == '\\' && i + 1 < s.Length && s[i + 1] == '\n')
            {
                i += 2;
                line++;
                continue;
            }

            var prefix = 0;
            while (i + prefix < s.Length && prefix < 2 && "rRbBuUfF".Contains(s[i + prefix], StringComparison.Ordinal))
            {
                prefix++;
            }

            if (i + prefix < s.Length && s[i + prefix] is '\'' or '"' && (prefix == 0 || !char.IsLetterOrDigit(i > 0 ? s[i - 1] : ' ')))
            {
                var start = i;
                i = SkipString(s, i + prefix, ref line);
                tokens.Add(new Token(Kind.String, s[start..i], line, start, indent));
                continue;
            }

            if (char.IsLetter(c) || c == '_')
            {
                var start = i;
                while (i < s.Length && (char.IsLetterOrDigit(s[i]) || s[i] == '_'))
                {
                    i++;
                }

                tokens.Add(new Token(Kind.Name, s[start..i], line, start, indent));
                continue;
            }

            if (char.IsDigit(c))
            {
                while (i < s.Length && (char.IsLetterOrDigit(s[i]) || s[i] is '.' or '_'))
                {
                    i++;
                }

                continue;
            }

            tokens.Add(new Token(Kind.Op, c.ToString(), line, i, indent));
            i++;
        }

        return tokens;
    }

    private static int SkipString(string s, int i, ref int line)
    {
        var quote = s[i];
        var triple = i + 2 < s.Length && s[i + 1] == quote && s[i + 2] == quote;
        i += triple ? 3 : 1;
        while (i < s.Length)
        {
            var c = s[i];
            if (c == '\\')
            {
                i += 2;
                continue;
            }

            if (c == '\n')
            {
                line++;
                if (!triple)
                {
                    return i;
                }
            }

            if (c == quote)
            {
                if (!triple)
                {
                    return i + 1;
                }

                if (i + 2 < s.Length && s[i + 1] == quote && s[i + 2] == quote)
                {
                    return i + 3;
                }
            }

            i++;
        }

        return i;
    }
}
