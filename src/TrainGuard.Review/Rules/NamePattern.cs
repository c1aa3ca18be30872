using System.Text;
using System.Text.RegularExpressions;

namespace TrainGuard.Review.Rules;

/// <summary>
/// A dotted name pattern of the rule file: <c>os.kill</c> exactly, <c>*.set_seed</c> the name with any receiver (or none),
/// <c>socketserver.*</c> anything below, <c>os.exec*</c> a wildcard inside one part, <c>psutil.Process().kill</c> a call's result.
/// </summary>
public sealed class NamePattern
{
    private readonly Regex _regex;

    public NamePattern(string pattern)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pattern);
        Text = pattern;
        var body = pattern;
        var builder = new StringBuilder("^");
        if (body.StartsWith("*.", StringComparison.Ordinal))
        {
            builder.Append(@"(?:.*\.)?");
            body = body[2..];
        }

        var anythingBelow = body.EndsWith(".*", StringComparison.Ordinal);
        if (anythingBelow)
        {
            body = body[..^2];
        }

        foreach (var ch in body)
        {
            builder.Append(ch == '*' ? "[^.]*" : Regex.Escape(ch.ToString()));
        }

        builder.Append(anythingBelow ? @"\..+$" : "$");
        _regex = new Regex(builder.ToString(), RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
    }

    public string Text { get; }

    public bool IsMatch(string name) => _regex.IsMatch(name);

    public override string ToString() => Text;
}

/// <summary>A repository path pattern: <c>*</c> within a folder name, <c>**/</c> any folders (or none), <c>/**</c> everything below.</summary>
public sealed class PathPattern
{
    private readonly Regex _regex;

    public PathPattern(string pattern)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pattern);
        Text = pattern;
        var builder = new StringBuilder("^");
        for (var i = 0; i < pattern.Length; i++)
        {
            if (string.CompareOrdinal(pattern, i, "**/", 0, 3) == 0)
            {
                builder.Append("(?:.*/)?");
                i += 2;
            }
            else if (string.CompareOrdinal(pattern, i, "**", 0, 2) == 0)
            {
                builder.Append(".*");
                i += 1;
            }
            else
            {
                builder.Append(pattern[i] switch
                {
                    '*' => "[^/]*",
                    '?' => "[^/]",
                    var c => Regex.Escape(c.ToString()),
                });
            }
        }

        builder.Append('$');
        _regex = new Regex(builder.ToString(), RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
    }

    public string Text { get; }

    public bool IsMatch(string path) => _regex.IsMatch(path);

    public override string ToString() => Text;
}
