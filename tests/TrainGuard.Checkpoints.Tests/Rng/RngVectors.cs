using System.Numerics;
using System.Text.Json;

namespace TrainGuard.Checkpoints.Tests.Rng;

/// <summary>Real generator states written by <c>make_rng_vectors.py</c> (torch 1.13, numpy, CPython).</summary>
internal static class RngVectors
{
    public static string Folder { get; } = Path.Combine(FindRepoRoot(), "tests", "TrainGuard.Checkpoints.Tests", "Rng");

    private static readonly Lazy<JsonDocument> Document = new(() => JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "rng_vectors.json"))));

    public static IEnumerable<JsonElement> Torch => Document.Value.RootElement.GetProperty("torch_cpu").EnumerateArray();

    public static IEnumerable<JsonElement> Numpy => Document.Value.RootElement.GetProperty("numpy").EnumerateArray();

    public static IEnumerable<JsonElement> Python => Document.Value.RootElement.GetProperty("python").EnumerateArray();

    public static BigInteger Seed(JsonElement vector)
    {
        var seed = vector.GetProperty("seed");
        return seed.ValueKind == JsonValueKind.String ? BigInteger.Parse(seed.GetString()!, System.Globalization.CultureInfo.InvariantCulture) : new BigInteger(seed.GetInt64());
    }

    public static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "TrainGuard.slnx")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("repository root (TrainGuard.slnx) not found above " + AppContext.BaseDirectory);
    }
}
