using System.Globalization;
using TrainGuard.Ledger.Client;
using TrainGuard.Ledger.Notes;
using TrainGuard.Parsing;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace TrainGuard.Agent.Config;

/// <summary>The agent's configuration (<c>/etc/trainguard/agent.yaml</c>; see <c>packaging/agent.yaml</c>).</summary>
public sealed record AgentConfig
{
    public const string DefaultPath = "/etc/trainguard/agent.yaml";

    /// <summary>Where it was read from (null: defaults).</summary>
    public string? SourcePath { get; init; }

    /// <summary>The server's base URL; null runs the agent without shipping (events stay in the spool).</summary>
    public Uri? ServerUrl { get; init; }

    public string? TokenFile { get; init; }

    /// <summary>PEM CA certificate the server's certificate must chain to (<c>server.ca</c>); null: the system's roots.</summary>
    public string? ServerCaFile { get; init; }

    /// <summary>PEM client certificate for a server that requires one (<c>server.client_cert</c>).</summary>
    public string? ClientCertificateFile { get; init; }

    /// <summary>PEM private key of <see cref="ClientCertificateFile"/>, mode 0600 (<c>server.client_key</c>).</summary>
    public string? ClientKeyFile { get; init; }

    /// <summary>
    /// The ledger's verifier key (<c>server.log_key</c>: the key string, or a file holding it) that acknowledgements must
    /// be signed with; null pins the key the server announces on first contact.
    /// </summary>
    public string? LogKey { get; init; }

