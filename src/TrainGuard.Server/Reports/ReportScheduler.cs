using System.Globalization;
using Microsoft.Extensions.Logging;
using TrainGuard.Ledger.Notes;
using TrainGuard.Server.Http;
using TrainGuard.Server.Notifications;
using TrainGuard.Server.Storage;

namespace TrainGuard.Server.Reports;

/// <summary>The server's scheduled report (<c>trainguard server run --report-every</c>).</summary>
public sealed record ReportServerOptions
{
    /// <summary>How long each scheduled report covers, and how often one is issued; null: none is.</summary>
    public TimeSpan? Every { get; init; }

    /// <summary>How often the scheduler looks whether a report is due.</summary>
    public TimeSpan CheckInterval { get; init; } = TimeSpan.FromMinutes(1);
}

/// <summary>
/// Issues a report every <see cref="ReportServerOptions.Every"/>: the period runs from the end of the last scheduled
/// report (its <c>report-issued</c> entry, so a restart neither skips nor repeats a period; the first one covers the
/// interval before it), HTML and JSON are written to <c>DATA_DIR/reports/</c> (mode 0600) and a <c>report.issued</c>
/// webhook carrying the summary and digests is queued for every enabled target. A failure is logged and retried at the
/// next check; it never stops the server.
/// </summary>
internal sealed class ReportScheduler : IAsyncDisposable
{
    public const string IssuedBy = "the server's schedule";

    private readonly ServerState _state;
    private readonly NoteSigner _signer; // the server's: not disposed here
    private readonly WebhookNotifications _webhooks;
    private readonly ReportServerOptions _options;
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    public ReportScheduler(ServerState state, NoteSigner signer, WebhookNotifications webhooks, ReportServerOptions options)
    {
        _state = state;
        _signer = signer;
        _webhooks = webhooks;
        _options = options;
    }

    public string Directory => Path.Combine(_state.Options.DataDirectory, "reports");

    public void Start() => _loop ??= Task.Run(() => RunAsync(_stop.Token));

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_loop is not null)
        {
            await _loop;
        }

        _stop.Dispose();
    }

    /// <summary>Issues the report that is due, if one is; returns the HTML report issued, or null.</summary>
    public async Task<IssuedReport?> IssueDueAsync(CancellationToken cancellationToken)
    {
        var every = _options.Every ?? throw new InvalidOperationException("no report schedule is configured");
        var now = _state.Time.GetUtcNow();
        var last = await LastScheduledEndAsync(cancellationToken);
        var since = last ?? now - every;
        if (last is not null && now - last.Value < every)
        {
            return null;
        }

        var issued = await IssueAsync(_state, _signer, since, now, [SignedReport.Html, SignedReport.Json], IssuedBy, cancellationToken);
        var (html, json) = (issued[0], issued[1]);
        PrivateFiles.CreateDirectory(Directory);
        var stem = Path.Combine(Directory, $"{now.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture)}-{html.Report.Id}");
        await WritePrivateAsync(stem + ".html", html.File, cancellationToken);
        await WritePrivateAsync(stem + ".json", json.File, cancellationToken);
        await _webhooks.ReportIssuedAsync(html, json, now, cancellationToken);
        _state.Logger.LogInformation("report {ReportId} issued for {Since} to {Until}: {Alerts} alerts, {Open} still open; {File}.html and .json", html.Report.Id, since, now, html.Report.Alerts.Total, html.Report.Alerts.StillOpen.Count, stem);
        return html;
    }

    /// <summary>Issues one report through this server's ledger, in each format (on demand: <c>POST /api/v1/reports</c>; the schedule).</summary>
    public static async Task<IReadOnlyList<IssuedReport>> IssueAsync(ServerState state, NoteSigner signer, DateTimeOffset since, DateTimeOffset until, IReadOnlyList<string> formats, string issuedBy, CancellationToken cancellationToken)
    {
        var sources = new ReportSources(state.Store, state.Alerts, await CosignatureStore.OpenAsync(state.Store, cancellationToken), state.Log.Verifier, state.Options.Alerts.SilentFactor);
        return await ReportIssuer.IssueAsync(
            sources,
            signer,
            async (entry, ct) => (await state.TreeHeads.AppendAsync([entry], ct)).Result.Indices[0],
            since,
            until,
            formats,
            issuedBy,
            state.Time.GetUtcNow(),
            cancellationToken);
    }

    private async Task<DateTimeOffset?> LastScheduledEndAsync(CancellationToken cancellationToken)
    {
        long? after = null;
        while (true)
        {
            var page = await _state.Store.QueryAsync(new EventQuery { Action = ReportIssuedEvent.Action, Descending = true, After = after, Limit = 100 }, cancellationToken);
            foreach (var e in page)
            {
                if (ReportIssuedEvent.ReadPeriod(e.Entry) is { IssuedBy: IssuedBy } issued)
                {
                    return issued.Until;
                }
            }

            if (page.Count < 100)
            {
                return null;
            }

            after = page[^1].Index;
        }
    }

    private static async Task WritePrivateAsync(string path, byte[] bytes, CancellationToken cancellationToken)
    {
        PrivateFiles.CreateEmptyFile(path);
        await File.WriteAllBytesAsync(path, bytes, cancellationToken);
    }

    private async Task RunAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await IssueDueAsync(stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                _state.Logger.LogError(ex, "reports: issuing the scheduled report failed; trying again at the next check");
            }

            try
            {
                await Task.Delay(_options.CheckInterval, _state.Time, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
