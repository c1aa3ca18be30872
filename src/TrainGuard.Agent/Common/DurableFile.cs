using System.Runtime.InteropServices;
using System.Text;

namespace TrainGuard.Agent.Common;

/// <summary>
/// Crash-safe file updates: write a temporary file, fsync it, rename it over the target and fsync the
/// folder, so a reader finds either the old or the new content, never a mix (a cursor or a snapshot).
/// </summary>
public static partial class DurableFile
{
    /// <summary>Atomically replaces <paramref name="path"/> with <paramref name="text"/> (UTF-8).</summary>
    /// <param name="durable">fsync the file and its folder (off only where a test measures something else).</param>
    public static void WriteAllText(string path, string text, bool durable = true) => WriteAllBytes(path, Encoding.UTF8.GetBytes(text), durable);

    /// <summary>Atomically replaces <paramref name="path"/> with <paramref name="bytes"/>.</summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes, bool durable = true)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        var temp = Path.Combine(directory, "." + Path.GetFileName(path) + ".tmp");
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(bytes);
            stream.Flush(flushToDisk: durable);
        }

        File.Move(temp, path, overwrite: true);
        if (durable)
        {
            SyncDirectory(directory);
        }
    }

    /// <summary>fsync(2) on a folder, so a created, renamed or deleted name survives a power loss. Best effort off Linux.</summary>
    public static void SyncDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var fd = Open(directory, 0);
        if (fd < 0)
        {
            return;
        }

        _ = Fsync(fd);
        _ = Close(fd);
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
