using Microsoft.AspNetCore.Mvc;

namespace TrainGuard.Server.Dashboard.Pages;

/// <summary>Logout: ends the session (POST with an anti-forgery token; a GET only shows the button).</summary>
public sealed class LogoutModel : DashboardPageModel
{
    public LogoutModel(DashboardContext dashboard)
        : base(dashboard)
    {
        Title = "Log out";
    }

    public void OnGet()
    {
    }

    public IActionResult OnPost()
    {
        Dashboard.Sessions.End(Request.Cookies[DashboardSecurity.CookieNameFor(Request)]);
        DashboardSecurity.ClearSessionCookie(HttpContext);
        return LocalRedirect("/dashboard/login");
    }
}
