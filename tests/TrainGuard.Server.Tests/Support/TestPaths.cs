namespace TrainGuard.Server.Tests.Support;

/// <summary>Locates the repository root and the built CLI; makes throwaway folders.</summary>
public static class TestPaths
{
    private static readonly Lazy<string> Root = new(FindRepositoryRoot);

    public static string RepositoryRoot => Root.Value;

    /// <summary>The CLI assembly built beside the tests (the project reference copies it into the output folder).</summary>
    public static string CliAssembly
    {
        get
        {
            var path = Path.Combine(AppContext.BaseDirectory, "trainguard.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException($"trainguard.dll not found beside the tests in {AppContext.BaseDirectory}");
        }
    }

    /// <summary>A fresh empty folder under the system temp folder.</summary>
    public static string NewTempDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), "tg-server-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
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
