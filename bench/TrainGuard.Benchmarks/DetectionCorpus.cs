using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace TrainGuard.Benchmarks;

/// <summary>
/// The inputs of the detection benchmarks: rules of the shapes a site writes over the fields of docs/events.md, and
/// events of the kinds and sizes the agents ship (docs/events.md; samples/agent/spool), mostly matching nothing.
/// Deterministic for a seed, so every run measures the same work.
/// </summary>
public static class DetectionCorpus
{
    /// <summary>Smallest and largest event the generator writes, in bytes of JSON (what sensors ship is in this range).</summary>
    public const int MinEventBytes = 400;

    public const int MaxEventBytes = 800;

    /// <summary>The actions of a busy GPU node's stream and their shares (per thousand): the kinds agents ship.</summary>
    private static readonly (string Action, int PerMille)[] Mix =
    [
        ("process-signal", 170), ("user-login", 120), ("user-logout", 50), ("file-changed", 120), ("file-created", 60),
        ("file-deleted", 40), ("file-renamed", 20), ("artifact-scanned", 130), ("agent-heartbeat", 100), ("socket-listen", 50),
        ("socket-closed", 40), ("loginuid-changed", 40), ("checkpoint-inspected", 15), ("checkpoint-verified", 10),
        ("persistence-changed", 10), ("ssh-key-added", 6), ("env-finding", 2), ("user-created", 5), ("user-changed", 5),
        ("audit-config-changed", 2),
    ];

    private static readonly string[] Users = [.. Enumerable.Range(0, 400).Select(i => "u" + (1600 + i).ToString(CultureInfo.InvariantCulture))];

    private static readonly string[] Services = ["svc-backup", "svc-monitor", "svc-ci", "svc-sched", "svc-nfs", "svc-ldap", "svc-metrics", "svc-logs"];

    private static readonly string[] Executables =
    [
        "/usr/bin/python3", "/opt/conda/bin/python", "/usr/bin/bash", "/usr/bin/kill", "/usr/local/bin/torchrun", "/usr/bin/rsync",
        "/usr/bin/cp", "/usr/bin/vim", "/usr/bin/tee", "/usr/bin/git", "/usr/bin/tar", "/usr/bin/pkill",
    ];

    private static readonly string[] PersistencePaths = ["/etc/cron.d/", "/etc/systemd/system/", "/var/spool/cron/crontabs/", "/etc/sudoers.d/", "/etc/ld.so.preload", "/etc/profile.d/", "/etc/rc.local"];

    private static readonly string[] Ports = ["4444", "1337", "31337", "5555", "6666", "9001", "12345", "2222"];

