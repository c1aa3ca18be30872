using System.CommandLine;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using TrainGuard.Agent.Audit;
using TrainGuard.Agent.Common;
using TrainGuard.Agent.Config;
using TrainGuard.Agent.Replay;
using TrainGuard.Agent.Runtime;
using TrainGuard.Agent.Spool;
using TrainGuard.Cli.Options;
using TrainGuard.Cli.Output;
using TrainGuard.Events;
using TrainGuard.Findings;
using TrainGuard.Integrity.Environments;
using TrainGuard.Parsing;

namespace TrainGuard.Cli.Commands;

/// <summary><c>trainguard agent</c>: the node agent and its offline tools (replay, audit rules, spool verification).</summary>
public static class AgentCommand
{
    public const string Description = """
        The node agent: collects attributed events on a training node and ships them to the TrainGuard server.

        Collectors: the Linux audit log (signals with sender and victim login uids, login uid changes, watched file
        writes, account changes), sshd logins, node snapshots diffed every interval (authorized_keys, accounts and
        uid 0 duplicates, listening sockets with their process, cron, systemd units, sudoers, ld.so.preload),
        watched checkpoint folders (new or changed files scanned, deletions reported) and scheduled env verify.
        Events go to a local hash-chained spool first and leave it only when the server acknowledged them.

        Examples:
          trainguard agent run                              run with /etc/trainguard/agent.yaml (systemd unit in packaging/)
          trainguard agent run --once --config agent.yaml   one snapshot pass and scan, events as JSON lines
          trainguard agent replay --audit audit.log --auth auth.log --passwd passwd    forensics on copied logs
          trainguard agent audit-rules > trainguard.rules   then copy it to /etc/audit/rules.d/
          trainguard agent spool verify /var/lib/trainguard/spool
          trainguard agent ship events.jsonl --server https://tg:8443 --token-file gpu-node-17.token    ship saved events
        """;

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var command = new Command("agent", Description);
        command.Subcommands.Add(Run(stdout, stderr));
        command.Subcommands.Add(Replay(stdout, stderr));
        command.Subcommands.Add(AuditRules(stdout));
        command.Subcommands.Add(Spool(stdout, stderr));
        command.Subcommands.Add(AgentShipCommand.Create(stdout, stderr));
        return command;
    }

    /// <summary>
    /// Where <c>agent run --once</c> keeps its previous snapshot unless <c>--state-dir</c> says otherwise: the user's
    /// state folder, never the service's (a try-out must not write under /var/lib, nor move the service's baseline).
    /// </summary>
    public static string OnceStateDirectory()
    {
        var xdg = Environment.GetEnvironmentVariable("XDG_STATE_HOME");
        var root = !string.IsNullOrEmpty(xdg) ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state");
        return Path.Combine(root, "trainguard", "agent-once");
    }

    private static AgentConfig LoadConfig(FileInfo? file, bool optional)
    {
        try
        {
            if (file is null && optional && !File.Exists(AgentConfig.DefaultPath))
            {
                return new AgentConfig();
            }

            return AgentConfig.Load(file?.FullName ?? AgentConfig.DefaultPath);
        }
        catch (MalformedInputException ex)
        {
            throw new CliException(ex.Message, ex);
        }
    }

    private static Command Run(TextWriter stdout, TextWriter stderr)
    {
        var config = CommonOptions.Config($"Agent configuration (YAML, see packaging/agent.yaml). Default: {AgentConfig.DefaultPath} (with --once: that file when it exists, else built-in defaults).");
        var once = new Option<bool>("--once") { Description = "One snapshot pass plus one scan of the checkpoint folders (and env checks when configured); events to standard output as JSON lines, nothing spooled or shipped. No server needed." };
        var root = new Option<string?>("--root") { Description = "Read node state under this folder instead of / (a mounted image or a copied tree)." };
        var stateDir = new Option<string?>("--state-dir") { Description = "Where the previous snapshot, log positions and agent id are kept. Default: state_dir of the configuration; with --once, $XDG_STATE_HOME/trainguard/agent-once (~/.local/state/trainguard/agent-once), so a try-out never writes the service's state." };
        var server = new ServerClientOptions(required: false, "Events are shipped to it (overrides server.url of the configuration; --ca, --client-cert and --client-key override server.ca, server.client_cert and server.client_key).", withToken: false);
        var command = new Command("run", """
            Run the agent until stopped (SIGTERM or Ctrl+C): collectors, spool, shipping, heartbeat. With --once, one
            pass whose events are printed instead.

            Examples:
              trainguard agent run                                           /etc/trainguard/agent.yaml
              trainguard agent run --once --config packaging/agent.yaml      try it: state under ~/.local/state
              trainguard agent run --server https://tg:8443 --ca /etc/trainguard/server-ca.pem --token-file /etc/trainguard/agent.token

            Exit codes: 0 stopped cleanly (--once: no event of severity medium or above), 1 (--once only) an event of
            severity medium or above, 2 error (bad configuration, unreadable state, bad usage).
            """);
        command.AddOptions(config, once, root, stateDir, server.Server, server.TokenFile, server.Timeout, server.Ca, server.ClientCertificate, server.ClientKey);
        command.SetAction(async (parse, ct) =>
        {
            var settings = LoadConfig(parse.GetValue(config), optional: parse.GetValue(once));
            if (parse.GetValue(root) is { } r)
            {
                settings = settings with { SnapshotRoot = InputValidation.ExistingFolders([r], "--root")[0] };
            }

            if (parse.GetValue(stateDir) is { } s)
            {
                settings = settings with { StateDirectory = s };
            }
            else if (parse.GetValue(once))
            {
                settings = settings with { StateDirectory = OnceStateDirectory() };
            }

            if (server.Url(parse) is { } url)
            {
                settings = settings with { ServerUrl = url };
            }

            if (parse.GetValue(server.TokenFile) is { } tokenFile)
            {
                settings = settings with { TokenFile = InputValidation.ExistingFile(tokenFile, "--token-file") };
            }

            if (server.CaFile(parse) is { } ca)
            {
                settings = settings with { ServerCaFile = ca };
            }

            if (parse.GetValue(server.ClientCertificate) is { } clientCertificate)
            {
                settings = settings with { ClientCertificateFile = clientCertificate.FullName };
            }

            if (parse.GetValue(server.ClientKey) is { } clientKey)
            {
                settings = settings with { ClientKeyFile = clientKey.FullName };
            }

            if (parse.GetResult(server.Timeout) is { Implicit: false })
            {
                settings = settings with { RequestTimeout = server.RequestTimeout(parse) };
            }

            if (parse.GetValue(once))
            {
                using var single = new AgentHost(settings, stderr);
                var events = await single.RunOnceAsync(stdout, ct);
                return events.Any(e => e.GetInt64(EventFields.Severity) >= Severity.Medium.ToEventSeverity() || e.GetString(EventFields.Kind) == EventKinds.Alert) ? ExitCodes.Findings : ExitCodes.Clean;
            }

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
            {
                context.Cancel = true;
                stop.Cancel();
            });
            using var host = new AgentHost(settings, stderr);
            try
            {
                return await host.RunAsync(stop.Token);
            }
            catch (MalformedInputException ex)
            {
                throw new CliException(ex.Message, ex);
            }
        });
        return command;
    }

    private static Command Replay(TextWriter stdout, TextWriter stderr)
    {
        var audit = new Option<string[]>("--audit") { Description = "Saved audit log (repeatable for rotated files: audit.log.1 audit.log)." };
        var auth = new Option<string[]>("--auth") { Description = "Saved sshd log: auth.log, secure, or journalctl -o short-iso/export output (repeatable)." };
        var passwd = new Option<string?>("--passwd") { Description = "The node's /etc/passwd (copied with the logs) to name the uids of a raw audit log." };
        var group = new Option<string?>("--group") { Description = "The node's /etc/group." };
        var host = new Option<string?>("--host") { Description = "host.name for records that do not name their node." };
        var original = new Option<bool>("--include-original") { Description = "Keep the raw audit records of each event in event.original." };
        var command = new Command("replay", """
            Derive the agent's events from logs copied off a node and print them as JSON lines sorted by time (no server
            needed). A summary goes to standard error. A file given as --audit that holds no audit record (or as --auth
            that holds no log line) is an error: nothing is written.

            Example:
              trainguard agent replay --audit audit.log.1 --audit audit.log --auth auth.log --passwd passwd

            Exit codes: 0 replayed, 2 error (a file missing, unreadable or not a log of its kind, bad usage).
            """);
        command.AddOptions(audit, auth, passwd, group, host, original);

        command.SetAction(parse =>
        {
            var audits = parse.GetValue(audit) ?? [];
            var auths = parse.GetValue(auth) ?? [];
            if (audits.Length == 0 && auths.Length == 0)
            {
                throw new CliException("give at least one --audit or --auth file");
            }

            foreach (var file in audits)
            {
                InputValidation.ExistingFile(file, "--audit");
            }

            foreach (var file in auths)
            {
                InputValidation.ExistingFile(file, "--auth");
            }

            IAccountNames? names = null;
            if (parse.GetValue(passwd) is { } passwdPath)
            {
                names = PasswdFile.Load(InputValidation.ExistingFile(passwdPath, "--passwd"), parse.GetValue(group) is { } g ? InputValidation.ExistingFile(g, "--group") : null);
            }

            var input = ForensicReplay.Read(audits, auths, new ReplayOptions { HostName = parse.GetValue(host), AccountNames = names, IncludeOriginal = parse.GetValue(original) });
            if (input.Unrecognized is [var first, ..])
            {
                var what = first.Kind == ReplayFileKind.Audit ? "audit records (type=... msg=audit(...) lines)" : "syslog or journal lines";
                throw new CliException($"--{first.Kind.ToString().ToLowerInvariant()}: {first.Path} holds no {what} in {first.Lines:N0} lines; is it the right file?");
            }

            var result = ForensicReplay.Write(input, stdout);
            stderr.WriteLine($"replay: {result.AuditRecords} audit records in {result.AuditLines} lines, {result.AuthRecords} sshd lines of {result.AuthLines}, {result.Events} events ({string.Join(", ", result.EventsByAction.Select(p => $"{p.Key} {p.Value}"))})");
            foreach (var error in result.FirstErrors)
            {
                stderr.WriteLine($"replay: skipped {error}");
            }

            if (result.ParseErrors > result.FirstErrors.Count)
            {
                stderr.WriteLine($"replay: {result.ParseErrors - result.FirstErrors.Count} more unreadable lines");
            }

            return ExitCodes.Clean;
        });
        return command;
    }

    private static Command AuditRules(TextWriter stdout)
    {
        var config = CommonOptions.Config($"Agent configuration (YAML). Default: {AgentConfig.DefaultPath} when it exists, else built-in defaults.");
        var immutable = new Option<bool>("--loginuid-immutable") { Description = "End with --loginuid-immutable: login uids cannot be changed once set (undoing it needs a reboot)." };
        var no32 = new Option<bool>("--no-32bit") { Description = "Omit arch=b32 rules (kernels without 32-bit compat)." };
        var command = new Command("audit-rules", """
            Print the audit rules the agent needs (auditctl syntax, for /etc/audit/rules.d/): signals, every account's
            ~/.ssh, the Python environment (env.sites of the configuration; when none is configured, the site-packages
            folders found on this machine without running Python), checkpoint folders, identity files, sudoers, cron,
            systemd, ld.so.preload. A section with nothing to watch says so in a comment.

            Example:
              trainguard agent audit-rules > trainguard.rules && sudo cp trainguard.rules /etc/audit/rules.d/

            Exit codes: 0 printed, 2 error (bad configuration, bad usage).
            """);
        command.AddOptions(config, immutable, no32);
        command.SetAction(parse =>
        {
            var settings = LoadConfig(parse.GetValue(config), optional: true);
            var passwdPath = Path.Join(settings.SnapshotRoot, "etc/passwd");
            var accounts = File.Exists(passwdPath) ? PasswdFile.Load(passwdPath, null).Entries : [];
            stdout.Write(AuditRulesGenerator.Generate(new AuditRulesConfig
            {
                Accounts = accounts,
                SitePackages = settings.EnvSites.Count > 0 || settings.SnapshotRoot != "/" ? settings.EnvSites : DiscoveredSites(),
                CheckpointFolders = settings.CheckpointFolders,
                LoginUidImmutable = parse.GetValue(immutable),
                Include32Bit = !parse.GetValue(no32),
                DirectoryExists = home => Directory.Exists(Path.Join(settings.SnapshotRoot, home)),
            }));
            return ExitCodes.Clean;
        });
        return command;
    }

    /// <summary>The site-packages folders of the environment found on this machine (as <c>env verify</c> finds them, nothing run).</summary>
    private static IReadOnlyList<string> DiscoveredSites() =>
        [.. EnvironmentLocator.Locate(new EnvLocateOptions { IncludeUserSite = false }).Sites.Select(s => s.Path)];

    private static Command Spool(TextWriter stdout, TextWriter stderr)
    {
        var dir = new Argument<string>("DIR") { Description = "The spool folder (spool_dir of the configuration, e.g. /var/lib/trainguard/spool)." };
        var output = new ReportOptions(sarif: true);
        var verify = new Command("verify", """
            Check the spool's hash chain without changing it: edited, removed or reordered records, a damaged cursor, a
            torn last record.

            Example:
              trainguard agent spool verify /var/lib/trainguard/spool

            Exit codes: 0 intact, 1 problems found, 2 error (no such folder, bad usage).
            """);
        verify.Arguments.Add(dir);
        output.AddTo(verify);
        verify.SetAction(parse =>
        {
            output.Validate(parse);
            var started = DateTimeOffset.UtcNow;
            var folder = InputValidation.ExistingFolders([parse.GetValue(dir)!], "DIR")[0];
            SpoolVerification result;
            try
            {
                result = EventSpool.Verify(folder);
            }
            catch (DirectoryNotFoundException ex)
            {
                throw new CliException(ex.Message, ex);
            }

            var verdict = result.Findings.Aggregate(Verdict.Clean, (acc, f) => acc.Combine(f.Verdict));
            var item = new AnalyzedItem
            {
                Path = result.Directory,
                Format = "spool",
                Verdict = result.Clean ? Verdict.Clean : verdict == Verdict.Clean ? Verdict.Suspicious : verdict,
                Findings = result.Findings,
            };
            var json = new JsonObject
            {
                ["tampered"] = result.Tampered,
                ["segments"] = result.Segments,
                ["records"] = result.Records,
                ["first_seq"] = result.FirstSeq,
                ["last_seq"] = result.LastSeq,
                ["acked_seq"] = result.AckedSeq,
                ["torn_bytes"] = result.TornBytes,
                ["sealed_head_seq"] = result.SealedHeadSeq,
                ["sealed_head_hash"] = result.SealedHeadHash,
            };
            var report = new Report
            {
                Command = "agent spool verify",
                Items = [item],
                ItemsName = "spools",
                StartedAt = started,
                Elapsed = DateTimeOffset.UtcNow - started,
                Details = new CommandDetails(json, text =>
                {
                    text.WriteLine($"{result.Directory}: {result.Segments} segments, records {result.FirstSeq}..{result.LastSeq} ({result.Records} present), acknowledged through {result.AckedSeq}");
                    foreach (var f in result.Findings)
                    {
                        text.WriteLine($"  {f.Severity.ToWireName(),-8} {f.RuleId} {f.Location}: {f.Message}");
                    }

                    text.WriteLine(result.Clean ? "chain intact" : result.Tampered ? "TAMPERED: the spool was changed outside the agent" : "repairable: a torn last record (the agent truncates it on start)");
                }),
            };
            return output.Write(parse, report, stdout, stderr);
        });
        var spool = new Command("spool", "Inspect the agent's local event spool.");
        spool.Subcommands.Add(verify);
        return spool;
    }
}
