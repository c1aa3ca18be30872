using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json;
using TrainGuard.Pickle.Objects;

namespace TrainGuard.Pickle.Tests.Objects;

/// <summary>The benign files of <c>tests/fixtures</c> (written by real Python/torch) and the pickles inside them.</summary>
public static class FixtureFiles
{
    public static string Root { get; } = FindRoot();

    /// <summary>Benign fixtures that hold pickles, each with its pickles (a torch-legacy file: the first five).</summary>
    public static IEnumerable<(string Name, string Format, List<byte[]> Pickles)> BenignPickles()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "expected.json")));
        var list = new List<(string, string, List<byte[]>)>();
        foreach (var entry in doc.RootElement.EnumerateObject())
        {
            var verdict = entry.Value.GetProperty("verdict").GetString();
            var format = entry.Value.GetProperty("format").GetString()!;
            if (verdict != "clean" || format is not ("pickle" or "torch-zip" or "torch-legacy" or "tar"))
            {
                continue;
            }

            var bytes = File.ReadAllBytes(Path.Combine(Root, entry.Name));
            list.Add((entry.Name, format, format switch
            {
                "torch-zip" => ZipPickles(bytes),
                "tar" => TarPickles(bytes),
                "torch-legacy" => Sequence(bytes, 5),
                _ => [bytes],
            }));
        }

        return list;
    }

    public static byte[] ZipMember(string fixture, string suffix)
    {
        using var zip = new ZipArchive(new MemoryStream(File.ReadAllBytes(Path.Combine(Root, fixture))), ZipArchiveMode.Read);
        var e = zip.Entries.Single(x => x.FullName.EndsWith(suffix, StringComparison.Ordinal));
        using var s = e.Open();
        using var ms = new MemoryStream();
        s.CopyTo(ms);
        return ms.ToArray();
    }

    public static List<byte[]> Sequence(byte[] bytes, int count)
    {
        var result = new List<byte[]>();
        var pos = 0;
        for (var i = 0; i < count; i++)
        {
            var r = PickleObjectReader.Read(bytes, pos);
            result.Add(bytes[pos..(int)r.EndOffset]);
            pos = (int)r.EndOffset;
        }

        return result;
    }

    private static List<byte[]> ZipPickles(byte[] bytes)
    {
        using var zip = new ZipArchive(new MemoryStream(bytes), ZipArchiveMode.Read);
        var result = new List<byte[]>();
        foreach (var e in zip.Entries.Where(e => e.FullName.EndsWith(".pkl", StringComparison.Ordinal)))
        {
            using var s = e.Open();
            using var ms = new MemoryStream();
            s.CopyTo(ms);
            result.Add(ms.ToArray());
        }

        return result;
    }

    private static List<byte[]> TarPickles(byte[] bytes)
    {
        using var reader = new TarReader(new MemoryStream(bytes));
        var result = new List<byte[]>();
        while (reader.GetNextEntry() is { } e)
        {
            if (e.Name is "pickle" or "sys_info" && e.DataStream is { } s)
            {
                using var ms = new MemoryStream();
                s.CopyTo(ms);
                result.Add(ms.ToArray());
            }
        }

        return result;
    }

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "tests", "fixtures", "expected.json")))
        {
            dir = dir.Parent;
        }

        return dir is null ? throw new InvalidOperationException("tests/fixtures not found above " + AppContext.BaseDirectory) : Path.Combine(dir.FullName, "tests", "fixtures");
    }
}
