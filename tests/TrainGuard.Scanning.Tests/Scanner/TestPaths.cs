namespace TrainGuard.Scanning.Tests.Scanner;

internal static class TestPaths
{
    public static string Root { get; } = FindRoot();

    public static string Fixtures => Path.Combine(Root, "tests", "fixtures");

    public static string Demo => Path.Combine(Root, "samples", "demo");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TrainGuard.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("TrainGuard.slnx not found above " + AppContext.BaseDirectory);
    }
}
