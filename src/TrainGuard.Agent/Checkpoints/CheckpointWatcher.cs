using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TrainGuard.Agent.Common;
using TrainGuard.Agent.Spool;
using TrainGuard.Events;
using TrainGuard.Findings;
using TrainGuard.Scanning.Policy;
using TrainGuard.Scanning.Scanner;

namespace TrainGuard.Agent.Checkpoints;

/// <summary>Options of <see cref="CheckpointWatcher"/>.</summary>
public sealed record CheckpointWatchOptions
{
    public IReadOnlyList<string> Folders { get; init; } = [];

    /// <summary>A new or changed file is scanned once its size and modification time are this old (still being written otherwise).</summary>
    public TimeSpan Settle { get; init; } = TimeSpan.FromSeconds(10);

    public bool Hash { get; init; } = true;

    /// <summary>Files tracked at most across all folders.</summary>
    public int MaxFiles { get; init; } = 200_000;

    public int MaxDepth { get; init; } = 16;

    /// <summary>Where the known files are kept between runs (null: in memory only).</summary>
    public string? StatePath { get; init; }

    /// <summary>
    /// The node's accounts (its <c>/etc/passwd</c> and <c>/etc/group</c>), to name a file's owner and group in
    /// <c>file.owner</c>/<c>file.group</c>: the server names the owner of a poisoned file when no audit event names its writer.
    /// </summary>
    public IAccountNames? AccountNames { get; init; }
}

/// <summary>
/// Watches checkpoint folders by polling (inotify and FileSystemWatcher miss changes on network file systems
/// such as NFS and Lustre, where checkpoints usually live). Every entry is examined with <c>lstat</c>: a new or
/// changed regular file (inode, size, modification or change time) is scanned with the artifact scanner once
/// it has settled, through a descriptor opened with <c>O_NONBLOCK | O_NOFOLLOW</c> and checked with
/// <c>fstat</c>, so the bytes scanned are the bytes of the inode that was examined. A symbolic link (which
/// <c>torch.load</c> follows) is an event of its own: its target is scanned when it is a regular file, without
/// following a further link. A FIFO, socket or device where a checkpoint is expected is never opened and is
/// an <c>artifact-unscannable</c> event. A file that disappears is a <c>file-deleted</c> event, but only when
/// its folder could be listed (an unreachable mount is a problem, not a mass deletion).
/// </summary>
public sealed class CheckpointWatcher
{
    public const string Module = "scan";
    private const int MaxDetails = 20;

    private readonly CheckpointWatchOptions _options;
    private readonly ArtifactScanner _scanner;
    private readonly Dictionary<string, Known> _known;

    public CheckpointWatcher(CheckpointWatchOptions options, ArtifactScanner? scanner = null)
    {
        _options = options;
        _scanner = scanner ?? new ArtifactScanner(new ScanOptions { Hash = options.Hash, Parallelism = 1, MapFiles = false });
        _known = Load(options.StatePath);
    }

    /// <summary>Folders that could not be listed in the last poll, with the reason.</summary>
    public IReadOnlyList<string> Problems { get; private set; } = [];

    public int TrackedFiles => _known.Count;

