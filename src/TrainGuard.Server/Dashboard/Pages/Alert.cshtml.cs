using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using TrainGuard.Server.Alerts;

namespace TrainGuard.Server.Dashboard.Pages;

/// <summary>
/// One alert: the reason, the rule's text and guidance, the contributing events with their ledger index and checked
/// inclusion proofs (downloadable as JSON), status / assignee / classification / notes with their history, and the
/// actions a responder may take.
/// </summary>
public sealed class AlertModel : DashboardPageModel
{
    /// <summary>How many contributing events get their inclusion proof checked on the page (the download has them all).</summary>
    public const int ProvenOnPage = 25;

    public AlertModel(DashboardContext dashboard)
        : base(dashboard)
    {
        Title = "Alert";
    }

    [BindProperty(SupportsGet = true)]
    public string Id { get; set; } = string.Empty;

    public Alert Alert { get; private set; } = null!;

    public IReadOnlyList<(AlertEventRef Ref, DashboardEvent? Event, InclusionCheck? Proof)> Events { get; private set; } = [];

    /// <summary>What went wrong with the last action (shown by the actions form).</summary>
    public string? Problem { get; private set; }

    /// <summary>What the last action did.</summary>
    public string? Done { get; private set; }

    public async Task<IActionResult> OnGetAsync()
    {
        if (!await LoadAsync(withEvents: true))
        {
            return NotFoundPage($"No alert with id '{Id}' is stored.");
        }

        return Page();
    }

    /// <summary>The inclusion proofs of every contributing event (at most <see cref="Alerts.Alert.MaxEvents"/>), as JSON.</summary>
    public async Task<IActionResult> OnGetProofAsync()
    {
        if (!await LoadAsync(withEvents: false))
        {
            return NotFound();
        }

        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("alert_id", Alert.Id);
            w.WriteString("rule_id", Alert.Rule.Id);
            w.WriteString("log_origin", Dashboard.State.Log.Origin);
            w.WriteString("verifier_key", Dashboard.State.Log.Verifier.VerifierKey);
            w.WriteString("how_to_check", "for each event: leaf_hash = SHA-256(0x00 || base64-decoded entry); hash it up the inclusion_proof to root_hash (RFC 9162 section 2.1.3.2) at index in a tree of tree_size; root_hash is line 3 of checkpoint, a signed note whose signature verifies under verifier_key");
            w.WriteStartArray("events");
            foreach (var reference in Alert.Events)
            {
                var proof = await DashboardQueries.ProveAsync(Dashboard.State, reference.LedgerIndex, HttpContext.RequestAborted);
                if (proof is not null)
                {
                    proof.WriteJson(w);
                }
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return File(buffer.WrittenMemory.ToArray(), "application/json", $"{Alert.Id}-proof.json");
    }

    public async Task<IActionResult> OnPostAsync(string? status, string? classification, string? assignee, string? note)
    {
        if (!Viewer.CanRespond)
        {
            return StatusCode(StatusCodes.Status403Forbidden, $"a token with role '{Viewer.RoleName}' may not change an alert's status; it needs role 'responder' or 'admin'");
        }

        if (!await LoadAsync(withEvents: false))
        {
            return NotFound();
        }

        if (!AlertStatus.IsStatus(status))
        {
            Problem = $"status: one of {string.Join(", ", AlertStatus.All)}";
        }
        else
        {
            var change = new AlertStatusChange(status!, Blank(classification), Blank(assignee), Blank(note));
            var (stored, problem) = await DashboardQueries.ChangeStatusAsync(Dashboard.State, Alert, change, Viewer.ToSubmitter());
            if (stored is not null)
            {
                Alert = stored;
                Done = $"The alert is {stored.Status} (recorded in the ledger at index {stored.History[^1].LedgerIndex}).";
            }

            Problem = problem;
        }

        if (Request.Headers.ContainsKey("HX-Request"))
        {
            if (Problem is not null)
            {
                Response.StatusCode = StatusCodes.Status200OK;
            }

            return Partial("_AlertStatus", this);
        }

        if (Problem is null)
        {
            return Redirect("/dashboard/alerts/" + Uri.EscapeDataString(Alert.Id));
        }

        await LoadAsync(withEvents: true);
        Response.StatusCode = StatusCodes.Status400BadRequest;
        return Page();
    }

    private async Task<bool> LoadAsync(bool withEvents)
    {
        var state = Dashboard.State;
        var ct = HttpContext.RequestAborted;
        var alert = AlertIds.IsWellFormed(Id) ? await state.Alerts.GetAsync(Id, ct) : null;
        if (alert is null)
        {
            return false;
        }

        Alert = alert;
        Title = alert.Rule.Title;
        if (withEvents)
        {
            var events = new List<(AlertEventRef, DashboardEvent?, InclusionCheck?)>();
            foreach (var reference in alert.Events)
            {
                var entry = await state.Store.Ledger.GetEntryAsync(reference.LedgerIndex, ct);
                var proof = events.Count < ProvenOnPage ? await DashboardQueries.ProveAsync(state, reference.LedgerIndex, ct) : null;
                events.Add((reference, entry is null ? null : DashboardEvent.From(reference.LedgerIndex, entry), proof));
            }

            Events = events;
        }

        return true;
    }

    private static string? Blank(string? text) => string.IsNullOrWhiteSpace(text) ? null : text.Trim();
}
