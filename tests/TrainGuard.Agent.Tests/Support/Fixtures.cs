namespace TrainGuard.Agent.Tests.Support;

/// <summary>The scanner's shared fixture corpus (tests/fixtures), read in place.</summary>
public static class Fixtures
{
    public static string Path(string relative) => System.IO.Path.Combine(Samples.RepoRoot, "tests", "fixtures", relative);
}
