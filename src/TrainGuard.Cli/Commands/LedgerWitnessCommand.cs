using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using TrainGuard.Cli.Options;
using TrainGuard.Cli.Output;
using TrainGuard.Findings;
using TrainGuard.Ledger.Client;
using TrainGuard.Ledger.Notes;
using TrainGuard.Ledger.Verification;
using TrainGuard.Ledger.Witness;
using TrainGuard.Parsing;

namespace TrainGuard.Cli.Commands;

/// <summary>
/// <c>trainguard ledger witness</c>: a C2SP witness run from another machine. Follows the server's signed tree heads,
/// keeps the last consistent one per log, cosigns each consistent head (<c>cosignature/v1</c>) and, with
/// <c>--submit</c>, hands the cosignature to the server; a rollback or split view ends it with exit 1 and both heads.
/// </summary>
internal static partial class LedgerWitnessCommand
{
    public const string Help = """
        Witness a TrainGuard ledger from another machine (C2SP tlog-witness semantics, pull mode): every --interval,
        fetch the server's signed tree head (/checkpoint), check it against --log-key, and check it against the head
        this witness kept for that log in --state-dir: a larger head must come with a consistency proof that verifies,
        the same size must have the same root. A consistent head is kept and cosigned (C2SP tlog-cosignature,
        cosignature/v1 Ed25519); with --submit the cosignature is posted to the server, which serves it with the head
        (/checkpoint and /api/v1/checkpoint/cosigned) once it is started with --witness-key for this witness.
        A smaller head (entries cut at the end: a rollback) or a diverging one (a split view) is never cosigned: the
        witness stops, prints both signed heads as evidence and keeps them in a file beside its state.

        Run it where the server's operators cannot write: its state is what proves the log once held more.
        Progress goes to standard error, one line per round; the report (text or --format json) is written when the
        witness stops: after one round with --once, at a rollback or split view, or on Ctrl+C.

        Examples:
          trainguard keys new --witness witness.example/w1 --dir /etc/trainguard-witness
              makes witness.key (secret) and witness.vkey (give it to the server: server run --witness-key witness.vkey)
          trainguard ledger witness --server http://ledger:8470 --log-key log.vkey \
              --key /etc/trainguard-witness/witness.key --submit
          trainguard ledger witness --server http://ledger:8470 --log-key log.vkey --key witness.key --once --format json

        Exit codes: 0 every head seen was consistent (and cosigned), 1 rollback or split view (both signed heads are
        printed and saved as evidence), 2 error (server unreachable with --once, a head not signed by --log-key, an
        unreadable key or state, bad usage).
        """;

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var server = new ServerClientOptions(required: true, "The server whose log is witnessed (no token needed: a witness only reads public tree heads and proofs, and its cosignature is its credential).", withToken: false);
        var logKey = CommonOptions.LogKey(required: true, "Every tree head must be signed with it.");
        var key = new Option<FileInfo>("--key")
        {
            HelpName = "FILE",
            Description = "The witness's private key (from 'trainguard keys new --witness NAME'): it signs the cosignatures.",
            Required = true,
        };
        var name = new Option<string?>("--name") { HelpName = "NAME", Description = "The witness name; must be the name in --key (the check guards against the wrong key file)." };
        var state = CommonOptions.StateDirectory();
        var interval = new Option<string>("--interval")
        {
            HelpName = "DURATION",
            Description = "Time between rounds: a number with s, m or h (30s, 5m, 1h); plain seconds without a unit.",
            DefaultValueFactory = _ => "30s",
        };
        var once = new Option<bool>("--once") { Description = "One round, then report and exit." };
        var submit = new Option<bool>("--submit") { Description = "Post each cosignature to the server (POST /api/v1/cosignatures)." };
        var output = new ReportOptions(sarif: true);
        var command = new Command("witness", Help);
        server.AddTo(command);
        command.AddOptions(logKey, key, name, state, interval, once, submit);
        output.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            output.Validate(parse);
            var serverUri = server.Url(parse)!;
            var verifier = InputValidation.LogKey(parse.GetValue(logKey)!);
            using var cosigner = LoadWitnessKey(InputValidation.ExistingFile(parse.GetValue(key), "--key")!);
            if (parse.GetValue(name) is { } expected && !string.Equals(expected, cosigner.Name, StringComparison.Ordinal))
            {
                throw new CliException($"--name {expected}: the key in --key is witness '{cosigner.Name}'");
            }

