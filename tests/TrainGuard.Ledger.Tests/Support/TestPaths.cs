namespace TrainGuard.Ledger.Tests.Support;

/// <summary>Locates the repository root (the folder holding TrainGuard.slnx) and the public test vectors in it.</summary>
public static class TestPaths
{
    private static readonly Lazy<string> Root = new(FindRepositoryRoot);

    public static string RepositoryRoot => Root.Value;

    /// <summary><c>tests/fixtures/vectors</c>: public vectors copied into the repository (sources in its PROVENANCE.md).</summary>
    public static string Vectors
    {
        get
        {
            var path = Path.Combine(RepositoryRoot, "tests", "fixtures", "vectors");
            if (!Directory.Exists(path))
            {
                throw new DirectoryNotFoundException($"{path} is missing: the clone lacks tests/fixtures/vectors");
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
