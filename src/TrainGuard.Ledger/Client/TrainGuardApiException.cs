using System.Net;

namespace TrainGuard.Ledger.Client;

/// <summary>
/// The TrainGuard server could not be reached (no answer, refused connection, timeout: <see cref="IsUnreachable"/>) or
/// answered with an error status; the message names the request and carries the server's own explanation (the
/// <c>detail</c> of its problem answer). An answer that arrives but is not what a TrainGuard server sends is a
/// <see cref="Parsing.MalformedInputException"/> instead.
/// </summary>
public sealed class TrainGuardApiException : HttpRequestException
{
    public TrainGuardApiException()
    {
    }

    public TrainGuardApiException(string message)
        : base(message)
    {
    }

    public TrainGuardApiException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public TrainGuardApiException(string message, Exception? innerException, HttpStatusCode? statusCode, string? serverMessage = null, string? responseText = null)
        : base(message, innerException, statusCode)
    {
        ServerMessage = serverMessage;
        ResponseText = responseText;
    }

    /// <summary>True when no HTTP answer arrived (connection refused, name not resolved, timeout).</summary>
    public bool IsUnreachable => StatusCode is null;

    /// <summary>True for a 4xx answer: the request itself was refused.</summary>
    public bool IsClientError => StatusCode is { } status && (int)status is >= 400 and < 500;

    /// <summary>The <c>detail</c> of the server's RFC 9457 problem answer, control characters escaped; null when it sent none.</summary>
    public string? ServerMessage { get; }

    /// <summary>The body of the error answer as text (at most <see cref="TrainGuardApiClient.MaxErrorTextLength"/> characters), unescaped.</summary>
    public string? ResponseText { get; }
}
