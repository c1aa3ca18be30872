using System.Diagnostics.CodeAnalysis;

namespace TrainGuard.Parsing;

/// <summary>
/// The one error every TrainGuard parser throws for bad input: it names the byte offset (and, where the
/// caller knows it, the archive member) and says what was wrong in words a person can act on. Control
/// characters from the input are escaped before they reach the message.
/// </summary>
public sealed class MalformedInputException : Exception
{
    public MalformedInputException()
        : this("malformed input", offset: null)
    {
    }

    public MalformedInputException(string message)
        : this(message, offset: null)
    {
    }

    public MalformedInputException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public MalformedInputException(string message, long? offset, string? member = null, bool limitExceeded = false, Exception? inner = null)
        : base(message, inner)
    {
        Offset = offset;
        Member = member;
        LimitExceeded = limitExceeded;
    }

    /// <summary>Byte offset of the problem, inside <see cref="Member"/> when set, else inside the file.</summary>
    public long? Offset { get; }

    /// <summary>The archive member the offset refers to, when the input was inside an archive.</summary>
    public string? Member { get; }

    /// <summary>True when the input was not malformed as such but exceeded a configured limit.</summary>
    public bool LimitExceeded { get; }

    /// <summary>Returns a copy that also names the member (used when an archive reader hands a member to a parser).</summary>
    public MalformedInputException WithMember(string member) =>
        Member is null ? new MalformedInputException(Message, Offset, member, LimitExceeded, this) : this;

    [DoesNotReturn]
    public static void Throw(string message, long offset) =>
        throw new MalformedInputException(Findings.TextSanitizer.Escape(message, 400), offset);

    [DoesNotReturn]
    public static T Throw<T>(string message, long offset) =>
        throw new MalformedInputException(Findings.TextSanitizer.Escape(message, 400), offset);

    [DoesNotReturn]
    public static void ThrowLimit(string what, long limit, long offset) =>
        throw new MalformedInputException($"{what} exceeds the limit of {limit:N0}; raise it with the matching --max-* option if the file is trusted to be this large", offset, limitExceeded: true);

    [DoesNotReturn]
    public static void ThrowTruncated(string what, long offset) =>
        throw new MalformedInputException($"truncated: {what} runs past the end of the input", offset);
}
