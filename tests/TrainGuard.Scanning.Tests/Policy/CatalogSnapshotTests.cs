using TrainGuard.Findings;
using TrainGuard.Scanning.Policy;

namespace TrainGuard.Scanning.Tests.Policy;

/// <summary>
/// The precomputed catalogue (<see cref="CatalogSnapshot"/>): the embedded snapshot is exactly what the rule files
/// give, a round trip loses nothing, and a snapshot that does not match the files is never used.
/// </summary>
public class CatalogSnapshotTests
{
    /// <summary>Set to 1 to rewrite <c>src/TrainGuard.Scanning/Rules/catalog.snapshot</c> from the rule files (then rebuild).</summary>
    private const string UpdateVariable = "TRAINGUARD_UPDATE_SNAPSHOT";

    private static RuleCatalog FromFiles() => RuleCatalog.LoadEmbeddedFiles(DerivedCallables.LoadEmbeddedFiles());

    [Fact]
    public void Embedded_snapshot_is_the_catalogue_the_rule_files_give()
    {
        var expected = CatalogSnapshot.Write(FromFiles(), CatalogSnapshot.EmbeddedFingerprint());
        using var stream = typeof(CatalogSnapshot).Assembly.GetManifestResourceStream(CatalogSnapshot.ResourceName);
        Assert.NotNull(stream);
        var embedded = new byte[stream.Length];
        stream.ReadExactly(embedded);
        if (!expected.AsSpan().SequenceEqual(embedded) && Environment.GetEnvironmentVariable(UpdateVariable) == "1")
        {
            File.WriteAllBytes(Path.Combine(RepoPaths.Root, CatalogSnapshot.RepositoryPath), expected);
            Assert.Fail($"{CatalogSnapshot.RepositoryPath} rewritten from the rule files: rebuild and run the tests again");
        }

        Assert.True(
            expected.AsSpan().SequenceEqual(embedded),
            $"{CatalogSnapshot.RepositoryPath} is stale (a rule, allowlist or derived file changed): scans stay correct but start slower. " +
            $"Regenerate it with: {UpdateVariable}=1 dotnet test tests/TrainGuard.Scanning.Tests --filter FullyQualifiedName~CatalogSnapshot (then rebuild)");
        Assert.NotNull(CatalogSnapshot.TryLoadEmbeddedCatalog(DerivedCallables.Default));
        Assert.NotNull(CatalogSnapshot.TryLoadEmbeddedDerived());
    }

