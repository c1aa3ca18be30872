using TrainGuard.Findings;
using TrainGuard.Parsing;
using TrainGuard.Pickle;
using TrainGuard.Scanning.Policy;

namespace TrainGuard.Scanning.Tests.Policy;

public class PicklePolicyTests
{
    private static readonly PicklePolicy Default = new(RuleCatalog.Default, new PolicyOptions());

    [Fact]
    public void Os_system_call_is_reported_once_on_the_call_with_the_rendered_source()
    {
        var analysis = new PickleAnalysis { PickleCount = 1, EndOffset = 0x1c };
        var import = new PickleGlobal("os", "system", 0x2, "STACK_GLOBAL");
        analysis.Globals.Add(import);
        analysis.Calls.Add(new PickleCall("os.system", "os.system", "os.system('echo pwned')", "REDUCE", 0x1a, [import]));

        var finding = Assert.Single(Default.Evaluate(analysis, "rng_state.pth", "rng_state/data.pkl"));

        Assert.Equal(RuleIds.ProcessExecution, finding.RuleId);
        Assert.Equal(Verdict.Malicious, finding.Verdict);
        Assert.Equal(Severity.Critical, finding.Severity);
        Assert.Equal("os.system('echo pwned') would run via REDUCE at offset 0x1a", finding.Message);
        Assert.Equal("os.system", finding.Global);
        Assert.Equal("os.system('echo pwned')", finding.Call);
        Assert.Equal(new Location("rng_state.pth", "rng_state/data.pkl", 0x1a), finding.Location);
        Assert.Equal("REDUCE", finding.Evidence!["opcode"]);
        Assert.Equal("0x2", finding.Evidence["import_offset"]);
        Assert.False(string.IsNullOrEmpty(finding.Why));
        Assert.False(string.IsNullOrEmpty(finding.Guidance));
    }

    [Fact]
    public void Dangerous_import_that_is_never_called_is_still_reported()
    {
        var finding = Assert.Single(Default.Evaluate(AnalysisScript.Parse("import subprocess.Popen").Analysis, "a.pkl", null));
        Assert.Equal(RuleIds.ProcessExecution, finding.RuleId);
        Assert.Equal("subprocess.Popen", finding.Global);
        Assert.Null(finding.Call);
        Assert.Equal(0x10, finding.Location.Offset);
    }

    [Fact]
    public void Each_call_of_a_memoized_dangerous_import_is_one_finding_and_the_import_is_not_repeated()
    {
        var findings = Default.Evaluate(AnalysisScript.Parse("import os.system; call os.system('id'); call os.system('whoami')").Analysis, "a.pkl", null);
        Assert.Equal(2, findings.Count);
        Assert.All(findings, f => Assert.NotNull(f.Call));
    }

    [Fact]
    public void Second_uncalled_import_of_the_same_dangerous_global_is_reported()
    {
        var analysis = AnalysisScript.Parse("import os.system; call os.system('id')").Analysis;
        analysis.Globals.Add(new PickleGlobal("os", "system", 0x500, "GLOBAL"));
        var findings = Default.Evaluate(analysis, "a.pkl", null);
        Assert.Equal(2, findings.Count);
        Assert.Contains(findings, f => f.Call is null && f.Location.Offset == 0x500);
    }

    [Fact]
    public void Calls_of_one_dangerous_global_are_capped_and_the_rest_counted()
    {
        var script = "import time.sleep; " + string.Join("; ", Enumerable.Range(0, 10).Select(i => $"call time.sleep({i})"));
        var policy = new PicklePolicy(RuleCatalog.Default, new PolicyOptions { MaxCallFindingsPerGlobal = 3 });
        var findings = policy.Evaluate(AnalysisScript.Parse(script).Analysis, "a.pkl", null);
        Assert.Equal(3, findings.Count);
        Assert.Equal("7", findings[^1].Evidence!["more_calls"]);
    }