    /// <summary>
    /// <paramref name="count"/> rules (detection rules and correlations; building blocks of a correlation count) in
    /// one file, deterministic for <paramref name="seed"/>. About nine in ten name the <c>event.action</c>s they watch,
    /// the others anchor on a field or on nothing (evaluated on every event); every condition form appears: lists,
    /// <c>contains</c>/<c>startswith</c>/<c>endswith</c>, <c>re</c>, <c>cidr</c>, numbers, <c>fieldref</c>,
    /// <c>expand</c>, <c>not</c>, <c>1 of sel_*</c>; one in twelve is a correlation.
    /// </summary>
    public static string Rules(int count, int seed)
    {
        var random = new Random(seed);
        var sb = new StringBuilder();
        var written = 0;
        for (var i = 0; written < count; i++)
        {
            var k = i.ToString("000", CultureInfo.InvariantCulture);
            var kind = i % 12;
            if (kind == 11 && written + 2 <= count)
            {
                written += Correlation(sb, random, k);
                continue;
            }

            var detection = (kind == 11 ? random.Next(11) : kind) switch
            {
                0 => $$"""
                    sel:
                      event.action: [file-created, file-changed, file-renamed]
                      file.path|startswith: ['{{Pick(random, PersistencePaths)}}', '{{Pick(random, PersistencePaths)}}']
                    filter_pm:
                      process.executable|expand: '%PackageManagers%'
                    filter_root:
                      user.audit.id: '4294967295'
                    condition: sel and not 1 of filter_*
                  """,
                1 => $$"""
                    base:
                      event.action: [process-signal, socket-listen, file-created]
                    sel_download:
                      process.command_line|contains: ['curl -s{{k}} ', 'wget -q{{k}} ', '| sh -c{{k}}']
                    sel_shell:
                      process.executable|endswith: ['/nc{{k}}', '/ncat{{k}}', '/socat{{k}}']
                    sel_args:
                      process.args|contains|all: ['-e', '/bin/sh{{k}}']
                    condition: base and 1 of sel_*
                  """,
                2 => $$"""
                    sel:
                      event.action: [file-deleted, file-renamed]
                      file.path|re: '^/srv/ckpt/run{{random.Next(90)}}/checkpoint-[0-9]+/(optimizer|scheduler|rng_state){{k}}\.(pt|pth)$'
                    own:
                      user.audit.id|fieldref: file.uid
                    condition: sel and not own
                  """,
                3 => $$"""
                    sel:
                      event.action: user-login
                      trainguard.login.phase: login
                      user.name: ['{{Pick(random, Users)}}', '{{Pick(random, Users)}}', '{{Pick(random, Services)}}']
                    internal:
                      source.ip|cidr: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fd00::/8']
                    condition: sel and not internal
                  """,
                4 => $$"""
                    sel:
                      event.action: [user-login, user-logout]
                      user.name: [{{string.Join(", ", Enumerable.Range(0, 12).Select(_ => Pick(random, Services) + "-" + k))}}]
                      trainguard.ssh.method: [password, keyboard-interactive]
                    condition: sel
                  """,
                5 => $$"""
                    sel:
                      event.action: process-signal
                      trainguard.target.name: [torchrun, deepspeed, accelerate, 'python3.{{k}}']
                      trainguard.signal.name: [SIGKILL, SIGSTOP, SIGSEGV]
                      trainguard.target.pid|lt: {{random.Next(300, 2000)}}
                    filter_own:
                      user.audit.id|fieldref: trainguard.target.user.audit.id
                    filter_scheduler:
                      process.executable|expand: '%SchedulerBinaries%'
                    condition: sel and not 1 of filter_*
                  """,
                6 => $$"""
                    sel:
                      event.action: agent-heartbeat
                    lagging:
                      trainguard.agent.spool.pending|gt: {{50_000 + random.Next(10_000)}}
                    failing:
                      trainguard.agent.collectors.audit.parse_errors|gte: {{100 + random.Next(900)}}
                    condition: sel and (lagging or failing)
                  """,
                7 => $$"""
                    sel:
                      event.action: artifact-scanned
                      trainguard.scan.verdict: [suspicious, error]
                      file.path|contains: '/run{{random.Next(90)}}/'
                    not_pickle:
                      trainguard.scan.format: [safetensors, gguf]
                    condition: sel and not not_pickle
                  """,
                8 => $$"""
                    sel:
                      event.action: socket-listen
                      source.port: ['{{Pick(random, Ports)}}', '{{Pick(random, Ports)}}', {{40_000 + random.Next(20_000)}}]
                    filter:
                      process.executable|expand: '%ServiceBinaries%'
                    condition: sel and not filter
                  """,
                9 => $$"""
                    sel_write:
                      event.action: [file-created, file-changed]
                      file.name|endswith: ['.so', '.pth', '-{{k}}.py']
                    sel_dir:
                      file.directory|startswith: ['/opt/conda/lib/python3.{{random.Next(8, 13)}}/site-packages', '/usr/lib/python3/dist-packages/{{k}}']
                    condition: all of sel_*
                  """,
                _ => random.Next(4) switch
                {
                    // Anchored on a field only, or on nothing: the index cannot skip these.
                    0 => $$"""
                        sel:
                          trainguard.finding.rule|startswith: 'TG-ENV-0{{random.Next(10)}}'
                          trainguard.finding.severity: [high, critical]
                        condition: sel
                      """,
                    1 => $$"""
                        sel:
                          user.name|re: '^(adm|ops|tmp)-[a-z]+{{k}}$'
                        condition: sel
                      """,
                    2 => $$"""
                        sel:
                          event.action: [user-created, user-changed]
                          trainguard.account.shell|endswith: ['/bash', '/sh', '/zsh']
                          user.target.name|re: '^(svc|adm|ops)[a-z0-9-]*{{k}}$'
                        condition: sel
                      """,
                    _ => $$"""
                        a:
                          host.name|startswith: 'bastion-{{k}}'
                        b:
                          process.executable|startswith: '/tmp/{{k}}/'
                        condition: a or b
                      """,
                },
            };
            Rule(sb, $"TG-GEN-{k}", $"Generated rule {k}", null, detection);
            written++;
        }

        return sb.ToString();
    }

