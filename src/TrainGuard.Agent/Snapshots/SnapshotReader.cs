using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using TrainGuard.Agent.Common;
using TrainGuard.Parsing;

namespace TrainGuard.Agent.Snapshots;

/// <summary>Where a snapshot reads from. Tests point <see cref="Root"/> at a folder with fixture files.</summary>
public sealed record SnapshotOptions
{
    /// <summary>The file-system root the node paths are read under (<c>/</c> on a node).</summary>
    public string Root { get; init; } = "/";

    /// <summary>Largest persistence file hashed (a larger one is recorded by size and time only).</summary>
    public long MaxPersistenceFileBytes { get; init; } = 8 * 1024 * 1024;

    /// <summary>Files up to this size keep their lines, so a change can be shown as added/removed lines.</summary>
    public int MaxDiffFileBytes { get; init; } = 64 * 1024;

    /// <summary>Persistence files recorded at most (a flood is reported as a problem).</summary>
    public int MaxPersistenceFiles { get; init; } = 20_000;

    /// <summary>Resolve socket inodes to processes through <c>/proc/*/fd</c>.</summary>
    public bool ResolveSocketOwners { get; init; } = true;
}

/// <summary>
/// Reads a node's security-relevant state under a root: accounts (<c>/etc/passwd</c>), every account's
/// key files (<c>authorized_keys</c>, <c>authorized_keys2</c> and whatever <c>sshd_config</c>'s
/// <c>AuthorizedKeysFile</c> names), listening TCP/UDP sockets (<c>/proc/net/tcp{,6}</c>,
/// <c>udp{,6}</c>) with their owning process (socket inode to pid via <c>/proc/*/fd</c>), crontabs,
/// systemd units (system, <c>/etc/systemd/user</c> and each account's <c>~/.config/systemd/user</c>),
/// sudoers drop-ins, <c>/etc/ld.so.preload</c>, <c>sshd_config</c> and its includes. Never follows a path out of the root, never opens
/// an empty (possibly special) file, never reads more than a limit.
/// </summary>
public sealed class SnapshotReader(SnapshotOptions options)
{
    private static readonly (string Path, string Kind, bool Recursive)[] PersistenceLocations =
    [
        ("/etc/crontab", "cron", false),
        ("/etc/cron.d", "cron", false),
        ("/etc/cron.hourly", "cron", false),
        ("/etc/cron.daily", "cron", false),
        ("/etc/cron.weekly", "cron", false),
        ("/etc/cron.monthly", "cron", false),
        ("/var/spool/cron", "cron", true),
        ("/etc/anacrontab", "cron", false),
        ("/etc/systemd/system", "systemd", true),
        ("/etc/systemd/user", "systemd-user", true),
        ("/etc/sudoers", "sudoers", false),
        ("/etc/sudoers.d", "sudoers", false),
        ("/etc/ld.so.preload", "preload", false),
        (SshdConfig.MainPath, "sshd", false),
    ];

    /// <summary>Takes a snapshot; <paramref name="previous"/> lets unchanged files (same size and time) skip re-hashing.</summary>
    public NodeSnapshot Read(DateTimeOffset now, NodeSnapshot? previous = null)
    {
        var problems = new List<string>();
        var accounts = ReadAccounts(problems);
        var sshd = SshdConfig.Read(Under, problems);
        var keyFileProblems = new List<KeyFileProblem>();
        var keys = ReadKeys(accounts, sshd.AuthorizedKeysFiles, previous, problems, keyFileProblems);
        var sockets = ReadSockets(problems);
        var persistence = ReadPersistence(accounts, sshd.Files, previous, problems);
        return new NodeSnapshot
        {
            TakenAt = now,
            Accounts = accounts,
            SshKeys = keys,
            Sockets = sockets,
            Persistence = persistence,
            Problems = problems,
            KeyFileProblems = keyFileProblems,
            AuthorizedKeysFiles = sshd.AuthorizedKeysFiles,
        };
    }

    /// <summary>The on-disk path of a node path under the root.</summary>
    public string Under(string nodePath) => Path.Join(options.Root, nodePath.TrimStart('/'));

