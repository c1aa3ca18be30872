using System.CommandLine;
using System.Runtime.InteropServices;
using TrainGuard.Agent.Audit;
using TrainGuard.Agent.Common;
using TrainGuard.Agent.Config;
using TrainGuard.Agent.Replay;
using TrainGuard.Agent.Runtime;
using TrainGuard.Agent.Spool;
using TrainGuard.Events;
using TrainGuard.Findings;
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
          trainguard agent --once --config agent.yaml       one snapshot pass and scan, events as JSON lines
          trainguard agent replay --audit audit.log --auth auth.log --passwd passwd    forensics on copied logs
          trainguard agent audit-rules > /etc/audit/rules.d/trainguard.rules
          trainguard agent spool verify --dir /var/lib/trainguard/spool
        """;

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var command = new Command("agent", Description + "\n" + ExitCodes.HelpText);
        var once = new Option<bool>("--once") { Description = "One snapshot pass plus one scan of the checkpoint folders (and env checks when configured); events to stdout as JSON lines. No server needed. Exit 1 when an event has severity medium or above." };
        var onceConfig = ConfigOption(required: false);
        var root = new Option<string?>("--root") { Description = "Read node state under this folder instead of / (a mounted image or a copied tree)." };
        var stateDir = new Option<string?>("--state-dir") { Description = "Where the previous snapshot is kept (overrides the configuration)." };
        command.Options.Add(once);
        command.Options.Add(onceConfig);
        command.Options.Add(root);
        command.Options.Add(stateDir);
        command.SetAction(async (parse, ct) =>
        {
            if (!parse.GetValue(once))
            {
                throw new CliException("choose a subcommand (run, replay, audit-rules, spool verify) or --once; see 'trainguard agent --help'");
            }

            var config = LoadConfig(parse.GetValue(onceConfig), optional: true);
            if (parse.GetValue(root) is { } r)
            {
                config = config with { SnapshotRoot = r };
            }

            if (parse.GetValue(stateDir) is { } s)
            {
                config = config with { StateDirectory = s };
            }

            using var host = new AgentHost(config, stderr);
            var events = await host.RunOnceAsync(stdout, ct);
            return events.Any(e => e.GetInt64(EventFields.Severity) >= Severity.Medium.ToEventSeverity() || e.GetString(EventFields.Kind) == EventKinds.Alert) ? ExitCodes.Findings : ExitCodes.Clean;
        });

        command.Subcommands.Add(Run(stderr));
        command.Subcommands.Add(Replay(stdout, stderr));
        command.Subcommands.Add(AuditRules(stdout));
        command.Subcommands.Add(Spool(stdout));
        return command;
    }

    private static Option<string?> ConfigOption(bool required) => new("--config", "-c")
    {
        Description = required
            ? $"Agent configuration (YAML). Default: {AgentConfig.DefaultPath}."
            : $"Agent configuration (YAML). Default: {AgentConfig.DefaultPath} when it exists, else built-in defaults.",
    };

    private static AgentConfig LoadConfig(string? path, bool optional)
    {
        try
        {
            if (path is null && optional && !File.Exists(AgentConfig.DefaultPath))
            {
                return new AgentConfig();
            }

            return AgentConfig.Load(path ?? AgentConfig.DefaultPath);
        }
        catch (MalformedInputException ex)
        {
            throw new CliException(ex.Message, ex);
        }
    }

    private static Command Run(TextWriter stderr)
    {
        var config = ConfigOption(required: true);
        var command = new Command("run", "Run the agent until stopped (SIGTERM or Ctrl+C): collectors, spool, shipping, heartbeat.\n" + ExitCodes.HelpText);
        command.Options.Add(config);
        command.SetAction(async (parse, ct) =>
        {
            var settings = LoadConfig(parse.GetValue(config), optional: false);
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
        var command = new Command("replay", "Derive the agent's events from logs copied off a node and print them as JSON lines sorted by time (no server needed). A summary goes to stderr.\n" + ExitCodes.HelpText);
        foreach (var option in new Option[] { audit, auth, passwd, group, host, original })
        {
            command.Options.Add(option);
        }

        command.SetAction(parse =>
        {
            var audits = parse.GetValue(audit) ?? [];
            var auths = parse.GetValue(auth) ?? [];
            if (audits.Length == 0 && auths.Length == 0)
            {
                throw new CliException("give at least one --audit or --auth file");
            }

            IAccountNames? names = null;
            if (parse.GetValue(passwd) is { } passwdPath)
            {
                names = PasswdFile.Load(passwdPath, parse.GetValue(group));
            }

            var result = ForensicReplay.Run(audits, auths, stdout, new ReplayOptions { HostName = parse.GetValue(host), AccountNames = names, IncludeOriginal = parse.GetValue(original) });
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
        var config = ConfigOption(required: false);
        var immutable = new Option<bool>("--loginuid-immutable") { Description = "End with --loginuid-immutable: login uids cannot be changed once set (undoing it needs a reboot)." };
        var no32 = new Option<bool>("--no-32bit") { Description = "Omit arch=b32 rules (kernels without 32-bit compat)." };
        var command = new Command("audit-rules", "Print the audit rules the agent needs (auditctl syntax, for /etc/audit/rules.d/): signals, every account's ~/.ssh, site-packages, checkpoint folders, identity files, sudoers, cron, systemd, ld.so.preload.\n" + ExitCodes.HelpText);
        command.Options.Add(config);
        command.Options.Add(immutable);
        command.Options.Add(no32);
        command.SetAction(parse =>
        {
            var settings = LoadConfig(parse.GetValue(config), optional: true);
            var passwdPath = Path.Join(settings.SnapshotRoot, "etc/passwd");
            var accounts = File.Exists(passwdPath) ? PasswdFile.Load(passwdPath, null).Entries : [];
            stdout.Write(AuditRulesGenerator.Generate(new AuditRulesConfig
            {
                Accounts = accounts,
                SitePackages = settings.EnvSites,
                CheckpointFolders = settings.CheckpointFolders,
                LoginUidImmutable = parse.GetValue(immutable),
                Include32Bit = !parse.GetValue(no32),
                DirectoryExists = home => Directory.Exists(Path.Join(settings.SnapshotRoot, home)),
            }));
            return ExitCodes.Clean;
        });
        return command;
    }

    private static Command Spool(TextWriter stdout)
    {
        var dir = new Option<string>("--dir") { Description = "The spool folder (spool_dir of the configuration).", Required = true };
        var format = new Option<string>("--format") { Description = "text or json.", DefaultValueFactory = _ => "text" };
        format.AcceptOnlyFromAmong("text", "json");
        var verify = new Command("verify", "Check the spool's hash chain without changing it: edited, removed or reordered records, a damaged cursor, a torn last record. Exit 0 intact, 1 problems found, 2 error.");
        verify.Options.Add(dir);
        verify.Options.Add(format);
        verify.SetAction(parse =>
        {
            SpoolVerification result;
            try
            {
                result = EventSpool.Verify(parse.GetValue(dir)!);
            }
            catch (DirectoryNotFoundException ex)
            {
                throw new CliException(ex.Message, ex);
            }

            if (parse.GetValue(format) == "json")
            {
                stdout.WriteLine(result.ToJson());
            }
            else
            {
                stdout.WriteLine($"{result.Directory}: {result.Segments} segments, records {result.FirstSeq}..{result.LastSeq} ({result.Records} present), acknowledged through {result.AckedSeq}");
                foreach (var f in result.Findings)
                {
                    stdout.WriteLine($"  {f.Severity.ToWireName(),-8} {f.RuleId} {f.Location}: {f.Message}");
                }

                stdout.WriteLine(result.Clean ? "chain intact" : result.Tampered ? "TAMPERED: the spool was changed outside the agent" : "repairable: a torn last record (the agent truncates it on start)");
            }

            return result.Clean ? ExitCodes.Clean : ExitCodes.Findings;
        });
        var spool = new Command("spool", "Inspect the agent's local event spool.");
        spool.Subcommands.Add(verify);
        return spool;
    }
}