    /// <summary>A correlation and the rule it counts (two documents).</summary>
    private static int Correlation(StringBuilder sb, Random random, string k)
    {
        var name = "gen_base_" + k;
        switch (random.Next(4))
        {
            case 0:
                Rule(sb, null, "Failed login " + k, name, """
                    sel:
                      event.action: user-login
                      event.outcome: failure
                    condition: sel
                  """);
                Correlate(sb, k, $"{{type: event_count, rules: [{name}], group-by: [source.ip, host.name], timespan: 10m, condition: {{gte: {20 + random.Next(20)}}}}}");
                break;
            case 1:
                Rule(sb, null, "Kill " + k, name, """
                    sel:
                      event.action: process-signal
                      trainguard.signal.name: [SIGKILL, SIGTERM]
                    condition: sel
                  """);
                Correlate(sb, k, $"{{type: value_count, rules: [{name}], group-by: [user.audit.id], timespan: 30m, condition: {{field: host.name, gte: {8 + random.Next(8)}}}}}");
                break;
            case 2:
                Rule(sb, null, "Checkpoint write " + k, name, $$"""
                    sel:
                      event.action: [file-changed, file-deleted]
                      file.path|startswith: '/srv/ckpt/run{{random.Next(90)}}/'
                    condition: sel
                  """);
                Correlate(sb, k, $"{{type: event_count, rules: [{name}], group-by: [user.audit.id, host.name], timespan: 5m, condition: {{gte: {30 + random.Next(30)}}}}}");
                break;
            default:
                Rule(sb, null, "Key added " + k, name, """
                    sel:
                      event.action: ssh-key-added
                    baseline:
                      trainguard.snapshot.baseline: true
                    condition: sel and not baseline
                  """);
                Correlate(sb, k, $"{{type: temporal_ordered, rules: [{name}, ssh_key_login], group-by: [trainguard.ssh.key_fingerprint, host.name], timespan: {1 + random.Next(12)}h}}");
                break;
        }

        return 2;
    }

    private static void Rule(StringBuilder sb, string? id, string title, string? name, string detection)
    {
        sb.Append("---\ntitle: ").Append(title).Append('\n');
        if (id is not null)
        {
            sb.Append("id: ").Append(id).Append("\nlevel: medium\ndescription: A site rule.\nx-trainguard: {guidance: Look at it.}\n");
        }

        if (name is not null)
        {
            sb.Append("name: ").Append(name).Append('\n');
        }

        sb.Append("taxonomy: ecs\nlogsource: {product: linux}\ndetection:\n");
        // The templates are indented two spaces: the lines go below 'detection:' as they are.
        sb.Append(detection).Append('\n');
    }

    private static void Correlate(StringBuilder sb, string k, string correlation) =>
        sb.Append(CultureInfo.InvariantCulture, $"---\ntitle: Generated correlation {k}\nid: TG-GEN-{k}\nlevel: high\ndescription: A site correlation.\nx-trainguard: {{guidance: Look at the group.}}\ncorrelation: {correlation}\n");