    [Fact]
    public void Snapshot_round_trip_keeps_every_rule_allowlist_and_derived_callable()
    {
        var files = FromFiles();
        var bytes = CatalogSnapshot.Write(files, fingerprint: 42);
        var parsed = CatalogSnapshot.Parse(bytes, fingerprint: 42);
        Assert.NotNull(parsed);
        var derived = CatalogSnapshot.ReadDerived(parsed);
        var loaded = CatalogSnapshot.ReadCatalog(parsed, derived);

        Assert.Equal(bytes, CatalogSnapshot.Write(loaded, fingerprint: 42));
        Assert.Equal(files.All.Select(r => (r.Id, r.Title, r.Severity, r.Verdict, r.Why, r.Guidance)), loaded.All.Select(r => (r.Id, r.Title, r.Severity, r.Verdict, r.Why, r.Guidance)));
        Assert.Equal(files.All.SelectMany(r => r.MustMatch.Concat(r.MustNotMatch)), loaded.All.SelectMany(r => r.MustMatch.Concat(r.MustNotMatch)));
        Assert.Equal(files.Derived.Count, derived.Count);
        Assert.Equal(files.Derived.NestedLoaders.OrderBy(p => p.Key, StringComparer.Ordinal), derived.NestedLoaders.OrderBy(p => p.Key, StringComparer.Ordinal));
        foreach (var name in new[] { "os.system", "posixpath.os.system", "builtins.getattr", "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "mylib.Thing" })
        {
            Assert.Equal(files.MatchGlobal(name)?.Id, loaded.MatchGlobal(name)?.Id);
            Assert.Equal(files.GetAllowlist(PolicyProfile.Default).Allows(name), loaded.GetAllowlist(PolicyProfile.Default).Allows(name));
        }

        Assert.Equal(files.GetAllowlist(PolicyProfile.Default).GetattrTargets.Order(StringComparer.Ordinal), loaded.GetAllowlist(PolicyProfile.Default).GetattrTargets.Order(StringComparer.Ordinal));
        Assert.Equal(files.ClassifyError(Parsing.InputErrorKind.Truncated).Id, loaded.ClassifyError(Parsing.InputErrorKind.Truncated).Id);
        foreach (var callable in derived.All)
        {
            var original = files.Derived.Find(callable.Name);
            Assert.NotNull(original);
            Assert.Equal(
                (original.Category, original.RuleId, original.PathText, string.Join(",", original.Parameters), original.NestedArgument, original.Source),
                (callable.Category, callable.RuleId, callable.PathText, string.Join(",", callable.Parameters), callable.NestedArgument, callable.Source));
        }
    }

    [Fact]
    public void Snapshot_of_other_files_or_another_format_is_not_used()
    {
        var bytes = CatalogSnapshot.Write(FromFiles(), fingerprint: 42);
        Assert.Null(CatalogSnapshot.Parse(bytes, fingerprint: 43));
        Assert.Null(CatalogSnapshot.Parse(bytes.AsMemory(0, 6), fingerprint: 42));
        Assert.Null(CatalogSnapshot.Parse(ReadOnlyMemory<byte>.Empty, fingerprint: 42));
        var otherVersion = bytes.ToArray();
        otherVersion[4] ^= 0x7f;
        Assert.Null(CatalogSnapshot.Parse(otherVersion, fingerprint: 42));
        var mangled = bytes.ToArray();
        mangled[^100] ^= 1;
        Assert.Null(CatalogSnapshot.Parse(mangled, fingerprint: 42));
        Assert.Null(CatalogSnapshot.Parse(bytes.AsMemory(0, bytes.Length - 1), fingerprint: 42));
        Assert.NotNull(CatalogSnapshot.Parse(bytes, fingerprint: 42));

        ReadOnlyMemory<byte> Text(string s) => System.Text.Encoding.UTF8.GetBytes(s);
        var a = CatalogSnapshot.Fingerprint([("rules.yaml", Text("rules: []"))]);
        Assert.NotEqual(a, CatalogSnapshot.Fingerprint([("rules.yaml", Text("rules: [ ]"))]));
        Assert.NotEqual(a, CatalogSnapshot.Fingerprint([("other.yaml", Text("rules: []"))]));
        Assert.NotEqual(a, CatalogSnapshot.Fingerprint([("rules.yaml", Text("rules: []")), ("x.yaml", Text(""))]));
        Assert.Equal(a, CatalogSnapshot.Fingerprint([("rules.yaml", Text("rules: []"))]));
    }

    [Fact]
    public void Default_catalogue_judges_like_the_one_parsed_from_the_rule_files()
    {
        var files = FromFiles();
        var policy = new PicklePolicy(RuleCatalog.Default, new PolicyOptions());
        var fromFiles = new PicklePolicy(files, new PolicyOptions());
        foreach (var name in new[] { "os.system", "subprocess.Popen", "timeit.timeit", "numpy.load", "torch.nn.Linear", "builtins.eval", "mylib.Thing" })
        {
            var (expected, actual) = (fromFiles.Judge(name), policy.Judge(name));
            Assert.Equal((expected.Status, expected.Rule?.Id, expected.Pattern, expected.Derived?.PathText), (actual.Status, actual.Rule?.Id, actual.Pattern, actual.Derived?.PathText));
        }

        Assert.Equal(files.Descriptors, RuleCatalog.Default.Descriptors);
        Assert.Equal(Verdict.Malicious, RuleCatalog.Default.Get(RuleIds.ProcessExecution).Verdict);
    }
}
