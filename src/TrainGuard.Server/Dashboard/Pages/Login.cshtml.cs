using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using TrainGuard.Server.Auth;

namespace TrainGuard.Server.Dashboard.Pages;

/// <summary>
/// Login: a reader, responder or admin API token (as made by <c>trainguard server token create</c>) is exchanged for a
/// session cookie. The token is checked as the API checks it (unknown, revoked, expired); agent and signer tokens may not
/// open the dashboard.
/// </summary>
public sealed class LoginModel : DashboardPageModel
{
    public LoginModel(DashboardContext dashboard)
        : base(dashboard)
    {
        Title = "Log in";
    }

    [BindProperty(SupportsGet = true, Name = "return")]
    public string? ReturnPath { get; set; }

    [BindProperty]
    public string? Token { get; set; }

    public string? Problem { get; private set; }

    public IActionResult OnGet()
    {
        if (DashboardSecurity.ViewerOf(HttpContext) is not null)
        {
            return LocalRedirect(DashboardSecurity.SafeReturnPath(ReturnPath));
        }

        return Page();
    }

    public async Task<IActionResult> OnPostAsync()
    {
        var token = Token?.Trim() ?? string.Empty;
        Token = null;
        if (token.Length == 0)
        {
            Problem = "Paste an API token (trainguard server token create --role reader|responder|admin).";
            return Page();
        }

        var check = await Dashboard.State.Tokens.AuthenticateAsync(token, HttpContext.RequestAborted);
        Problem = check.Status switch
        {
            TokenStatus.Revoked => $"Token {check.Token!.Id} was revoked.",
            TokenStatus.Expired => $"Token {check.Token!.Id} has expired.",
            TokenStatus.Unknown => "This server does not know that token.",
            _ when !check.Token!.Role.Allows(Role.Reader) => $"A token with role '{check.Token.Role.ToWireName()}' cannot open the dashboard: it needs role reader, responder or admin.",
            _ => null,
        };
        if (Problem is not null)
        {
            Response.StatusCode = StatusCodes.Status401Unauthorized;
            return Page();
        }

        DashboardSecurity.ClearSessionCookie(HttpContext);
        var session = Dashboard.Sessions.Start(token);
        DashboardSecurity.SetSessionCookie(HttpContext, session);
        return LocalRedirect(DashboardSecurity.SafeReturnPath(ReturnPath));
    }
}
