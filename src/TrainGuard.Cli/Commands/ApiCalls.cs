using System.Net;
using System.Text.Json;
using TrainGuard.Ledger.Client;
using TrainGuard.Parsing;

namespace TrainGuard.Cli.Commands;

/// <summary>
/// The JSON requests of <c>alerts</c> and <c>timeline</c>: one call through <see cref="TrainGuardApiClient"/>, its
/// failure turned into one line that says what to do (exit 2): the server's problem detail, and for 401, 403 and
/// 404 which token or which listing helps.
/// </summary>
internal static class ApiCalls
{
    /// <summary>Largest answer read: a page of up to 1,000 alerts of up to 100 events each, or a timeline.</summary>
    public const long MaxAnswerBytes = 64L * 1024 * 1024;

    public const string ReaderToken = "a reader, responder or admin token";

    public const string ResponderToken = "a responder token";

    /// <summary>GET a JSON resource; <paramref name="notFound"/> is what a 404 with a problem detail means (the thing asked for does not exist).</summary>
    public static Task<JsonElement> GetAsync(TrainGuardApiClient client, string pathAndQuery, string roleNeeded, string notFound, CancellationToken cancellationToken) =>
        CallAsync(client, roleNeeded, notFound, ct => client.GetJsonAsync(pathAndQuery, roleNeeded, MaxAnswerBytes, ct), cancellationToken);

    /// <summary>POST a JSON body, as <see cref="GetAsync"/>.</summary>
    public static Task<JsonElement> PostAsync(TrainGuardApiClient client, string path, string body, string roleNeeded, string notFound, CancellationToken cancellationToken) =>
        CallAsync(client, roleNeeded, notFound, ct => client.PostJsonAsync(path, body, roleNeeded, MaxAnswerBytes, ct), cancellationToken);

    /// <summary>The one-line error for a refused or failed request, with what to do about it.</summary>
    public static CliException Explain(TrainGuardApiException ex, string roleNeeded, string notFound)
    {
        var hint = ex.StatusCode switch
        {
            HttpStatusCode.Unauthorized => $"give {roleNeeded} with --token-file FILE or $TRAINGUARD_TOKEN ('trainguard server token create --role {(roleNeeded == ResponderToken ? "responder" : "reader")}' on the server makes one)",
            HttpStatusCode.Forbidden when roleNeeded == ResponderToken => "this needs a responder token (or admin): 'trainguard server token create --role responder' on the server makes one; reader tokens only read",
            HttpStatusCode.Forbidden => $"this needs {roleNeeded}",
            HttpStatusCode.NotFound when ex.ServerMessage is null => "the server has no such API: is it older than this trainguard? (alerts and the timeline need a server with detections)",
            HttpStatusCode.NotFound => notFound,
            _ => null,
        };
        // The server's detail may quote what an attacker wrote (a user name): shown escaped like every other server text.
        var message = Output.DataText.Safe(ex.Message, 2000);
        return new CliException(hint is null ? message : $"{message}; {hint}", ex);
    }

    private static async Task<JsonElement> CallAsync(TrainGuardApiClient client, string roleNeeded, string notFound, Func<CancellationToken, Task<JsonDocument>> call, CancellationToken cancellationToken)
    {
        try
        {
            using var document = await call(cancellationToken);
            return document.RootElement.Clone();
        }
        catch (TrainGuardApiException ex)
        {
            throw Explain(ex, roleNeeded, notFound);
        }
        catch (MalformedInputException ex)
        {
            throw new CliException($"{client.BaseUrl}: {ex.Message}", ex);
        }
    }
}
