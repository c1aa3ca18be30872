using System.Runtime.InteropServices;

namespace TrainGuard.Access.Native;

/// <summary>What <c>lstat</c> says about one path: its type, permission bits (with set-id and sticky bits), owner and group.</summary>
public readonly record struct FileNode(int TypeBits, int Mode, uint Uid, uint Gid)
{
    public const int DirectoryType = 0x4000;
    public const int RegularType = 0x8000;
    public const int SymlinkType = 0xA000;

    public bool IsDirectory => TypeBits == DirectoryType;

    public bool IsRegular => TypeBits == RegularType;

    public bool IsSymlink => TypeBits == SymlinkType;

    /// <summary>The sticky bit (<c>o+t</c>): entries can be removed or renamed only by their owner or the directory's.</summary>
    public bool Sticky => (Mode & 0x200) != 0;
}

/// <summary>
/// The two system calls access analysis needs and .NET does not expose: <c>statx</c> without following a final
/// symbolic link (owner, group, mode) and <c>lgetxattr</c> (the POSIX ACL and file capability attributes). Linux only.
/// </summary>
internal static partial class UnixNative
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxTypeModeUidGid = 0x1 | 0x2 | 0x8 | 0x10;
    private const int Enoent = 2;
    private const int Enotdir = 20;
    private const int Erange = 34;
    private const int Enodata = 61;
    private const int Enotsup = 95;

    /// <summary>Largest extended attribute read (the kernel's own limit is 64 KiB).</summary>
    public const int MaxAttributeSize = 65536;

    /// <summary><c>lstat</c>; false when the path does not exist.</summary>
    /// <exception cref="IOException">The path exists but cannot be examined.</exception>
    public static bool TryLstat(string path, out FileNode node)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("access analysis reads owners, modes and ACLs with Linux system calls");
        }

        if (Statx(AtFdCwd, path, AtSymlinkNoFollow, StatxTypeModeUidGid, out var buffer) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            node = default;
            return errno is Enoent or Enotdir ? false : throw new IOException($"{path}: cannot examine ({Marshal.GetPInvokeErrorMessage(errno)})");
        }

        node = new FileNode(buffer.Mode & 0xF000, buffer.Mode & 0xFFF, buffer.Uid, buffer.Gid);
        return true;
    }

    /// <summary>
    /// The value of extended attribute <paramref name="name"/> of <paramref name="path"/> (not following a final
    /// symbolic link), or null when the file has none.
    /// </summary>
    /// <exception cref="IOException">The attribute cannot be read.</exception>
    public static byte[]? GetAttribute(string path, string name)
    {
        Span<byte> buffer = stackalloc byte[512];
        var length = LGetXattr(path, name, ref MemoryMarshal.GetReference(buffer), (nuint)buffer.Length);
        if (length >= 0)
        {
            return buffer[..(int)length].ToArray();
        }

        var errno = Marshal.GetLastPInvokeError();
        return errno switch
        {
            Enodata or Enotsup or Enoent => null,
            Erange => Large(path, name),
            _ => throw new IOException($"{path}: cannot read attribute {name} ({Marshal.GetPInvokeErrorMessage(errno)})"),
        };

        static byte[]? Large(string path, string name)
        {
            var large = new byte[MaxAttributeSize];
            var length = LGetXattr(path, name, ref large[0], (nuint)large.Length);
            return length >= 0 ? large[..(int)length]
                : Marshal.GetLastPInvokeError() is Enodata ? null
                : throw new IOException($"{path}: cannot read attribute {name} ({Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())})");
        }
    }

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Statx(int dirfd, string path, int flags, uint mask, out StatxBuffer buffer);

    [LibraryImport("libc", EntryPoint = "lgetxattr", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial nint LGetXattr(string path, string name, ref byte value, nuint size);

    /// <summary>The start of <c>struct statx</c> (linux/stat.h), 256 bytes on every architecture.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    private struct StatxBuffer
    {
        [FieldOffset(20)]
        public uint Uid;

        [FieldOffset(24)]
        public uint Gid;

        [FieldOffset(28)]
        public ushort Mode;
    }
}
