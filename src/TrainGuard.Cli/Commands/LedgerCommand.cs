using System.CommandLine;
using System.Text.Json.Nodes;
using TrainGuard.Cli.Options;
using TrainGuard.Cli.Output;
using TrainGuard.Findings;
using TrainGuard.Ledger.Client;
using TrainGuard.Ledger.Verification;
using TrainGuard.Parsing;
using TrainGuard.Server.Storage;

namespace TrainGuard.Cli.Commands;

/// <summary>
/// <c>trainguard ledger verify</c> (the log only grew), <c>ledger audit</c> (the stored rows are intact) and
/// <c>ledger witness</c> (follow a server from outside and cosign its consistent tree heads; <see cref="LedgerWitnessCommand"/>).
/// </summary>
public static class LedgerCommand
{
    public const string Description = """
        Check the tamper-evident event ledger.

          verify   prove, from an old signed tree head you kept, that the server's log only grew since
          audit    recompute the whole tree from the stored rows and report any row changed or removed
          witness  follow a server from another machine, cosign each consistent tree head, alert on a rollback

        Examples:
          trainguard ledger verify --server http://127.0.0.1:8470 --log-key log.vkey --save head.txt
              first use: check the server's signed tree head and keep it in head.txt
          trainguard ledger verify --server http://127.0.0.1:8470 --log-key log.vkey --tree-head head.txt --save head.txt
              later: prove the log only grew since head.txt, then keep the new head
          trainguard ledger audit --db sqlite:/var/lib/trainguard/trainguard.db --log-key log.vkey
          trainguard ledger witness --server http://ledger:8470 --log-key log.vkey --key witness.key --submit
        See docs/ledger.md.
        """;

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var command = new Command("ledger", Description);
        command.Subcommands.Add(Verify(stdout, stderr));
        command.Subcommands.Add(Audit(stdout, stderr));
        command.Subcommands.Add(LedgerWitnessCommand.Create(stdout, stderr));
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
        var state = CommonOptions.StateDirectory();
        var output = new ReportOptions(sarif: true);
        var command = new Command("verify", """
            Prove the log only grew since an older signed tree head: fetch the server's current tree head, check its
            signature against --log-key, and verify an RFC 9162 consistency proof from the old head to it. The old
            head is --tree-head when given, and always the head kept for this log in --state-dir from the last run
            (which then keeps the new one), so a second run needs no file: a log that was cut at its end (rolled
            back) or that shows another history (split view) is caught, and both signed heads are printed as evidence.

            Exit codes: 0 consistent (or, on first use, a validly signed head), 1 inconsistent (proof the log was
            rewritten or rolled back; both heads are printed), 2 error (server unreachable, a head not signed by
            --log-key, bad usage).
            """);
        server.AddTo(command);
        command.AddOptions(treeHead, key, save, state);
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
                outcome = await LogConsistencyCheck.RunAsync(client, old is null ? null : await File.ReadAllTextAsync(old, ct), verifier, CommonOptions.ResolveStateDirectory(parse.GetValue(state)), ct);
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

            var report = outcome.Report;
            if (outcome.Evidence is { } evidence)
            {
                report = report with { Details = new CommandDetails(new JsonObject { ["evidence"] = TreeHeadEvidence.Json(evidence, null) }, text => TreeHeadEvidence.WriteText(evidence, null, text)) { ReplacesItemText = false } };
            }

            return output.Write(parse, report, stdout, stderr);
        });
        return command;
    }

    private static Command Audit(TextWriter stdout, TextWriter stderr)
    {
        var data = CommonOptions.DataDirectory();
        var db = CommonOptions.Database();
        var key = CommonOptions.LogKey(required: false, "Also verify every stored tree head's signature with it.");
        var treeHeads = new Option<FileInfo[]>("--tree-head")
        {
            HelpName = "FILE",
            Description = "A signed tree head kept outside the server (a 'ledger verify --save' file, a witness's or a client's kept head; repeatable, needs --log-key): the store must still reproduce it. A store smaller than the kept head was cut at its end (TG-LED-008), which the stored rows alone cannot show.",
            DefaultValueFactory = _ => [],
        };
        var output = new ReportOptions(sarif: true);
        var command = new Command("audit", "Recompute every leaf and the tree from the stored rows; report changed, missing or extra rows, tree heads no longer reproduced, and event index mismatches. The database must exist (it is never created here). Rows cut from the end together with their tree heads leave the store consistent: give a tree head kept elsewhere with --tree-head to catch that.\n" + ExitCodes.HelpText);
        command.AddOptions(data, db, key, treeHeads);
        output.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            output.Validate(parse);
            var keys = parse.GetValue(key) is { } k ? new[] { InputValidation.LogKey(k) } : null;
            var kept = new List<string>();
            foreach (var file in parse.GetValue(treeHeads)!)
            {
                kept.Add(await File.ReadAllTextAsync(InputValidation.ExistingFile(file, "--tree-head")!, ct));
            }

            if (kept.Count > 0 && keys is null)
            {
                throw new CliException("--tree-head needs --log-key: a kept tree head counts only when the log key signed it");
            }

            await using var store = await ServerCommand.OpenStoreAsync(parse.GetValue(db), parse.GetValue(data), mustExist: true, ct);
            var report = await ServerStoreAudit.AuditAsync(store, keys, kept, ct);
            return output.Write(parse, report, stdout, stderr);
        });
        return command;
    }
}
