using Microsoft.AspNetCore.Http;
using TrainGuard.Server.Auth;

namespace TrainGuard.Server.Dashboard;

/// <summary>
/// What every dashboard response gets: a strict Content-Security-Policy (scripts, styles and connections from this
/// origin only, no inline script or style, no framing), and the session check that turns the cookie back into the
/// API token it was exchanged for.
/// </summary>
public static class DashboardSecurity
{
    /// <summary>The Content-Security-Policy of every dashboard response.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

    /// <summary>The session cookie over plain HTTP (a loopback address); over HTTPS it is <see cref="SecureCookieName"/>.</summary>
    public const string CookieName = "tg_session";

    /// <summary>The session cookie over HTTPS: the <c>__Host-</c> prefix makes the browser insist on Secure and Path=/.</summary>
    public const string SecureCookieName = "__Host-tg_session";

    internal const string ViewerItem = "trainguard.dashboard.viewer";

    internal static string CookieNameFor(HttpRequest request) => request.IsHttps ? SecureCookieName : CookieName;

    internal static void AddHeaders(HttpResponse response)
    {
        var headers = response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
        headers["Cross-Origin-Resource-Policy"] = "same-origin";
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), interest-cohort=()";
    }

    /// <summary>Sets the session cookie: HttpOnly, SameSite=Strict, Secure under HTTPS, for the whole site.</summary>
    internal static void SetSessionCookie(HttpContext context, string sessionId) =>
        context.Response.Cookies.Append(CookieNameFor(context.Request), sessionId, new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = context.Request.IsHttps,
            Path = "/",
            IsEssential = true,
        });

    internal static void ClearSessionCookie(HttpContext context) =>
        context.Response.Cookies.Delete(CookieNameFor(context.Request), new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = context.Request.IsHttps,
            Path = "/",
        });

    /// <summary>
    /// The dashboard's middleware: headers on every response under <c>/dashboard</c>; for every page but the login page
    /// and the assets, a live session whose token is still valid and may read (reader, responder, admin), else a
    /// redirect to the login page (htmx requests get <c>HX-Redirect</c>).
    /// </summary>
    internal static RequestDelegate Middleware(DashboardContext dashboard, RequestDelegate next) => async context =>
    {
        var path = context.Request.Path.Value ?? string.Empty;
        if (!path.StartsWith("/dashboard", StringComparison.Ordinal) || (path.Length > 10 && path[10] != '/'))
        {
            await next(context);
            return;
        }

        AddHeaders(context.Response);
        if (path.StartsWith(DashboardAssets.Prefix, StringComparison.Ordinal))
        {
            await next(context);
            return;
        }

        context.Response.Headers.CacheControl = "no-store";
        var viewer = await AuthenticateAsync(dashboard, context);
        if (viewer is not null)
        {
            context.Items[ViewerItem] = viewer;
        }
        else if (!string.Equals(path, "/dashboard/login", StringComparison.Ordinal))
        {
            var back = path + context.Request.QueryString.Value;
            var login = "/dashboard/login?return=" + Uri.EscapeDataString(back);
            if (context.Request.Headers.ContainsKey("HX-Request"))
            {
                context.Response.Headers["HX-Redirect"] = login;
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                return;
            }

            context.Response.Redirect(login);
            return;
        }

        await next(context);
    };

    /// <summary>The viewer of a request that passed the middleware (null on the login page when not logged in).</summary>
    public static DashboardViewer? ViewerOf(HttpContext context) => context.Items[ViewerItem] as DashboardViewer;

    /// <summary>
    /// The viewer behind the request's session cookie, or null: no cookie, an unknown or timed-out session, a token
    /// that was revoked or expired since the login (the session is ended), or a role that may not read.
    /// </summary>
    internal static async Task<DashboardViewer?> AuthenticateAsync(DashboardContext dashboard, HttpContext context)
    {
        var sessionId = context.Request.Cookies[CookieNameFor(context.Request)];
        if (dashboard.Sessions.Resolve(sessionId) is not { } token)
        {
            return null;
        }

        var check = await dashboard.State.Tokens.AuthenticateAsync(token, context.RequestAborted);
        if (check.Status != TokenStatus.Valid || check.Token is not { } info || !info.Role.Allows(Role.Reader))
        {
            dashboard.Sessions.End(sessionId);
            return null;
        }

        return new DashboardViewer(info.Id, info.Role, info.Identity, info.Label);
    }

    /// <summary>A local path under <c>/dashboard</c> to return to after login; anything else (another site, <c>//host</c>) is the overview.</summary>
    public static string SafeReturnPath(string? path) =>
        path is { Length: > 0 and < 2048 } p && p.StartsWith("/dashboard", StringComparison.Ordinal) && !p.StartsWith("/dashboard/login", StringComparison.Ordinal)
            && !p.Contains('\\', StringComparison.Ordinal) && !p.Contains("//", StringComparison.Ordinal) && !p.Any(char.IsControl)
            ? p
            : "/dashboard";
}
