using TrainGuard.Checkpoints.Tests.Rng;

namespace TrainGuard.Checkpoints.Tests.Contents;

/// <summary>Paths of the real-PyTorch checkpoint fixtures (tests/fixtures/ckpt, made by make_ckpt.py).</summary>
internal static class CkptFixtures
{
    public static string Root { get; } = Path.Combine(RngVectors.FindRepoRoot(), "tests", "fixtures", "ckpt");

    public static string Clean => Path.Combine(Root, "checkpoint-6");

    public static string RunManifest => Path.Combine(Root, "run.yaml");

    public static string Variant(string name) => Path.Combine(Root, "tampered", name, "checkpoint-6");

    /// <summary>A fresh copy of the clean checkpoint in a temporary folder named checkpoint-6, for tests that alter it.</summary>
    public static TempCheckpoint Copy()
    {
        var parent = Path.Combine(Path.GetTempPath(), "tg-ckpt-" + Guid.NewGuid().ToString("N"));
        var folder = Path.Combine(parent, "checkpoint-6");
        Directory.CreateDirectory(folder);
        foreach (var file in Directory.GetFiles(Clean))
        {
            File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
        }

        return new TempCheckpoint(parent, folder);
    }
}

internal sealed class TempCheckpoint(string parent, string folder) : IDisposable
{
    public string Folder { get; } = folder;

    public string File(string name) => Path.Combine(Folder, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(parent, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
