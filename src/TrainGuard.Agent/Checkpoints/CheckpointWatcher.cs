using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TrainGuard.Agent.Common;
using TrainGuard.Events;
using TrainGuard.Findings;
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
}

/// <summary>
/// Watches checkpoint folders by polling size and modification time (inotify and FileSystemWatcher miss
/// changes on network file systems such as NFS and Lustre, where checkpoints usually live). A new or
/// changed file is scanned with the artifact scanner once it has settled: an <c>artifact-scanned</c>
/// event with the verdict, rule ids and findings. A file that disappears is a <c>file-deleted</c> event,
/// but only when its folder could be listed (an unreachable mount is a problem, not a mass deletion).
/// </summary>
public sealed class CheckpointWatcher
{
    public const string Module = "scan";
    private const int MaxDetails = 20;

    private readonly CheckpointWatchOptions options;
    private readonly ArtifactScanner scanner;
    private readonly Dictionary<string, Known> known;

    public CheckpointWatcher(CheckpointWatchOptions options, ArtifactScanner? scanner = null)
    {
        this.options = options;
        this.scanner = scanner ?? new ArtifactScanner(new ScanOptions { Hash = options.Hash, Parallelism = 1, MapFiles = false });
        known = Load(options.StatePath);
    }

    /// <summary>Folders that could not be listed in the last poll, with the reason.</summary>
    public IReadOnlyList<string> Problems { get; private set; } = [];

    public int TrackedFiles => known.Count;

    /// <summary>One pass over every folder; <paramref name="ignoreSettle"/> scans files that are still changing (<c>--once</c>).</summary>
    public List<EventRecord> Poll(DateTimeOffset now, bool ignoreSettle = false, CancellationToken cancellationToken = default)
    {
        var events = new List<EventRecord>();
        var problems = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var listed = new List<string>();
        foreach (var folder in options.Folders)
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

        foreach (var path in seen.OrderBy(p => p, StringComparer.Ordinal))
        {
            cancellationToken.ThrowIfCancellationRequested();
            FileInfo info;
            try
            {
                info = new FileInfo(path);
                if (!info.Exists)
                {
                    continue;
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            var mtime = new DateTimeOffset(info.LastWriteTimeUtc).ToUnixTimeMilliseconds();
            var isNew = !known.TryGetValue(path, out var before);
            if (!isNew && before!.Size == info.Length && before.MtimeMs == mtime)
            {
                continue;
            }

            if (!ignoreSettle && now.ToUnixTimeMilliseconds() - mtime < options.Settle.TotalMilliseconds)
            {
                continue;
            }

            var item = scanner.Scan(new ScanTarget(path, path, ScanTargets.IsCheckpointFolder(Path.GetFileName(Path.GetDirectoryName(path) ?? string.Empty))), cancellationToken);
            known[path] = new Known(info.Length, mtime, item.Verdict.ToWireName(), item.Sha256);
            events.Add(ScannedEvent(now, item, isNew ? "new" : "changed", mtime));
        }

        foreach (var path in known.Keys.ToList())
        {
            if (!seen.Contains(path) && listed.Any(root => path.StartsWith(root, StringComparison.Ordinal)) && !File.Exists(path))
            {
                var gone = known[path];
                known.Remove(path);
                events.Add(DeletedEvent(now, path, gone));
            }
        }

        Problems = problems;
        if (events.Count > 0)
        {
            Save();
        }
        return events;
    }

    private bool Walk(string dir, int depth, HashSet<string> seen, List<string> problems)
    {
        if (depth > options.MaxDepth)
        {
            return true;
        }

        IEnumerable<FileSystemInfo> entries;
        try
        {
            entries = new DirectoryInfo(dir).EnumerateFileSystemInfos().ToList();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            problems.Add($"{dir}: cannot list ({ex.Message})");
            return false;
        }

        var complete = true;
        foreach (var entry in entries)
        {
            if (entry.LinkTarget is not null)
            {
                continue;
            }

            if (entry is DirectoryInfo)
            {
                complete &= Walk(entry.FullName, depth + 1, seen, problems);
            }
            else if (seen.Count < options.MaxFiles)
            {
                seen.Add(entry.FullName);
            }
            else
            {
                problems.Add($"more than {options.MaxFiles} files in checkpoint folders; the rest are not watched");
                return false;
            }
        }

        return complete;
    }

    private static EventRecord ScannedEvent(DateTimeOffset now, AnalyzedItem item, string change, long mtime)
    {
        var e = new EventRecord(now, EventActions.ArtifactScanned, id: UuidV7.FromKey(now, Encoding.UTF8.GetBytes($"scan|{item.Path}|{item.Size}|{mtime}|{item.Sha256}")));
        e.Set(EventFields.Category, ["file", "malware"]).Set(EventFields.Type, [change == "new" ? "creation" : "change", "info"]);
        e.Set(EventFields.Module, Module).Set(EventFields.Dataset, Module);
        e.Set("file.path", item.Path).Set("file.name", Path.GetFileName(item.Path)).Set("file.directory", Path.GetDirectoryName(item.Path));
        if (item.Size is { } size)
        {
            e.Set("file.size", size);
        }

        e.Set("file.hash.sha256", item.Sha256);
        e.Set("file.mtime", EventRecord.FormatTimestamp(DateTimeOffset.FromUnixTimeMilliseconds(mtime)));
        e.Set("trainguard.scan.verdict", item.Verdict.ToWireName());
        e.Set("trainguard.scan.format", item.Format);
        e.Set("trainguard.scan.change", change);
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

        return e;
    }

    private static EventRecord DeletedEvent(DateTimeOffset now, string path, Known gone)
    {
        var e = new EventRecord(now, EventActions.FileDeleted, id: UuidV7.FromKey(now, Encoding.UTF8.GetBytes($"scan-deleted|{path}|{gone.Size}|{gone.MtimeMs}")));
        e.Set(EventFields.Category, ["file"]).Set(EventFields.Type, ["deletion"]);
        e.Set(EventFields.Module, Module).Set(EventFields.Dataset, Module);
        e.Set("file.path", path).Set("file.name", Path.GetFileName(path)).Set("file.directory", Path.GetDirectoryName(path));
        e.Set("file.size", gone.Size);
        e.Set("file.hash.sha256", gone.Sha256);
        e.Set("trainguard.scan.verdict", gone.Verdict);
        e.Set("trainguard.checkpoint.deleted", true);
        return e;
    }

    private sealed record Known(long Size, long MtimeMs, string Verdict, string? Sha256);

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
        if (options.StatePath is not null)
        {
            DurableFile.WriteAllText(options.StatePath, JsonSerializer.Serialize(known));
        }
    }
}
