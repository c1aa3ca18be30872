using System.Reflection;
using TrainGuard.Findings;
using TrainGuard.Parsing;
using TrainGuard.Pickle;
using TrainGuard.Scanning.Policy;

namespace TrainGuard.Scanning.Tests.Policy;

public class RuleCatalogTests
{
    private static readonly RuleCatalog Catalog = RuleCatalog.Default;

    private static readonly ScanRuleFamily Family = ScanRuleFamily.Default;

    [Fact]
    public async Task Every_rule_matches_its_samples_and_has_why_guidance_and_a_page()
    {
        var failures = new List<string>();
        foreach (var rule in Catalog.All)
        {
            // A format rule the scanner reports from its own checks maps no parser error kind: nothing can match it.
            var hasMatcher = Family.MatcherCanReport(rule);
            if (rule.MustMatch.Count == 0 && hasMatcher)
            {
                failures.Add($"{rule.Id}: no must_match samples");
            }

            if (rule.MustNotMatch.Count == 0)
            {
                failures.Add($"{rule.Id}: no must_not_match samples");
            }

            if (string.IsNullOrWhiteSpace(rule.Why) || rule.Why.Contains('\n', StringComparison.Ordinal))
            {
                failures.Add($"{rule.Id}: why must be one non-empty line");
            }

            if (string.IsNullOrWhiteSpace(rule.Guidance))
            {
                failures.Add($"{rule.Id}: guidance is empty");
            }

            if (string.IsNullOrWhiteSpace(rule.Name))
            {
                failures.Add($"{rule.Id}: name is empty");
            }

            var page = Path.Combine(RepoPaths.Root, rule.HelpPath);
            if (!File.Exists(page))
            {
                failures.Add($"{rule.Id}: no guidance page at {rule.HelpPath}");
            }
            else if (!File.ReadAllText(page).Contains(rule.Id, StringComparison.Ordinal))
            {
                failures.Add($"{rule.Id}: {rule.HelpPath} does not mention its id");
            }

            foreach (var sample in rule.MustMatch)
            {
                if (await Family.CheckSampleAsync(rule, sample, expectMatch: true) is { } problem)
                {
                    failures.Add($"{rule.Id}: must_match '{sample}': {problem}");
                }
            }

            foreach (var sample in rule.MustNotMatch)
            {
                if (await Family.CheckSampleAsync(rule, sample, expectMatch: false) is { } problem)
                {
                    failures.Add($"{rule.Id}: must_not_match '{sample}': {problem}");
                }
            }
        }

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    [Fact]
    public void Every_RuleIds_constant_has_a_rule_and_every_rule_a_constant()
    {
        var constants = typeof(RuleIds).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Select(f => (string)f.GetRawConstantValue()!).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(constants, Catalog.All.Select(r => r.Id).Order(StringComparer.Ordinal).ToArray());
    }

    [Fact]
    public void Descriptors_describe_every_rule_with_its_help_page()
    {
        Assert.Equal(Catalog.All.Count, Catalog.Descriptors.Count);
        foreach (var descriptor in Catalog.Descriptors)
        {
            var rule = Catalog.Get(descriptor.Id);
            Assert.Equal(rule.Severity, descriptor.Severity);
            Assert.Equal(rule.Why, descriptor.Why);
            Assert.Equal($"docs/rules/{rule.Id}.md", descriptor.HelpPath);
        }
    }

    [Fact]
    public void Rules_index_page_lists_every_rule()
    {
        var index = File.ReadAllText(Path.Combine(RepoPaths.Root, "docs", "rules", "README.md"));
        foreach (var rule in Catalog.All)
        {
            Assert.Contains($"[{rule.Id}]({rule.Id}.md)", index, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void No_builtin_allowlist_entry_matches_a_dangerous_rule()
    {
        foreach (var profile in ProfileNames.Concrete)
        {
            foreach (var pattern in Catalog.GetAllowlist(profile).Patterns)
            {
                var probe = pattern.Kind == GlobalPatternKind.Module ? pattern.Text[..^1] + "SomeName" : pattern.Text;
                var rule = Catalog.MatchGlobal(probe);
                Assert.True(rule is null, $"{profile.ToName()} allows '{pattern.Text}' but {rule?.Id} calls it dangerous");
            }
        }
    }

    [Fact]
    public void Default_profile_is_the_union_of_the_others()
    {
        var union = Catalog.GetAllowlist(PolicyProfile.Default);
        foreach (var profile in ProfileNames.Concrete)
        {
            foreach (var pattern in Catalog.GetAllowlist(profile).Patterns.Where(p => p.Kind == GlobalPatternKind.Exact))
            {
                Assert.True(union.Allows(pattern.Text), $"default lacks {pattern.Text} from {profile.ToName()}");
            }
        }
    }

    [Theory]
    [InlineData("os.remove", RuleIds.FileSystemTampering)]
    [InlineData("os.getcwd", RuleIds.SystemModule)]
    [InlineData("os.execvpe", RuleIds.ProcessExecution)]
    [InlineData("__builtin__.eval", RuleIds.CodeExecution)]
    [InlineData("cPickle.loads", RuleIds.NestedDeserialization)]
    [InlineData("asyncio.create_subprocess_shell", RuleIds.ProcessExecution)]
    [InlineData("asyncio.sleep", RuleIds.Sabotage)]
    [InlineData("sys.path.insert", RuleIds.EnvironmentTampering)]
    [InlineData("torch.jit.load", RuleIds.NestedDeserialization)]
    [InlineData("torch.jit.script", RuleIds.RuntimeManipulation)]
    public void Most_specific_pattern_decides_the_rule(string global, string expected) =>
        Assert.Equal(expected, Catalog.MatchGlobal(global)?.Id);

    [Theory]
    [InlineData("pickle memo exceeds the limit of 10", InputErrorKind.OverLimit, RuleIds.LimitExceeded)]
    [InlineData("anything at all", InputErrorKind.OverLimit, RuleIds.LimitExceeded)]
    [InlineData("unexpected opcode 0xff", InputErrorKind.Syntax, RuleIds.Malformed)]
    [InlineData("truncated: BINUNICODE string runs past the end of the input", InputErrorKind.Truncated, RuleIds.Malformed)]
    [InlineData("local header of 'a/data.pkl' disagrees with the central directory", InputErrorKind.Corrupt, RuleIds.Malformed)]
    [InlineData("the member is encrypted", InputErrorKind.Encrypted, RuleIds.UnsupportedMember)]
    public void Parser_errors_are_classified_into_format_rules_by_their_kind(string message, InputErrorKind kind, string expected) =>
        Assert.Equal(expected, Catalog.ClassifyError(MalformedInputException.Create(kind, message, 0)).Id);

    public static TheoryData<InputErrorKind> Kinds => [.. Enum.GetValues<InputErrorKind>()];

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Rewording_a_parser_error_never_changes_its_rule(InputErrorKind kind)
    {
        // Wordings the former message regexes sent to six different rules, one of them with a clean verdict.
        string[] rewordings =
        [
            "unexpected opcode 0xff at offset 0x10",
            "pickle memo exceeds the limit of 1,000; raise it with the matching --max-* option",
            "scan timed out",
            "TorchScript code in archive: archive/code/__torch__/model.py",
            "local header of 'archive/data.pkl' disagrees with the central directory (name)",
            "entry 'archive/data/0' overlaps entry 'archive/data.pkl'",
            "invalid safetensors header",
            "member 'archive/data.pkl' is encrypted",
            "gzip-compressed content is not analysed",
            "3 pickles where one is expected",
            string.Empty,
        ];
        var expected = Catalog.ClassifyError(kind);
        foreach (var message in rewordings)
        {
            Assert.Equal(expected.Id, Catalog.ClassifyError(MalformedInputException.Create(kind, message, 0)).Id);
        }
    }

    [Fact]
    public void Every_error_kind_maps_to_exactly_one_format_rule()
    {
        foreach (var kind in Enum.GetValues<InputErrorKind>())
        {
            var rule = Catalog.ClassifyError(kind);
            Assert.Equal(RuleKind.Format, rule.Kind);
            Assert.Single(Catalog.All, r => r.ErrorKinds.Contains(kind));
        }
    }

    [Fact]
    public void Catalogue_rejects_an_error_kind_mapped_by_no_rule()
    {
        var formats = File.ReadAllText(Path.Combine(RulesFolder, "formats.yaml"));
        var withoutEncrypted = formats.Replace("    errors: [encrypted]\n", string.Empty, StringComparison.Ordinal);
        Assert.NotEqual(formats, withoutEncrypted);
        var files = EmbeddedRuleFiles().Select(f => f.Name.EndsWith("formats.yaml", StringComparison.Ordinal) ? (f.Name, withoutEncrypted) : f).ToArray();
        var ex = Assert.Throws<MalformedInputException>(() => RuleCatalog.FromYaml(files, EmbeddedAllowlists()));
        Assert.Equal(InputErrorKind.Config, ex.Kind);
        Assert.Contains("error kind 'encrypted'", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>One valid global rule, nine lines: fields appended after it start on line 10.</summary>
    private const string MinimalRule = """
        rules:
          - id: TG-PKL-001
            name: a
            kind: global
            severity: high
            verdict: malicious
            why: w
            guidance: g
            patterns: [os.system]
        """;

    [Fact]
    public void Catalogue_rejects_a_duplicate_rule_id()
    {
        var ex = Assert.Throws<MalformedInputException>(() => RuleCatalog.FromYaml([("a.yaml", MinimalRule), ("b.yaml", MinimalRule)], []));
        Assert.Contains("TG-PKL-001", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("    severty: high", "unknown field 'severty'")]
    [InlineData("    errors: [nonsense]", "unknown error kind 'nonsense'")]
    [InlineData("    must_match: os.system", "'must_match' must be a list")]
    [InlineData("    name: b", "Duplicate key name")]
    public void Catalogue_rejects_a_malformed_rule_field_naming_file_and_line(string extra, string expected)
    {
        var ex = Assert.Throws<MalformedInputException>(() => RuleCatalog.FromYaml([("bad.yaml", MinimalRule + "\n" + extra + "\n")], []));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.StartsWith("bad.yaml:10:", ex.Message, StringComparison.Ordinal);
        Assert.Equal(InputErrorKind.Config, ex.Kind);
        Assert.Equal(("bad.yaml", 10), (ex.Origin, ex.Line));
    }

    [Fact]
    public void Catalogue_rejects_a_bad_pattern_naming_file_and_rule()
    {
        const string Rule = """
            rules:
              - id: TG-PKL-001
                name: a
                kind: global
                severity: high
                verdict: malicious
                why: w
                guidance: g
                patterns: ["os.*sys"]
            """;
        var ex = Assert.Throws<MalformedInputException>(() => RuleCatalog.FromYaml([("bad.yaml", Rule)], []));
        Assert.Contains("bad.yaml", ex.Message, StringComparison.Ordinal);
        Assert.Contains("TG-PKL-001", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Default_catalogue_is_one_shared_instance_and_a_fresh_load_is_equivalent()
    {
        Assert.Same(RuleCatalog.Default, RuleCatalog.Default);
        var fresh = RuleCatalog.LoadEmbedded();
        Assert.NotSame(RuleCatalog.Default, fresh);
        Assert.Equal(RuleCatalog.Default.All.Select(r => r.Id), fresh.All.Select(r => r.Id));
    }

    private static string RulesFolder => Path.Combine(RepoPaths.Root, "src", "TrainGuard.Scanning", "Rules");

    private static (string Name, string Yaml)[] EmbeddedRuleFiles() =>
        Directory.GetFiles(RulesFolder, "*.yaml").Order(StringComparer.Ordinal).Select(f => (Path.GetFileName(f), File.ReadAllText(f))).ToArray();

    private static (string Name, string Yaml)[] EmbeddedAllowlists() =>
        Directory.GetFiles(Path.Combine(RulesFolder, "allowlists"), "*.yaml").Order(StringComparer.Ordinal).Select(f => (Path.GetFileName(f), File.ReadAllText(f))).ToArray();

    internal static PickleAnalysis Empty() => new() { PickleCount = 1 };
}
