namespace TrainGuard.Scanning.Scanner;

/// <summary>One file to scan, or a path that could not be turned into one (reported as an error, never dropped).</summary>
/// <param name="FullPath">The path on disk.</param>
/// <param name="DisplayPath">The path as reported (as the user wrote it, joined with the relative part).</param>
/// <param name="InCheckpointFolder">Inside a Hugging Face Trainer <c>checkpoint-*</c> folder: every file there is checked.</param>
/// <param name="Problem">Why the path cannot be scanned (missing, unreadable, a symlink not followed).</param>
/// <param name="ProblemIsError">Whether <see cref="Problem"/> makes the item an error (a missing path) or just skipped (a symlink not followed).</param>
public sealed record ScanTarget(string FullPath, string DisplayPath, bool InCheckpointFolder, string? Problem = null, bool ProblemIsError = true);

/// <summary>Expands the paths given on the command line into files: folders recursively, symlinks only when asked.</summary>
public static class ScanTargets
{
    public static IReadOnlyList<ScanTarget> Expand(IEnumerable<string> paths, bool followSymlinks)
    {
        var targets = new List<ScanTarget>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in paths)
        {
            if (File.Exists(path) || Directory.Exists(path))
            {
                var info = Directory.Exists(path) ? (FileSystemInfo)new DirectoryInfo(path) : new FileInfo(path);
                if (info.LinkTarget is not null && !followSymlinks && !IsRootAlias(path))
                {
                    targets.Add(new ScanTarget(Path.GetFullPath(path), path, false, $"symbolic link to {info.LinkTarget} not followed (use --follow-symlinks)", ProblemIsError: false));
                    continue;
                }

                if (info is DirectoryInfo dir)
                {
                    Walk(dir, path, IsCheckpointFolder(dir.Name), followSymlinks, targets, seen, depth: 0);
                }
                else if (seen.Add(Path.GetFullPath(path)))
                {
                    var parent = Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(path)) ?? string.Empty);
                    targets.Add(new ScanTarget(Path.GetFullPath(path), path, IsCheckpointFolder(parent)));
                }
            }
            else
            {
                targets.Add(new ScanTarget(path, path, false, "no such file or directory"));
            }
        }

        return targets;
    }

    /// <summary>A Hugging Face Trainer checkpoint folder: <c>checkpoint-&lt;step&gt;</c>.</summary>
    public static bool IsCheckpointFolder(string name) =>
        name.StartsWith("checkpoint-", StringComparison.Ordinal) && name.Length > "checkpoint-".Length && name["checkpoint-".Length..].All(char.IsAsciiDigit);

    private static bool IsRootAlias(string path) => path is "." or "..";

    private static void Walk(DirectoryInfo dir, string display, bool inCheckpoint, bool followSymlinks, List<ScanTarget> targets, HashSet<string> seen, int depth)
    {
        const int MaxDepth = 64;
        var key = (dir.LinkTarget is not null ? dir.ResolveLinkTarget(returnFinalTarget: true)?.FullName : null) ?? dir.FullName;
        if (depth > MaxDepth || !seen.Add(key + "/"))
        {
            return;
        }

        FileSystemInfo[] entries;
        try
        {
            entries = dir.GetFileSystemInfos();
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            targets.Add(new ScanTarget(dir.FullName, display, inCheckpoint, $"cannot list folder: {ex.Message}"));
            return;
        }

        foreach (var entry in entries.OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            var childDisplay = Path.Combine(display, entry.Name);
            if (entry.LinkTarget is not null && !followSymlinks)
            {
                targets.Add(new ScanTarget(entry.FullName, childDisplay, inCheckpoint, $"symbolic link to {entry.LinkTarget} not followed (use --follow-symlinks)", ProblemIsError: false));
                continue;
            }

            if (entry is DirectoryInfo sub || (entry.LinkTarget is not null && Directory.Exists(entry.FullName)))
            {
                var subDir = new DirectoryInfo(entry.FullName);
                Walk(subDir, childDisplay, inCheckpoint || IsCheckpointFolder(subDir.Name), followSymlinks, targets, seen, depth + 1);
            }
            else if (seen.Add(entry.FullName))
            {
                targets.Add(new ScanTarget(entry.FullName, childDisplay, inCheckpoint));
            }
        }
    }
}
