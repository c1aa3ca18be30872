using System.Diagnostics.CodeAnalysis;
using TrainGuard.Findings;
using TrainGuard.Parsing;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace TrainGuard.Detections;

/// <summary>
/// The errors of the detection engine, all <see cref="MalformedInputException"/>: a rule file's message starts
/// <c>file:line:column:</c> so a person can go straight to the problem; an event's names the byte offset. Text from
/// the input is escaped before it reaches a message.
/// </summary>
internal static class DetectionErrors
{
    private const int MaxText = 400;

    /// <summary>An error in a rule file at a line and column (1-based; 0 when unknown).</summary>
    public static MalformedInputException Rule(string source, int line, int column, string problem)
    {
        var where = (line, column) switch
        {
            ( > 0, > 0) => $"{source}:{line}:{column}",
            ( > 0, _) => $"{source}:{line}",
            _ => source,
        };
        return new MalformedInputException(TextSanitizer.Escape($"{where}: {problem}", MaxText), offset: null);
    }

    /// <summary>An error in a rule file at a YAML node.</summary>
    public static MalformedInputException Rule(string source, YamlNode node, string problem) =>
        Rule(source, node.Start, problem);

    /// <summary>An error in a rule file at a YAML position.</summary>
    public static MalformedInputException Rule(string source, Mark mark, string problem) =>
        Rule(source, (int)mark.Line, (int)mark.Column, problem);

    [DoesNotReturn]
    public static void ThrowRule(string source, YamlNode node, string problem) => throw Rule(source, node, problem);

    [DoesNotReturn]
    public static T ThrowRule<T>(string source, YamlNode node, string problem) => throw Rule(source, node, problem);

    /// <summary>An event that cannot be evaluated (not one JSON object, over a limit), at a byte offset.</summary>
    [DoesNotReturn]
    public static void ThrowEvent(string problem, long offset) => MalformedInputException.Throw(problem, offset);

    /// <summary>An event over <paramref name="limit"/> bytes.</summary>
    [DoesNotReturn]
    public static void ThrowEventLimit(long limit) => MalformedInputException.ThrowLimit("event size in bytes", limit, 0);
}
