namespace TrainGuard.Detections.Matching;

/// <summary>A piece of a Sigma value once its escapes are read: literal text, <c>*</c> (any run) or <c>?</c> (one character).</summary>
internal readonly record struct PatternPiece(PatternPieceKind Kind, string Text = "")
{
    public static PatternPiece Star { get; } = new(PatternPieceKind.Star);

    public static PatternPiece One { get; } = new(PatternPieceKind.One);
}

internal enum PatternPieceKind
{
    Literal,
    Star,
    One,
}

/// <summary>How a value pattern matches, from the cheapest test to the general one.</summary>
internal enum PatternShape
{
    /// <summary>The whole text (no wildcard).</summary>
    Exact,

    /// <summary><c>text*</c>.</summary>
    Prefix,

    /// <summary><c>*text</c>.</summary>
    Suffix,

    /// <summary><c>*text*</c>.</summary>
    Infix,

    /// <summary><c>*</c>: any text.</summary>
    Any,

    /// <summary>Anything else (<c>?</c>, or <c>*</c> between literals).</summary>
    Glob,
}

/// <summary>
/// A Sigma wildcard pattern: literal segments separated by <c>*</c>, where <c>?</c> stands for one character.
/// Matching finds each middle segment at its leftmost place (which is optimal for <c>*</c>), so a test costs at most
/// the text length times the pattern length: no backtracking blow-up whatever the pattern or the value.
/// </summary>
internal sealed class Glob
{
    private readonly Segment[] _segments;
    private readonly bool _anchorStart;
    private readonly bool _anchorEnd;

    private Glob(Segment[] segments, bool anchorStart, bool anchorEnd)
    {
        _segments = segments;
        _anchorStart = anchorStart;
        _anchorEnd = anchorEnd;
    }

    /// <summary>The shape of a pattern and, for the simple shapes, its literal text.</summary>
    public static (PatternShape Shape, string Text, Glob? Glob) Compile(IReadOnlyList<PatternPiece> pieces)
    {
        // Collapse runs of stars; join adjacent literals.
        var normalized = new List<PatternPiece>();
        foreach (var piece in pieces)
        {
            if (piece.Kind == PatternPieceKind.Literal && piece.Text.Length == 0)
            {
                continue;
            }

            if (normalized.Count > 0 && piece.Kind == PatternPieceKind.Star && normalized[^1].Kind == PatternPieceKind.Star)
            {
                continue;
            }

            if (normalized.Count > 0 && piece.Kind == PatternPieceKind.Literal && normalized[^1].Kind == PatternPieceKind.Literal)
            {
                normalized[^1] = new PatternPiece(PatternPieceKind.Literal, normalized[^1].Text + piece.Text);
                continue;
            }

            normalized.Add(piece);
        }

        var hasOne = normalized.Any(p => p.Kind == PatternPieceKind.One);
        var stars = normalized.Count(p => p.Kind == PatternPieceKind.Star);
        if (!hasOne)
        {
            switch (normalized.Count, stars)
            {
                case (0, _):
                    return (PatternShape.Exact, string.Empty, null);
                case (1, 0):
                    return (PatternShape.Exact, normalized[0].Text, null);
                case (1, 1):
                    return (PatternShape.Any, string.Empty, null);
                case (2, 1) when normalized[0].Kind == PatternPieceKind.Star:
                    return (PatternShape.Suffix, normalized[1].Text, null);
                case (2, 1):
                    return (PatternShape.Prefix, normalized[0].Text, null);
                case (3, 2) when normalized[1].Kind == PatternPieceKind.Literal:
                    return (PatternShape.Infix, normalized[1].Text, null);
            }
        }

        var segments = new List<Segment>();
        var text = new System.Text.StringBuilder();
        var any = new List<bool>();
        void Flush()
        {
            if (text.Length > 0)
            {
                segments.Add(new Segment(text.ToString(), any.Contains(true) ? [.. any] : null));
                text.Clear();
                any.Clear();
            }
        }

        foreach (var piece in normalized)
        {
            switch (piece.Kind)
            {
                case PatternPieceKind.Star:
                    Flush();
                    break;
                case PatternPieceKind.One:
                    text.Append('?');
                    any.Add(true);
                    break;
                default:
                    text.Append(piece.Text);
                    any.AddRange(Enumerable.Repeat(false, piece.Text.Length));
                    break;
            }
        }

        Flush();
        var anchorStart = normalized[0].Kind != PatternPieceKind.Star;
        var anchorEnd = normalized[^1].Kind != PatternPieceKind.Star;
        return (PatternShape.Glob, string.Empty, new Glob([.. segments], anchorStart, anchorEnd));
    }

    public bool IsMatch(ReadOnlySpan<char> s, bool cased)
    {
        var segments = _segments;
        var first = 0;
        var last = segments.Length - 1;
        var pos = 0;
        var end = s.Length;
        if (_anchorStart)
        {
            if (segments.Length == 1 && _anchorEnd)
            {
                return s.Length == segments[0].Text.Length && segments[0].MatchesAt(s, 0, cased);
            }

            if (!segments[0].MatchesAt(s, 0, cased))
            {
                return false;
            }

            pos = segments[0].Text.Length;
            first = 1;
        }

        if (_anchorEnd)
        {
            var tail = segments[last];
            end = s.Length - tail.Text.Length;
            if (end < pos || !tail.MatchesAt(s, end, cased))
            {
                return false;
            }

            last--;
        }

        for (var i = first; i <= last; i++)
        {
            var at = segments[i].Find(s[pos..end], cased);
            if (at < 0)
            {
                return false;
            }

            pos += at + segments[i].Text.Length;
        }

        return true;
    }

    /// <summary>A literal run; <see cref="Any"/> marks the positions that are <c>?</c> (null when none is).</summary>
    private readonly record struct Segment(string Text, bool[]? Any)
    {
        public bool MatchesAt(ReadOnlySpan<char> s, int at, bool cased)
        {
            if (at < 0 || at + Text.Length > s.Length)
            {
                return false;
            }

            if (Any is null)
            {
                return s.Slice(at, Text.Length).Equals(Text, cased ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase);
            }

            for (var i = 0; i < Text.Length; i++)
            {
                if (!Any[i] && !CharEquals(s[at + i], Text[i], cased))
                {
                    return false;
                }
            }

            return true;
        }

        public int Find(ReadOnlySpan<char> s, bool cased)
        {
            if (Any is null)
            {
                return s.IndexOf(Text, cased ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase);
            }

            for (var at = 0; at + Text.Length <= s.Length; at++)
            {
                if (MatchesAt(s, at, cased))
                {
                    return at;
                }
            }

            return -1;
        }

        private static bool CharEquals(char a, char b, bool cased) =>
            a == b || (!cased && char.ToUpperInvariant(a) == char.ToUpperInvariant(b));
    }
}
