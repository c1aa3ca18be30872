using System.Diagnostics.CodeAnalysis;
using TrainGuard.Parsing;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace TrainGuard.Detections;

/// <summary>
/// The errors of the detection engine, all <see cref="MalformedInputException"/>: a rule file's (kind
/// <see cref="InputErrorKind.Config"/>) message starts <c>file:line:column:</c> so a person can go straight to the
/// problem; an event's (kind <see cref="InputErrorKind.Syntax"/>) names the byte offset. The exception's helpers
/// escape text from the input before it reaches a message.
/// </summary>
internal static class DetectionErrors
{
    /// <summary>An error in a rule file at a line and column (1-based; 0 when unknown).</summary>
    public static MalformedInputException Rule(string source, int line, int column, string problem) =>
        MalformedInputException.CreateAt(InputErrorKind.Config, problem, source, line > 0 ? line : null, line > 0 && column > 0 ? column : null);

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
    public static void ThrowEvent(string problem, long offset) => MalformedInputException.Throw(InputErrorKind.Syntax, problem, offset);

    /// <summary>An event over <paramref name="limit"/> bytes.</summary>
    [DoesNotReturn]
    public static void ThrowEventLimit(long limit) => MalformedInputException.ThrowLimit("event size in bytes", limit, 0);
}
