using System.Text;
using Microsoft.AspNetCore.Http;
using TrainGuard.Server.Hosting;

namespace TrainGuard.Server.Http;

/// <summary>Liveness, readiness (the store answers) and Prometheus metrics.</summary>
internal static class OpsEndpoints
{
    public static Task HealthAsync(HttpContext context) => PlainAsync(context, StatusCodes.Status200OK, "ok\n");

    public static async Task ReadyAsync(HttpContext context, ServerState state)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            var size = await state.Store.Ledger.SizeAsync(timeout.Token);
            await HttpJson.WriteAsync(context, StatusCodes.Status200OK, w =>
            {
                w.WriteStartObject();
                w.WriteString("status", "ready");
                w.WriteNumber("tree_size", size);
                if (state.Cluster is { } cluster)
                {
                    // Several servers on one PostgreSQL database: this one's role and how far behind it is.
                    w.WriteString("role", cluster.IsSequencer ? "sequencer" : "follower");
                    w.WriteNumber("served_tree_size", state.TreeHeads.Latest.Size);
                    w.WriteNumber("behind_leaves", Math.Max(0, size - state.Log.Size));
                    w.WriteNumber("sync_age_seconds", Math.Round(cluster.SinceLastSync.TotalSeconds, 3));
                    w.WriteNumber("staging_depth", cluster.StagingDepth);
                    w.WriteNumber("staging_oldest_seconds", Math.Round(cluster.OldestStagedWait.TotalSeconds, 3));
                }

                w.WriteEndObject();
            });
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !context.RequestAborted.IsCancellationRequested)
        {
            await HttpJson.ProblemAsync(context, StatusCodes.Status503ServiceUnavailable, "not-ready", "Store unavailable", $"the store did not answer: {ex.GetType().Name}");
        }
    }

    public static Task MetricsAsync(HttpContext context, ServerState state)
    {
        var text = new StringBuilder(state.Metrics.Render(state.Log.Size, state.TreeHeads.Latest.Size, state.TreeHeads.PublishedCount));
        RenderDeriverMetrics(text, state);
        state.Cluster?.RenderMetrics(text);
        return PlainAsync(context, StatusCodes.Status200OK, text.ToString(), "text/plain; version=0.0.4; charset=utf-8");
    }

    /// <summary>How far live alert derivation is behind the log (docs/alerts.md, "Live derivation and re-derivation on start").</summary>
    private static void RenderDeriverMetrics(StringBuilder text, ServerState state)
    {
        if (state.Deriver is not { Cursor: >= 0 } deriver)
        {
            return;
        }

        var cursor = deriver.Cursor;
        ServerMetrics.Metric(text, "trainguard_alert_deriver_cursor", "gauge", "The next ledger index live alert derivation will evaluate.", cursor);
        ServerMetrics.Metric(text, "trainguard_alert_deriver_lag_entries", "gauge", "Ledger entries committed but not yet evaluated by the detections.", Math.Max(0, state.Log.Size - cursor));
        ServerMetrics.Metric(text, "trainguard_alert_deriver_failures_total", "counter", "Derivation rounds that failed and started over from the stored cursor.", deriver.Failures);
    }

    private static async Task PlainAsync(HttpContext context, int status, string text, string contentType = "text/plain; charset=utf-8")
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        context.Response.StatusCode = status;
        context.Response.ContentType = contentType;
        context.Response.ContentLength = bytes.Length;
        await context.Response.Body.WriteAsync(bytes, context.RequestAborted);
    }
}
