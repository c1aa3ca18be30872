namespace TrainGuard.Formats.Tests.Support;

/// <summary>Committed fixtures (regenerate with <c>/usr/bin/python3 Fixtures/make.py</c>).</summary>
internal static class Fixture
{
    public static string Path(string relative) => System.IO.Path.Combine(AppContext.BaseDirectory, "Fixtures", relative);

    public static byte[] Bytes(string relative) => File.ReadAllBytes(Path(relative));

    public static IEnumerable<string> Files(string folder) =>
        Directory.EnumerateFiles(Path(folder)).Select(f => System.IO.Path.GetRelativePath(Path(string.Empty), f)).Order(StringComparer.Ordinal);

    public static string Hex(ReadOnlySpan<byte> data) => Convert.ToHexString(data);
}
