using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using TrainGuard.Server.Witness;

namespace TrainGuard.Server.Http;

/// <summary>
/// Witnessing: <c>POST /api/v1/cosignatures</c> takes a tree head this server signed with a configured witness's
/// <c>cosignature/v1</c> lines appended (no token: the cosignature is the credential, as in C2SP tlog-witness);
/// <c>GET /api/v1/checkpoint/cosigned</c> serves the newest cosigned tree head with every cosignature kept for it.
/// </summary>
internal static class WitnessEndpoints
{
    public static async Task SubmitAsync(HttpContext context, ServerState state)
    {
        var body = await ReadBoundedAsync(context.Request.Body, CosignedTreeHeads.MaxSubmissionBytes, context.RequestAborted);
        if (body is null)
        {
            await HttpJson.ProblemAsync(context, StatusCodes.Status413PayloadTooLarge, "too-large", "Submission too large", $"a cosigned tree head is at most {CosignedTreeHeads.MaxSubmissionBytes} bytes");
            return;
        }

        var result = await state.Cosignatures.SubmitAsync(body, state.Log, state.TreeHeads.Latest.Size, state.Time.GetUtcNow(), context.RequestAborted);
        var (status, kind, title) = result.Refusal switch
        {
            CosignatureRefusal.None => (StatusCodes.Status200OK, string.Empty, string.Empty),
            CosignatureRefusal.Malformed => (StatusCodes.Status400BadRequest, "bad-cosignature", "Malformed cosignature"),
            CosignatureRefusal.Forbidden => (StatusCodes.Status403Forbidden, "unknown-witness", "Cosignature not accepted"),
            CosignatureRefusal.UnknownLog => (StatusCodes.Status404NotFound, "unknown-log", "Unknown log"),
            _ => (StatusCodes.Status409Conflict, "not-this-log", "Not a tree head of this server"),
        };
        if (result.Refusal != CosignatureRefusal.None)
        {
            var level = result.Refusal == CosignatureRefusal.Conflict ? LogLevel.Error : LogLevel.Warning;
            state.Logger.Log(level, "cosignature refused ({Status}): {Detail}", status, result.Detail);
            await HttpJson.ProblemAsync(context, status, kind, title, result.Detail);
            return;
        }

        foreach (var cosignature in result.Accepted)
        {
            state.Logger.LogInformation("witness {Witness} cosigned the tree head of size {TreeSize} at {SignedAt:u}", cosignature.Witness, result.TreeSize, cosignature.Time);
        }

        await HttpJson.WriteAsync(context, StatusCodes.Status200OK, w =>
        {
            w.WriteStartObject();
            w.WriteNumber("tree_size", result.TreeSize);
            w.WriteNumber("accepted", result.Accepted.Count);
            w.WriteStartArray("witnesses");
            foreach (var cosignature in result.Accepted)
            {
                w.WriteStringValue(cosignature.Witness);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    public static async Task CosignedAsync(HttpContext context, ServerState state)
    {
        if (state.Cosignatures.NewestCosigned is not { } note)
        {
            await HttpJson.ProblemAsync(context, StatusCodes.Status404NotFound, "not-cosigned", "No cosigned tree head", "no witness has cosigned a tree head of this log yet");
            return;
        }

        var bytes = Encoding.UTF8.GetBytes(note);
        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        context.Response.ContentLength = bytes.Length;
        await context.Response.Body.WriteAsync(bytes, context.RequestAborted);
    }

    /// <summary>The body, or null when it is longer than <paramref name="limit"/>.</summary>
    private static async Task<byte[]?> ReadBoundedAsync(Stream body, int limit, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }
}
