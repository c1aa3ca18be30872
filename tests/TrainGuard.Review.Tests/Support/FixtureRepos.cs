using System.Diagnostics;

namespace TrainGuard.Review.Tests.Support;

/// <summary>
/// The fixture repositories, made once per test run by the committed script <c>tests/fixtures/review/make-repos.sh</c>
/// (git, ssh-keygen and gpg on the machine) in a temporary folder, removed at the end.
/// </summary>
public sealed class FixtureRepos : IDisposable
{
    public FixtureRepos()
    {
        Root = Directory.CreateTempSubdirectory("tg-review-fixtures-").FullName;
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = false, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(RepoRoot.File("tests", "fixtures", "review", "make-repos.sh"));
        start.ArgumentList.Add(Root);
        using var process = Process.Start(start)!;
        var errors = process.StandardError.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)) || process.ExitCode != 0)
        {
            throw new InvalidOperationException($"make-repos.sh failed: {errors}");
        }
    }

    public string Root { get; }

    public string NanoGpt => Path.Combine(Root, "nanogpt");

    public string HfTrainer => Path.Combine(Root, "hf-trainer");

    public string Approvals => Path.Combine(Root, "approvals");

    public string AllowedSigners => Path.Combine(Root, "keys", "allowed_signers");

    public string Policy => Path.Combine(Root, "policy.yaml");

    public string Keyring => Path.Combine(Root, "keyring.gpg");

    public string Key(string who) => Path.Combine(Root, "keys", who);

    /// <summary>A copy of a fixture repository (for tests that write notes), removed with the fixtures.</summary>
    public string Copy(string repository)
    {
        var target = Path.Combine(Root, "copies", Path.GetFileName(repository) + "-" + Guid.NewGuid().ToString("N")[..8]);
        foreach (var file in Directory.EnumerateFiles(repository, "*", SearchOption.AllDirectories))
        {
            var to = Path.Combine(target, Path.GetRelativePath(repository, file));
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(file, to);
        }

        return target;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

[CollectionDefinition(Name)]
public sealed class FixtureCollection : ICollectionFixture<FixtureRepos>
{
    public const string Name = "review fixture repositories";
}
