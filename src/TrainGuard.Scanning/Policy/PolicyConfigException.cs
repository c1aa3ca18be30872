using TrainGuard.Findings;

namespace TrainGuard.Scanning.Policy;

/// <summary>
/// A policy setting that cannot be used: a bad config file, a malformed <c>--allow</c> pattern, an unknown
/// profile. The message starts with <c>&lt;source&gt;:&lt;line&gt;:</c> so a person can go straight to the problem.
/// </summary>
public sealed class PolicyConfigException : Exception
{
    public PolicyConfigException()
        : this("invalid policy configuration", source: "policy", line: null)
    {
    }

    public PolicyConfigException(string message)
        : this(message, source: "policy", line: null)
    {
    }

    public PolicyConfigException(string message, Exception innerException)
        : this(message, source: "policy", line: null, innerException)
    {
    }

    public PolicyConfigException(string problem, string source, int? line, Exception? inner = null)
        : base(Format(problem, source, line), inner)
    {
        Problem = problem;
        Path = source;
        Line = line;
    }

    /// <summary>What was wrong, without the location prefix.</summary>
    public string Problem { get; }

    /// <summary>The config file path, or the option (<c>--allow</c>, <c>--profile</c>) the value came from.</summary>
    public string Path { get; }

    /// <summary>1-based line in <see cref="Source"/>, when the problem is in a file and has a line.</summary>
    public int? Line { get; }

    private static string Format(string problem, string source, int? line) =>
        line is { } l
            ? $"{TextSanitizer.Escape(source, 300)}:{l}: {problem}"
            : $"{TextSanitizer.Escape(source, 300)}: {problem}";
}