    public int BatchSize { get; init; } = 500;

    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan BackoffBase { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan BackoffMax { get; init; } = TimeSpan.FromMinutes(5);

    public string HostName { get; init; } = Environment.MachineName;

    public string SpoolDirectory { get; init; } = "/var/lib/trainguard/spool";

    public string StateDirectory { get; init; } = "/var/lib/trainguard/state";

    public TimeSpan SnapshotInterval { get; init; } = TimeSpan.FromSeconds(60);

    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(60);

    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan EnvInterval { get; init; } = TimeSpan.FromHours(6);

    public TimeSpan AccessInterval { get; init; } = TimeSpan.FromHours(1);

    /// <summary>The access policy (<c>access.policy</c>, docs/access.md) checked on <see cref="AccessInterval"/>; null: no access checks.</summary>
    public string? AccessPolicy { get; init; }

    /// <summary>How often the audit and auth logs are checked for new lines.</summary>
    public TimeSpan LogPollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The audit log followed across rotation; null: no audit collection (unless <see cref="AuditStdin"/>).</summary>
    public string? AuditLog { get; init; } = "/var/log/audit/audit.log";

    /// <summary>Read audit records on stdin (the agent runs as an audisp plugin).</summary>
    public bool AuditStdin { get; init; }

    /// <summary>sshd's log (auth.log / secure); null: not followed.</summary>
    public string? AuthLog { get; init; } = "/var/log/auth.log";

    /// <summary>
    /// Read sshd's lines from the systemd journal (<c>journalctl -o json --follow</c>) instead of <see cref="AuthLog"/>:
    /// the journal records who really wrote each line (<c>_UID</c>, <c>_EXE</c>, <c>_SYSTEMD_UNIT</c>), so a line
    /// forged with <c>logger -t sshd</c> is an alert instead of a login.
    /// </summary>
    public bool AuthJournal { get; init; }

    /// <summary>The journalctl program (<c>journalctl</c> on the PATH unless set).</summary>
    public string JournalCommand { get; init; } = "journalctl";

    /// <summary>Root the snapshots read under (<c>/</c>; tests use a fixture folder).</summary>
    public string SnapshotRoot { get; init; } = "/";

    public IReadOnlyList<string> CheckpointFolders { get; init; } = [];

    /// <summary>Also compute each scanned checkpoint file's SHA-256.</summary>
    public bool CheckpointHash { get; init; } = true;

    /// <summary>A file is scanned once it has not changed for this long (it may still be being written).</summary>
    public TimeSpan CheckpointSettle { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>site-packages folders verified by <c>env verify</c> on <see cref="EnvInterval"/>; empty: no environment checks.</summary>
    public IReadOnlyList<string> EnvSites { get; init; } = [];

    /// <summary>Reads <paramref name="path"/>; a missing file is an error naming it.</summary>
    public static AgentConfig Load(string path)
    {
        if (!File.Exists(path))
        {
            MalformedInputException.ThrowAt(InputErrorKind.Config, "configuration file not found (see packaging/agent.yaml for an example)", path, line: null);
        }

        CheckNotWritableByOthers(path, "configuration file");
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>
    /// Refuses a file that someone other than root and the agent's own user could change: one writable by its
    /// group or by everyone, one owned by another user (who can chmod it), or one in a folder others can write
    /// to without the sticky bit (they could put another file in its place). Whoever can rewrite the agent's
    /// configuration or token decides where its evidence goes.
    /// </summary>
    /// <exception cref="AgentConfigException">The file or its folder is writable by other users.</exception>
    public static void CheckNotWritableByOthers(string path, string what)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var full = Path.GetFullPath(path);
        if (!Common.UnixFile.TryStat(full, out var file, out var error))
        {
            MalformedInputException.ThrowAt(InputErrorKind.Config, $"cannot examine the {what} ({error ?? "not found"})", path, line: null);
        }

        var self = Common.UnixFile.EffectiveUid;
        if (file.GroupOrOtherWritable)
        {
            MalformedInputException.ThrowAt(InputErrorKind.Config, $"the {what} is writable by other users (mode {file.ModeText}); run 'chmod go-w {path}' (the agent refuses files that others could change)", path, line: null);
        }

        if (file.Uid != 0 && file.Uid != self)
        {
            MalformedInputException.ThrowAt(InputErrorKind.Config, $"the {what} is owned by uid {file.Uid}, neither root nor the agent's user (uid {self}), who could change it; run 'chown root {path}'", path, line: null);
        }

        var folder = Path.GetDirectoryName(full) ?? "/";
        if (Common.UnixFile.TryStat(folder, out var dir, out _) && dir.GroupOrOtherWritable && (dir.Mode & 0x200) == 0)
        {
            MalformedInputException.ThrowAt(InputErrorKind.Config, $"the folder {folder} is writable by other users (mode {dir.ModeText}) without the sticky bit, so anyone could replace the {what}; keep it in a folder only root can write", path, line: null);
        }
    }

    /// <summary>Parses YAML text; every error names <c>source:line:column</c>.</summary>
    public static AgentConfig Parse(string yaml, string source = "agent.yaml")
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException ex)
        {
            throw MalformedInputException.CreateAt(InputErrorKind.Config, $"not valid YAML: {ex.InnerException?.Message ?? ex.Message}", source, (int)ex.Start.Line, (int)ex.Start.Column, inner: ex);
        }

        var config = new AgentConfig { SourcePath = source };
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" })
        {
            return config;
        }

        var reader = new Reader(source);
        var root = reader.Mapping(stream.Documents[0].RootNode, "the document");
        foreach (var (keyNode, value) in root.Children)
        {
            var key = reader.Key(keyNode);
            config = key switch
            {
                "server" => reader.Section(value, key, config, (c, k, v) => k switch
                {
                    "url" => c with { ServerUrl = reader.Url(v, "server.url") },
                    "token_file" => c with { TokenFile = reader.String(v, "server.token_file") },
                    "log_key" => c with { LogKey = reader.String(v, "server.log_key") },
                    "ca" => c with { ServerCaFile = reader.String(v, "server.ca") },
                    "client_cert" => c with { ClientCertificateFile = reader.String(v, "server.client_cert") },
                    "client_key" => c with { ClientKeyFile = reader.String(v, "server.client_key") },
                    "batch_size" => c with { BatchSize = reader.Int(v, "server.batch_size", 1, 10_000) },
                    "timeout_seconds" => c with { RequestTimeout = reader.Seconds(v, "server.timeout_seconds", 1) },
                    "backoff_max_seconds" => c with { BackoffMax = reader.Seconds(v, "server.backoff_max_seconds", 1) },
                    _ => throw reader.Unknown(k, v, "url, token_file, log_key, ca, client_cert, client_key, batch_size, timeout_seconds, backoff_max_seconds"),
                }),
                "host_name" => config with { HostName = reader.String(value, key) },
                "spool_dir" => config with { SpoolDirectory = reader.String(value, key) },
                "state_dir" => config with { StateDirectory = reader.String(value, key) },
                "snapshot_root" => config with { SnapshotRoot = reader.String(value, key) },
                "auth_log" => config with { AuthLog = reader.NullableString(value, key) },
                "auth_journal" => config with { AuthJournal = reader.Bool(value, key) },
                "auth_journal_command" => config with { JournalCommand = reader.String(value, key) },
                "intervals" => reader.Section(value, key, config, (c, k, v) => k switch
                {
                    "snapshot_seconds" => c with { SnapshotInterval = reader.Seconds(v, "intervals." + k, 1) },
                    "heartbeat_seconds" => c with { HeartbeatInterval = reader.Seconds(v, "intervals." + k, 1) },
                    "checkpoints_seconds" => c with { CheckpointInterval = reader.Seconds(v, "intervals." + k, 1) },
                    "env_seconds" => c with { EnvInterval = reader.Seconds(v, "intervals." + k, 60) },
                    "access_seconds" => c with { AccessInterval = reader.Seconds(v, "intervals." + k, 60) },
                    "log_poll_seconds" => c with { LogPollInterval = reader.Seconds(v, "intervals." + k, 0.1) },
                    _ => throw reader.Unknown(k, v, "snapshot_seconds, heartbeat_seconds, checkpoints_seconds, env_seconds, access_seconds, log_poll_seconds"),
                }),
                "audit" => reader.Section(value, key, config, (c, k, v) => k switch
                {
                    "log" => c with { AuditLog = reader.NullableString(v, "audit.log") },
                    "stdin" => c with { AuditStdin = reader.Bool(v, "audit.stdin") },
                    _ => throw reader.Unknown(k, v, "log, stdin"),
                }),
                "checkpoints" => reader.Section(value, key, config, (c, k, v) => k switch
                {
                    "folders" => c with { CheckpointFolders = reader.Strings(v, "checkpoints.folders") },
                    "hash" => c with { CheckpointHash = reader.Bool(v, "checkpoints.hash") },
                    "settle_seconds" => c with { CheckpointSettle = reader.Seconds(v, "checkpoints.settle_seconds", 0) },
                    _ => throw reader.Unknown(k, v, "folders, hash, settle_seconds"),
                }),
                "env" => reader.Section(value, key, config, (c, k, v) => k switch
                {
                    "sites" => c with { EnvSites = reader.Strings(v, "env.sites") },
                    _ => throw reader.Unknown(k, v, "sites"),
                }),
                "access" => reader.Section(value, key, config, (c, k, v) => k switch
                {
                    "policy" => c with { AccessPolicy = reader.NullableString(v, "access.policy") },
                    _ => throw reader.Unknown(k, v, "policy"),
                }),
                _ => throw reader.Unknown(key, value, "server, host_name, spool_dir, state_dir, snapshot_root, intervals, audit, auth_log, auth_journal, auth_journal_command, checkpoints, env, access"),
            };
        }

        return config;
    }