    [Fact]
    public void Payload_assembled_through_import_module_and_getattr_is_reported_on_each_call()
    {
        var analysis = new PickleAnalysis { PickleCount = 1, EndOffset = 0x60 };
        var importModule = new PickleGlobal("importlib", "import_module", 0x2, "STACK_GLOBAL");
        var getattr = new PickleGlobal("builtins", "getattr", 0x20, "STACK_GLOBAL");
        analysis.Globals.AddRange([importModule, getattr]);
        analysis.Calls.Add(new PickleCall("importlib.import_module", "importlib.import_module", "importlib.import_module('os')", "REDUCE", 0x30, [importModule]));
        analysis.Calls.Add(new PickleCall("getattr", "builtins.getattr", "getattr(importlib.import_module('os'), 'system')", "REDUCE", 0x40, [getattr, importModule]));
        analysis.Calls.Add(new PickleCall("getattr(importlib.import_module('os'), 'system')", "os.system", "getattr(importlib.import_module('os'), 'system')('id')", "REDUCE", 0x50, [getattr, importModule]));

        var findings = Default.Evaluate(analysis, "optimizer.pt", "optimizer/data.pkl");

        Assert.Equal([RuleIds.ImportMachinery, RuleIds.DynamicAccess, RuleIds.ProcessExecution], findings.Select(f => f.RuleId));
        var last = findings[^1];
        Assert.Equal("os.system", last.Global);
        Assert.Equal("getattr(importlib.import_module('os'), 'system')('id') would run via REDUCE at offset 0x50", last.Message);
        Assert.Equal("os.system, builtins.getattr, importlib.import_module", last.Evidence!["involved"]);
    }

    [Fact]
    public void Dangerous_global_passed_as_an_argument_is_reported_on_the_call()
    {
        var analysis = new PickleAnalysis { PickleCount = 1 };
        var ordered = new PickleGlobal("collections", "OrderedDict", 0x2, "GLOBAL");
        var system = new PickleGlobal("os", "system", 0x10, "GLOBAL");
        analysis.Globals.AddRange([ordered, system]);
        analysis.Calls.Add(new PickleCall("collections.OrderedDict", "collections.OrderedDict", "collections.OrderedDict([('f', os.system)])", "REDUCE", 0x30, [ordered, system]));

        var finding = Assert.Single(Default.Evaluate(analysis, "a.pkl", null));
        Assert.Equal(RuleIds.ProcessExecution, finding.RuleId);
        Assert.EndsWith("built from os.system", finding.Message, StringComparison.Ordinal);
        Assert.Equal("0x10", finding.Evidence!["import_offset"]);
    }

    [Fact]
    public void Call_of_a_computed_value_from_an_unknown_global_is_a_malicious_dynamic_call()
    {
        var findings = Default.Evaluate(AnalysisScript.Parse("dyncall evil.factory()('id') uses evil.factory").Analysis, "a.pkl", null);
        var finding = Assert.Single(findings);
        Assert.Equal(RuleIds.DynamicCall, finding.RuleId);
        Assert.Equal(Verdict.Malicious, finding.Verdict);
        Assert.Equal("evil.factory", finding.Global);
    }

    [Fact]
    public void Build_on_an_unknown_class_is_only_an_unknown_global()
    {
        var finding = Assert.Single(Default.Evaluate(AnalysisScript.Parse("build mypkg.layers.Block").Analysis, "a.pkl", null));
        Assert.Equal(RuleIds.UnknownGlobal, finding.RuleId);
        Assert.Equal(Verdict.Suspicious, finding.Verdict);
    }

    [Fact]
    public void Unknown_global_called_many_times_is_reported_once()
    {
        var findings = Default.Evaluate(AnalysisScript.Parse("call mypkg.Block(1); call mypkg.Block(2); call mypkg.Block(3)").Analysis, "a.pkl", null);
        var finding = Assert.Single(findings);
        Assert.Equal("mypkg.Block(1) would run via REDUCE at offset 0x20; mypkg.Block is not on the 'default' allowlist", finding.Message);
    }

    [Fact]
    public void Nested_pickle_is_a_finding_and_its_contents_are_a_member_of_their_own()
    {
        var inner = AnalysisScript.Parse("call os.system('echo pwned')").Analysis;
        var outer = AnalysisScript.Parse("call pickle.loads(b'...')").Analysis;
        outer.Nested.Add(new NestedPickle(0x20, "pickle.loads", inner));

        var findings = Default.Evaluate(outer, "ckpt.pt", "archive/data.pkl", baseOffset: 0x100);

        Assert.Contains(findings, f => f.RuleId == RuleIds.NestedDeserialization && f.Location.Member == "archive/data.pkl");
        var marker = Assert.Single(findings, f => f.RuleId == RuleIds.NestedPickle);
        Assert.Equal(new Location("ckpt.pt", "archive/data.pkl", 0x120), marker.Location);
        Assert.Equal("archive/data.pkl!/pickle@0x120", marker.Evidence!["nested_member"]);
        var payload = Assert.Single(findings, f => f.RuleId == RuleIds.ProcessExecution);
        Assert.Equal(new Location("ckpt.pt", "archive/data.pkl!/pickle@0x120", 0x20), payload.Location);
    }