    /// <summary>One pass over every folder; <paramref name="ignoreSettle"/> scans files that are still changing (<c>--once</c>).</summary>
    public List<EventRecord> Poll(DateTimeOffset now, bool ignoreSettle = false, CancellationToken cancellationToken = default)
    {
        var events = new List<EventRecord>();
        var problems = new List<string>();
        var seen = new Dictionary<string, UnixFileStatus>(StringComparer.Ordinal);
        var listed = new List<string>();
        foreach (var folder in _options.Folders)
        {
            var root = Path.GetFullPath(folder);
            if (!Directory.Exists(root))
            {
                problems.Add($"{root}: checkpoint folder not found or not reachable");
                continue;
            }

            if (Walk(root, 0, seen, problems))
            {
                listed.Add(root.TrimEnd('/') + "/");
            }
        }

        var changed = false;
        foreach (var (path, status) in seen.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            cancellationToken.ThrowIfCancellationRequested();
            _known.TryGetValue(path, out var before);
            var entry = status.Type switch
            {
                UnixFileType.Regular => Examine(status, null),
                UnixFileType.Symlink => ExamineLink(path, status),
                _ => Examine(status, $"a {status.TypeName} where a checkpoint file is expected; never opened (a FIFO would block a loader, a device never ends)"),
            };
            if (before is not null && Same(before, entry))
            {
                continue;
            }

            if (before is not null && before.Identity is null && before.Size == entry.Size && before.MtimeMs == entry.MtimeMs && entry.Type == "file")
            {
                // State written by an older agent (size and time only): adopt the inode silently.
                _known[path] = before with { Type = entry.Type, Identity = entry.Identity, Inode = entry.Inode };
                changed = true;
                continue;
            }

            if (!ignoreSettle && entry.Problem is null && now.ToUnixTimeMilliseconds() - entry.MtimeMs < _options.Settle.TotalMilliseconds)
            {
                continue;
            }

            var change = ChangeOf(before, entry);
            if (entry.Problem is not null)
            {
                _known[path] = new Known(entry.Size, entry.MtimeMs, "unscannable", null) { Type = entry.Type, Identity = entry.Identity, Inode = entry.Inode };
                events.Add(UnscannableEvent(now, path, entry, change, before, listed));
                changed = true;
                continue;
            }

            if (ScanEntry(path, entry, cancellationToken) is not { } item)
            {
                // Changed while it was read: scanned again on the next poll.
                continue;
            }

            _known[path] = new Known(entry.Size, entry.MtimeMs, item.Verdict.ToWireName(), item.Sha256) { Type = entry.Type, Identity = entry.Identity, Inode = entry.Inode };
            events.Add(ScannedEvent(now, item, entry, change, before, listed));
            changed = true;
        }

        foreach (var path in _known.Keys.ToList())
        {
            if (!seen.ContainsKey(path) && listed.Any(root => path.StartsWith(root, StringComparison.Ordinal)) && !UnixFile.TryLstat(path, out _, out _))
            {
                var gone = _known[path];
                _known.Remove(path);
                events.Add(DeletedEvent(now, path, gone));
                changed = true;
            }
        }

        Problems = problems;
        if (changed)
        {
            Save();
        }

        return events;
    }

    private bool Walk(string dir, int depth, Dictionary<string, UnixFileStatus> seen, List<string> problems)
    {
        if (depth > _options.MaxDepth)
        {
            return true;
        }

        List<string> entries;
        try
        {
            entries = Directory.EnumerateFileSystemEntries(dir).ToList();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            problems.Add($"{dir}: cannot list ({ex.Message})");
            return false;
        }

        var complete = true;
        foreach (var entry in entries)
        {
            if (!UnixFile.TryLstat(entry, out var status, out var error))
            {
                if (error is not null)
                {
                    problems.Add($"{entry}: cannot examine ({error})");
                    complete = false;
                }

                continue;
            }

            if (status.Type == UnixFileType.Directory)
            {
                complete &= Walk(entry, depth + 1, seen, problems);
            }
            else if (seen.Count < _options.MaxFiles)
            {
                seen[entry] = status;
            }
            else
            {
                problems.Add($"more than {_options.MaxFiles} files in checkpoint folders; the rest are not watched");
                return false;
            }
        }

        return complete;
    }

    /// <summary>What a watched path is now: its own status, the status of a link's target, and why it cannot be scanned.</summary>
    private sealed record Entry(string Type, UnixFileStatus Status, string Identity, string? LinkTarget, string? ResolvedTarget, UnixFileStatus? TargetStatus, string? Problem)
    {
        /// <summary>The status of what would be read: the file itself, or a link's target.</summary>
        public UnixFileStatus Content => TargetStatus ?? Status;

        public long Size => Content.Size;

        public long MtimeMs => Content.MtimeMs;

        public string Inode => Content.Inode.ToString(CultureInfo.InvariantCulture);
    }

    private static string IdentityOf(UnixFileStatus s) =>
        string.Create(CultureInfo.InvariantCulture, $"{s.TypeName}:{s.Device}:{s.Inode}:{s.Size}:{s.MtimeNs}:{s.CtimeNs}");

    private static Entry Examine(UnixFileStatus status, string? problem) =>
        new(status.TypeName, status, IdentityOf(status), null, null, null, problem);