    /// <summary>The pinned ledger key (<see cref="LogKey"/>: the key string or a file holding it), or null when none is configured.</summary>
    public NoteVerifier? ReadLogKey()
    {
        if (LogKey is null)
        {
            return null;
        }

        var isFile = File.Exists(LogKey);
        try
        {
            return NoteVerifier.Parse(isFile ? File.ReadAllText(LogKey).Trim() : LogKey.Trim());
        }
        catch (Exception ex) when (ex is MalformedInputException or IOException)
        {
            throw MalformedInputException.CreateAt(InputErrorKind.Config, $"server.log_key: {ex.Message}{(isFile || LogKey.Contains('+', StringComparison.Ordinal) ? string.Empty : " (no such file either)")}", isFile ? LogKey : SourcePath ?? "agent config", line: null, inner: ex);
        }
    }

    /// <summary>Reads the bearer token (first line of <see cref="TokenFile"/>), or null when no token file is configured.</summary>
    public string? ReadToken()
    {
        if (TokenFile is null)
        {
            return null;
        }

        if (File.Exists(TokenFile))
        {
            CheckNotWritableByOthers(TokenFile, "token file");
        }

        try
        {
            var token = File.ReadLines(TokenFile).FirstOrDefault()?.Trim();
            return string.IsNullOrEmpty(token) ? throw MalformedInputException.CreateAt(InputErrorKind.Config, "token file is empty", TokenFile, line: null) : token;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw MalformedInputException.CreateAt(InputErrorKind.Config, $"cannot read the token file ({ex.Message})", TokenFile, line: null, inner: ex);
        }
    }