    private List<AccountState> ReadAccounts(List<string> problems)
    {
        var bytes = ReadBounded("/etc/passwd", 16 * 1024 * 1024, problems);
        if (bytes is null)
        {
            return [];
        }

        var passwd = PasswdFile.Parse(Encoding.UTF8.GetString(bytes));
        if (passwd.SkippedLines > 0)
        {
            problems.Add($"/etc/passwd: {passwd.SkippedLines} malformed lines skipped");
        }

        return passwd.Entries.Select(e => new AccountState(e.Name, e.Uid, e.Gid, e.Home, e.Shell)).ToList();
    }

    /// <summary>
    /// Every account's key files (each <c>AuthorizedKeysFile</c> pattern expanded for it), streamed whole: no size
    /// limit, a FIFO or device is never read, and a file that exists but cannot be read is a <see cref="KeyFileProblem"/>
    /// whose keys are carried over from <paramref name="previous"/> (not reported as removed).
    /// </summary>
    private List<SshKeyState> ReadKeys(List<AccountState> accounts, IReadOnlyList<string> patterns, NodeSnapshot? previous, List<string> problems, List<KeyFileProblem> keyFileProblems)
    {
        var keys = new List<SshKeyState>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var expansionErrors = new HashSet<string>(StringComparer.Ordinal);
        foreach (var account in accounts)
        {
            foreach (var pattern in patterns)
            {
                var nodePath = SshdConfig.Expand(pattern, account, out var error);
                if (nodePath is null)
                {
                    if (error is not null && expansionErrors.Add(error))
                    {
                        problems.Add(error);
                    }

                    continue;
                }

                if (!seen.Add(nodePath))
                {
                    continue;
                }

                ReadKeyFile(account, nodePath, previous, keys, problems, keyFileProblems);
            }
        }

        return keys;
    }

    private void ReadKeyFile(AccountState account, string nodePath, NodeSnapshot? previous, List<SshKeyState> keys, List<string> problems, List<KeyFileProblem> keyFileProblems)
    {
        // sshd opens key files as the user, following links, and refuses anything but a regular file.
        if (!UnixFile.TryOpenRegular(Under(nodePath), followLinks: true, out var opened, out var refusal))
        {
            if (refusal!.Missing && refusal.Status is null && !IsDanglingLink(Under(nodePath)))
            {
                return;
            }

            var reason = refusal.Missing ? "a symbolic link to nothing" : refusal.Reason;
            keyFileProblems.Add(new KeyFileProblem(account.Name, nodePath, reason, refusal.Status?.TypeName));
            problems.Add($"{nodePath}: {reason}");
            keys.AddRange(previous?.SshKeys.Where(k => k.Path == nodePath) ?? []);
            return;
        }

        AuthorizedKeysFile parsed;
        try
        {
            using (opened)
            using (var stream = opened!.OpenStream())
            {
                parsed = AuthorizedKeysParser.Parse(stream);
            }
        }
        catch (IOException ex)
        {
            keyFileProblems.Add(new KeyFileProblem(account.Name, nodePath, $"read failed ({ex.Message})", "file"));
            problems.Add($"{nodePath}: cannot read ({ex.Message})");
            keys.AddRange(previous?.SshKeys.Where(k => k.Path == nodePath) ?? []);
            return;
        }

        foreach (var (line, reason) in parsed.Errors.Take(5))
        {
            problems.Add($"{nodePath}:{line}: {reason}");
        }

        keys.AddRange(parsed.Keys.Select(k => new SshKeyState(account.Name, nodePath, k.Line, k.KeyType, k.Fingerprint, k.OptionsText, k.Comment) { LineBytes = k.LineBytes, LineSha256 = k.LineSha256 }));
        keys.AddRange(parsed.Unparsed.Select(u => new SshKeyState(account.Name, nodePath, u.Line, SshKeyState.UnparsedType, "line-sha256:" + u.Sha256, string.Empty, u.Prefix.Length > 0 ? u.Prefix : null)
        {
            LineBytes = u.Bytes,
            LineSha256 = u.Sha256,
            Unparsed = u.Reason,
        }));
    }

    private static bool IsDanglingLink(string path) => UnixFile.TryLstat(path, out var status, out _) && status.Type == UnixFileType.Symlink;