    [Fact]
    public void Nested_pickles_without_a_member_are_named_from_the_file_offset()
    {
        Assert.Equal("pickle@0x1f", PicklePolicy.NestedMemberName(null, 0x1f));
        Assert.Equal("a/data.pkl!/pickle@0x1f!/pickle@0x3", PicklePolicy.NestedMemberName(PicklePolicy.NestedMemberName("a/data.pkl", 0x1f), 0x3));
    }

    [Fact]
    public void Self_referencing_nesting_stops_at_the_depth_limit()
    {
        var analysis = new PickleAnalysis { PickleCount = 1 };
        analysis.Nested.Add(new NestedPickle(0x4, "pickle.loads", analysis));
        var findings = Default.Evaluate(analysis, "a.pkl", null);
        Assert.Equal(PicklePolicy.MaxNestingDepth, findings.Count(f => f.RuleId == RuleIds.NestedPickle));
        Assert.Single(findings, f => f.RuleId == RuleIds.LimitExceeded);
    }

    [Fact]
    public void Findings_before_a_parse_error_are_kept_and_the_error_is_reported_at_its_offset()
    {
        var analysis = AnalysisScript.Parse("call os.system('id'); error truncated: BINUNICODE string runs past the end of the input").Analysis;
        var findings = Default.Evaluate(analysis, "a.pt", "a/data.pkl", baseOffset: 0x1000);

        Assert.Contains(findings, f => f.RuleId == RuleIds.ProcessExecution && f.Verdict == Verdict.Malicious);
        var error = Assert.Single(findings, f => f.RuleId == RuleIds.Malformed);
        Assert.Equal(Verdict.Error, error.Verdict);
        Assert.Equal(0x1030, error.Location.Offset);
        Assert.StartsWith("pickle analysis stopped: truncated", error.Message, StringComparison.Ordinal);
        Assert.Equal(Verdict.Malicious, findings.Aggregate(Verdict.Clean, (v, f) => v.Combine(f.Verdict)));
    }

    [Fact]
    public void Limit_error_is_reported_as_limit_exceeded()
    {
        var analysis = AnalysisScript.Parse("import collections.OrderedDict; limit memo exceeds the limit of 10").Analysis;
        var finding = Assert.Single(Default.Evaluate(analysis, "a.pkl", null));
        Assert.Equal(RuleIds.LimitExceeded, finding.RuleId);
        Assert.Equal(Verdict.Error, finding.Verdict);
    }

    [Theory]
    [InlineData("error unknown global 'archive/code/__torch__/torchscript.py' at offset 0x4")]
    [InlineData("error local header disagrees with the central directory, overlaps, 3 pickles")]
    [InlineData("error pickle memo exceeds the limit of 10")]
    public void Input_text_quoted_in_an_error_message_cannot_change_the_rule_or_clean_the_verdict(string statement)
    {
        // Under message regexes the first would have been TG-FMT-008 (verdict clean) and the last a limit.
        var analysis = AnalysisScript.Parse("import collections.OrderedDict; " + statement).Analysis;
        var finding = Assert.Single(Default.Evaluate(analysis, "a.pkl", null));
        Assert.Equal(RuleIds.Malformed, finding.RuleId);
        Assert.Equal(Verdict.Error, finding.Verdict);
    }

    [Fact]
    public void Error_that_names_its_own_member_keeps_that_member_and_offset()
    {
        var analysis = new PickleAnalysis { PickleCount = 0, Error = MalformedInputException.Create(InputErrorKind.Syntax, "unexpected opcode 0xff", 0x7, "x/inner.pkl") };
        var finding = Assert.Single(Default.Evaluate(analysis, "a.zip", "x/outer.pkl", 0x100));
        Assert.Equal(new Location("a.zip", "x/inner.pkl", 0x7), finding.Location);
    }

    [Fact]
    public void Analysis_without_stop_or_error_is_not_clean()
    {
        var finding = Assert.Single(Default.Evaluate(new PickleAnalysis(), "a.pkl", null));
        Assert.Equal(RuleIds.Malformed, finding.RuleId);
        Assert.Equal(Verdict.Error, finding.Verdict);
    }

