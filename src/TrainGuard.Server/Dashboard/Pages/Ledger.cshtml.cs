using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using TrainGuard.Ledger.Storage;

namespace TrainGuard.Server.Dashboard.Pages;

/// <summary>Ledger: its size, origin and key, the latest tree head checked, the newest stored tree heads, witnesses, and audits.</summary>
public sealed class LedgerModel : DashboardPageModel
{
    public const int TreeHeadCount = 20;

    public LedgerModel(DashboardContext dashboard)
        : base(dashboard)
    {
        Title = "Ledger";
    }

    public TreeHeadStatus Head { get; private set; } = null!;

    public IReadOnlyList<StoredTreeHead> TreeHeads { get; private set; } = [];

    public LedgerAuditRun? Audit => Dashboard.LastAudit;

    public async Task OnGetAsync()
    {
        Head = await DashboardQueries.TreeHeadStatusAsync(Dashboard.State, HttpContext.RequestAborted);
        TreeHeads = await DashboardQueries.LatestTreeHeadsAsync(Dashboard.State, TreeHeadCount, null, HttpContext.RequestAborted);
    }

    /// <summary>The audit panel alone (htmx polls it while an audit runs).</summary>
    public IActionResult OnGetAudit() => Partial("_LedgerAudit", this);

    /// <summary>Starts an audit (responder or admin: it reads the whole ledger).</summary>
    public IActionResult OnPostAudit()
    {
        if (!Viewer.CanRespond)
        {
            return StatusCode(StatusCodes.Status403Forbidden, "a ledger audit reads the whole ledger: it needs a responder or admin token");
        }

        Dashboard.StartAudit(Viewer.DisplayName + " (" + Viewer.RoleName + " token " + Viewer.TokenId + ")");
        return Request.Headers.ContainsKey("HX-Request") ? Partial("_LedgerAudit", this) : Redirect("/dashboard/ledger");
    }
}
