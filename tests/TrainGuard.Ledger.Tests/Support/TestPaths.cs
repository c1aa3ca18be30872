namespace TrainGuard.Ledger.Tests.Support;

/// <summary>Locates the repository root (the folder holding TrainGuard.slnx) and the shared test vectors beside it.</summary>
public static class TestPaths
{
    private static readonly Lazy<string> Root = new(FindRepositoryRoot);

    public static string RepositoryRoot => Root.Value;

    /// <summary><c>../shared/vectors</c> relative to the repository root; never copied into the repository.</summary>
    public static string Vectors
    {
        get
        {
            var path = Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared", "vectors"));
            if (!Directory.Exists(path))
            {
                throw new DirectoryNotFoundException($"test vectors not found at {path}: check out the shared vectors beside the repository");
            }

            return path;
        }
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "TrainGuard.slnx")))
            {
                return directory.FullName;
            }
        }

        throw new DirectoryNotFoundException($"no TrainGuard.slnx above {AppContext.BaseDirectory}");
    }
}
