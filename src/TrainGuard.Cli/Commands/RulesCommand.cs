using System.Buffers;
using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using TrainGuard.Cli.Options;
using TrainGuard.Cli.Output;
using TrainGuard.Detections;
using TrainGuard.Detections.Correlation;
using TrainGuard.Findings;
using TrainGuard.Parsing;
using TrainGuard.Server.Alerts;
using TrainGuard.Server.Events;
using TrainGuard.Server.Storage;

namespace TrainGuard.Cli.Commands;

/// <summary>
/// <c>trainguard rules test|check|run</c>: a site's detection rules (Sigma 2.1, docs/detections.md) checked before the
/// server loads them: <c>check</c> lints one file, <c>test</c> runs every rule's sample events through the engine,
/// <c>run</c> replays a server's stored events through the server's own alert derivation.
/// </summary>
public static class RulesCommand
{
    public const string Description = """
        Detection rules (Sigma 2.1 over TrainGuard's events, docs/detections.md): the built-in rules
        (docs/rules/TG-DET-*.md) and a site's own rule files, checked before the server loads them.

        Examples:
          trainguard rules check site-rules/jupyter.yaml --builtin    lint one file (its filter names a built-in rule)
          trainguard rules test site-rules --builtin                  run every rule's samples, built-in ones included
          trainguard rules run --since 2026-12-07T00:00:00Z --data-dir /var/lib/trainguard   the alerts the stored events make
        """;

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var command = new Command("rules", Description);
        command.Subcommands.Add(Test(stdout, stderr));
        command.Subcommands.Add(Check(stdout, stderr));
        command.Subcommands.Add(Run(stdout, stderr));
        return command;
    }

    private static Command Run(TextWriter stdout, TextWriter stderr)
    {
        var since = new Option<string>("--since") { HelpName = "TIME", Description = "Replay the events from this time on (RFC 3339, on @timestamp).", Required = true };
        var until = new Option<string?>("--until") { HelpName = "TIME", Description = "Replay the events before this time (RFC 3339; default: all after --since)." };
        var rules = ServerCommand.RulesOption();
        var placeholders = ServerCommand.PlaceholderOption();
        var data = CommonOptions.DataDirectory();
        var db = CommonOptions.Database();
        var output = new ReportOptions(sarif: false);
        var command = new Command("run", """
            Replay a server's stored events (read from its database, in ledger order, between --since and --until)
            through the alert derivation the live server uses: the same rules (the built-in ones, --rules DIR, the
            --placeholder values), the same planted-key attribution, the same folding, reason sentences and risk
            scores, and the status changes recorded in the ledger. Prints the alerts those events make: the live
            server's alerts for the same events (agent-silent alerts, which the server computes from its clock, aside).
            Read-only: nothing is stored. Name the store as 'ledger audit' does (--data-dir or --db).

            Examples:
              trainguard rules run --since 2026-12-07T00:00:00Z --data-dir /var/lib/trainguard
              trainguard rules run --since 2026-12-07T00:00:00Z --until 2026-12-08T00:00:00Z --rules site-rules --db "Host=db;Database=trainguard;Username=tg" -f json

            Exit codes: 0 no alert, 1 alerts (listed), 2 error (a rule that does not load: file:line:column and why;
            no such database; a bad time; bad usage).
            """);
        command.AddOptions(since, until, rules, placeholders, data, db);
        output.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            output.Validate(parse);
            var started = DateTimeOffset.UtcNow;
            var from = Time(parse.GetValue(since)!, "--since");
            var to = parse.GetValue(until) is { } text ? Time(text, "--until") : (DateTimeOffset?)null;
            if (to <= from)
            {
                throw new CliException("--until must be after --since");
            }

            var ruleSet = ServerCommand.LoadRules(parse.GetValue(rules), parse.GetValue(placeholders));
            await using var store = await ServerCommand.OpenStoreAsync(parse.GetValue(db), parse.GetValue(data), mustExist: true, ct);
            var (alerts, events) = await ReplayAsync(store, ruleSet, from, to, ct);
            var ordered = alerts.OrderByDescending(a => a.LastSeen).ThenByDescending(a => a.Id, StringComparer.Ordinal).ToList();
            var json = new JsonObject
            {
                ["since"] = Rfc3339Text(from),
                ["until"] = to is { } end ? Rfc3339Text(end) : null,
                ["events"] = events,
                ["rules"] = ruleSet.Rules.Count,
                ["alerts"] = new JsonArray([.. ordered.Select(a => JsonNode.Parse(AlertBytes(a)))]),
            };
            var report = new Report
            {
                Command = "rules run",
                Items = [new AnalyzedItem { Path = store.Description, Format = "ledger", Verdict = ordered.Count == 0 ? Verdict.Clean : Verdict.Suspicious, Elapsed = DateTimeOffset.UtcNow - started }],
                ItemsName = "ledgers",
                StartedAt = started,
                Elapsed = DateTimeOffset.UtcNow - started,
                Details = new CommandDetails(json, t =>
                {
                    foreach (var a in ordered)
                    {
                        t.WriteLine($"{a.Rule.Id,-12} {a.Severity,-13} risk {a.RiskScore,3}  {a.Id}  {a.Attribution}");
                        t.WriteLine($"  {Safe(a.Reason)}");
                        t.WriteLine($"  {Rfc3339Text(a.FirstSeen)} .. {Rfc3339Text(a.LastSeen)}, {a.Count} events (ledger {string.Join(", ", a.Events.Take(10).Select(e => e.LedgerIndex))}{(a.Events.Count > 10 ? ", ..." : string.Empty)}), status {a.Status}");
                    }

                    t.WriteLine($"{events} events since {Rfc3339Text(from)}{(to is { } u ? " until " + Rfc3339Text(u) : string.Empty)}, {ruleSet.Rules.Count} rules: {(ordered.Count == 0 ? "no alert" : $"{ordered.Count} alerts")}");
                }),
            };
            return output.Write(parse, report, stdout, stderr);
        });
        return command;
    }

    /// <summary>Reads the stored events in ledger order through one <see cref="AlertDerivation"/>; the alerts and how many events were read.</summary>
    private static async Task<(IReadOnlyCollection<Alert> Alerts, long Events)> ReplayAsync(IServerStore store, DetectionRuleSet rules, DateTimeOffset from, DateTimeOffset? to, CancellationToken ct)
    {
        var derivation = new AlertDerivation(new AlertDerivationOptions { Rules = rules });
        var changes = new AlertChanges();
        long? after = null;
        long count = 0;
        while (true)
        {
            var page = await store.QueryAsync(
                new EventQuery { FromMicros = Rfc3339.ToUnixMicroseconds(from), ToMicros = to is { } end ? Rfc3339.ToUnixMicroseconds(end) : null, After = after, Limit = EventQuery.MaxLimit },
                ct);
            foreach (var stored in page)
            {
                derivation.Process(stored.Index, stored.Entry, changes);
                count++;
            }

            changes.Clear();
            if (page.Count < EventQuery.MaxLimit)
            {
                break;
            }

            after = page[^1].Index;
        }

        // Contributing events older than the derivation's cache are listed by index only: their ids come from the ledger.
        foreach (var alert in derivation.Alerts)
        {
            for (var i = 0; i < alert.Events.Count; i++)
            {
                if (alert.Events[i].EventId.Length == 0 && await store.Ledger.GetEntryAsync(alert.Events[i].LedgerIndex, ct) is { } entry)
                {
                    alert.Events[i] = alert.Events[i] with { EventId = EventIndexRow.FromEntry(0, entry)?.EventId ?? string.Empty };
                }
            }
        }

        return (derivation.Alerts, count);
    }

    private static byte[] AlertBytes(Alert alert)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            AlertJson.Write(writer, alert);
        }

        return buffer.WrittenSpan.ToArray();
    }

    internal static DateTimeOffset Time(string text, string option)
    {
        try
        {
            return Rfc3339.Parse(text, option);
        }
        catch (MalformedInputException ex)
        {
            throw new CliException($"{option} '{Safe(text)}': {ex.Message}", ex);
        }
    }

    private static string Rfc3339Text(DateTimeOffset value) => AlertJson.Time(value);

    private static Option<bool> BuiltIn() => new("--builtin")
    {
        Description = "Load the built-in rules with the given ones, so a filter or correlation may name them (and, for test, their samples run too, through the site's filters).",
    };

    private static Command Test(TextWriter stdout, TextWriter stderr)
    {
        var path = new Argument<string>("DIR") { Description = "A folder of rule files (*.yml, *.yaml, read recursively) or one rule file." };
        var builtIn = BuiltIn();
        var output = new ReportOptions(sarif: false);
        var command = new Command("test", """
            Run the samples of every rule in DIR through the detection engine: each must_match sample (an event, or a
            list of events for a correlation) must make its rule raise a hit, each must_not_match sample must not.
            Samples run through a fresh engine over the whole rule set, so filters and correlations apply. A rule that
            raises hits needs samples of both kinds; a failing rule is reported 'suspicious' with the sample and what
            the engine produced.

            Example:
              trainguard rules test site-rules --builtin

            Exit codes: 0 every sample behaves, 1 a sample failed (rule and sample named), 2 error (the rules do not
            load: file:line:column and why; no such folder; a folder without rule files; bad usage).
            """);
        command.Arguments.Add(path);
        command.AddOptions(builtIn);
        output.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            output.Validate(parse);
            var started = DateTimeOffset.UtcNow;
            var target = InputValidation.ExistingPath(parse.GetValue(path)!, "DIR");
            var set = LoadOrThrow(target, parse.GetValue(builtIn));
            var family = set.Family;
            if (family.Rules.Count == 0)
            {
                throw new CliException($"DIR: {target} holds no rule that raises hits (only building blocks or filters): nothing to test");
            }

            var items = new List<AnalyzedItem>();
            var rules = new JsonArray();
            var lines = new List<string>();
            var (samples, failed) = (0, 0);
            foreach (var rule in family.Rules.Cast<DetectionRule>())
            {
                var ruleStarted = DateTimeOffset.UtcNow;
                var failures = new List<(string Sample, string Problem)>();
                if (rule.MustMatch.Count == 0)
                {
                    failures.Add(("must_match", "no must_match samples: add an event this rule must raise a hit on"));
                }

                if (rule.MustNotMatch.Count == 0)
                {
                    failures.Add(("must_not_match", "no must_not_match samples: add a near miss this rule must not raise a hit on"));
                }

                foreach (var (samplesOfKind, expectMatch, kind) in new[] { (rule.MustMatch, true, "must_match"), (rule.MustNotMatch, false, "must_not_match") })
                {
                    for (var i = 0; i < samplesOfKind.Count; i++)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        samples++;
                        string? problem;
                        try
                        {
                            problem = await family.CheckSampleAsync(rule, samplesOfKind[i], expectMatch, cancellationToken);
                        }
                        catch (MalformedInputException ex)
                        {
                            problem = ex.Message;
                        }

                        if (problem is not null)
                        {
                            failures.Add(($"{kind}[{i}]", problem));
                        }
                    }
                }

                failed += failures.Count > 0 ? 1 : 0;
                var where = $"{rule.Source}:{rule.Line}";
                items.Add(new AnalyzedItem
                {
                    Path = rule.Id,
                    Format = rule.CorrelationType is null ? "sigma-detection" : "sigma-correlation",
                    Verdict = failures.Count == 0 ? Verdict.Clean : Verdict.Suspicious,
                    Elapsed = DateTimeOffset.UtcNow - ruleStarted,
                });
                rules.Add(new JsonObject
                {
                    ["id"] = rule.Id,
                    ["title"] = rule.Title,
                    ["file"] = rule.Source,
                    ["line"] = rule.Line,
                    ["must_match"] = rule.MustMatch.Count,
                    ["must_not_match"] = rule.MustNotMatch.Count,
                    ["failures"] = new JsonArray([.. failures.Select(f => (JsonNode)new JsonObject { ["sample"] = f.Sample, ["problem"] = f.Problem })]),
                });
                lines.Add(failures.Count == 0
                    ? $"ok    {rule.Id} {Safe(where)} ({rule.MustMatch.Count} must_match, {rule.MustNotMatch.Count} must_not_match)"
                    : $"FAIL  {rule.Id} {Safe(where)}");
                lines.AddRange(failures.Select(f => $"      {f.Sample}: {Safe(f.Problem)}"));
            }

            var json = new JsonObject
            {
                ["rules_tested"] = family.Rules.Count,
                ["samples"] = samples,
                ["rules_failed"] = failed,
                ["rules"] = rules,
            };
            var report = new Report
            {
                Command = "rules test",
                Items = items,
                ItemsName = "rules",
                StartedAt = started,
                Elapsed = DateTimeOffset.UtcNow - started,
                Details = new CommandDetails(json, text =>
                {
                    lines.ForEach(text.WriteLine);
                    text.WriteLine();
                    text.WriteLine($"{family.Rules.Count} rules, {samples} samples: {(failed == 0 ? "every sample behaves" : $"{failed} rules with failing samples")}");
                }),
            };
            return output.Write(parse, report, stdout, stderr);
        });
        return command;
    }

    private static Command Check(TextWriter stdout, TextWriter stderr)
    {
        var file = new Argument<string>("FILE") { Description = "One rule file (YAML, one or more Sigma documents)." };
        var builtIn = BuiltIn();
        var output = new ReportOptions(sarif: false);
        var command = new Command("check", """
            Lint one rule file: load it as the server would (every modifier, field, placeholder, reference and
            section key checked; unknown ones refused) and list what it holds. A refusal names the file, line and
            column and says what to write instead. Samples are not run: use 'rules test'.

            Example:
              trainguard rules check site-rules/jupyter.yaml --builtin

            Exit codes: 0 the file loads, 2 error (refused: file:line:column and why; no such file; bad usage).
            """);
        command.Arguments.Add(file);
        command.AddOptions(builtIn);
        output.AddTo(command);
        command.SetAction(parse =>
        {
            output.Validate(parse);
            var started = DateTimeOffset.UtcNow;
            var path = InputValidation.ExistingFile(parse.GetValue(file)!, "FILE");
            JsonObject json;
            Action<TextWriter> text;
            Verdict verdict;
            try
            {
                var set = Load([path], parse.GetValue(builtIn));
                var own = set.Rules.Where(r => r.Source == path).ToList();
                json = new JsonObject
                {
                    ["loaded"] = true,
                    ["rules"] = new JsonArray([.. own.Select(r => (JsonNode)new JsonObject
                    {
                        ["id"] = r.Id,
                        ["title"] = r.Title,
                        ["level"] = r.Severity.ToWireName(),
                        ["type"] = r.CorrelationType is { } type ? type.ToSigmaName() : "detection",
                        ["line"] = r.Line,
                        ["must_match"] = r.MustMatch.Count,
                        ["must_not_match"] = r.MustNotMatch.Count,
                    })]),
                };
                text = t =>
                {
                    foreach (var r in own)
                    {
                        t.WriteLine($"{r.Id,-12} line {r.Line,-5} {r.Severity.ToWireName(),-9} {Safe(r.Title)}");
                    }

                    t.WriteLine($"{Safe(path)}: loads ({own.Count} rules that raise hits; {(own.Count == 0 ? "building blocks and filters only" : "run their samples with 'trainguard rules test'")})");
                };
                verdict = Verdict.Clean;
            }
            catch (MalformedInputException ex)
            {
                json = new JsonObject
                {
                    ["loaded"] = false,
                    ["error"] = new JsonObject { ["file"] = ex.Origin, ["line"] = ex.Line, ["column"] = ex.Column, ["message"] = ex.Message },
                };
                text = t => t.WriteLine($"refused: {Safe(ex.Message)}");
                verdict = Verdict.Error;
            }

            var report = new Report
            {
                Command = "rules check",
                Items = [new AnalyzedItem { Path = path, Format = "sigma", Verdict = verdict, Elapsed = DateTimeOffset.UtcNow - started }],
                ItemsName = "files",
                StartedAt = started,
                Elapsed = DateTimeOffset.UtcNow - started,
                Details = new CommandDetails(json, text),
            };
            var code = output.Write(parse, report, stdout, stderr);
            if (verdict == Verdict.Error)
            {
                // The refusal also goes where errors go, so a script that only watches standard error sees it.
                stderr.WriteLine($"trainguard: rules check: {Safe(((JsonObject)json["error"]!)["message"]!.GetValue<string>())}");
            }

            return code;
        });
        return command;
    }

    /// <summary>Loads a folder or a file (with the built-in rules first when asked); a refusal is exit 2 with its message.</summary>
    private static DetectionRuleSet LoadOrThrow(string target, bool builtIn)
    {
        try
        {
            return Load(Directory.Exists(target) ? DetectionRuleSet.RuleFilesIn(target) : [target], builtIn);
        }
        catch (MalformedInputException ex)
        {
            throw new CliException(ex.Message, ex);
        }
    }

    private static DetectionRuleSet Load(IReadOnlyList<string> paths, bool builtIn) =>
        DetectionRuleSet.Load(builtIn ? [.. DetectionRuleSet.BuiltInFiles, .. DetectionRuleSet.ReadFiles(paths)] : DetectionRuleSet.ReadFiles(paths));

    private static string Safe(string text) => TextSanitizer.Escape(text, 1000);
}