    private List<SocketState> ReadSockets(List<string> problems)
    {
        var raw = new List<(string Transport, string Address, int Port, long Inode, long Uid)>();
        foreach (var (file, transport, v6) in new[] { ("tcp", "tcp", false), ("tcp6", "tcp", true), ("udp", "udp", false), ("udp6", "udp", true) })
        {
            var bytes = ReadBounded("/proc/net/" + file, 64 * 1024 * 1024, problems, procFile: true);
            if (bytes is null)
            {
                continue;
            }

            var lineNumber = 0;
            foreach (var line in Encoding.ASCII.GetString(bytes).Split('\n'))
            {
                lineNumber++;
                if (lineNumber == 1 || line.Trim().Length == 0)
                {
                    continue;
                }

                try
                {
                    if (ProcNet.TryParseListening(line, transport, v6) is { } entry)
                    {
                        raw.Add((transport, entry.Address, entry.Port, entry.Inode, entry.Uid));
                    }
                }
                catch (MalformedInputException ex)
                {
                    if (problems.Count < 200)
                    {
                        problems.Add($"/proc/net/{file}:{lineNumber}: {ex.Message}");
                    }
                }
            }
        }

        var owners = options.ResolveSocketOwners && raw.Count > 0 ? MapInodesToProcesses(raw.Select(r => r.Inode).Where(i => i != 0).ToHashSet()) : [];
        return raw
            .DistinctBy(r => (r.Transport, r.Address, r.Port))
            .Select(r =>
            {
                return owners.TryGetValue(r.Inode, out var owner)
                    ? new SocketState(r.Transport, r.Address, r.Port, r.Inode, r.Uid, owner.Pid, owner.Name, owner.Exe)
                    : new SocketState(r.Transport, r.Address, r.Port, r.Inode, r.Uid, null, null, null);
            })
            .OrderBy(s => s.Transport, StringComparer.Ordinal).ThenBy(s => s.Port).ThenBy(s => s.Address, StringComparer.Ordinal)
            .ToList();
    }

    private Dictionary<long, (long Pid, string? Name, string? Exe)> MapInodesToProcesses(HashSet<long> inodes)
    {
        var map = new Dictionary<long, (long, string?, string?)>();
        var proc = Under("/proc");
        IEnumerable<string> pids;
        try
        {
            pids = Directory.EnumerateDirectories(proc).ToList();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return map;
        }

        foreach (var dir in pids)
        {
            if (!long.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                foreach (var fd in Directory.EnumerateFileSystemEntries(Path.Combine(dir, "fd")))
                {
                    var target = new FileInfo(fd).LinkTarget;
                    if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal) && target.EndsWith(']')
                        && long.TryParse(target.AsSpan(8, target.Length - 9), NumberStyles.None, CultureInfo.InvariantCulture, out var inode)
                        && inodes.Contains(inode) && !map.ContainsKey(inode))
                    {
                        string? name = null;
                        string? exe = null;
                        try
                        {
                            var comm = Path.Combine(dir, "comm");
                            name = File.Exists(comm) ? Findings.TextSanitizer.Escape(File.ReadAllText(comm).TrimEnd('\n'), 64) : null;
                            exe = new FileInfo(Path.Combine(dir, "exe")).LinkTarget;
                        }
                        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                        {
                            // The process exited meanwhile.
                        }

                        map[inode] = (pid, name, exe);
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Exited, or not ours to read.
            }
        }

        return map;
    }

    private List<PersistenceFile> ReadPersistence(List<AccountState> accounts, IReadOnlyList<string> sshdFiles, NodeSnapshot? previous, List<string> problems)
    {
        var cache = previous?.Persistence.ToDictionary(p => p.Path, StringComparer.Ordinal) ?? [];
        var files = new List<PersistenceFile>();
        var locations = PersistenceLocations.ToList();

        // sshd_config decides which key files grant a login: it and every file it includes are watched.
        locations.AddRange(sshdFiles.Where(f => !locations.Any(l => l.Path == f)).Select(f => (f, "sshd", false)));
        foreach (var home in accounts.Select(a => a.Home.TrimEnd('/')).Where(h => h.Length > 1 && h[0] == '/' && h != "/nonexistent").Distinct(StringComparer.Ordinal))
        {
            locations.Add((home + "/.config/systemd/user", "systemd-user", true));
        }

        foreach (var (nodePath, kind, recursive) in locations)
        {
            var full = Under(nodePath);
            if (File.Exists(full) || IsLink(full))
            {
                AddFile(nodePath, kind, cache, files, problems);
            }
            else if (Directory.Exists(full))
            {
                Walk(nodePath, kind, recursive, 0, cache, files, problems);
            }
        }

        return files.OrderBy(f => f.Path, StringComparer.Ordinal).ToList();
    }

