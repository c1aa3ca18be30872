using Microsoft.AspNetCore.Http;
using TrainGuard.Server.Auth;

namespace TrainGuard.Server.Http;

/// <summary>Bearer-token checks in front of a handler: 401 without a known token, 403 when its role may not do this.</summary>
internal static class Authorization
{
    public const string RoleItem = "trainguard.role";

    public static RequestDelegate Require(ServerState state, Role needed, RequestDelegate handler) => async context =>
    {
        var header = context.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await HttpJson.ProblemAsync(context, StatusCodes.Status401Unauthorized, "unauthenticated", "Authentication required", "send 'Authorization: Bearer <token>' (create one with: trainguard server token new --role ...)");
            return;
        }

        var role = await state.Tokens.AuthenticateAsync(header[scheme.Length..].Trim(), context.RequestAborted);
        if (role is null)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
            await HttpJson.ProblemAsync(context, StatusCodes.Status401Unauthorized, "invalid-token", "Unknown token", "the bearer token is not known to this server");
            return;
        }

        if (!role.Value.Allows(needed))
        {
            await HttpJson.ProblemAsync(context, StatusCodes.Status403Forbidden, "forbidden", "Role not allowed", $"a token with role '{role.Value.ToWireName()}' may not do this; it needs role '{needed.ToWireName()}' or 'admin'");
            return;
        }

        context.Items[RoleItem] = role.Value;
        await handler(context);
    };
}