    /// <summary>
    /// <paramref name="count"/> events as sensors ship them (UTF-8 JSON, nested ECS objects, 400 to 800 bytes), in
    /// the mix of <see cref="Mix"/>, 50 ms apart; a few per hundred are what the rules look for.
    /// </summary>
    public static byte[][] Events(int count, int seed)
    {
        var random = new Random(seed);
        var events = new byte[count][];
        for (var i = 0; i < count; i++)
        {
            var json = Encoding.UTF8.GetBytes(Event(random, i));
            if (json.Length is < MinEventBytes or > MaxEventBytes)
            {
                throw new InvalidOperationException($"generated event {i} has {json.Length} bytes, outside {MinEventBytes}..{MaxEventBytes}: {Encoding.UTF8.GetString(json)}");
            }

            events[i] = json;
        }

        return events;
    }

    public static string Time(double seconds) =>
        new DateTime(2026, 11, 22, 8, 0, 0, DateTimeKind.Utc).AddSeconds(seconds).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static string Pick(Random random, string[] values) => values[random.Next(values.Length)];

    private static string PickAction(Random random)
    {
        var roll = random.Next(Mix.Sum(m => m.PerMille));
        foreach (var (action, perMille) in Mix)
        {
            if ((roll -= perMille) < 0)
            {
                return action;
            }
        }

        return Mix[0].Action;
    }

