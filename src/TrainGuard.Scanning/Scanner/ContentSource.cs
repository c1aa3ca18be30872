using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using TrainGuard.Parsing;

namespace TrainGuard.Scanning.Scanner;

/// <summary>
/// The bytes being analysed: a file on disk (memory-mapped only when a parser needs them all at once,
/// so a multi-GB checkpoint is never read into memory) or an archive member already in memory.
/// </summary>
internal sealed partial class ContentSource : IDisposable
{
    /// <summary>Pages released at once: fewer system calls, and the most recent bytes stay mapped for lazy re-reads.</summary>
    private const long ReleaseStep = 1L * 1024 * 1024;

    private const int MadvSequential = 2;
    private const int MadvDontNeed = 4;

    private readonly string? _path;
    private readonly bool _mapFile;
    private byte[]? _bytes;
    private MemoryMappedFile? _map;
    private MemoryMappedViewAccessor? _view;
    private FileStream? _stream;
    private unsafe byte* _pointer;
    private long _released;

    private ContentSource(string? path, byte[]? bytes, long length, bool mapFile)
    {
        _path = path;
        _bytes = bytes;
        Length = length;
        _mapFile = mapFile;
    }

    public long Length { get; }

    /// <param name="mapFile">Memory-map the file for <see cref="Span"/>; otherwise it is read into memory (<see cref="ScanOptions.MapFiles"/>).</param>
    public static ContentSource FromFile(string path, long length, bool mapFile = true) => new(path, null, length, mapFile);

    public static ContentSource FromBytes(byte[] bytes) => new(null, bytes, bytes.Length, mapFile: false);

    /// <summary>The first bytes, for content detection.</summary>
    public byte[] ReadHead(int count)
    {
        var size = (int)Math.Min(count, Length);
        if (_bytes is not null)
        {
            return _bytes.AsSpan(0, size).ToArray();
        }

        var head = new byte[size];
        var stream = Stream();
        stream.Position = 0;
        stream.ReadExactly(head);
        return head;
    }

    /// <summary>A seekable read-only stream over the content, positioned at its start (owned by this source: do not dispose).</summary>
    public Stream Stream()
    {
        if (_bytes is not null)
        {
            return new MemoryStream(_bytes, writable: false);
        }

        _stream ??= new FileStream(_path!, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16, FileOptions.RandomAccess);
        _stream.Position = 0;
        return _stream;
    }

    /// <summary>All bytes as one span (memory-mapped for files).</summary>
    public unsafe ReadOnlySpan<byte> Span(long maxBytes)
    {
        if (Length > maxBytes || Length > int.MaxValue)
        {
            MalformedInputException.ThrowLimit("pickle size", Math.Min(maxBytes, int.MaxValue), 0);
        }

        if (_bytes is not null)
        {
            return _bytes;
        }

        if (Length == 0)
        {
            return [];
        }

        if (!_mapFile)
        {
            _bytes = ReadAll();
            return _bytes;
        }

        if (_view is null)
        {
            _map = MemoryMappedFile.CreateFromFile((FileStream)Stream(), null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: true);
            _view = _map.CreateViewAccessor(0, Length, MemoryMappedFileAccess.Read);
            byte* pointer = null;
            _view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            _pointer = pointer + _view.PointerOffset;
            if (OperatingSystem.IsLinux() && _view.PointerOffset == 0)
            {
                // The pickle machine reads front to back: read ahead aggressively. Only a hint; failure is harmless.
                _ = Madvise((nint)_pointer, (nuint)Length, MadvSequential);
            }
        }

        return new ReadOnlySpan<byte>(_pointer, (int)Length);
    }

    /// <summary>Reads the whole file into memory; a file that shrinks meanwhile is malformed input, not a crash.</summary>
    private byte[] ReadAll()
    {
        var buffer = GC.AllocateUninitializedArray<byte>((int)Length);
        var handle = ((FileStream)Stream()).SafeFileHandle;
        var done = 0;
        while (done < buffer.Length)
        {
            var read = RandomAccess.Read(handle, buffer.AsSpan(done), done);
            if (read == 0)
            {
                MalformedInputException.Throw(InputErrorKind.Truncated, $"the file shrank from {Length:N0} to {done:N0} bytes while it was read (is it still being written?); scan it again when it is complete", done);
            }

            done += read;
        }

        return buffer;
    }

    /// <summary>
    /// Lets the OS drop the mapped pages before <paramref name="offset"/> from this process's memory (Linux), for a
    /// reader that goes front to back (<see cref="Pickle.PickleMachine"/>'s <c>consumed</c> callback): the file's
    /// pages would otherwise all count in the resident set, 51 MB for a 51 MB pickle. The bytes stay mapped and
    /// readable: touching them again reads them back from the page cache. No-op for in-memory content.
    /// </summary>
    public unsafe void ReleaseBefore(long offset)
    {
        if (_pointer is null || !OperatingSystem.IsLinux() || _view!.PointerOffset != 0)
        {
            return;
        }

        // Keep the last step resident: calls are rendered from arguments read just before them.
        var end = Math.Min(offset, Length) - ReleaseStep;
        if (end - _released < ReleaseStep)
        {
            return;
        }

        long page = Environment.SystemPageSize;
        end &= ~(page - 1);
        if (Madvise((nint)(_pointer + _released), (nuint)(end - _released), MadvDontNeed) == 0)
        {
            _released = end;
        }
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(nint address, nuint length, int advice);

    public unsafe void Dispose()
    {
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }

        _map?.Dispose();
        _stream?.Dispose();
    }
}
