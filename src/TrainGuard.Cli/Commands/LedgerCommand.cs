using System.CommandLine;
using TrainGuard.Cli.Output;
using TrainGuard.Findings;
using TrainGuard.Ledger.Client;
using TrainGuard.Ledger.Notes;
using TrainGuard.Ledger.Verification;
using TrainGuard.Parsing;
using TrainGuard.Server.Storage;

namespace TrainGuard.Cli.Commands;

/// <summary><c>trainguard ledger verify</c> (the log only grew) and <c>trainguard ledger audit</c> (the stored rows are intact).</summary>
public static class LedgerCommand
{
    public const string Description = """
        Check the tamper-evident event ledger.

          verify   prove, from an old signed checkpoint you kept, that the server's log only grew since
          audit    recompute the whole tree from the stored rows and report any row changed or removed

        Examples:
          trainguard ledger verify --server http://127.0.0.1:8470 --checkpoint old.checkpoint --key "$(cat log.vkey)" --save old.checkpoint
          trainguard ledger audit --db sqlite:/var/lib/trainguard/trainguard.db --key "$(cat log.vkey)"
        See docs/ledger.md.
        """;

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var command = new Command("ledger", Description);
        command.Subcommands.Add(Verify(stdout, stderr));
        command.Subcommands.Add(Audit(stdout, stderr));
        return command;
    }

    private static Command Verify(TextWriter stdout, TextWriter stderr)
    {
        var server = new Option<string>("--server") { Description = "Base URL of the TrainGuard server (or any tlog-tiles log serving the consistency endpoint).", Required = true };
        var checkpoint = new Option<FileInfo>("--checkpoint") { Description = "File holding an older signed checkpoint of this log.", Required = true };
        var key = new Option<string>("--key") { Description = "The log's verifier key (name+keyid+base64), or a file holding it.", Required = true };
        var save = new Option<FileInfo?>("--save") { Description = "When the check passes, write the server's new checkpoint here (e.g. the --checkpoint file)." };
        var timeout = new Option<int>("--timeout") { Description = "Seconds allowed for the server to answer.", DefaultValueFactory = _ => 30 };
        var output = new ReportOutput();
        var command = new Command("verify", "Prove the log only grew since an older checkpoint.\nExit codes: 0 consistent, 1 inconsistent (proof the log was rewritten), 2 error.");
        foreach (var option in new Option[] { server, checkpoint, key, save, timeout })
        {
            command.Options.Add(option);
        }

        output.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var file = parse.GetValue(checkpoint)!;
            if (!file.Exists)
            {
                throw new CliException($"--checkpoint: {file.FullName} does not exist");
            }

            if (!Uri.TryCreate(parse.GetValue(server), UriKind.Absolute, out var serverUri) || serverUri.Scheme is not ("http" or "https"))
            {
                throw new CliException($"--server: '{parse.GetValue(server)}' is not an http(s) URL");
            }

            var verifier = ParseKey(parse.GetValue(key)!);
            using var client = new TrainGuardApiClient(serverUri, timeout: TimeSpan.FromSeconds(Math.Max(1, parse.GetValue(timeout))));
            ConsistencyOutcome outcome;
            try
            {
                outcome = await LogConsistencyCheck.RunAsync(client, await File.ReadAllTextAsync(file.FullName, ct), verifier, ct);
            }
            catch (TrainGuardApiException ex)
            {
                throw new CliException($"--server: {ex.Message}", ex);
            }
            catch (MalformedInputException ex)
            {
                throw new CliException(ex.Message, ex);
            }

            if (outcome.NewTreeHead is { } note && parse.GetValue(save) is { } target)
            {
                var temp = target.FullName + ".tmp";
                await File.WriteAllTextAsync(temp, note, ct);
                File.Move(temp, target.FullName, overwrite: true);
            }

            return output.Write(parse, outcome.Report, stdout, stderr);
        });
        return command;
    }

    private static Command Audit(TextWriter stdout, TextWriter stderr)
    {
        var data = ServerCommand.DataDirectoryOption();
        var db = ServerCommand.DatabaseOption();
        var key = new Option<string?>("--key") { Description = "Also verify every stored checkpoint's signature with this verifier key (or a file holding it)." };
        var output = new ReportOutput();
        var command = new Command("audit", "Recompute every leaf and the tree from the stored rows; report changed, missing or extra rows, checkpoints no longer reproduced, and event index mismatches.\n" + ExitCodes.HelpText);
        foreach (var option in new Option[] { data, db, key })
        {
            command.Options.Add(option);
        }

        output.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var keys = parse.GetValue(key) is { } k ? new[] { ParseKey(k) } : null;
            await using var store = await ServerCommand.OpenStoreAsync(parse.GetValue(db), parse.GetValue(data), ct);
            var report = await ServerStoreAudit.AuditAsync(store, keys, ct);
            return output.Write(parse, report, stdout, stderr);
        });
        return command;
    }

    private static NoteVerifier ParseKey(string value)
    {
        var text = File.Exists(value) ? File.ReadAllText(value).Trim() : value.Trim();
        try
        {
            return NoteVerifier.Parse(text);
        }
        catch (MalformedInputException ex)
        {
            throw new CliException($"--key: {ex.Message}", ex);
        }
    }
}
