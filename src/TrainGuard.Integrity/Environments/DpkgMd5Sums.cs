using System.Text;
using TrainGuard.Parsing;

namespace TrainGuard.Integrity.Environments;

/// <summary>One line of <c>/var/lib/dpkg/info/&lt;pkg&gt;.md5sums</c>: an MD5 and a path relative to <c>/</c>.</summary>
public sealed record DpkgFileEntry(string Path, byte[] Md5, int Line);

/// <summary>A parsed md5sums file, as <c>debsums</c> reads it: <c>&lt;32 hex&gt;  &lt;path&gt;</c> per line.</summary>
public sealed record DpkgMd5Sums(string Package, IReadOnlyList<DpkgFileEntry> Entries, IReadOnlyList<RecordProblem> Problems)
{
    public const int MaxSize = 64 << 20;

    public const string DefaultInfoDirectory = "/var/lib/dpkg/info";

    /// <summary>Package name from the md5sums file name (<c>libtorch1.13:amd64.md5sums</c> → <c>libtorch1.13:amd64</c>).</summary>
    public static string PackageFromFileName(string path) => Path.GetFileName(path)[..^".md5sums".Length];

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static DpkgMd5Sums Parse(string package, ReadOnlySpan<byte> data)
    {
        if (data.Length > MaxSize)
        {
            MalformedInputException.ThrowLimit("md5sums size", MaxSize, 0);
        }

        var entries = new List<DpkgFileEntry>();
        var problems = new List<RecordProblem>();
        var lineNumber = 0;
        var position = 0;
        while (position < data.Length)
        {
            var rest = data[position..];
            var end = rest.IndexOf((byte)'\n');
            var line = end < 0 ? rest : rest[..end];
            position += end < 0 ? rest.Length : end + 1;
            lineNumber++;
            if (line.IsEmpty)
            {
                continue;
            }

            if (TryParseLine(line, lineNumber, out var entry, out var reason))
            {
                entries.Add(entry);
            }
            else
            {
                problems.Add(new RecordProblem(lineNumber, reason, Encoding.UTF8.GetString(line)));
            }
        }

        return new DpkgMd5Sums(package, entries, problems);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static bool TryParseLine(ReadOnlySpan<byte> line, int lineNumber, out DpkgFileEntry entry, out string reason)
    {
        entry = null!;
        const int HexLength = 32;
        if (line.Length < HexLength + 3 || line[HexLength] != (byte)' ' || (line[HexLength + 1] != (byte)' ' && line[HexLength + 1] != (byte)'*'))
        {
            reason = "expected '<32 hex digits>  <path>'";
            return false;
        }

        var md5 = new byte[16];
        if (Convert.FromHexString(Encoding.ASCII.GetString(line[..HexLength]), md5, out _, out var written) != System.Buffers.OperationStatus.Done || written != 16)
        {
            reason = "the MD5 is not 32 hex digits";
            return false;
        }

        var pathBytes = line[(HexLength + 2)..];
        if (pathBytes.IndexOf((byte)0) >= 0)
        {
            reason = "path contains a NUL byte";
            return false;
        }

        var path = Encoding.UTF8.GetString(pathBytes).TrimStart('/');
        if (path.Length == 0)
        {
            reason = "empty path";
            return false;
        }

        entry = new DpkgFileEntry("/" + path, md5, lineNumber);
        reason = string.Empty;
        return true;
    }

    /// <summary>Fuzz target: must never throw anything but <see cref="MalformedInputException"/>.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data) => Parse("fuzz", data);
}
