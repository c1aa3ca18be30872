using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace TrainGuard.Agent.Common;

/// <summary>What <c>lstat</c>/<c>fstat</c> say a path is.</summary>
public enum UnixFileType
{
    Unknown,
    Regular,
    Directory,
    Symlink,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
}

/// <summary>The parts of <c>struct statx</c> the agent uses.</summary>
public readonly record struct UnixFileStatus(UnixFileType Type, int Mode, long Uid, long Gid, ulong Device, ulong Inode, long Size, long MtimeNs, long CtimeNs)
{
    public long MtimeMs => MtimeNs / 1_000_000;

    /// <summary>The ECS <c>file.type</c> spelling: <c>file</c>, <c>dir</c>, <c>symlink</c>, <c>fifo</c>, <c>socket</c>, <c>char_device</c>, <c>block_device</c>.</summary>
    public string TypeName => Name(Type);

    /// <summary>Permission bits as four octal digits (<c>0644</c>), the ECS <c>file.mode</c> spelling.</summary>
    public string ModeText => Convert.ToString(Mode & 0xFFF, 8).PadLeft(4, '0');

    /// <summary>Writable by the group or by everyone.</summary>
    public bool GroupOrOtherWritable => (Mode & 0x12) != 0;

    public static string Name(UnixFileType type) => type switch
    {
        UnixFileType.Regular => "file",
        UnixFileType.Directory => "dir",
        UnixFileType.Symlink => "symlink",
        UnixFileType.Fifo => "fifo",
        UnixFileType.Socket => "socket",
        UnixFileType.CharDevice => "char_device",
        UnixFileType.BlockDevice => "block_device",
        _ => "unknown",
    };
}

/// <summary>A regular file opened without blocking, with what <c>fstat</c> said about the open file.</summary>
public sealed class OpenedFile(SafeFileHandle handle, UnixFileStatus status) : IDisposable
{
    public SafeFileHandle Handle { get; } = handle;

    public UnixFileStatus Status { get; } = status;

    /// <summary>
    /// A path that names this open file and nothing else (<c>/proc/self/fd/N</c>): opening it again reaches the
    /// same inode even if the original name was replaced meanwhile. Null off Linux.
    /// </summary>
    public string? ProcPath => OperatingSystem.IsLinux() ? "/proc/self/fd/" + Handle.DangerousGetHandle().ToString(System.Globalization.CultureInfo.InvariantCulture) : null;

    public Stream OpenStream() => new FileStream(Handle, FileAccess.Read, 1 << 16);

    public void Dispose() => Handle.Dispose();
}

/// <summary>Why <see cref="UnixFile.TryOpenRegular"/> did not open a file.</summary>
/// <param name="Status">What the path is, when it exists (a FIFO, a device, a link...).</param>
/// <param name="Reason">A sentence for a person.</param>
/// <param name="Missing">The path does not exist (any more).</param>
public sealed record OpenRefusal(UnixFileStatus? Status, string Reason, bool Missing = false);