    private static string Event(Random random, int i)
    {
        var action = PickAction(random);
        var person = random.Next(Users.Length);
        var user = random.Next(50) == 0 ? Pick(random, Services) : Users[person];
        var auid = user.StartsWith('u') ? user[1..] : (900 + Array.IndexOf(Services, user)).ToString(CultureInfo.InvariantCulture);

        // An account works on two nodes of its own (its jobs' ranks); its key is one key.
        var host = $"gpu-node-{((person * 7) + random.Next(2)) % 64:00}";
        var fingerprint = $"SHA256:{(uint)person.GetHashCode() * 2654435761u:x8}q3mV8bmcwV8Vd0b2JnlbtV2sQp7rPkPh3";
        var outcome = action switch
        {
            "user-login" or "file-created" or "file-changed" or "file-deleted" or "file-renamed" => random.Next(12) == 0 ? "failure" : "success",
            "checkpoint-verified" => random.Next(500) == 0 ? "failure" : "success",
            _ => "success",
        };
        var exe = Pick(random, Executables);
        var e = new JsonObject
        {
            ["id"] = $"0193{i:x4}-{random.Next(0x10000):x4}-7{random.Next(0x1000):x3}-9{random.Next(0x1000):x3}-{random.NextInt64(1L << 48):x12}",
            ["@timestamp"] = Time(i * 0.05),
            ["event"] = new JsonObject
            {
                ["kind"] = "event",
                ["action"] = action,
                ["category"] = new JsonArray(Category(action)),
                ["outcome"] = outcome,
                ["module"] = Module(action),
            },
            ["host"] = new JsonObject { ["name"] = host },
            ["agent"] = new JsonObject { ["version"] = "0.1.0" },
        };

        JsonObject Actor() => new()
        {
            ["name"] = user,
            ["id"] = auid,
            ["audit"] = new JsonObject { ["id"] = auid, ["name"] = user },
        };

        JsonObject Process(string executable, params string[] args) => new()
        {
            ["pid"] = random.Next(300, 400_000),
            ["executable"] = executable,
            ["name"] = executable[(executable.LastIndexOf('/') + 1)..],
            ["args"] = new JsonArray([.. args.Select(a => (JsonNode)a)]),
            ["command_line"] = string.Join(' ', args),
        };

        switch (action)
        {
            case "process-signal":
                // Most signals stop the sender's own processes; one in a hundred reaches another account's.
                var other = random.Next(100) == 0;
                var target = other ? Pick(random, Users)[1..] : auid;
                var signal = random.Next(3) == 0 ? "SIGTERM" : "SIGKILL";
                e["user"] = Actor();
                e["process"] = Process(exe == "/usr/bin/pkill" ? exe : "/usr/bin/kill", "kill", signal == "SIGKILL" ? "-9" : "-15", random.Next(1000, 400_000).ToString(CultureInfo.InvariantCulture));
                e["trainguard"] = new JsonObject
                {
                    ["audit"] = new JsonObject { ["serial"] = i, ["arch"] = "x86_64", ["key"] = "tg-signal" },
                    ["syscall"] = "kill",
                    ["signal"] = new JsonObject { ["number"] = signal == "SIGKILL" ? 9 : 15, ["name"] = signal },
                    ["target"] = new JsonObject
                    {
                        ["pid"] = random.Next(1000, 400_000),
                        ["name"] = random.Next(2) == 0 ? "torchrun" : "python3",
                        ["user"] = new JsonObject { ["audit"] = new JsonObject { ["id"] = target } },
                    },
                    ["cross_user"] = other,
                };
                break;
            case "file-created" or "file-changed" or "file-deleted" or "file-renamed":
                var key = random.Next(100) switch
                {
                    < 70 => "tg-checkpoint",
                    < 90 => "tg-pyenv",
                    < 99 => "tg-ssh",
                    _ => "tg-cron",
                };

                // Packages change through pip, crontabs through crontab; one write in fifty is by something else.
                var usual = random.Next(50) != 0;
                exe = (key, usual) switch
                {
                    ("tg-pyenv", true) => "/opt/conda/bin/pip",
                    ("tg-cron", true) => "/usr/bin/crontab",
                    _ => exe,
                };
                var run = random.Next(90).ToString(CultureInfo.InvariantCulture);
                var path = key switch
                {
                    "tg-checkpoint" => $"/srv/ckpt/run{run}/checkpoint-{random.Next(5000)}/{(random.Next(3) == 0 ? "optimizer.pt" : "model.safetensors")}",
                    "tg-pyenv" => $"/opt/conda/lib/python3.11/site-packages/torch/optim/{(random.Next(2) == 0 ? "adamw" : "sgd")}.py",
                    "tg-ssh" => $"/home/{user}/.ssh/authorized_keys",
                    _ => $"/var/spool/cron/crontabs/{user}",
                };
                var slash = path.LastIndexOf('/');
                e["user"] = Actor();
                e["process"] = Process(exe, exe[(exe.LastIndexOf('/') + 1)..], path[(slash + 1)..]);
                e["file"] = new JsonObject
                {
                    ["path"] = path,
                    ["name"] = path[(slash + 1)..],
                    ["directory"] = path[..slash],
                    ["uid"] = usual ? auid : Pick(random, Users)[1..],
                };
                e["trainguard"] = new JsonObject { ["audit"] = new JsonObject { ["serial"] = i, ["key"] = key }, ["syscall"] = "openat" };
                break;
            case "user-login" or "user-logout":
                e["user"] = new JsonObject { ["name"] = user, ["id"] = auid };
                e["process"] = new JsonObject { ["pid"] = random.Next(300, 400_000), ["name"] = "sshd", ["executable"] = "/usr/sbin/sshd" };
                e["source"] = new JsonObject
                {
                    ["ip"] = random.Next(200) == 0 ? $"203.0.113.{random.Next(256)}" : $"10.{random.Next(4)}.{random.Next(256)}.{random.Next(256)}",
                    ["port"] = random.Next(1024, 65536),
                };
                e["trainguard"] = new JsonObject
                {
                    ["login"] = new JsonObject { ["phase"] = action == "user-login" ? (random.Next(2) == 0 ? "login" : "session-open") : "logout" },
                    ["sshd"] = new JsonObject { ["line"] = i },
                    ["ssh"] = new JsonObject
                    {
                        ["method"] = random.Next(40) == 0 ? "password" : "publickey",
                        ["key_type"] = "ED25519",
                        ["key_fingerprint"] = fingerprint,
                    },
                };
                break;
            case "socket-listen" or "socket-closed":
                // Listening sockets are mostly the node's services.
                var service = random.Next(20) != 0;
                e["user"] = new JsonObject { ["id"] = service ? "0" : auid };
                e["process"] = Process(service ? "/usr/sbin/sshd" : "/usr/bin/python3", service ? "sshd" : "python3", service ? "-D" : "-m", service ? "-f /etc/ssh/sshd_config" : "http.server");
                e["source"] = new JsonObject { ["ip"] = "0.0.0.0", ["port"] = service ? 22 : random.Next(1024, 65536) };
                e["network"] = new JsonObject { ["transport"] = "tcp" };
                e["trainguard"] = new JsonObject { ["socket"] = new JsonObject { ["inode"] = random.Next(1 << 30) } };
                break;
            case "artifact-scanned":
                var verdict = random.Next(200) switch { 0 => "malicious", 1 or 2 => "suspicious", _ => "clean" };
                e["file"] = new JsonObject
                {
                    ["path"] = $"/srv/ckpt/run{random.Next(90)}/checkpoint-{random.Next(5000)}/{(random.Next(2) == 0 ? "rng_state.pth" : "model.safetensors")}",
                    ["size"] = random.Next(1 << 30),
                    ["uid"] = auid,
                    ["hash"] = new JsonObject { ["sha256"] = $"{random.NextInt64():x16}{random.NextInt64():x16}{random.NextInt64():x16}{random.NextInt64():x16}" },
                };
                e["trainguard"] = new JsonObject
                {
                    ["scan"] = new JsonObject
                    {
                        ["verdict"] = verdict,
                        ["format"] = random.Next(2) == 0 ? "torch-zip" : "safetensors",
                        ["change"] = "new",
                        ["findings"] = verdict == "clean" ? new JsonArray() : new JsonArray("TG-PKL-101"),
                    },
                };
                break;
            case "agent-heartbeat":
                e["trainguard"] = new JsonObject
                {
                    ["agent"] = new JsonObject
                    {
                        ["uptime_seconds"] = random.Next(1_000_000),
                        ["interval_seconds"] = 60,
                        ["spool"] = new JsonObject { ["pending"] = random.Next(100), ["last_seq"] = i, ["acked_seq"] = i - random.Next(100) },
                        ["shipping"] = new JsonObject { ["consecutive_failures"] = 0, ["events_rejected"] = 0 },
                        ["collectors"] = new JsonObject { ["audit"] = new JsonObject { ["records"] = i * 4, ["events"] = i, ["parse_errors"] = random.Next(3) } },
                    },
                };
                break;
            case "loginuid-changed":
                e["user"] = Actor();
                e["process"] = Process("/usr/sbin/sshd", "sshd:", user, "[priv]");
                e["trainguard"] = new JsonObject
                {
                    ["loginuid"] = new JsonObject { ["old"] = new JsonObject { ["id"] = "4294967295" }, ["new"] = new JsonObject { ["id"] = auid, ["name"] = user } },
                    ["forged"] = false,
                    ["audit"] = new JsonObject { ["serial"] = i, ["record_type"] = "LOGIN" },
                };
                break;
            case "checkpoint-inspected" or "checkpoint-verified":
                e["user"] = new JsonObject { ["name"] = user };
                e["file"] = new JsonObject { ["path"] = $"/srv/ckpt/run{random.Next(90)}/checkpoint-{random.Next(5000)}" };
                e["trainguard"] = new JsonObject
                {
                    ["tool"] = "trainguard ckpt",
                    ["ckpt"] = action == "checkpoint-verified"
                        ? new JsonObject { ["verdict"] = "clean", ["manifest_digest"] = $"{random.NextInt64():x16}{random.NextInt64():x16}", ["changed"] = new JsonArray() }
                        : new JsonObject
                        {
                            ["files"] = 4,
                            ["step"] = random.Next(5000),
                            ["optimizer"] = new JsonArray(new JsonObject { ["group"] = 0, ["lr"] = 0.0003, ["betas"] = new JsonArray(0.9, 0.999), ["maximize"] = false }),
                            ["findings"] = new JsonArray(),
                        },
                };
                break;
            case "persistence-changed":
                var file = Pick(random, PersistencePaths) + "job-" + random.Next(100).ToString(CultureInfo.InvariantCulture);
                e["file"] = new JsonObject { ["path"] = file, ["size"] = random.Next(4096), ["hash"] = new JsonObject { ["sha256"] = $"{random.NextInt64():x16}{random.NextInt64():x16}" } };
                e["trainguard"] = new JsonObject
                {
                    ["persistence"] = new JsonObject { ["kind"] = file.Contains("cron", StringComparison.Ordinal) ? "cron" : "systemd" },
                    ["diff"] = new JsonObject { ["added"] = 1, ["removed"] = 0, ["summary"] = "+ 0 3 * * * /usr/bin/rsync -a /srv/ckpt /backup" },
                };
                break;
            case "ssh-key-added":
                e["user"] = new JsonObject { ["target"] = new JsonObject { ["name"] = user } };
                e["file"] = new JsonObject { ["path"] = $"/home/{user}/.ssh/authorized_keys" };
                e["trainguard"] = new JsonObject
                {
                    ["ssh"] = new JsonObject { ["key_type"] = "ED25519", ["key_fingerprint"] = fingerprint, ["key_line"] = random.Next(1, 5), ["key_comment"] = user + "@laptop" },
                    ["snapshot"] = new JsonObject { ["baseline"] = random.Next(10) != 0 },
                };
                break;
            case "env-finding":
                e["package"] = new JsonObject { ["name"] = "torch", ["version"] = "2.5.1", ["type"] = "wheel" };
                e["file"] = new JsonObject { ["path"] = "torch/optim/adamw.py" };
                e["trainguard"] = new JsonObject
                {
                    ["finding"] = new JsonObject { ["rule"] = $"TG-ENV-00{random.Next(1, 9)}", ["severity"] = random.Next(3) == 0 ? "high" : "medium", ["message"] = "a file differs from its RECORD hash" },
                };
                break;
            case "user-created" or "user-changed":
                e["user"] = Actor();
                e["user"]!["target"] = new JsonObject { ["id"] = (3000 + random.Next(100)).ToString(CultureInfo.InvariantCulture), ["name"] = "new" + random.Next(100).ToString(CultureInfo.InvariantCulture) };
                e["process"] = Process("/usr/sbin/useradd", "useradd", "-m", "-s", "/bin/bash");
                e["trainguard"] = new JsonObject { ["audit"] = new JsonObject { ["op"] = "add-user", ["serial"] = i }, ["account"] = new JsonObject { ["shell"] = "/bin/bash", ["home"] = "/home/new" } };
                break;
            default:
                // The rules loaded at boot by no login session, mostly.
                e["user"] = random.Next(10) == 0 ? Actor() : new JsonObject { ["audit"] = new JsonObject { ["id"] = "4294967295" } };
                e["process"] = Process("/usr/sbin/auditctl", "auditctl", "-R", "/etc/audit/rules.d/trainguard.rules");
                e["trainguard"] = new JsonObject { ["audit"] = new JsonObject { ["serial"] = i, ["op"] = "add_rule", ["record_type"] = "CONFIG_CHANGE", ["key"] = "tg-ssh" } };
                break;
        }

        return e.ToJsonString();
    }

    private static string Category(string action) => action switch
    {
        "process-signal" => "process",
        "user-login" or "user-logout" or "loginuid-changed" => "authentication",
        "user-created" or "user-changed" => "iam",
        "socket-listen" or "socket-closed" => "network",
        "agent-heartbeat" => "host",
        _ => "file",
    };

    private static string Module(string action) => action switch
    {
        "user-login" or "user-logout" => "sshd",
        "artifact-scanned" or "persistence-changed" or "ssh-key-added" or "socket-listen" or "socket-closed" => "snapshot",
        "agent-heartbeat" => "agent",
        "env-finding" => "env",
        "checkpoint-inspected" or "checkpoint-verified" => "ckpt",
        _ => "auditd",
    };
}
