namespace TrainGuard.Review.Tests.Support;

/// <summary>Files of this repository (found from the test assembly's folder upwards; nothing outside it is read).</summary>
internal static class RepoRoot
{
    public static string Root { get; } = FindRoot();

    public static string File(params string[] parts) => Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !System.IO.File.Exists(Path.Combine(dir.FullName, "TrainGuard.slnx")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("TrainGuard.slnx not found above " + AppContext.BaseDirectory);
    }
}