/// <summary>
/// File checks that .NET does not expose: the file type, owner, inode and ctime of a path without following a
/// final symbolic link (<c>statx</c> with <c>AT_SYMLINK_NOFOLLOW</c>), and opening a regular file so that no
/// FIFO, device or socket is ever read: the type is checked with <c>lstat</c> first, the file is opened with
/// <c>O_NONBLOCK</c> (opening a FIFO does not wait for a writer) and checked again with <c>fstat</c>.
/// Linux only; elsewhere a managed approximation (no FIFO detection) keeps the agent usable for development.
/// </summary>
public static partial class UnixFile
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const int AtEmptyPath = 0x1000;
    private const uint StatxBasicStats = 0x7ff;

    private const int ORdOnly = 0;
    private const int ONoCtty = 0x100;
    private const int ONonBlock = 0x800;
    private const int OCloExec = 0x80000;

    private const int Enoent = 2;
    private const int Enotdir = 20;
    private const int Eloop = 40;

    /// <summary><c>O_NOFOLLOW</c>: 0400000 in the generic Linux ABI, 0100000 on arm, arm64 and powerpc.</summary>
    private static readonly int ONoFollow = RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm or Architecture.Ppc64le ? 0x8000 : 0x20000;

    /// <summary>The effective user id of this process (0 off Linux).</summary>
    public static long EffectiveUid => OperatingSystem.IsLinux() ? GetEuid() : 0;

    /// <summary><c>lstat</c>: what the path itself is (a symbolic link is not followed). False when it does not exist or cannot be examined.</summary>
    public static bool TryLstat(string path, out UnixFileStatus status, out string? error) => TryStatPath(path, follow: false, out status, out error);

    /// <summary><c>stat</c>: what the path leads to (symbolic links followed).</summary>
    public static bool TryStat(string path, out UnixFileStatus status, out string? error) => TryStatPath(path, follow: true, out status, out error);

    /// <summary>
    /// Opens <paramref name="path"/> for reading only when it is a regular file, never blocking: checked with
    /// <c>lstat</c> (or <c>stat</c> when <paramref name="followLinks"/>), opened with <c>O_NONBLOCK</c> (and
    /// <c>O_NOFOLLOW</c> unless <paramref name="followLinks"/>), checked again with <c>fstat</c>; without
    /// <paramref name="followLinks"/> the opened inode must be the one <c>lstat</c> saw (not swapped meanwhile).
    /// </summary>
    public static bool TryOpenRegular(string path, bool followLinks, out OpenedFile? opened, out OpenRefusal? refusal)
    {
        opened = null;
        if (!TryStatPath(path, followLinks, out var before, out var error))
        {
            refusal = new OpenRefusal(null, error ?? "does not exist", Missing: error is null);
            return false;
        }

        if (before.Type != UnixFileType.Regular)
        {
            refusal = new OpenRefusal(before, $"not a regular file ({before.TypeName}); not opened");
            return false;
        }

        if (!OperatingSystem.IsLinux())
        {
            try
            {
                var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                opened = new OpenedFile(handle, before);
                refusal = null;
                return true;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                refusal = new OpenRefusal(before, $"cannot open ({ex.Message})");
                return false;
            }
        }

        var fd = Open(path, ORdOnly | ONonBlock | OCloExec | ONoCtty | (followLinks ? 0 : ONoFollow));
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            refusal = errno switch
            {
                Eloop => new OpenRefusal(null, "replaced by a symbolic link while it was opened; not followed"),
                Enoent or Enotdir => new OpenRefusal(null, "disappeared while it was opened", Missing: true),
                _ => new OpenRefusal(before, $"cannot open ({Marshal.GetPInvokeErrorMessage(errno)})"),
            };
            return false;
        }

        var safe = new SafeFileHandle(fd, ownsHandle: true);
        if (!TryFstat(safe, out var after, out error))
        {
            safe.Dispose();
            refusal = new OpenRefusal(before, $"cannot examine the opened file ({error})");
            return false;
        }

        if (after.Type != UnixFileType.Regular)
        {
            safe.Dispose();
            refusal = new OpenRefusal(after, $"replaced by a {after.TypeName} while it was opened; not read");
            return false;
        }

        if (!followLinks && (after.Inode != before.Inode || after.Device != before.Device))
        {
            safe.Dispose();
            refusal = new OpenRefusal(after, "replaced by another file while it was opened");
            return false;
        }

        opened = new OpenedFile(safe, after);
        refusal = null;
        return true;
    }

    /// <summary><c>fstat</c> of an open file.</summary>
    public static bool TryFstat(SafeFileHandle handle, out UnixFileStatus status, out string? error)
    {
        if (!OperatingSystem.IsLinux())
        {
            status = new UnixFileStatus(UnixFileType.Regular, 0, 0, 0, 0, 0, RandomAccess.GetLength(handle), 0, 0);
            error = null;
            return true;
        }

        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            if (Statx((int)handle.DangerousGetHandle(), string.Empty, AtEmptyPath, StatxBasicStats, out var buffer) != 0)
            {
                status = default;
                error = Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
                return false;
            }

            status = buffer.ToStatus();
            error = null;
            return true;
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    private static bool TryStatPath(string path, bool follow, out UnixFileStatus status, out string? error)
    {
        if (!OperatingSystem.IsLinux())
        {
            return TryStatManaged(path, follow, out status, out error);
        }

        if (Statx(AtFdCwd, path, follow ? 0 : AtSymlinkNoFollow, StatxBasicStats, out var buffer) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            status = default;
            error = errno is Enoent or Enotdir ? null : Marshal.GetPInvokeErrorMessage(errno);
            return false;
        }

        status = buffer.ToStatus();
        error = null;
        return true;
    }

    private static bool TryStatManaged(string path, bool follow, out UnixFileStatus status, out string? error)
    {
        FileSystemInfo info = Directory.Exists(path) ? new DirectoryInfo(path) : new FileInfo(path);
        error = null;
        if (!info.Exists && info.LinkTarget is null)
        {
            status = default;
            return false;
        }

        if (follow && info.LinkTarget is not null)
        {
            info = info.ResolveLinkTarget(returnFinalTarget: true) ?? info;
        }

        var type = !follow && info.LinkTarget is not null ? UnixFileType.Symlink : info is DirectoryInfo ? UnixFileType.Directory : UnixFileType.Regular;
        var size = info is FileInfo { Exists: true } file ? file.Length : 0;
        var mtime = info.Exists ? (info.LastWriteTimeUtc - DateTime.UnixEpoch).Ticks * 100 : 0;
        status = new UnixFileStatus(type, OperatingSystem.IsWindows() ? 0 : (int)info.UnixFileMode, 0, 0, 0, 0, size, mtime, mtime);
        return true;
    }

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Statx(int dirfd, string path, int flags, uint mask, out StatxBuffer buffer);

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEuid();

    /// <summary><c>struct statx</c> (linux/stat.h): the same layout on every architecture, 256 bytes.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    private struct StatxBuffer
    {
        [FieldOffset(20)]
        public uint Uid;

        [FieldOffset(24)]
        public uint Gid;

        [FieldOffset(28)]
        public ushort Mode;

        [FieldOffset(32)]
        public ulong Inode;

        [FieldOffset(40)]
        public ulong Size;

        [FieldOffset(96)]
        public long CtimeSec;

        [FieldOffset(104)]
        public uint CtimeNsec;

        [FieldOffset(112)]
        public long MtimeSec;

        [FieldOffset(120)]
        public uint MtimeNsec;

        [FieldOffset(136)]
        public uint DevMajor;

        [FieldOffset(140)]
        public uint DevMinor;

        public readonly UnixFileStatus ToStatus()
        {
            var type = (Mode & 0xF000) switch
            {
                0x8000 => UnixFileType.Regular,
                0x4000 => UnixFileType.Directory,
                0xA000 => UnixFileType.Symlink,
                0x1000 => UnixFileType.Fifo,
                0xC000 => UnixFileType.Socket,
                0x2000 => UnixFileType.CharDevice,
                0x6000 => UnixFileType.BlockDevice,
                _ => UnixFileType.Unknown,
            };
            return new UnixFileStatus(
                type,
                Mode & 0xFFF,
                Uid,
                Gid,
                ((ulong)DevMajor << 32) | DevMinor,
                Inode,
                (long)Math.Min(Size, long.MaxValue),
                Nanoseconds(MtimeSec, MtimeNsec),
                Nanoseconds(CtimeSec, CtimeNsec));
        }

        /// <summary>Times are set by whoever owns the file (<c>touch -d</c>): saturate rather than overflow past the year 2262.</summary>
        private static long Nanoseconds(long seconds, uint nanoseconds) =>
            (Math.Clamp(seconds, -9_000_000_000L, 9_000_000_000L) * 1_000_000_000) + Math.Min(nanoseconds, 999_999_999u);
    }
}