            var every = Duration(parse.GetValue(interval)!, "--interval");
            var stateDirectory = CommonOptions.ResolveStateDirectory(parse.GetValue(state));
            using var client = server.CreateClient(parse)!;
            var witness = new LogWitness(client, verifier, cosigner, stateDirectory);
            var started = DateTimeOffset.UtcNow;
            var rounds = 0;
            WitnessRound? last = null;
            string? lastError = null;
            await stderr.WriteLineAsync($"witness {cosigner.Name} ({cosigner.KeyId:x8}) following {serverUri} every {every.TotalSeconds:0.#} s; state in {stateDirectory}");
            while (true)
            {
                try
                {
                    last = await witness.RunOnceAsync(parse.GetValue(submit), ct);
                    rounds++;
                    lastError = null;
                    await stderr.WriteLineAsync(Progress(last));
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    break;
                }
                catch (TrainGuardApiException ex) when (!parse.GetValue(once))
                {
                    lastError = ex.Message;
                    await stderr.WriteLineAsync($"witness: {ex.Message}; trying again in {every.TotalSeconds:0.#} s");
                }
                catch (TrainGuardApiException ex)
                {
                    throw new CliException($"--server {serverUri}: {ex.Message}", ex);
                }
                catch (MalformedInputException ex)
                {
                    throw new CliException(ex.Message, ex);
                }

                if (parse.GetValue(once) || last is { Advance.IsConsistent: false })
                {
                    break;
                }

                try
                {
                    await Task.Delay(every, ct);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }

            var report = Report(serverUri, cosigner, last, rounds, lastError, started);
            return output.Write(parse, report, stdout, stderr);
        });
        return command;
    }

    /// <summary>A duration: digits with an optional unit ms, s, m or h (seconds without one), at least one second.</summary>
    internal static TimeSpan Duration(string text, string option)
    {
        var match = DurationPattern().Match(text.Trim());
        if (!match.Success || !long.TryParse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var amount))
        {
            throw new CliException($"{option}: '{text}' is not a duration such as 30s, 5m or 1h");
        }

        var value = match.Groups[2].Value switch
        {
            "ms" => TimeSpan.FromMilliseconds(amount),
            "m" => TimeSpan.FromMinutes(Math.Min(amount, 1_000_000)),
            "h" => TimeSpan.FromHours(Math.Min(amount, 100_000)),
            _ => TimeSpan.FromSeconds(Math.Min(amount, 100_000_000)),
        };
        return value >= TimeSpan.FromSeconds(1) ? value : throw new CliException($"{option}: {text} is shorter than one second");
    }

    private static Cosigner LoadWitnessKey(string path)
    {
        try
        {
            return Cosigner.Parse(File.ReadAllText(path).Trim());
        }
        catch (MalformedInputException ex)
        {
            throw new CliException($"--key {path}: {ex.Message} (a witness key is made by 'trainguard keys new --witness NAME')", ex);
        }
    }

    private static string Progress(WitnessRound round)
    {
        var advance = round.Advance;
        var head = advance.New is { } h ? $"{h.Origin} size {h.Size}" : "the server's tree head";
        var what = advance.Change switch
        {
            TreeHeadChange.FirstUse => "first head seen, kept",
            TreeHeadChange.Unchanged => "unchanged",
            TreeHeadChange.Grew => $"grew from {advance.Kept!.Size}, consistency proof verified",
            _ => $"{TreeHeadEvidence.Change(advance.Change).ToUpperInvariant()}: {advance.Problem}",
        };
        var cosigned = round.Cosignature is null ? string.Empty : "; cosigned";
        var submitted = round.Receipt is { } r ? $"; submitted (server kept {r.Accepted})" : string.Empty;
        return $"{round.At:yyyy-MM-dd'T'HH:mm:ss'Z'} witness: {head}: {what}{cosigned}{submitted}";
    }

    private static Report Report(Uri server, Cosigner cosigner, WitnessRound? last, int rounds, string? lastError, DateTimeOffset started)
    {
        var where = server.ToString();
        var findings = new List<Finding>();
        if (last is { Advance.IsConsistent: false } failed)
        {
            findings.Add(LogConsistencyCheck.Finding(failed.Advance, where));
        }
        else if (last is null && lastError is not null)
        {
            findings.Add(LedgerFindings.Make(LedgerRules.CheckpointInvalid, $"no round completed: {lastError}", where, "checkpoint") with { Verdict = Verdict.Error });
        }

        var evidenceFile = last is { Advance.IsEvidence: true } e ? TreeHeadEvidence.Save(e.Advance, e.StateFile, e.At) : null;
        var json = new JsonObject
        {
            ["witness"] = cosigner.Name,
            ["witness_key"] = cosigner.Verifier.VerifierKey,
            ["rounds"] = rounds,
            ["origin"] = last?.Advance.New?.Origin,
            ["tree_size"] = last?.Advance.New?.Size,
            ["change"] = last is null ? null : TreeHeadEvidence.Change(last.Advance.Change),
            ["cosignature"] = last?.Cosignature,
            ["submitted"] = last?.Receipt is not null,
            ["state_file"] = last?.StateFile,
        };
        if (last is { Advance.IsEvidence: true } evidence)
        {
            json["evidence"] = TreeHeadEvidence.Json(evidence.Advance, evidenceFile);
        }

        var elapsed = DateTimeOffset.UtcNow - started;
        var item = new AnalyzedItem
        {
            Path = where,
            Format = "tlog",
            Verdict = findings.Count == 0 ? Verdict.Clean : findings.Max(f => f.Verdict),
            Findings = findings,
            Size = last?.Advance.New?.Size,
            Elapsed = elapsed,
        };
        return new Report
        {
            Command = "ledger witness",
            Items = [item],
            ItemsName = "logs",
            Rules = LedgerRules.All,
            StartedAt = started,
            Elapsed = elapsed,
            Details = new CommandDetails(json, text =>
            {
                text.WriteLine($"witness {cosigner.Name}: {rounds} round{(rounds == 1 ? string.Empty : "s")}; last head {(last?.Advance.New is { } h ? $"{h.Origin} size {h.Size}" : "none")}");
                if (last?.Cosignature is { } line)
                {
                    text.WriteLine($"  cosignature: {line.TrimEnd('\n')}{(last.Receipt is null ? string.Empty : " (submitted)")}");
                }

                if (last is { Advance.IsEvidence: true } shown)
                {
                    TreeHeadEvidence.WriteText(shown.Advance, evidenceFile, text);
                }
            }) { ReplacesItemText = false },
        };
    }

    [GeneratedRegex(@"^(\d{1,12})(ms|s|m|h)?$", RegexOptions.CultureInvariant)]
    private static partial Regex DurationPattern();
}