    private void Walk(string nodeDir, string kind, bool recursive, int depth, Dictionary<string, PersistenceFile> cache, List<PersistenceFile> files, List<string> problems)
    {
        if (depth > 8)
        {
            return;
        }

        IEnumerable<FileSystemInfo> entries;
        try
        {
            entries = new DirectoryInfo(Under(nodeDir)).EnumerateFileSystemInfos().OrderBy(e => e.Name, StringComparer.Ordinal).ToList();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            problems.Add($"{nodeDir}: cannot list ({ex.Message})");
            return;
        }

        foreach (var entry in entries)
        {
            if (files.Count >= options.MaxPersistenceFiles)
            {
                problems.Add($"more than {options.MaxPersistenceFiles} persistence files; the rest are not tracked");
                return;
            }

            var child = nodeDir.TrimEnd('/') + "/" + entry.Name;
            if (entry is DirectoryInfo && entry.LinkTarget is null)
            {
                if (recursive || kind.StartsWith("systemd", StringComparison.Ordinal))
                {
                    Walk(child, kind, recursive, depth + 1, cache, files, problems);
                }
            }
            else
            {
                AddFile(child, kind, cache, files, problems);
            }
        }
    }

    private void AddFile(string nodePath, string kind, Dictionary<string, PersistenceFile> cache, List<PersistenceFile> files, List<string> problems)
    {
        var info = new FileInfo(Under(nodePath));
        try
        {
            if (info.LinkTarget is { } link)
            {
                // Enabling a unit is a symlink in a *.wants folder: the link itself is the fact.
                files.Add(new PersistenceFile(nodePath, kind, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(link))), 0, 0, link, null));
                return;
            }

            var mtime = new DateTimeOffset(info.LastWriteTimeUtc).ToUnixTimeMilliseconds();
            if (cache.TryGetValue(nodePath, out var known) && known.LinkTarget is null && known.Size == info.Length && known.MtimeMs == mtime)
            {
                files.Add(known with { Kind = kind });
                return;
            }

            if (info.Length > options.MaxPersistenceFileBytes)
            {
                files.Add(new PersistenceFile(nodePath, kind, "size:" + info.Length.ToString(CultureInfo.InvariantCulture) + ":" + mtime.ToString(CultureInfo.InvariantCulture), info.Length, mtime, null, null));
                return;
            }

            var bytes = info.Length == 0 ? [] : ReadBounded(nodePath, options.MaxPersistenceFileBytes, problems) ?? [];
            IReadOnlyList<string>? lines = null;
            if (bytes.Length <= options.MaxDiffFileBytes && IsText(bytes))
            {
                lines = Encoding.UTF8.GetString(bytes).Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToList();
            }

            files.Add(new PersistenceFile(nodePath, kind, Convert.ToHexStringLower(SHA256.HashData(bytes)), bytes.Length, mtime, null, lines));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            problems.Add($"{nodePath}: cannot read ({ex.Message})");
        }
    }

    /// <summary>Reads a regular file of at most <paramref name="limit"/> bytes; null when absent, empty, unreadable or too big (reported).</summary>
    private byte[]? ReadBounded(string nodePath, long limit, List<string> problems, bool procFile = false)
    {
        var full = Under(nodePath);
        try
        {
            var info = new FileInfo(full);
            if (!info.Exists)
            {
                return null;
            }

            if (!procFile && info.Length == 0)
            {
                // Empty, or a FIFO/device that would block or never end: nothing to read either way.
                return null;
            }

            if (!procFile && info.Length > limit)
            {
                problems.Add($"{nodePath}: {info.Length} bytes, over the limit of {limit}; not read");
                return null;
            }

            using var stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 14);
            var buffer = new MemoryStream();
            var chunk = new byte[1 << 14];
            int read;
            while ((read = stream.Read(chunk)) > 0)
            {
                buffer.Write(chunk, 0, read);
                if (buffer.Length > limit)
                {
                    problems.Add($"{nodePath}: over the limit of {limit} bytes; not read");
                    return null;
                }
            }

            return buffer.ToArray();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            problems.Add($"{nodePath}: cannot read ({ex.Message})");
            return null;
        }
    }

    private static bool IsLink(string path) => new FileInfo(path).LinkTarget is not null;

    private static bool IsText(byte[] bytes)
    {
        if (bytes.AsSpan().Contains((byte)0))
        {
            return false;
        }

        try
        {
            _ = new UTF8Encoding(false, true).GetString(bytes);
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }
}