    /// <summary>A symbolic link: read it, and examine its target without following any further link.</summary>
    private static Entry ExamineLink(string path, UnixFileStatus status)
    {
        string? target;
        try
        {
            target = new FileInfo(path).LinkTarget;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new Entry("symlink", status, "symlink:?:" + IdentityOf(status), null, null, null, $"symbolic link that cannot be read ({ex.Message})");
        }

        if (target is null)
        {
            return new Entry("symlink", status, "symlink:?:" + IdentityOf(status), null, null, null, "symbolic link that disappeared while it was read");
        }

        var resolved = Path.GetFullPath(target, Path.GetDirectoryName(path) ?? "/");
        if (!UnixFile.TryLstat(resolved, out var targetStatus, out var error))
        {
            return new Entry("symlink", status, $"symlink:{target}:missing", target, resolved, null, error is null ? "dangling symbolic link: its target does not exist" : $"symbolic link whose target cannot be examined ({error})");
        }

        var identity = $"symlink:{target}:{IdentityOf(targetStatus)}";
        var problem = targetStatus.Type switch
        {
            UnixFileType.Regular => null,
            UnixFileType.Symlink => "symbolic link to another symbolic link; not followed further",
            UnixFileType.Directory => "symbolic link to a directory; not followed",
            _ => $"symbolic link to a {targetStatus.TypeName}; never opened",
        };
        return new Entry("symlink", status, identity, target, resolved, targetStatus, problem);
    }

    private static bool Same(Known before, Entry entry) => before.Identity == entry.Identity;

    private static string ChangeOf(Known? before, Entry entry)
    {
        if (before is null)
        {
            return "new";
        }

        return before.Type != entry.Type || (before.Inode is { } inode && inode != entry.Inode) ? "replaced" : "changed";
    }

    /// <summary>Scans what the entry names through a descriptor checked with fstat; null when it changed while it was read.</summary>
    private AnalyzedItem? ScanEntry(string path, Entry entry, CancellationToken cancellationToken)
    {
        var source = entry.ResolvedTarget ?? path;
        if (!UnixFile.TryOpenRegular(source, followLinks: false, out var opened, out var refusal))
        {
            if (refusal!.Missing || refusal.Status is { Type: not UnixFileType.Regular })
            {
                return null;
            }

            return new AnalyzedItem { Path = path, Format = "unreadable", Verdict = Verdict.Error, Findings = [RuleCatalog.Default.Get(RuleIds.Malformed).Finding($"cannot scan: {refusal.Reason}", new Location(path), severity: Severity.Medium, verdict: Verdict.Error)] };
        }

        using (opened)
        {
            if (opened!.Status.Device != entry.Content.Device || opened.Status.Inode != entry.Content.Inode || opened.Status.Size != entry.Content.Size || opened.Status.MtimeNs != entry.Content.MtimeNs)
            {
                return null;
            }

            var inCheckpoint = ScanTargets.IsCheckpointFolder(Path.GetFileName(Path.GetDirectoryName(path) ?? string.Empty));
            AnalyzedItem item;
            using (var alias = ScanAlias.Create(opened, Path.GetFileName(path)))
            {
                item = _scanner.Scan(new ScanTarget(alias?.Path ?? source, path, inCheckpoint), cancellationToken);
            }

            // The scanner sizes the file through its name: a name swapped meanwhile shows as a different size.
            if (item.Size is { } scanned && scanned != opened.Status.Size)
            {
                return null;
            }

            return UnixFile.TryFstat(opened.Handle, out var after, out _) && after.Size == opened.Status.Size && after.MtimeNs == opened.Status.MtimeNs ? item : null;
        }
    }

    /// <summary>
    /// A name for an open descriptor that keeps the original file name (the scanner decides by name whether a
    /// model is expected): a symbolic link in a private temporary folder to <c>/proc/self/fd/N</c>.
    /// </summary>
    private sealed class ScanAlias : IDisposable
    {
        private readonly string _folder;

        private ScanAlias(string folder, string path)
        {
            _folder = folder;
            Path = path;
        }

        public string Path { get; }

        public static ScanAlias? Create(OpenedFile opened, string fileName)
        {
            if (opened.ProcPath is not { } proc)
            {
                return null;
            }

            var folder = Directory.CreateTempSubdirectory("trainguard-scan-").FullName;
            var link = System.IO.Path.Combine(folder, fileName.Length == 0 ? "file" : fileName);
            File.CreateSymbolicLink(link, proc);
            return new ScanAlias(folder, link);
        }

        public void Dispose()
        {
            try
            {
                Directory.Delete(_folder, recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // A temporary folder left behind is harmless.
            }
        }
    }

