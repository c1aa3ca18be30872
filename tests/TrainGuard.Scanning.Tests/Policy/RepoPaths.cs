namespace TrainGuard.Scanning.Tests.Policy;

internal static class RepoPaths
{
    /// <summary>The repository root: the nearest directory above the test binaries holding <c>TrainGuard.slnx</c>.</summary>
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TrainGuard.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException($"no TrainGuard.slnx above {AppContext.BaseDirectory}");
    }
}
