using System.CommandLine;
using TrainGuard.Cli.Options;
using TrainGuard.Findings;
using TrainGuard.Ledger.Client;
using TrainGuard.Ledger.Verification;
using TrainGuard.Parsing;
using TrainGuard.Server.Storage;

namespace TrainGuard.Cli.Commands;

/// <summary><c>trainguard ledger verify</c> (the log only grew) and <c>trainguard ledger audit</c> (the stored rows are intact).</summary>
public static class LedgerCommand
{
    public const string Description = """
        Check the tamper-evident event ledger.

          verify   prove, from an old signed tree head you kept, that the server's log only grew since
          audit    recompute the whole tree from the stored rows and report any row changed or removed

        Examples:
          trainguard ledger verify --server http://127.0.0.1:8470 --log-key log.vkey --save head.txt
              first use: check the server's signed tree head and keep it in head.txt
          trainguard ledger verify --server http://127.0.0.1:8470 --log-key log.vkey --tree-head head.txt --save head.txt
              later: prove the log only grew since head.txt, then keep the new head
          trainguard ledger audit --db sqlite:/var/lib/trainguard/trainguard.db --log-key log.vkey
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
        var server = new ServerClientOptions(required: true, "Its log (or any tlog-tiles log serving the consistency endpoint) is checked.", withToken: false);
        var treeHead = new Option<FileInfo?>("--tree-head")
        {
            HelpName = "FILE",
            Description = "File holding an older signed tree head (C2SP checkpoint note) of this log, saved by an earlier --save. Without it (first use), only the server's current tree head is checked against --log-key.",
        };
        var key = CommonOptions.LogKey(required: true, "Tree heads must be signed with it.");
        var save = new Option<FileInfo?>("--save") { HelpName = "FILE", Description = "When the check passes, write the server's current signed tree head here (e.g. the --tree-head file) for the next run." };
        var output = new ReportOptions(sarif: true);
        var command = new Command("verify", """
            Prove the log only grew since an older signed tree head: fetch the server's current tree head, check its
            signature against --log-key, and verify an RFC 9162 consistency proof from the old head to it.
            Keep the first tree head with --save (no --tree-head), then pass it as --tree-head next time.

            Exit codes: 0 consistent (or, on first use, a validly signed head), 1 inconsistent (proof the log was
            rewritten), 2 error (server unreachable, a head not signed by --log-key, bad usage).
            """);
        server.AddTo(command);
        command.AddOptions(treeHead, key, save);
        output.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            output.Validate(parse);
            var old = InputValidation.ExistingFile(parse.GetValue(treeHead), "--tree-head");
            var serverUri = server.Url(parse)!;
            var verifier = InputValidation.LogKey(parse.GetValue(key)!);
            var target = parse.GetValue(save) is { } s ? InputValidation.WritableFile(s.FullName, "--save") : null;
            using var client = server.CreateClient(parse)!;
            ConsistencyOutcome outcome;
            try
            {
                outcome = await LogConsistencyCheck.RunAsync(client, old is null ? null : await File.ReadAllTextAsync(old, ct), verifier, ct);
            }
            catch (TrainGuardApiException ex)
            {
                throw new CliException($"--server {serverUri}: {ex.Message}", ex);
            }
            catch (MalformedInputException ex)
            {
                throw new CliException(ex.Message, ex);
            }

            if (outcome.NewTreeHead is { } note && target is not null)
            {
                var temp = target + ".tmp";
                await File.WriteAllTextAsync(temp, note, ct);
                File.Move(temp, target, overwrite: true);
            }

            return output.Write(parse, outcome.Report, stdout, stderr);
        });
        return command;
    }

    private static Command Audit(TextWriter stdout, TextWriter stderr)
    {
        var data = CommonOptions.DataDirectory();
        var db = CommonOptions.Database();
        var key = CommonOptions.LogKey(required: false, "Also verify every stored tree head's signature with it.");
        var output = new ReportOptions(sarif: true);
        var command = new Command("audit", "Recompute every leaf and the tree from the stored rows; report changed, missing or extra rows, tree heads no longer reproduced, and event index mismatches. The database must exist (it is never created here).\n" + ExitCodes.HelpText);
        command.AddOptions(data, db, key);
        output.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            output.Validate(parse);
            var keys = parse.GetValue(key) is { } k ? new[] { InputValidation.LogKey(k) } : null;
            await using var store = await ServerCommand.OpenStoreAsync(parse.GetValue(db), parse.GetValue(data), mustExist: true, ct);
            var report = await ServerStoreAudit.AuditAsync(store, keys, ct);
            return output.Write(parse, report, stdout, stderr);
        });
        return command;
    }
}
