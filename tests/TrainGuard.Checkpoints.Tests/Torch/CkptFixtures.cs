using System.Text.Json;

namespace TrainGuard.Checkpoints.Tests.Torch;

/// <summary>The real-PyTorch fixtures of <c>tests/fixtures/ckpt</c> and what PyTorch read from them (<c>expected.json</c>).</summary>
public static class CkptFixtures
{
    public static string Root { get; } = Path.Combine(FindRepoRoot(), "tests", "fixtures", "ckpt");

    public static string ScanRoot { get; } = Path.Combine(FindRepoRoot(), "tests", "fixtures");

    public static JsonElement Expected { get; } = JsonDocument.Parse(System.IO.File.ReadAllText(Path.Combine(Root, "expected.json"))).RootElement;

    /// <summary>Fixture paths (relative to the ckpt folder) whose expected entry lists tensors (state_dict files).</summary>
    public static IEnumerable<string> StateDictFiles() =>
        Expected.GetProperty("files").EnumerateObject()
            .Where(f => f.Value.TryGetProperty("kind", out var k) && k.GetString() == "state_dict" && !f.Name.StartsWith("tampered/", StringComparison.Ordinal))
            .Select(f => f.Name);

    public static JsonElement Entry(string relative) => Expected.GetProperty("files").GetProperty(relative);

    public static string PathOf(string relative) => Path.Combine(Root, relative);

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !Directory.Exists(Path.Combine(dir.FullName, "tests", "fixtures", "ckpt")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("tests/fixtures/ckpt not found above " + AppContext.BaseDirectory);
    }
}
