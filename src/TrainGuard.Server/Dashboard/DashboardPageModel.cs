using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace TrainGuard.Server.Dashboard;

/// <summary>What every dashboard page model has: the dashboard's context and the viewer (null only on the login page).</summary>
public abstract class DashboardPageModel : PageModel
{
    protected DashboardPageModel(DashboardContext dashboard)
    {
        Dashboard = dashboard;
    }

    public DashboardContext Dashboard { get; }

    /// <summary>The logged-in viewer; the middleware lets no request without one reach a page but the login page.</summary>
    public DashboardViewer Viewer => DashboardSecurity.ViewerOf(HttpContext) ?? throw new InvalidOperationException("not logged in");

    /// <summary>Why the page has nothing to show (what was asked for does not exist); the page then shows only this.</summary>
    public string? Missing { get; protected set; }

    /// <summary>Answers 404 with the layout and <paramref name="message"/> (a browser shows a page, not its own error).</summary>
    protected IActionResult NotFoundPage(string message)
    {
        Title = "Not found";
        Missing = message;
        Response.StatusCode = StatusCodes.Status404NotFound;
        return Page();
    }

    /// <summary>The page's title (the layout puts it in the title bar and the heading).</summary>
    public string Title { get; protected set; } = "TrainGuard";
}
