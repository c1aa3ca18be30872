using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc;

namespace TrainGuard.Server.Dashboard.Pages;

/// <summary>One ledger entry: the event as committed, the alerts it contributed to, and its inclusion proof, checked step by step and downloadable.</summary>
public sealed class EventModel : DashboardPageModel
{
    public EventModel(DashboardContext dashboard)
        : base(dashboard)
    {
        Title = "Event";
    }

    [BindProperty(SupportsGet = true)]
    public long Index { get; set; }

    public DashboardEvent Event { get; private set; } = null!;

    public EventFields? Fields { get; private set; }

    public InclusionCheck Proof { get; private set; } = null!;

    public IReadOnlyList<string> AlertIds { get; private set; } = [];

    public async Task<IActionResult> OnGetAsync()
    {
        if (await DashboardQueries.ProveAsync(Dashboard.State, Index, HttpContext.RequestAborted) is not { } proof)
        {
            return NotFoundPage($"The ledger has no entry {Index} (its size is {Dashboard.State.Log.Size}).");
        }

        Proof = proof;
        Event = DashboardEvent.From(Index, proof.Entry);
        Fields = EventFields.Parse(Index, proof.Entry);
        Title = $"Ledger entry {Index}: {Event.Action}";
        var ids = await Dashboard.State.Alerts.AlertIdsByEventAsync(Index, Index, HttpContext.RequestAborted);
        AlertIds = ids.TryGetValue(Index, out var list) ? list : [];
        return Page();
    }

    public async Task<IActionResult> OnGetProofAsync()
    {
        if (await DashboardQueries.ProveAsync(Dashboard.State, Index, HttpContext.RequestAborted) is not { } proof)
        {
            return NotFound();
        }

        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            proof.WriteJson(w);
        }

        return File(buffer.WrittenMemory.ToArray(), "application/json", $"entry-{Index}-proof.json");
    }
}
