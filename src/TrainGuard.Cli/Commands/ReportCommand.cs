using System.CommandLine;
using TrainGuard.Cli.Options;
using TrainGuard.Findings;
using TrainGuard.Ledger.Notes;
using TrainGuard.Ledger.Storage;
using TrainGuard.Parsing;
using TrainGuard.Server.Alerts;
using TrainGuard.Server.Ledger;
using TrainGuard.Server.Reports;
using TrainGuard.Server.Storage;

namespace TrainGuard.Cli.Commands;

/// <summary>
/// <c>trainguard report</c>: the signed audit report over a period, built from a server's store (docs/report.md), and
/// <c>trainguard report verify FILE</c>: proves a report was not edited since the server issued it.
/// </summary>
public static class ReportCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var since = new Option<string?>("--since") { HelpName = "TIME", Description = "Start of the period (RFC 3339; default: 7 days before --until). Events count by @timestamp, alerts when active in the period." };
        var until = new Option<string?>("--until") { HelpName = "TIME", Description = "End of the period, exclusive (RFC 3339; default: now)." };
        var format = new Option<string>("--format", "-f") { Description = "html (one self-contained, printable page) or json.", DefaultValueFactory = _ => SignedReport.Html };
        format.AcceptOnlyFromAmong(SignedReport.Html, SignedReport.Json);
        var output = CommonOptions.Output();
        var key = new Option<FileInfo?>("--key")
        {
            HelpName = "FILE",
            Description = "The log's signing key (a signed-note signer key, as the server keeps it in DATA_DIR/log-signing.key). Default: the one in the data directory.",
        };
        var data = CommonOptions.DataDirectory();
        var db = CommonOptions.Database();
        var command = new Command("report", """
            Issue the signed audit report of a period, built from a server's stored events, alerts and ledger: alerts
            by status, classification and severity, and those still open with the time they opened; per node the
            agent's last heartbeat, env verify and access check findings and alerts; checkpoints signed, verified and
            any that failed or scanned malicious; the ledger's growth, witnesses and a ledger audit run now; the
            accounts with the most alerts and the headlines of their timelines.

            The report's SHA-256 is recorded in the ledger (a report-issued entry), then the report is signed with the
            ledger's key, naming that entry: 'trainguard report verify FILE' proves it was not edited since. Name the
            store as 'ledger audit' does (--data-dir or --db). See docs/report.md.

            Examples:
              trainguard report --data-dir /var/lib/trainguard --since 2026-11-30T00:00:00Z --until 2026-12-07T00:00:00Z -o week-49.html
              trainguard report --db "Host=db;Database=trainguard;Username=tg" --key /var/lib/trainguard/log-signing.key -f json -o week-49.json
              trainguard report verify week-49.html --data-dir /var/lib/trainguard

            Exit codes: 0 issued, nothing open; 1 issued, with alerts still open or a ledger audit finding; 2 error
            (no such database, no signing key, a bad time, bad usage).
            """);
        command.AddOptions(since, until, format, output, key, data, db);
        command.Subcommands.Add(Verify(stdout));
        command.SetAction(async (parse, ct) =>
        {
            var end = parse.GetValue(until) is { } u ? RulesCommand.Time(u, "--until") : DateTimeOffset.UtcNow;
            var start = parse.GetValue(since) is { } s ? RulesCommand.Time(s, "--since") : end.AddDays(-7);
            if (end <= start)
            {
                throw new CliException("--until must be after --since");
            }

            using var signer = LoadSigner(parse.GetValue(key), parse.GetValue(data));
            await using var store = await ServerCommand.OpenStoreAsync(parse.GetValue(db), parse.GetValue(data), mustExist: true, ct);
            var issued = await ServerCommand.Guard(async () =>
            {
                var log = await TransparencyLog.OpenAsync(store.Ledger, signer.Name, signer, ct);
                var sources = new ReportSources(store, await AlertStore.OpenAsync(store, ct), await CosignatureStore.OpenAsync(store, ct), signer.Verifier);
                return (await ReportIssuer.IssueAsync(sources, signer, (entry, token) => AppendAsync(log, entry, token), start, end, [parse.GetValue(format)!], "trainguard report (command line)", DateTimeOffset.UtcNow, ct))[0];
            });

            var file = parse.GetValue(output);
            if (file is null)
            {
                await stdout.WriteAsync(System.Text.Encoding.UTF8.GetString(issued.File));
                await stdout.FlushAsync(ct);
            }
            else
            {
                await File.WriteAllBytesAsync(file.FullName, issued.File, ct);
            }

            var r = issued.Report;
            await stderr.WriteLineAsync($"trainguard: report {r.Id} ({issued.Format}{(file is null ? string.Empty : ", " + file.FullName)}): {r.Alerts.Total} alerts, {r.Alerts.StillOpen.Count} still open, {r.Nodes.Count} nodes, ledger audit {r.Ledger.AuditVerdict}; sha256 {issued.Sha256} recorded in ledger entry {issued.LedgerIndex}");
            return r.Alerts.StillOpen.Count > 0 || r.Ledger.AuditFindings > 0 ? ExitCodes.Findings : ExitCodes.Clean;
        });
        return command;
    }

    private static Command Verify(TextWriter stdout)
    {
        var path = new Argument<FileInfo>("FILE") { Description = "A report written by 'trainguard report' (HTML or JSON)." };
        var logKey = CommonOptions.LogKey(required: false, "The ledger's verifier key (the key string or a file holding it). Default: the public half of the signing key in the data directory.");
        var data = CommonOptions.DataDirectory();
        var db = CommonOptions.Database();
        var server = new ServerClientOptions(required: false, "Read the ledger entry from this server (a reader token) instead of its database; needs --log-key.");
        var command = new Command("verify", """
            Prove a report is the one the server issued: its signature verifies with the ledger's key, its content's
            SHA-256 is the one signed, and the ledger entry the signature names (report-issued) records that report
            and digest. Read the entry from the server's store as 'ledger audit' does (--data-dir or --db), or from a
            running server (--server with a reader token, and the ledger's key pinned with --log-key).

            Examples:
              trainguard report verify week-49.html --data-dir /var/lib/trainguard
              trainguard report verify week-49.json --server https://ledger.example.org:8443 --token-file reader.token --log-key log.vkey

            Exit codes: 0 verified; 1 the report was edited, signed by another key, or is not recorded in the ledger
            (the message says which); 2 error (not a signed report, no such database, no key).
            """);
        command.Arguments.Add(path);
        command.AddOptions(logKey, data, db);
        server.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var file = InputValidation.ExistingFile(parse.GetValue(path), "FILE")!;
            var bytes = await File.ReadAllBytesAsync(file, ct);
            try
            {
                SignedReport.Open(bytes, file); // not a signed report at all: an error before anything else is read
            }
            catch (MalformedInputException ex)
            {
                throw new CliException(ex.Message, ex);
            }

            using var client = server.CreateClient(parse);
            if (client is not null && parse.GetValue(logKey) is null)
            {
                throw new CliException("--server needs --log-key: the key a report must be signed with is pinned, never taken from the server that issued it");
            }

            var verifier = parse.GetValue(logKey) is { } k ? InputValidation.LogKey(k) : VerifierFromDataDirectory(parse.GetValue(data));
            await using var store = client is null ? await ServerCommand.OpenStoreAsync(parse.GetValue(db), parse.GetValue(data), mustExist: true, ct) : null;
            ReportVerification result;
            try
            {
                result = await ReportVerifier.VerifyAsync(bytes, file, verifier, (index, token) => store is not null ? store.Ledger.GetEntryAsync(index, token) : EntryFromServerAsync(client!, index, token), ct);
            }
            catch (MalformedInputException ex)
            {
                throw new CliException(ex.Message, ex);
            }

            await stdout.WriteLineAsync($"{(result.Valid ? "OK" : "FAILED")}  {TextSanitizer.Escape(file, 300)}: {result.Message}");
            return result.Valid ? ExitCodes.Clean : ExitCodes.Findings;
        });
        return command;
    }

    /// <summary>The <c>report-issued</c> event at leaf <paramref name="index"/>, read through the event API (the first of that action after index - 1), or null.</summary>
    private static async Task<byte[]?> EntryFromServerAsync(Ledger.Client.TrainGuardApiClient client, long index, CancellationToken cancellationToken)
    {
        var after = index > 0 ? $"&after={(index - 1).ToString(System.Globalization.CultureInfo.InvariantCulture)}" : string.Empty;
        var answer = await ApiCalls.GetAsync(client, $"api/v1/events?action={ReportIssuedEvent.Action}&limit=1{after}", ApiCalls.ReaderToken, "the server has no events endpoint", cancellationToken);
        foreach (var e in answer.GetProperty("events").EnumerateArray())
        {
            if (e.GetProperty("index").GetInt64() == index)
            {
                return System.Text.Encoding.UTF8.GetBytes(e.GetProperty("event").GetRawText());
            }
        }

        return null;
    }

    private static async Task<long> AppendAsync(TransparencyLog log, LedgerAppend entry, CancellationToken cancellationToken)
    {
        var result = await log.AppendWithTreeHeadAsync([entry], cancellationToken);
        if (result.TreeHead is null)
        {
            await log.PublishTreeHeadAsync(cancellationToken);
        }

        return result.Indices[0];
    }

    private static NoteSigner LoadSigner(FileInfo? key, string? dataDirectory)
    {
        var path = key?.FullName ?? LogSigningKey.PathIn(ServerCommand.DataDirectory(dataDirectory));
        if (!File.Exists(path))
        {
            throw new CliException(key is null
                ? $"no log signing key at {path} (the data directory's); give the server's key file with --key"
                : $"--key: file {path} does not exist");
        }

        try
        {
            return NoteSigner.Parse(File.ReadAllText(path).Trim());
        }
        catch (MalformedInputException ex)
        {
            throw new CliException($"{path} is not a signer key: {ex.Message}", ex);
        }
    }

    private static NoteVerifier VerifierFromDataDirectory(string? dataDirectory)
    {
        var path = LogSigningKey.PathIn(ServerCommand.DataDirectory(dataDirectory));
        if (!File.Exists(path))
        {
            throw new CliException($"no log key given and no signing key at {path}: give the ledger's verifier key with --log-key");
        }

        using var signer = LoadSigner(new FileInfo(path), dataDirectory);
        return signer.Verifier;
    }
}
