using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;

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
        var text = state.Metrics.Render(state.Log.Size, state.TreeHeads.Latest.Size, state.TreeHeads.PublishedCount) + DeriverMetrics(state);
        return PlainAsync(context, StatusCodes.Status200OK, text, "text/plain; version=0.0.4; charset=utf-8");
    }

    /// <summary>How far live alert derivation is behind the log (docs/alerts.md, "Latency").</summary>
    private static string DeriverMetrics(ServerState state)
    {
        if (state.Deriver is not { Cursor: >= 0 } deriver)
        {
            return string.Empty;
        }

        var cursor = deriver.Cursor;
        return string.Create(CultureInfo.InvariantCulture, $"""
            # HELP trainguard_alert_deriver_cursor The next ledger index live alert derivation will evaluate.
            # TYPE trainguard_alert_deriver_cursor gauge
            trainguard_alert_deriver_cursor {cursor}
            # HELP trainguard_alert_deriver_lag_entries Ledger entries committed but not yet evaluated by the detections.
            # TYPE trainguard_alert_deriver_lag_entries gauge
            trainguard_alert_deriver_lag_entries {Math.Max(0, state.Log.Size - cursor)}
            # HELP trainguard_alert_deriver_failures_total Derivation rounds that failed and started over from the stored cursor.
            # TYPE trainguard_alert_deriver_failures_total counter
            trainguard_alert_deriver_failures_total {deriver.Failures}

            """);
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
