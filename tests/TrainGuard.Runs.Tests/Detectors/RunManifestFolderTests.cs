using TrainGuard.Runs.Detectors;
using TrainGuard.Runs.Model;
using TrainGuard.Runs.Tests.Support;

namespace TrainGuard.Runs.Tests.Detectors;

public sealed class RunManifestFolderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tg-manifests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static RunEvent Named(string name) => new() { Kind = RunEventKind.Started, RunId = "job-1", RunName = name };

    [Fact]
    public void The_manifest_of_a_run_is_its_name_dot_yaml_and_checks_its_seed()
    {
        File.WriteAllText(Path.Combine(_dir, "synthetic.yaml"), SyntheticRun.Manifest);
        var folder = new RunManifestFolder(_dir);

        Assert.Equal(42, (int)folder.Find(Named("synthetic"))!.Seed!.Value);
        Assert.Null(folder.Find(Named("other")));
        var detectors = new RunDetectors(new RunDetectorOptions { Manifest = folder.Find });
        var found = new List<RunAnomaly>();
        foreach (var e in new SyntheticRun { Seed = 43 }.Read().Events)
        {
            detectors.Observe(e, found);
        }

        Assert.Equal(RunAnomalyKinds.SeedMismatch, Assert.Single(found).Kind);
    }

    [Theory]
    [InlineData("../synthetic")]
    [InlineData("..")]
    [InlineData("a/b")]
    public void A_name_that_is_not_a_plain_file_name_finds_nothing(string name)
    {
        File.WriteAllText(Path.Combine(_dir, "synthetic.yaml"), SyntheticRun.Manifest);
        var inner = Directory.CreateDirectory(Path.Combine(_dir, "inner")).FullName;

        Assert.Null(new RunManifestFolder(inner).Find(Named(name)));
    }

    [Fact]
    public void A_manifest_that_does_not_load_is_recorded_and_the_run_is_checked_without_it()
    {
        File.WriteAllText(Path.Combine(_dir, "broken.yaml"), "version: 1\nseed: many\n");
        var folder = new RunManifestFolder(_dir);

        Assert.Null(folder.Find(Named("broken")));
        Assert.Contains("broken.yaml:2", Assert.Single(folder.Errors), StringComparison.Ordinal);
    }
}
