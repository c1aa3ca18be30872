using System.Diagnostics.CodeAnalysis;
using TrainGuard.Findings;

namespace TrainGuard.Parsing;

/// <summary>
/// The one error every TrainGuard parser throws for bad input, binary or text, untrusted file or configuration:
/// it carries an <see cref="InputErrorKind"/> set where it is thrown, the byte offset, and where known the
/// archive member, the origin (file, document or option) with line and column, and the field. Instances are
/// made only by the static helpers below, which escape control characters from the input and cap every text
/// at <see cref="MaxTextLength"/> characters before it reaches the message.
/// </summary>
[SuppressMessage("Design", "CA1032:Implement standard exception constructors", Justification = "Constructors are private so every instance goes through the escaping helpers.")]
public sealed class MalformedInputException : Exception
{
    /// <summary>The cap on the message and on each name (member, source, field) an error carries.</summary>
    public const int MaxTextLength = 400;

    private MalformedInputException(
        InputErrorKind kind,
        string problem,
        long? offset,
        string? member,
        string? source,
        string? field,
        int? line,
        int? column,
        Exception? inner)
        : base(Format(problem, source, line, column), inner)
    {
        Kind = kind;
        Problem = problem;
        Offset = offset;
        Member = member;
        Origin = source;
        Field = field;
        Line = line;
        Column = column;
    }

    /// <summary>What was wrong, as decided at the throw site; rules map kinds, never message text.</summary>
    public InputErrorKind Kind { get; }

    /// <summary>The message without the <c>source:line:</c> prefix (the same as <see cref="Exception.Message"/> when there is no source).</summary>
    public string Problem { get; }

    /// <summary>Byte offset of the problem, inside <see cref="Member"/> when set, else inside the input.</summary>
    public long? Offset { get; }

    /// <summary>The archive member the offset refers to, when the input was inside an archive.</summary>
    public string? Member { get; }

    /// <summary>The file, document or option (<c>--allow</c>) the input came from, when the parser knows it.</summary>
    public string? Origin { get; }

    /// <summary>The field (JSON member, YAML key, query parameter) the problem is in, when there is one.</summary>
    public string? Field { get; }

    /// <summary>1-based line in <see cref="Origin"/>, for text inputs.</summary>
    public int? Line { get; }

    /// <summary>1-based column in <see cref="Origin"/>, for text inputs that report one.</summary>
    public int? Column { get; }

    /// <summary>True when the input was not malformed as such but exceeded a configured limit.</summary>
    public bool LimitExceeded => Kind == InputErrorKind.OverLimit;

    /// <summary>An error to record rather than throw (analyses that keep what they found before it).</summary>
    public static MalformedInputException Create(InputErrorKind kind, string message, long? offset = null, string? member = null, string? field = null, Exception? inner = null) =>
        new(kind, Escape(message), offset, EscapeName(member), source: null, EscapeName(field), line: null, column: null, inner);

    /// <summary>
    /// An error in a text input a person can open: the message starts <c>source:line:column:</c> (the parts
    /// that are known) so they can go straight to the problem.
    /// </summary>
    public static MalformedInputException CreateAt(InputErrorKind kind, string problem, string source, int? line, int? column = null, long? offset = null, string? field = null, Exception? inner = null) =>
        new(kind, Escape(problem), offset, member: null, EscapeName(source), EscapeName(field), line, column, inner);

    /// <summary>Passes a parser error through (adding the member when it has none); wraps any other exception as <paramref name="kind"/>.</summary>
    public static MalformedInputException Wrap(Exception exception, InputErrorKind kind, string what, long? offset, string? member) => exception switch
    {
        MalformedInputException malformed when member is not null => malformed.WithMember(member),
        MalformedInputException malformed => malformed,
        _ => Create(kind, $"{what}: {exception.Message}", offset, member, inner: exception),
    };

    [DoesNotReturn]
    public static void Throw(InputErrorKind kind, string message, long? offset = null, string? member = null, string? field = null, Exception? inner = null) =>
        throw Create(kind, message, offset, member, field, inner);

    [DoesNotReturn]
    public static T Throw<T>(InputErrorKind kind, string message, long? offset = null, string? member = null, string? field = null, Exception? inner = null) =>
        throw Create(kind, message, offset, member, field, inner);

    /// <inheritdoc cref="CreateAt"/>
    [DoesNotReturn]
    public static void ThrowAt(InputErrorKind kind, string problem, string source, int? line, int? column = null, long? offset = null, string? field = null, Exception? inner = null) =>
        throw CreateAt(kind, problem, source, line, column, offset, field, inner);

    /// <summary>A configured limit was exceeded (<see cref="InputErrorKind.OverLimit"/>); the message says how to raise it.</summary>
    [DoesNotReturn]
    public static void ThrowLimit(string what, long limit, long? offset, string? member = null) =>
        throw Create(InputErrorKind.OverLimit, LimitMessage(what, limit), offset, member);

    /// <summary>The input ends inside <paramref name="what"/> (<see cref="InputErrorKind.Truncated"/>).</summary>
    [DoesNotReturn]
    public static void ThrowTruncated(string what, long? offset, string? member = null) =>
        throw Create(InputErrorKind.Truncated, $"truncated: {what} runs past the end of the input", offset, member);

    /// <summary>The message of <see cref="ThrowLimit"/>, for callers that record the error instead of throwing it.</summary>
    public static string LimitMessage(string what, long limit) =>
        $"{what} exceeds the limit of {limit:N0}; raise it with the matching --max-* option if the file is trusted to be this large";

    /// <summary>A copy that also names the member (used when an archive reader hands a member to a parser); unchanged when it has one.</summary>
    public MalformedInputException WithMember(string member) =>
        Member is null ? new(Kind, Problem, Offset, EscapeName(member), Origin, Field, Line, Column, this) : this;

    private static string Escape(string text) => TextSanitizer.Escape(text, MaxTextLength);

    private static string? EscapeName(string? name) => name is null ? null : TextSanitizer.Escape(name, MaxTextLength);

    private static string Format(string problem, string? source, int? line, int? column) => (source, line, column) switch
    {
        (null, _, _) => problem,
        (_, { } l, { } c) => $"{source}:{l}:{c}: {problem}",
        (_, { } l, null) => $"{source}:{l}: {problem}",
        _ => $"{source}: {problem}",
    };
}