    /// <summary>
    /// The pinned CA and client certificate of <c>server.ca</c>, <c>server.client_cert</c> and <c>server.client_key</c>,
    /// or null when none is configured. The certificate files must not be writable by other users (whoever can
    /// replace the CA decides which server the agent trusts) and the key must be readable by its owner only.
    /// </summary>
    public ClientTls? LoadTls()
    {
        if (ServerCaFile is null && ClientCertificateFile is null && ClientKeyFile is null)
        {
            return null;
        }

        foreach (var (file, what) in new[] { (ServerCaFile, "server.ca file"), (ClientCertificateFile, "server.client_cert file"), (ClientKeyFile, "server.client_key file") })
        {
            if (file is not null && File.Exists(file))
            {
                CheckNotWritableByOthers(file, what);
            }
        }

        return ClientTls.Load(ServerCaFile, ClientCertificateFile, ClientKeyFile, ("server.ca", "server.client_cert", "server.client_key"));
    }

    private sealed class Reader(string source)
    {
        public YamlMappingNode Mapping(YamlNode node, string what) =>
            node as YamlMappingNode ?? throw Error(node, $"{what} must be a mapping of keys to values");

        public string Key(YamlNode node) => node is YamlScalarNode { Value: { } v } ? v : throw Error(node, "keys must be plain strings");

        public AgentConfig Section(YamlNode node, string name, AgentConfig config, Func<AgentConfig, string, YamlNode, AgentConfig> apply)
        {
            foreach (var (k, v) in Mapping(node, $"'{name}'").Children)
            {
                config = apply(config, Key(k), v);
            }

            return config;
        }

        public string String(YamlNode node, string name) =>
            node is YamlScalarNode { Value: { Length: > 0 } v } ? v : throw Error(node, $"'{name}' must be a non-empty string");

        public string? NullableString(YamlNode node, string name) =>
            node is YamlScalarNode { Value: null or "" or "~" or "null" } s && s.Style == YamlDotNet.Core.ScalarStyle.Plain ? null : String(node, name);

        public bool Bool(YamlNode node, string name) => node is YamlScalarNode { Value: { } v } && bool.TryParse(v, out var b)
            ? b
            : throw Error(node, $"'{name}' must be true or false");

        public int Int(YamlNode node, string name, int min, int max) =>
            node is YamlScalarNode { Value: { } v } && int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) && i >= min && i <= max
                ? i
                : throw Error(node, $"'{name}' must be a whole number from {min} to {max}");

        public TimeSpan Seconds(YamlNode node, string name, double min) =>
            node is YamlScalarNode { Value: { } v } && double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d >= min && d <= 7 * 24 * 3600
                ? TimeSpan.FromSeconds(d)
                : throw Error(node, $"'{name}' must be a number of seconds from {min} to 604800");

        public Uri Url(YamlNode node, string name)
        {
            var text = String(node, name);
            if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            {
                throw Error(node, $"'{name}' must be an http:// or https:// URL, got '{Findings.TextSanitizer.Escape(text, 100)}'");
            }

            return ClientTls.InsecureReason(uri) is { } insecure ? throw Error(node, $"'{name}': {insecure}; pin the server's CA with server.ca") : uri;
        }

        public IReadOnlyList<string> Strings(YamlNode node, string name) => node switch
        {
            YamlSequenceNode seq => seq.Children.Select(c => String(c, name + "[]")).ToList(),
            YamlScalarNode { Value: null or "" } => [],
            _ => throw Error(node, $"'{name}' must be a list of strings"),
        };

        public MalformedInputException Unknown(string key, YamlNode value, string allowed) =>
            Error(value, $"unknown key '{Findings.TextSanitizer.Escape(key, 60)}' (expected one of: {allowed})");

        public MalformedInputException Error(YamlNode node, string message) =>
            MalformedInputException.CreateAt(InputErrorKind.Config, message, source, (int)node.Start.Line, (int)node.Start.Column);
    }
}
