using System.IO.Compression;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;

namespace TrainGuard.Server.Dashboard;

/// <summary>
/// The dashboard's CSS, script and vendored libraries (<c>Dashboard/wwwroot</c>, embedded in this assembly), served from
/// memory under <c>/dashboard/assets/</c>: gzip-compressed when the browser accepts it, cached for a year under a URL
/// that carries the file's hash (<see cref="Url"/>), so a page costs its HTML alone once they are cached.
/// </summary>
public static class DashboardAssets
{
    public const string Prefix = "/dashboard/assets/";

    private const string ResourcePrefix = "dashboard/";

    private static readonly Lazy<IReadOnlyDictionary<string, Asset>> Files = new(Load);

    /// <summary>The URL of asset <paramref name="path"/> (e.g. <c>css/dashboard.css</c>) with its version.</summary>
    public static string Url(string path) =>
        Files.Value.TryGetValue(path, out var asset)
            ? Prefix + path + "?v=" + asset.Version
            : throw new ArgumentException($"no dashboard asset '{path}'", nameof(path));

    /// <summary>The paths of every asset.</summary>
    public static IEnumerable<string> Paths => Files.Value.Keys;

    /// <summary>The size of asset <paramref name="path"/> as sent (gzip-compressed when <paramref name="gzip"/>).</summary>
    public static int SizeOf(string path, bool gzip) => gzip ? Files.Value[path].Gzip.Length : Files.Value[path].Bytes.Length;

    internal static async Task ServeAsync(HttpContext context)
    {
        var path = context.Request.Path.Value is { } p && p.StartsWith(Prefix, StringComparison.Ordinal) ? p[Prefix.Length..] : string.Empty;
        if (!Files.Value.TryGetValue(path, out var asset))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        var headers = context.Response.Headers;
        var etag = "\"" + asset.Version + "\"";
        headers.ETag = etag;
        headers.CacheControl = context.Request.Query["v"] == asset.Version ? "public, max-age=31536000, immutable" : "no-cache";
        headers.Vary = "Accept-Encoding";
        headers.XContentTypeOptions = "nosniff";
        if (context.Request.Headers.IfNoneMatch == etag)
        {
            context.Response.StatusCode = StatusCodes.Status304NotModified;
            return;
        }

        var gzip = context.Request.Headers.AcceptEncoding.ToString().Contains("gzip", StringComparison.OrdinalIgnoreCase);
        var body = gzip ? asset.Gzip : asset.Bytes;
        if (gzip)
        {
            headers.ContentEncoding = "gzip";
        }

        context.Response.ContentType = asset.ContentType;
        context.Response.ContentLength = body.Length;
        if (!HttpMethods.IsHead(context.Request.Method))
        {
            await context.Response.Body.WriteAsync(body, context.RequestAborted);
        }
    }

    private static Dictionary<string, Asset> Load()
    {
        var assembly = typeof(DashboardAssets).Assembly;
        var files = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var bytes = copy.ToArray();
            using var compressed = new MemoryStream();
            using (var gz = new GZipStream(compressed, CompressionLevel.SmallestSize, leaveOpen: true))
            {
                gz.Write(bytes);
            }

            var path = name[ResourcePrefix.Length..].Replace('\\', '/');
            var version = Convert.ToHexStringLower(SHA256.HashData(bytes))[..16];
            files[path] = new Asset(bytes, compressed.ToArray(), ContentTypeOf(path), version);
        }

        return files;
    }

    private static string ContentTypeOf(string path) => Path.GetExtension(path) switch
    {
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        ".png" => "image/png",
        ".md" => "text/markdown; charset=utf-8",
        _ => "text/plain; charset=utf-8",
    };

    private sealed record Asset(byte[] Bytes, byte[] Gzip, string ContentType, string Version);
}
