using System.Runtime.InteropServices;

namespace TrainGuard.Integrity.Hashing;

/// <summary>
/// Minimal-syscall file hashing on Linux: <c>open(O_RDONLY|O_CLOEXEC)</c>, <c>pread</c> until it returns 0,
/// <c>close</c>. Returns null on any failure (or on other systems) so the caller's managed path runs and
/// throws the same exception it always did; a file that cannot be opened or read here is never hashed here.
/// </summary>
internal static partial class NativeFile
{
    private const int OpenReadOnlyCloseOnExec = 0x80000; // O_RDONLY | O_CLOEXEC (Linux, every architecture .NET runs on)
    private const int AdviseSequential = 2; // POSIX_FADV_SEQUENTIAL

    private static readonly bool Supported = OperatingSystem.IsLinux() && System.Environment.Is64BitProcess; // 64-bit off_t for pread
    private static volatile bool s_unavailable;

    public static FileDigest? TryCompute(string path, DigestAlgorithm algorithm, byte[] buffer)
    {
        if (!Supported || s_unavailable || path.Contains('\0', StringComparison.Ordinal))
        {
            return null;
        }

        int fd;
        try
        {
            fd = Open(path, OpenReadOnlyCloseOnExec);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            s_unavailable = true;
            return null;
        }

        if (fd < 0)
        {
            return null;
        }

        try
        {
            var filled = ReadFully(fd, buffer.AsSpan(0, FileHasher.ChunkSize), 0);
            if (filled < 0)
            {
                return null;
            }

            if (filled < FileHasher.ChunkSize)
            {
                return new FileDigest(FileHasher.HashOneShot(algorithm, buffer.AsSpan(0, filled)), filled);
            }

            // A large file (a model shard, libtorch): stream the rest, with read-ahead doubled as the managed path asks for.
            _ = FAdvise(fd, 0, 0, AdviseSequential);
            using var hash = FileHasher.CreateIncremental(algorithm);
            hash.AppendData(buffer, 0, filled);
            long total = filled;
            while (true)
            {
                var read = PRead(fd, buffer, FileHasher.ChunkSize, total);
                if (read < 0)
                {
                    return null;
                }

                if (read == 0)
                {
                    break;
                }

                hash.AppendData(buffer, 0, (int)read);
                total = checked(total + read);
            }

            return new FileDigest(hash.GetHashAndReset(), total);
        }
        finally
        {
            _ = Close(fd);
        }
    }

    /// <summary>One <c>pread</c> at <paramref name="offset"/>, as <c>RandomAccess.Read</c> on a fresh handle; -1 when the managed path must run instead.</summary>
    public static int TryReadAt(string path, Span<byte> buffer, long offset)
    {
        if (!Supported || s_unavailable || path.Contains('\0', StringComparison.Ordinal))
        {
            return -1;
        }

        int fd;
        try
        {
            fd = Open(path, OpenReadOnlyCloseOnExec);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            s_unavailable = true;
            return -1;
        }

        if (fd < 0)
        {
            return -1;
        }

        try
        {
            var read = PRead(fd, buffer, buffer.Length, offset);
            return read < 0 ? -1 : (int)read;
        }
        finally
        {
            _ = Close(fd);
        }
    }

    /// <summary>
    /// Reads a whole file (up to <paramref name="maxLength"/> bytes) into a buffer rented from the shared pool, which the
    /// caller returns. False when the managed path must run instead (error, other system, or a larger file).
    /// </summary>
    public static bool TryReadAllPooled(string path, int maxLength, out byte[] rented, out int length)
    {
        rented = [];
        length = 0;
        if (!Supported || s_unavailable || path.Contains('\0', StringComparison.Ordinal))
        {
            return false;
        }

        int fd;
        try
        {
            fd = Open(path, OpenReadOnlyCloseOnExec);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            s_unavailable = true;
            return false;
        }

        if (fd < 0)
        {
            return false;
        }

        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(64 << 10);
        try
        {
            var filled = 0;
            while (true)
            {
                if (filled == buffer.Length)
                {
                    if (buffer.Length >= maxLength)
                    {
                        System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                        buffer = [];
                        return false;
                    }

                    var bigger = System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Min(maxLength, buffer.Length * 2));
                    buffer.AsSpan(0, filled).CopyTo(bigger);
                    System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }

                var read = PRead(fd, buffer.AsSpan(filled), buffer.Length - filled, filled);
                if (read < 0)
                {
                    System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                    buffer = [];
                    return false;
                }

                if (read == 0)
                {
                    rented = buffer;
                    length = filled;
                    buffer = [];
                    return true;
                }

                filled += (int)read;
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    /// <summary>Reads until the span is full or pread returns 0; -1 on an error.</summary>
    private static int ReadFully(int fd, Span<byte> buffer, long offset)
    {
        var filled = 0;
        while (filled < buffer.Length)
        {
            var read = PRead(fd, buffer[filled..], buffer.Length - filled, offset + filled);
            if (read < 0)
            {
                return -1;
            }

            if (read == 0)
            {
                break;
            }

            filled += (int)read;
        }

        return filled;
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "pread")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static partial nint PRead(int fd, Span<byte> buffer, nint count, long offset);

    [LibraryImport("libc", EntryPoint = "posix_fadvise")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static partial int FAdvise(int fd, long offset, long length, int advice);

    [LibraryImport("libc", EntryPoint = "close")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static partial int Close(int fd);
}
