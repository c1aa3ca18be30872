using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;
using TrainGuard.Ledger.Tiles;
using TrainGuard.Parsing;

namespace TrainGuard.Server.Http;

/// <summary>
/// The read-only side of the log: C2SP tlog-tiles (<c>/checkpoint</c>, <c>/tile/&lt;L&gt;/&lt;N&gt;</c>,
/// <c>/tile/entries/&lt;N&gt;</c>), consistency proofs and the log's identity. Tree heads, hash tiles, proofs and the
/// identity are the public witness view (no token: they reveal only hashes); entry bundles need a reader token.
/// </summary>
internal static class LogEndpoints
{
    private const string Immutable = "public, max-age=31536000, immutable";

    public static async Task CheckpointAsync(HttpContext context, ServerState state)
    {
        var note = Encoding.UTF8.GetBytes(state.Cosignatures.WithCosignatures(state.TreeHeads.Latest));
        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        context.Response.ContentLength = note.Length;
        await context.Response.Body.WriteAsync(note, context.RequestAborted);
    }

    /// <summary><c>GET /tile/&lt;L&gt;/&lt;N&gt;</c>: a hash tile (public). Entry bundles have their own route, which needs a reader.</summary>
    public static Task HashTileAsync(HttpContext context, ServerState state) => TileAsync(context, state, "tile/", entries: false);

    /// <summary><c>GET /tile/entries/&lt;N&gt;</c>: an entry bundle, the events themselves (a reader's).</summary>
    public static Task EntryBundleAsync(HttpContext context, ServerState state) => TileAsync(context, state, "tile/entries/", entries: true);

    private static async Task TileAsync(HttpContext context, ServerState state, string prefix, bool entries)
    {
        var rest = context.Request.RouteValues["path"] as string ?? string.Empty;
        TileAddress address;
        try
        {
            address = TilePath.Parse(prefix + rest);
        }
        catch (MalformedInputException ex)
        {
            await HttpJson.ProblemAsync(context, StatusCodes.Status404NotFound, "no-such-tile", "No such tile", ex.Message);
            return;
        }

        if (address.IsEntryBundle != entries)
        {
            // Only reachable through a path the router did not send to the entries route: never serve events here.
            await HttpJson.ProblemAsync(context, StatusCodes.Status404NotFound, "no-such-tile", "No such tile", $"{address.ToPath()} is not served on this route");
            return;
        }

        var size = state.TreeHeads.Latest.Size;
        if (!TileReader.Exists(address, size))
        {
            await HttpJson.ProblemAsync(context, StatusCodes.Status404NotFound, "no-such-tile", "No such tile", $"{address.ToPath()} does not exist in the published tree of size {size}");
            return;
        }

        var body = address.IsEntryBundle
            ? await state.Log.ReadEntryBundleAsync(address, size, context.RequestAborted)
            : state.Log.ReadHashTile(address, size);
        context.Response.ContentType = "application/octet-stream";
        context.Response.Headers.CacheControl = Immutable;
        context.Response.ContentLength = body.Length;
        await context.Response.Body.WriteAsync(body, context.RequestAborted);
    }

    public static async Task ConsistencyAsync(HttpContext context, ServerState state)
    {
        var size = state.Log.Size;
        if (!TryRead(context.Request.Query["from"], out var from) || !TryRead(context.Request.Query["to"], out var to) || from <= 0 || from > to || to > size)
        {
            await HttpJson.ProblemAsync(context, StatusCodes.Status400BadRequest, "bad-proof-request", "Bad consistency proof request", $"give from and to with 0 < from <= to <= {size} (the tree size)");
            return;
        }

        var proof = state.Log.ConsistencyProof(from, to);
        await HttpJson.WriteAsync(context, StatusCodes.Status200OK, w =>
        {
            w.WriteStartObject();
            w.WriteNumber("from", from);
            w.WriteNumber("to", to);
            HttpJson.WriteProof(w, "proof", proof);
            w.WriteEndObject();
        });
    }

    public static Task InfoAsync(HttpContext context, ServerState state)
    {
        var latest = state.TreeHeads.Latest;
        return HttpJson.WriteAsync(context, StatusCodes.Status200OK, w =>
        {
            w.WriteStartObject();
            w.WriteString("origin", state.Log.Origin);
            w.WriteString("verifier_key", state.Log.Verifier.VerifierKey);
            w.WriteNumber("tree_size", latest.Size);
            w.WriteString("checkpoint", latest.Note);
            w.WriteEndObject();
        });
    }

    private static bool TryRead(string? text, out long value) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
}
