using System.CommandLine;
using System.Text.Json.Nodes;
using TrainGuard.Cli.Options;
using TrainGuard.Cli.Output;
using TrainGuard.Findings;
using TrainGuard.Ledger.Client;
using TrainGuard.Output;
using TrainGuard.Parsing;
using TrainGuard.Review;
using TrainGuard.Review.Output;
using TrainGuard.Review.Parsing;
using TrainGuard.Review.Signing;

namespace TrainGuard.Cli.Commands;

/// <summary><c>trainguard review</c>: supervise and validate contributions to shared training code; <c>review approve</c> signs an approval.</summary>
public static class ReviewCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var repo = RepoOption();
        var range = new Option<string>("--range")
        {
            HelpName = "BASE..HEAD",
            Description = "The commits to review: those reachable from HEAD and not from BASE (branches, tags, shas or expressions such as main~3), and the change from BASE's tree to HEAD's.",
            Required = true,
        };
        var policy = new Option<FileInfo?>("--policy")
        {
            HelpName = "FILE",
            Description = "The two-person policy (YAML: signed_commits, groups, protect: paths -> approvals from a group; docs/review.md). Needs --allowed-signers. Default: signed commits, and one approval for start-up hooks, setup.py, requirements, CI workflows and artifacts.",
        };
        var allowedSigners = new Option<FileInfo?>("--allowed-signers")
        {
            HelpName = "FILE",
            Description = "The SSH allowed-signers file (ssh-keygen(1) ALLOWED SIGNERS: 'principal key-type key' per line) of the people who may sign commits and approve. With it the two-person rule is checked offline: commit signatures bound to their committer, and approvals in refs/notes/trainguard-review.",
        };
        var keyring = new Option<FileInfo?>("--gpg-keyring")
        {
            HelpName = "FILE",
            Description = "A pinned OpenPGP keyring (gpg --export ... > keyring.gpg) for GPG-signed commits, checked with gpgv; the user's own keyring is never used.",
        };
        var failOn = new Option<string?>("--fail-on")
        {
            HelpName = "SEVERITY",
            Description = "For CI gates: only findings of this severity or worse (info, low, medium, high, critical) set the verdict and exit 1; the others are still listed.",
        };
        failOn.AcceptOnlyFromAmong("info", "low", "medium", "high", "critical");
        var parser = new Option<string>("--parser")
        {
            Description = "How Python is parsed: auto (tree-sitter, else /usr/bin/python3 -I -S with ast), tree-sitter, or python-ast. Nothing of the repository is ever run.",
            DefaultValueFactory = _ => "auto",
        };
        parser.AcceptOnlyFromAmong("auto", "tree-sitter", "python-ast");
        var server = new ServerClientOptions(required: false, "A 'review-range-checked' event for the reviewed range is recorded in its ledger (an agent, signer or admin token).");
        var output = new ReportOptions(sarif: true);
        var command = new Command("review", """
            Supervise and validate contributions to shared training code: read a range of a git repository (never checked
            out, never run) and report what it adds or removes.

              * sabotage patterns in Python diffs, in what the change adds (patched torch or optimizers, killed or spawned
                processes, listeners, writes to ~/.ssh / cron / site-packages, exec of decoded text, import hooks, unsafe
                loading, negated updates, seeds from the clock, branches taken only above some world size, sleeps in
                step/forward) and in safeguards it removes (weights_only=True, manual_seed(args.seed), set_epoch, determinism)
              * sensitive files: .pth, sitecustomize.py, setup.py, requirements, CI workflows, and artifacts (.pt, .pkl,
                .bin...), which are scanned with the artifact scanner
              * with --allowed-signers, the two-person rule: every commit signed (SSH or GPG) by its committer, and every
                change to a protected path approved by someone else (signed notes written by 'trainguard review approve')

            Rules: docs/rules/TG-REV-*.md; guide: docs/review.md.

            Examples:
              trainguard review --repo . --range origin/main..HEAD
              trainguard review --repo . --range v1.2..main --allowed-signers .trainguard/allowed_signers \
                  --policy .trainguard/review.yaml --fail-on high --format sarif -o review.sarif
              trainguard review approve HEAD --repo . --key ~/.ssh/id_ed25519
            """ + "\n" + ExitCodes.HelpText);
        command.AddOptions(repo, range, policy, allowedSigners, keyring, failOn, parser);
        server.AddTo(command);
        output.AddTo(command);
        command.Subcommands.Add(Approve(stdout, stderr));
        command.SetAction(async (parse, ct) =>
        {
            output.Validate(parse);
            using var client = server.CreateClient(parse);
            var options = new ReviewOptions
            {
                Repository = parse.GetValue(repo)!,
                Range = parse.GetValue(range)!,
                PolicyFile = parse.GetValue(policy)?.FullName,
                AllowedSigners = parse.GetValue(allowedSigners)?.FullName,
                GpgKeyring = parse.GetValue(keyring)?.FullName,
                FailOn = parse.GetValue(failOn) is { } level && SeverityExtensions.TryParse(level, out var severity) ? severity : null,
                Parser = parse.GetValue(parser) switch { "tree-sitter" => ParserChoice.TreeSitter, "python-ast" => ParserChoice.PythonAst, _ => ParserChoice.Auto },
            };
            Report report;
            try
            {
                report = await ReviewEngine.RunAsync(options, ct);
            }
            catch (Exception ex) when (ex is ReviewException or InvalidOperationException or MalformedInputException)
            {
                throw new CliException(ex.Message, ex);
            }

            foreach (var warning in ((ReviewDetails)report.Details!).Warnings)
            {
                await stderr.WriteLineAsync($"trainguard: warning: {warning}");
            }

            if (client is not null)
            {
                await RecordAsync(client, report, ct);
            }

            if (ReportOptions.ParseFormat(parse.GetValue(output.Format)) != OutputFormat.Sarif)
            {
                return output.Write(parse, report, stdout, stderr);
            }

            var writer = new ReviewSarifWriter();
            if (parse.GetValue(output.OutputFile) is { } file)
            {
                await using (var stream = new StreamWriter(file.FullName, append: false, new System.Text.UTF8Encoding(false)))
                {
                    writer.Write(report, stream);
                }

                await stderr.WriteLineAsync($"review: {report.Overall.ToWireName()} ({report.Items.Count} items, exit {report.ExitCode}); report written to {file.FullName}");
            }
            else
            {
                writer.Write(report, stdout);
            }

            return report.ExitCode;
        });
        return command;
    }

    private static Option<string> RepoOption() => new("--repo")
    {
        HelpName = "PATH",
        Description = "The git repository (a work tree or a bare repository). Default: the current folder.",
        DefaultValueFactory = _ => ".",
    };

    private static async Task RecordAsync(TrainGuardApiClient client, Report report, CancellationToken ct)
    {
        var details = (ReviewDetails)report.Details!;
        var record = ReviewEvent.Create(report, Environment.UserName, Environment.MachineName, DateTimeOffset.UtcNow);
        EventBatchResult answer;
        try
        {
            answer = await client.PostEventsAsync([record.Root.ToJsonString()], ct);
        }
        catch (Exception ex) when (ex is HttpRequestException or TrainGuardApiException or MalformedInputException || (ex is TaskCanceledException && !ct.IsCancellationRequested))
        {
            throw new CliException($"--server {client.BaseUrl}: the review was made but its event was NOT recorded: {(ex is TaskCanceledException ? "no answer before --timeout" : ex.Message)}", ex);
        }

        if (answer.Results.Count != 1 || !answer.Results[0].IsStored)
        {
            var why = answer.Results.Count == 1 ? $"{answer.Results[0].Status}: {answer.Results[0].Reason}" : $"{answer.Results.Count} results for one event";
            throw new CliException($"--server {client.BaseUrl}: the ledger did not store the review event ({why})");
        }

        details.EventId = record.Id;
    }

    private static Command Approve(TextWriter stdout, TextWriter stderr)
    {
        var commit = new Argument<string>("COMMIT") { Description = "The commit to approve (a sha, branch, tag or expression such as HEAD~1)." };
        var repo = RepoOption();
        var key = new Option<FileInfo>("--key")
        {
            HelpName = "FILE",
            Description = "Your SSH private key (as for ssh-keygen -Y sign); its public half must be in the allowed-signers file reviewers use.",
            Required = true,
        };
        var @base = new Option<string?>("--base")
        {
            HelpName = "REV",
            Description = "Approve every commit of BASE..COMMIT with this one approval (a reviewed pull request).",
        };
        var approver = new Option<string?>("--as")
        {
            HelpName = "PRINCIPAL",
            Description = "Who approves, as the allowed-signers file names you (default: git config user.email). Only the principal the signature verifies for is counted.",
        };
        var output = new ReportOptions(sarif: false);
        var command = new Command("approve", $"""
            Approve a commit: sign an approval statement (commit, optional base, approver, date) with your SSH key in
            TrainGuard's own signature namespace ({SshSignatures.ApprovalNamespace}, so no commit signature can be
            replayed as an approval) and append it to the commit's note in {ApprovalNote.NotesRef}. Share it with
            'git push origin {ApprovalNote.NotesRef}'. 'trainguard review' refuses approvals by the commit's author,
            committer or signer.

            Example:
              trainguard review approve HEAD --repo . --key ~/.ssh/id_ed25519

            Exit codes: 0 approval written, 2 error (no such commit or key, ssh-keygen refused the key).
            """);
        command.Arguments.Add(commit);
        command.AddOptions(repo, key, @base, approver);
        output.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            output.Validate(parse);
            var started = DateTimeOffset.UtcNow;
            ApprovalResult result;
            try
            {
                result = await ReviewApprover.ApproveAsync(parse.GetValue(repo)!, parse.GetValue(commit)!, parse.GetValue(key)!.FullName, parse.GetValue(@base), parse.GetValue(approver), started, ct);
            }
            catch (ReviewException ex)
            {
                throw new CliException(ex.Message, ex);
            }

            var json = new JsonObject
            {
                ["commit"] = result.Commit,
                ["base"] = result.Base,
                ["approver"] = result.Approver,
                ["notes_ref"] = ApprovalNote.NotesRef,
                ["approvals_in_note"] = result.ApprovalsInNote,
            };
            var report = ResultReports.Create("review approve", result.Commit, "approval", json, text =>
            {
                text.WriteLine($"approved {result.Commit}{(result.Base is null ? string.Empty : $" (and every commit since {result.Base})")} as {result.Approver}");
                text.WriteLine($"  note      {ApprovalNote.NotesRef} ({result.ApprovalsInNote} approval(s) in the note)");
                text.WriteLine($"  share it  git push origin {ApprovalNote.NotesRef}");
            }, started, DateTimeOffset.UtcNow - started);
            return output.Write(parse, report, stdout, stderr);
        });
        return command;
    }
}
