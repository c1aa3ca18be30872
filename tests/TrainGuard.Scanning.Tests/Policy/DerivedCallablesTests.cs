using TrainGuard.Findings;
using TrainGuard.Parsing;
using TrainGuard.Pickle;
using TrainGuard.Scanning.Policy;
using YamlDotNet.RepresentationModel;

namespace TrainGuard.Scanning.Tests.Policy;

/// <summary>
/// The derived dangerous-callable data (<c>src/TrainGuard.Scanning/Rules/derived/</c>): every version set honours the
/// samples in <c>samples.yaml</c>, no allowlisted global is derived dangerous, and the policy and the pickle machine
/// act on it.
/// </summary>
public class DerivedCallablesTests
{
    private static readonly DerivedCallables Derived = DerivedCallables.Default;

    private static readonly PicklePolicy Policy = new(RuleCatalog.Default, new PolicyOptions());

    private static YamlMappingNode Samples()
    {
        var yaml = new YamlStream();
        yaml.Load(new StringReader(File.ReadAllText(Path.Combine(RepoPaths.Root, "src", "TrainGuard.Scanning", "Rules", "derived", "samples.yaml"))));
        return (YamlMappingNode)yaml.Documents[0].RootNode;
    }

    public static TheoryData<string, string> MustReach()
    {
        var data = new TheoryData<string, string>();
        foreach (var (key, value) in (YamlMappingNode)Samples()["must_reach"])
        {
            data.Add(((YamlScalarNode)key).Value!, ((YamlScalarNode)value).Value!);
        }

        return data;
    }

    public static TheoryData<string> MustNotReach()
    {
        var data = new TheoryData<string>();
        foreach (var item in (YamlSequenceNode)Samples()["must_not_reach"])
        {
            data.Add(((YamlScalarNode)item).Value!);
        }

        return data;
    }

    [Fact]
    public void Every_version_set_is_embedded_with_its_provenance()
    {
        Assert.NotEmpty(Derived.Sources);
        Assert.Contains(Derived.Sources, s => s.StartsWith("cpython-", StringComparison.Ordinal));
        Assert.True(Derived.Count > 500, $"only {Derived.Count} derived callables");
        Assert.All(Derived.All, c =>
        {
            Assert.Equal(c.Name, c.Path[0]);
            Assert.True(c.Path.Count >= 2, c.Name);
            Assert.NotEmpty(c.Parameters);
            Assert.True(RuleCatalog.Default.TryGet(c.RuleId, out _), c.RuleId);
        });
    }

    [Theory]
    [MemberData(nameof(MustReach))]
    public void Sample_callable_is_derived_to_reach_its_sink(string name, string category)
    {
        var found = Derived.Find(name);
        Assert.True(found is not null, $"{name} is not in the derived data ({string.Join(", ", Derived.Sources)})");
        Assert.Equal(category, found.Category);
    }

    [Theory]
    [MemberData(nameof(MustNotReach))]
    public void Sample_callable_is_not_derived_dangerous(string name) =>
        Assert.Null(Derived.Find(name));

    [Fact]
    public void No_allowlisted_global_is_derived_dangerous()
    {
        var allowed = Derived.All.Where(c => RuleCatalog.Default.GetAllowlist(PolicyProfile.Default).Allows(c.Name)).Select(c => c.Name).ToList();
        Assert.True(allowed.Count == 0, "allowlisted but derived dangerous (review the allowlist): " + string.Join(", ", allowed));
    }

    [Fact]
    public void A_private_helper_wrapping_a_shell_is_malicious_with_its_call_path_as_the_explanation()
    {
        var findings = Policy.Evaluate(AnalysisScript.Parse("import _osx_support._read_output; call _osx_support._read_output('id')").Analysis, "a.pkl", null);

        var finding = Assert.Single(findings);
        Assert.Equal(RuleIds.ProcessExecution, finding.RuleId);
        Assert.Equal(Verdict.Malicious, finding.Verdict);
        Assert.Contains("_osx_support._read_output → os.system", finding.Message, StringComparison.Ordinal);
        Assert.Equal("_osx_support._read_output → os.system", finding.Evidence!["reaches"]);
    }

    [Fact]
    public void A_derived_callable_allowed_by_a_wildcard_stays_malicious_and_by_its_exact_name_becomes_a_note()
    {
        var wildcard = new PicklePolicy(RuleCatalog.Default, new PolicyOptions { ExtraAllowed = ["timeit.*"] });
        Assert.Equal(Verdict.Malicious, Assert.Single(wildcard.Evaluate(AnalysisScript.Parse("call timeit.timeit('1')").Analysis, "a.pkl", null)).Verdict);

        var exact = new PicklePolicy(RuleCatalog.Default, new PolicyOptions { ExtraAllowed = ["timeit.timeit"] });
        Assert.Equal(RuleIds.AllowedDangerousGlobal, Assert.Single(exact.Evaluate(AnalysisScript.Parse("call timeit.timeit('1')").Analysis, "a.pkl", null)).RuleId);
    }

    [Fact]
    public void The_machine_analyses_what_a_derived_deserialiser_is_given_as_a_nested_pickle()
    {
        // torch.storage._load_from_bytes(b'<os.system pickle>'): the bytes are torch.load-ed.
        byte[] inner = [0x80, 0x02, .. "cos\nsystem\n"u8, (byte)'X', 0x02, 0, 0, 0, (byte)'i', (byte)'d', 0x85, (byte)'R', (byte)'.'];
        byte[] outer = [0x80, 0x02, .. "ctorch.storage\n_load_from_bytes\n"u8, (byte)'C', (byte)inner.Length, .. inner, 0x85, (byte)'R', (byte)'.'];
        var limits = PickleLimits.Default with { Deserializers = Derived.NestedLoaders };

        var analysis = PickleMachine.Analyze(outer, limits);

        var nested = Assert.Single(analysis.Nested);
        Assert.Equal("torch.storage._load_from_bytes", nested.Via);
        var findings = Policy.Evaluate(analysis, "a.pkl", null);
        Assert.Contains(findings, f => f.RuleId == RuleIds.ProcessExecution && f.Call == "os.system('id')");
        Assert.Contains(findings, f => f.RuleId == RuleIds.NestedDeserialization && f.Global == "torch.storage._load_from_bytes");
    }

    [Fact]
    public void A_broken_derived_data_file_is_a_configuration_error_naming_it()
    {
        var error = Assert.Throws<MalformedInputException>(() => DerivedCallables.FromJson([("broken.json", """{"label": "x", "callables": {"m.f": {"category": "process"}}}""")]));
        Assert.Equal(InputErrorKind.Config, error.Kind);
        Assert.Contains("broken.json", error.Message, StringComparison.Ordinal);
    }
}
