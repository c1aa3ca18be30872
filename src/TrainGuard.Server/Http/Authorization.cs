using System.Globalization;
using Microsoft.AspNetCore.Http;
using TrainGuard.Server.Auth;

namespace TrainGuard.Server.Http;

/// <summary>Bearer-token checks in front of a handler: 401 without a known, live token, 403 when its role may not do this.</summary>
internal static class Authorization
{
    public const string SubmitterItem = "trainguard.submitter";

    public static RequestDelegate Require(ServerState state, Role needed, RequestDelegate handler) => Require(state, [needed], handler);

    /// <summary>Lets through a token of one of <paramref name="allowed"/> roles (or admin); the caller is in <see cref="SubmitterOf"/>.</summary>
    public static RequestDelegate Require(ServerState state, Role[] allowed, RequestDelegate handler) => async context =>
    {
        var header = context.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await HttpJson.ProblemAsync(context, StatusCodes.Status401Unauthorized, "unauthenticated", "Authentication required", "send 'Authorization: Bearer <token>' (create one with: trainguard server token create --role ...)");
            return;
        }

        var check = await state.Tokens.AuthenticateAsync(header[scheme.Length..].Trim(), context.RequestAborted);
        if (check.Status != TokenStatus.Valid || check.Token is not { } token)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
            var (title, detail) = check.Status switch
            {
                TokenStatus.Revoked => ("Revoked token", string.Create(CultureInfo.InvariantCulture, $"the bearer token {check.Token!.Id} was revoked at {check.Token.RevokedAt:yyyy-MM-ddTHH:mm:ssZ}")),
                TokenStatus.Expired => ("Expired token", string.Create(CultureInfo.InvariantCulture, $"the bearer token {check.Token!.Id} expired at {check.Token.ExpiresAt:yyyy-MM-ddTHH:mm:ssZ}")),
                _ => ("Unknown token", "the bearer token is not known to this server"),
            };
            await HttpJson.ProblemAsync(context, StatusCodes.Status401Unauthorized, "invalid-token", title, detail);
            return;
        }

        if (!allowed.Any(r => token.Role.Allows(r)))
        {
            var needs = string.Join("' or '", allowed.Select(r => r.ToWireName()));
            await HttpJson.ProblemAsync(context, StatusCodes.Status403Forbidden, "forbidden", "Role not allowed", $"a token with role '{token.Role.ToWireName()}' may not do this; it needs role '{needs}' or 'admin'");
            return;
        }

        context.Items[SubmitterItem] = token.ToSubmitter();
        if (!state.RateLimits.TryAcquire(token.Id, out var retryAfter))
        {
            context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            await HttpJson.ProblemAsync(context, StatusCodes.Status429TooManyRequests, "rate-limited", "Too many requests", $"token {token.Id} is over its request rate; retry after {retryAfter.TotalSeconds:0.#} s");
            return;
        }

        await handler(context);
    };

    /// <summary>The authenticated caller of a request that passed <see cref="Require(ServerState, Role[], RequestDelegate)"/>.</summary>
    public static Submitter SubmitterOf(HttpContext context) =>
        context.Items[SubmitterItem] as Submitter ?? throw new InvalidOperationException("the request was not authenticated");
}
