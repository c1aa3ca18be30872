namespace TrainGuard.Agent.Tests.Support;

/// <summary>The scanner's shared fixture corpus (tests/fixtures), read in place.</summary>
public static class Fixtures
{
    public static string Path(string relative) => System.IO.Path.Combine(Samples.RepoRoot, "tests", "fixtures", relative);

    /// <summary>The agent's own fixtures (tests/TrainGuard.Agent.Tests/Fixtures), e.g. <c>journal/...json</c>.</summary>
    public static string Agent(string relative) => System.IO.Path.Combine(Samples.RepoRoot, "tests", "TrainGuard.Agent.Tests", "Fixtures", relative);
}
