using System.Diagnostics.CodeAnalysis;
using TrainGuard.Findings;
using TrainGuard.Parsing;

namespace TrainGuard.Formats;

/// <summary>Throw helpers that also name the archive member; messages and member names are escaped.</summary>
internal static class FormatErrors
{
    [DoesNotReturn]
    public static void Throw(string message, long offset, string? member = null, Exception? inner = null) =>
        throw Create(message, offset, member, inner);

    [DoesNotReturn]
    public static T Throw<T>(string message, long offset, string? member = null) =>
        throw Create(message, offset, member, null);

    [DoesNotReturn]
    public static void ThrowLimit(string what, long limit, long offset, string? member = null) =>
        throw new MalformedInputException(
            TextSanitizer.Escape($"{what} exceeds the limit of {limit:N0}; raise it with the matching --max-* option if the file is trusted to be this large", 400),
            offset,
            Escape(member),
            limitExceeded: true);

    [DoesNotReturn]
    public static void ThrowTruncated(string what, long offset, string? member = null) =>
        throw Create($"truncated: {what} runs past the end of the input", offset, member, null);

    public static MalformedInputException Create(string message, long offset, string? member, Exception? inner) =>
        new(TextSanitizer.Escape(message, 400), offset, Escape(member), inner: inner);

    /// <summary>Re-throws a parser error with the member filled in, or wraps any other exception.</summary>
    public static MalformedInputException Wrap(Exception exception, string what, long offset, string? member) => exception switch
    {
        MalformedInputException malformed when member is not null && malformed.Member is null => malformed.WithMember(Escape(member)!),
        MalformedInputException malformed => malformed,
        _ => Create($"{what}: {exception.Message}", offset, member, exception),
    };

    private static string? Escape(string? member) => member is null ? null : TextSanitizer.Escape(member, 300);
}