    private EventRecord ScannedEvent(DateTimeOffset now, AnalyzedItem item, Entry entry, string change, Known? before, List<string> listed)
    {
        var e = new EventRecord(now, EventActions.ArtifactScanned, id: UuidV7.FromKey(now, Encoding.UTF8.GetBytes($"scan|{item.Path}|{entry.Identity}|{item.Sha256}")));
        e.Set(EventFields.Category, ["file", "malware"]).Set(EventFields.Type, [change == "new" ? "creation" : "change", "info"]);
        e.Set(EventFields.Module, Module).Set(EventFields.Dataset, Module);
        SetFile(e, item.Path, entry, change, before);
        e.Set("file.hash.sha256", item.Sha256);
        e.Set("trainguard.scan.verdict", item.Verdict.ToWireName());
        e.Set("trainguard.scan.format", item.Format);
        e.Set("trainguard.scan.findings", item.Findings.Select(f => f.RuleId).Distinct(StringComparer.Ordinal));
        if (item.Findings.Count > 0)
        {
            var worst = item.Findings.OrderByDescending(f => f.Severity).First();
            e.WithFinding(worst);
            var details = new JsonArray();
            foreach (var f in item.Findings.OrderByDescending(f => f.Severity).Take(MaxDetails))
            {
                var d = new JsonObject { ["rule"] = f.RuleId, ["severity"] = f.Severity.ToWireName(), ["message"] = f.Message };
                if (f.Location.Member is { } member)
                {
                    d["member"] = member;
                }

                if (f.Location.Offset is { } offset)
                {
                    d["offset"] = offset;
                }

                if (f.Global is { } global)
                {
                    d["global"] = global;
                }

                if (f.Call is { } call)
                {
                    d["call"] = call;
                }

                details.Add(d);
            }

            e.SetNode("trainguard.scan.details", details);
            if (item.Verdict is Verdict.Malicious or Verdict.Suspicious)
            {
                e.Set(EventFields.Kind, EventKinds.Alert);
            }
        }

        if (entry.LinkTarget is not null)
        {
            // torch.load follows the link: what was scanned is its target. A link leaving the watched folders is worth a look.
            var outside = !IsWatched(entry.ResolvedTarget!, listed);
            e.Set("trainguard.checkpoint.link_outside_watched", outside);
            var severity = outside ? Severity.Medium : Severity.Low;
            if ((e.GetInt64(EventFields.Severity) ?? 0) < severity.ToEventSeverity())
            {
                e.Set(EventFields.Severity, severity.ToEventSeverity()).Set(EventFields.TrainGuardSeverity, severity.ToWireName());
            }
        }

        return e;
    }

    /// <summary>A FIFO, socket, device, directory link, link to a link or dangling link where a checkpoint file is expected.</summary>
    private EventRecord UnscannableEvent(DateTimeOffset now, string path, Entry entry, string change, Known? before, List<string> listed)
    {
        var e = new EventRecord(now, AgentActions.ArtifactUnscannable, id: UuidV7.FromKey(now, Encoding.UTF8.GetBytes($"scan-unscannable|{path}|{entry.Identity}")));
        e.Set(EventFields.Category, ["file", "malware"]).Set(EventFields.Type, [change == "new" ? "creation" : "change", "info"]);
        e.Set(EventFields.Module, Module).Set(EventFields.Dataset, Module);
        SetFile(e, path, entry, change, before);
        e.Set("trainguard.scan.verdict", Verdict.Error.ToWireName());
        e.Set("trainguard.checkpoint.reason", entry.Problem);
        var special = entry.Content.Type is UnixFileType.Fifo or UnixFileType.Socket or UnixFileType.CharDevice or UnixFileType.BlockDevice;
        var outside = entry.ResolvedTarget is { } resolved && !IsWatched(resolved, listed);
        if (entry.LinkTarget is not null)
        {
            e.Set("trainguard.checkpoint.link_outside_watched", outside);
        }

        // Nothing but regular files belongs where a checkpoint is loaded from.
        var severity = special ? Severity.High : outside || entry.LinkTarget is null ? Severity.Medium : Severity.Low;
        e.Set(EventFields.Severity, severity.ToEventSeverity()).Set(EventFields.TrainGuardSeverity, severity.ToWireName());
        return e;
    }

