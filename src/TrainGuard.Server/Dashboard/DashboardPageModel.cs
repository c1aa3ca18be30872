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

    /// <summary>The page's title (the layout puts it in the title bar and the heading).</summary>
    public string Title { get; protected set; } = "TrainGuard";
}
