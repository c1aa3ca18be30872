using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.ResponseCompression;
using Microsoft.Extensions.DependencyInjection;
using TrainGuard.Server.Http;

namespace TrainGuard.Server.Dashboard;

/// <summary>
/// Wires the dashboard into the server's <see cref="WebApplication"/>: Razor Pages (compiled into this assembly, under
/// <c>Dashboard/Pages</c>, each at an explicit <c>/dashboard/...</c> route), anti-forgery tokens, the session check, the
/// security headers and the embedded assets. The same port and the same tokens as the API.
/// </summary>
internal static class DashboardSetup
{
    public const string AntiforgeryCookie = "tg_csrf";

    /// <summary>Registers what the pages need on the (slim) builder's services.</summary>
    public static void AddServices(IServiceCollection services)
    {
        services.AddSingleton<DashboardContext>();

        // Keys for anti-forgery tokens live in memory: a restart ends every session anyway.
        services.AddDataProtection().UseEphemeralDataProtectionProvider();
        services.AddAntiforgery(o =>
        {
            o.Cookie.Name = AntiforgeryCookie;
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = Microsoft.AspNetCore.Http.CookieSecurePolicy.SameAsRequest;
            o.Cookie.Path = "/dashboard";
            o.SuppressXFrameOptionsHeader = true;
        });
        // Pages and htmx partials (text/html) are compressed, over HTTPS too: no secret stays the same from one response
        // to the next (the anti-forgery token in a form is encrypted afresh each time; the session is a cookie, never in a
        // body), and the SameSite=Strict session cookie stops another site from making the browser ask for a page, so
        // a compression oracle (BREACH) has neither a secret nor requests. Assets are stored compressed (DashboardAssets).
        services.AddResponseCompression(o =>
        {
            o.EnableForHttps = true;
            o.MimeTypes = ["text/html"];
            o.Providers.Add<BrotliCompressionProvider>();
            o.Providers.Add<GzipCompressionProvider>();
        });
        services.AddRazorPages(o => o.RootDirectory = "/Dashboard/Pages")
            .AddApplicationPart(typeof(DashboardSetup).Assembly);
    }

    /// <summary>Maps the dashboard on <paramref name="app"/> for the server state <paramref name="state"/>.</summary>
    public static void Map(WebApplication app, ServerState state)
    {
        var dashboard = app.Services.GetRequiredService<DashboardContext>();
        dashboard.Attach(state);
        app.UseWhen(context => context.Request.Path.StartsWithSegments("/dashboard", StringComparison.Ordinal), branch => branch.UseResponseCompression());
        app.Use(next => DashboardSecurity.Middleware(dashboard, next));
        app.MapGet("/", context =>
        {
            context.Response.Redirect("/dashboard");
            return Task.CompletedTask;
        });
        app.MapMethods(DashboardAssets.Prefix + "{**path}", [HttpMethods.Get, HttpMethods.Head], DashboardAssets.ServeAsync);
        app.MapRazorPages();
    }
}