    private void SetFile(EventRecord e, string path, Entry entry, string change, Known? before)
    {
        e.Set("file.path", path).Set("file.name", Path.GetFileName(path)).Set("file.directory", Path.GetDirectoryName(path));
        e.Set("file.type", entry.Type);
        if (entry.LinkTarget is not null)
        {
            e.Set("file.target_path", entry.ResolvedTarget);
            e.Set("trainguard.checkpoint.link_target", entry.LinkTarget);
            if (entry.TargetStatus is { } target)
            {
                e.Set("trainguard.checkpoint.target_type", target.TypeName);
            }
        }

        var content = entry.Content;
        if (content.Type is UnixFileType.Regular || entry.TargetStatus is null)
        {
            e.Set("file.size", content.Size);
            e.Set("file.inode", content.Inode.ToString(CultureInfo.InvariantCulture));
            e.Set("file.uid", content.Uid.ToString(CultureInfo.InvariantCulture));
            e.Set("file.gid", content.Gid.ToString(CultureInfo.InvariantCulture));
            e.Set("file.owner", _options.AccountNames?.UserName(content.Uid));
            e.Set("file.group", _options.AccountNames?.GroupName(content.Gid));
            e.Set("file.mode", content.ModeText);
            e.Set("file.mtime", EventRecord.FormatTimestamp(DateTimeOffset.FromUnixTimeMilliseconds(content.MtimeMs)));
            e.Set("file.ctime", EventRecord.FormatTimestamp(DateTimeOffset.FromUnixTimeMilliseconds(content.CtimeNs / 1_000_000)));
        }

        if (entry.Status.Type == UnixFileType.Symlink)
        {
            // Who planted the link (the target may belong to anyone).
            e.Set("trainguard.checkpoint.link_uid", entry.Status.Uid.ToString(CultureInfo.InvariantCulture));
        }

        e.Set("trainguard.scan.change", change);
        if (before is not null)
        {
            var fields = new List<string>();
            if (before.Type != entry.Type)
            {
                fields.Add("type");
            }

            if (before.Inode is { } inode && inode != entry.Inode)
            {
                fields.Add("inode");
            }

            if (before.Size != entry.Size)
            {
                fields.Add("size");
            }

            if (before.MtimeMs != entry.MtimeMs)
            {
                fields.Add("mtime");
            }

            if (fields.Count == 0)
            {
                // Same inode, size and time: only the change time moved (a rewrite with the time set back, or a chmod).
                fields.Add("ctime");
            }

            e.Set("trainguard.checkpoint.changed", fields);
            e.Set("trainguard.checkpoint.previous.type", before.Type);
            e.Set("trainguard.checkpoint.previous.verdict", before.Verdict);
            e.Set("trainguard.checkpoint.previous.sha256", before.Sha256);
        }
    }

    private static bool IsWatched(string path, List<string> listed) => listed.Any(root => path.StartsWith(root, StringComparison.Ordinal));

    private static EventRecord DeletedEvent(DateTimeOffset now, string path, Known gone)
    {
        var e = new EventRecord(now, EventActions.FileDeleted, id: UuidV7.FromKey(now, Encoding.UTF8.GetBytes($"scan-deleted|{path}|{gone.Identity ?? $"{gone.Size}|{gone.MtimeMs}"}")));
        e.Set(EventFields.Category, ["file"]).Set(EventFields.Type, ["deletion"]);
        e.Set(EventFields.Module, Module).Set(EventFields.Dataset, Module);
        e.Set("file.path", path).Set("file.name", Path.GetFileName(path)).Set("file.directory", Path.GetDirectoryName(path));
        e.Set("file.type", gone.Type);
        e.Set("file.size", gone.Size);
        e.Set("file.hash.sha256", gone.Sha256);
        e.Set("trainguard.scan.verdict", gone.Verdict);
        e.Set("trainguard.checkpoint.deleted", true);
        return e;
    }

    /// <summary>What the last poll saw at a path (kept in the state file).</summary>
    /// <param name="Size">Size of the content (a link's target).</param>
    /// <param name="MtimeMs">Modification time of the content.</param>
    private sealed record Known(long Size, long MtimeMs, string Verdict, string? Sha256)
    {
        /// <summary><c>file</c>, <c>symlink</c>, <c>fifo</c>...; <c>file</c> for state written before types were kept.</summary>
        public string Type { get; init; } = "file";

        /// <summary>Type, device, inode, size and times (of a link: its target text and the target's); null in older state.</summary>
        public string? Identity { get; init; }

        /// <summary>Inode of the content; null in older state.</summary>
        public string? Inode { get; init; }
    }

    private static Dictionary<string, Known> Load(string? path)
    {
        if (path is null || !File.Exists(path))
        {
            return new Dictionary<string, Known>(StringComparer.Ordinal);
        }

        try
        {
            return JsonSerializer.Deserialize<Dictionary<string, Known>>(File.ReadAllText(path)) is { } map
                ? new Dictionary<string, Known>(map, StringComparer.Ordinal)
                : new Dictionary<string, Known>(StringComparer.Ordinal);
        }
        catch (JsonException)
        {
            return new Dictionary<string, Known>(StringComparer.Ordinal);
        }
    }

    private void Save()
    {
        if (_options.StatePath is not null)
        {
            DurableFile.WriteAllText(_options.StatePath, JsonSerializer.Serialize(_known));
        }
    }
}
