using System.CommandLine;
using System.Text.Json.Nodes;
using TrainGuard.Agent.Common;
using TrainGuard.Agent.Runtime;
using TrainGuard.Agent.Shipping;
using TrainGuard.Agent.Spool;
using TrainGuard.Cli.Options;
using TrainGuard.Cli.Output;
using TrainGuard.Events;
using TrainGuard.Findings;
using TrainGuard.Parsing;

namespace TrainGuard.Cli.Commands;

/// <summary>
/// <c>trainguard agent ship FILE.jsonl...</c>: sends saved events (as <c>agent replay</c>, <c>agent run --once</c>,
/// <c>ckpt check --events</c> and <c>env verify --events</c> write them) to the server exactly as the agent does: filled
/// in as the agent fills its own events (host name, agent version, size caps), written to a spool, and shipped by the
/// agent's own shipper in its batches, with its acknowledgement check (a signed tree head that covers the events).
/// Events the server does not store are reported with its reason.
/// </summary>
public static class AgentShipCommand
{
    /// <summary>Consecutive failed attempts (server unreachable, an answer that does not acknowledge) before giving up.</summary>
    public const int MaxAttempts = 3;

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var files = new Argument<string[]>("FILE")
        {
            Description = "Files of events, one JSON object per line (docs/events.md), as 'agent replay', 'agent run --once', 'ckpt check --events' and 'env verify --events' write them.",
            Arity = ArgumentArity.OneOrMore,
        };
        var host = new Option<string?>("--host")
        {
            HelpName = "NAME",
            Description = "host.name for the events that carry none, as the agent fills in its own (default: this machine's name). An agent token bound to a node sends only that node's events.",
        };
        var server = new ServerClientOptions(required: true, "The events are appended to its ledger (an agent token bound to their node, or an admin token).");
        var logKey = CommonOptions.LogKey(required: false, "The signed tree heads that acknowledge the events must be signed with it (default: the key the server announces).");
        var output = new ReportOptions(sarif: false);
        var command = new Command("ship", """
            Ship saved events to the server as the agent would: every line of FILE is read and checked first (an
            unreadable line is an error and nothing is sent), filled in as the agent fills its own events (host.name
            when missing, agent.version, fields cut to the agent's size limits), then sent by the agent's shipper in
            its batches (500 events, 4 MiB) and counted as delivered only when a signed tree head acknowledges them.
            Events the server does not store (another node's events for a node's token, a conflicting id, too large)
            are listed with the server's reason; events it already holds count as delivered, so shipping a file twice
            is harmless.

            Examples:
              trainguard agent replay --audit audit.log --auth auth.log --passwd passwd --host vm > vm.jsonl
              trainguard agent ship vm.jsonl --host vm --server http://127.0.0.1:8470 --token-file vm.token

            Exit codes: 0 every event delivered, 1 some refused by the server (each listed with its reason), 2 error
            (an unreadable file or line, the server unreachable or refusing the token, an acknowledgement that does
            not verify, bad usage).
            """);
        command.Arguments.Add(files);
        command.AddOptions(host);
        server.AddTo(command);
        command.AddOptions(logKey);
        output.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            output.Validate(parse);
            var started = DateTimeOffset.UtcNow;
            var url = server.Url(parse)!;
            var hostName = parse.GetValue(host) ?? Environment.MachineName;
            if (hostName.Length == 0 || hostName.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)))
            {
                throw new CliException($"--host '{TextSanitizer.Escape(hostName, 60)}' is not a host name");
            }

            var shipperOptions = new ShipperOptions
            {
                ServerUrl = url,
                Token = server.ResolveToken(parse),
                Tls = server.Tls(parse),
                LogKey = parse.GetValue(logKey) is { } key ? InputValidation.LogKey(key) : null,
                RequestTimeout = server.RequestTimeout(parse),
                BackoffBase = TimeSpan.FromMilliseconds(500),
                BackoffMax = TimeSpan.FromSeconds(5),
            };
            var inputs = parse.GetValue(files)!.Select(f => Read(InputValidation.ExistingFile(f, "FILE"), hostName)).ToList();
            var origin = new Dictionary<string, (string File, int Line)>(StringComparer.OrdinalIgnoreCase);
            foreach (var input in inputs)
            {
                foreach (var (e, line) in input.Events)
                {
                    origin.TryAdd(e.Id, (input.Path, line));
                }
            }

            var (refused, sent) = await ShipAsync(inputs.SelectMany(i => i.Events.Select(e => e.Event)).ToList(), shipperOptions, stderr, ct);
            var refusedJson = new JsonArray([.. refused.Select(r => (JsonNode)new JsonObject
            {
                ["event_id"] = r.Record.EventId,
                ["action"] = Action(r.Record),
                ["file"] = origin.TryGetValue(r.Record.EventId, out var o) ? o.File : null,
                ["line"] = origin.TryGetValue(r.Record.EventId, out var l) ? l.Line : null,
                ["reason"] = r.Reason,
            })]);
            var total = inputs.Sum(i => i.Events.Count);
            var report = new Report
            {
                Command = "agent ship",
                Items = [.. inputs.Select(i => new AnalyzedItem
                {
                    Path = i.Path,
                    Format = "jsonl",
                    Verdict = refused.Any(r => origin.TryGetValue(r.Record.EventId, out var o) && o.File == i.Path) ? Verdict.Suspicious : Verdict.Clean,
                })],
                ItemsName = "files",
                StartedAt = started,
                Elapsed = DateTimeOffset.UtcNow - started,
                Details = new CommandDetails(
                    new JsonObject
                    {
                        ["server"] = url.ToString(),
                        ["host"] = hostName,
                        ["events"] = total,
                        ["delivered"] = sent,
                        ["refused"] = refusedJson,
                    },
                    text =>
                    {
                        foreach (var input in inputs)
                        {
                            text.WriteLine($"{TextSanitizer.Escape(input.Path, 300)}: {input.Events.Count} events{(input.Filled > 0 ? $" ({input.Filled} given host.name {TextSanitizer.Escape(hostName, 80)})" : string.Empty)}");
                        }

                        text.WriteLine($"{total} events to {url}: {sent} delivered (appended, or already in the ledger), {refused.Count} refused");
                        foreach (var r in refused)
                        {
                            var where = origin.TryGetValue(r.Record.EventId, out var at) ? $"{TextSanitizer.Escape(at.File, 200)}:{at.Line}" : "?";
                            text.WriteLine($"  refused {TextSanitizer.Escape(r.Record.EventId, 80)} ({TextSanitizer.Escape(Action(r.Record), 60)}, {where}): {TextSanitizer.Escape(r.Reason, 500)}");
                        }
                    }),
            };
            return output.Write(parse, report, stdout, stderr);
        });
        return command;
    }

    /// <summary>Every event of one file, checked and filled in as the agent fills its own.</summary>
    private static ShipInput Read(string path, string hostName)
    {
        var events = new List<(EventRecord, int)>();
        var filled = 0;
        var number = 0;
        foreach (var line in File.ReadLines(path))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            EventRecord e;
            try
            {
                e = EventRecord.Parse(line);
            }
            catch (MalformedInputException ex)
            {
                throw new CliException($"{path}:{number}: {ex.Message}", ex);
            }

            if (string.IsNullOrEmpty(e.Id) || string.IsNullOrEmpty(e.Action) || !e.Has(EventFields.Timestamp))
            {
                throw new CliException($"{path}:{number}: an event needs an id, @timestamp and event.action (docs/events.md); is this a file of TrainGuard events?");
            }

            if (!e.Has(EventFields.HostName))
            {
                e.Set(EventFields.HostName, hostName);
                filled++;
            }

            if (!e.Has(EventFields.AgentVersion))
            {
                e.Set(EventFields.AgentVersion, AgentHost.Version);
            }

            EventSizeCap.Apply(e);
            events.Add((e, number));
        }

        return events.Count > 0 ? new ShipInput(path, events, filled) : throw new CliException($"FILE: {path} holds no event");
    }

    /// <summary>Spools the events in a temporary folder and ships them with the agent's shipper; returns the refused ones and how many were delivered.</summary>
    private static async Task<(IReadOnlyList<DeadLetter> Refused, long Sent)> ShipAsync(List<EventRecord> events, ShipperOptions options, TextWriter stderr, CancellationToken ct)
    {
        var folder = Directory.CreateTempSubdirectory("trainguard-ship-").FullName;
        var log = new List<string>();
        try
        {
            using var spool = EventSpool.Open(folder, new SpoolOptions { Fsync = false });
            try
            {
                foreach (var chunk in events.Chunk(1024))
                {
                    spool.Append(chunk);
                }
            }
            catch (ArgumentException ex)
            {
                throw new CliException(ex.Message, ex);
            }

            var alerts = new List<EventRecord>();
            using var shipper = new EventShipper(spool, options with { Alerts = alerts.Add }, log.Add);
            while (true)
            {
                var outcome = await shipper.ShipOnceAsync(ct);
                foreach (var alert in alerts)
                {
                    stderr.WriteLine($"agent ship: ALERT {alert.Action}: {TextSanitizer.Escape(alert.GetString("message") ?? alert.GetString("trainguard.finding.message"), 500)}");
                }

                alerts.Clear();
                if (outcome == ShipOutcome.Idle)
                {
                    break;
                }

                if (outcome == ShipOutcome.RetryLater)
                {
                    if (shipper.Stats.ConsecutiveFailures >= MaxAttempts)
                    {
                        var error = shipper.Stats.LastError ?? "no answer";
                        var hint = error.StartsWith("server answered 401", StringComparison.Ordinal) || error.StartsWith("server answered 403", StringComparison.Ordinal)
                            ? "; this needs an agent token bound to the events' node ('trainguard server token create --role agent --host NAME') or an admin token"
                            : string.Empty;
                        throw new CliException($"--server {options.ServerUrl}: {error}{hint} ({shipper.Stats.EventsSent} of {events.Count} events delivered before; shipping again is harmless)");
                    }

                    await Task.Delay(shipper.NextDelay(shipper.Stats.ConsecutiveFailures), ct);
                }
            }

            return (shipper.DeadLetters.ReadAll(), shipper.Stats.EventsSent + shipper.Stats.DeadLettersReshipped);
        }
        finally
        {
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
                stderr.WriteLine($"agent ship: could not remove the temporary spool {folder}");
            }
        }
    }

    private static string Action(SpoolRecord record)
    {
        try
        {
            return EventRecord.Parse(record.EventJson).Action ?? "?";
        }
        catch (MalformedInputException)
        {
            return "?";
        }
    }

    private sealed record ShipInput(string Path, List<(EventRecord Event, int Line)> Events, int Filled);
}