    [Fact]
    public void Data_after_stop_is_suspicious_at_its_file_offset()
    {
        var analysis = AnalysisScript.Parse("call collections.OrderedDict(); trailing").Analysis;
        var finding = Assert.Single(Default.Evaluate(analysis, "a.pkl", null, baseOffset: 0x80));
        Assert.Equal(RuleIds.TrailingData, finding.RuleId);
        Assert.Equal(Verdict.Suspicious, finding.Verdict);
        Assert.Equal(0xb0, finding.Location.Offset);
    }

    [Theory]
    [InlineData("__builtin__", "eval", RuleIds.CodeExecution)]
    [InlineData("copy_reg", "add_extension", RuleIds.DynamicAccess)]
    [InlineData("cPickle", "loads", RuleIds.NestedDeserialization)]
    public void Python2_module_spellings_are_judged_like_their_python3_names(string module, string name, string expected)
    {
        var analysis = new PickleAnalysis { PickleCount = 1 };
        analysis.Globals.Add(new PickleGlobal(module, name, 0, "GLOBAL"));
        Assert.Equal(expected, Assert.Single(Default.Evaluate(analysis, "a.pkl", null)).RuleId);
    }

    [Fact]
    public void Control_characters_from_the_pickle_are_escaped_in_messages()
    {
        var analysis = new PickleAnalysis { PickleCount = 1 };
        var import = new PickleGlobal("os", "system", 0, "GLOBAL");
        analysis.Globals.Add(import);
        analysis.Calls.Add(new PickleCall("os.system", "os.system", "os.system('a\nFAKE: clean\u001b[0m')", "REDUCE", 0x9, [import]));
        var finding = Assert.Single(Default.Evaluate(analysis, "a.pkl", null));
        Assert.DoesNotContain('\n', finding.Message);
        Assert.DoesNotContain('\u001b', finding.Message);
        Assert.Contains("\\n", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Findings_are_ordered_by_offset()
    {
        var analysis = AnalysisScript.Parse("import mypkg.A; call os.system('x'); import mypkg.B").Analysis;
        var offsets = Default.Evaluate(analysis, "a.pkl", null).Select(f => f.Location.Offset!.Value).ToArray();
        Assert.Equal(offsets.Order(), offsets);
    }

    [Theory]
    [InlineData("*")]
    [InlineData("os.*sys")]
    [InlineData("mypkg")]
    [InlineData("mypkg.pre*")]
    [InlineData("*.system")]
    [InlineData("my pkg.Thing")]
    public void Bad_allow_pattern_is_rejected_when_the_policy_is_built(string entry)
    {
        var ex = Assert.Throws<MalformedInputException>(() => new PicklePolicy(RuleCatalog.Default, new PolicyOptions { ExtraAllowed = [entry] }));
        Assert.StartsWith("--allow:", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void One_policy_evaluates_in_parallel_with_the_same_results()
    {
        var analysis = AnalysisScript.Parse("call os.system('id'); import mypkg.A; nested pickle.loads { call builtins.eval('1') }").Analysis;
        var expected = Default.Evaluate(analysis, "a.pkl", null).Select(f => f.Message).ToArray();
        Parallel.For(0, 64, _ => Assert.Equal(expected, Default.Evaluate(analysis, "a.pkl", null).Select(f => f.Message)));
    }

    [Fact]
    public void Setitem_into_an_import_is_one_global_state_mutation_finding_and_nothing_else()
    {
        var analysis = new PickleAnalysis { PickleCount = 1, EndOffset = 0x40 };
        var registry = new PickleGlobal("copyreg", "_inverted_registry", 0x2, "GLOBAL");
        analysis.Globals.Add(registry);
        analysis.Calls.Add(new PickleCall("copyreg._inverted_registry.__setitem__", null, "copyreg._inverted_registry.__setitem__(1000, ('os', 'system'))", "SETITEM", 0x30, [registry]) { Mutates = "copyreg._inverted_registry" });

        var finding = Assert.Single(Default.Evaluate(analysis, "a.pkl", null));

        Assert.Equal(RuleIds.GlobalStateMutation, finding.RuleId);
        Assert.Equal(Verdict.Malicious, finding.Verdict);
        Assert.Equal("copyreg._inverted_registry", finding.Evidence!["mutates"]);
    }
}
