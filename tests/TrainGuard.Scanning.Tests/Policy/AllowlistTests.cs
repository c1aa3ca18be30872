using TrainGuard.Findings;
using TrainGuard.Pickle;
using TrainGuard.Scanning.Policy;

namespace TrainGuard.Scanning.Tests.Policy;

public class AllowlistTests
{
    private static readonly RuleCatalog Catalog = RuleCatalog.Default;

    /// <summary>Globals that real, benign torch / numpy / Hugging Face checkpoints contain.</summary>
    public static TheoryData<string> BenignGlobals() =>
    [
        "collections.OrderedDict",
        "collections.Counter",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_tensor_v3",
        "torch._tensor._rebuild_from_type_v2",
        "torch.FloatStorage",
        "torch.BFloat16Storage",
        "torch.HalfStorage",
        "torch.LongStorage",
        "torch.ByteStorage",
        "torch.cuda.FloatStorage",
        "torch.storage.UntypedStorage",
        "torch.float32",
        "torch.bfloat16",
        "torch.float8_e4m3fn",
        "torch.device",
        "torch.Size",
        "torch.serialization._get_layout",
        "torch.nn.parameter.Parameter",
        "torch.per_tensor_affine",
        "_codecs.encode",
        "__builtin__.set",
        "builtins.bytearray",
        "numpy.core.multiarray._reconstruct",
        "numpy._core.multiarray._reconstruct",
        "numpy.ndarray",
        "numpy.dtype",
        "numpy.core.multiarray.scalar",
        "numpy.dtypes.UInt32DType",
        "numpy.random._pickle.__randomstate_ctor",
        "numpy.random._pickle.__bit_generator_ctor",
        "transformers.training_args.TrainingArguments",
        "transformers.trainer_utils.IntervalStrategy",
        "transformers.trainer_utils.SchedulerType",
        "transformers.training_args.OptimizerNames",
        "accelerate.utils.dataclasses.DistributedType",
        "accelerate.state.PartialState",
        "collections.defaultdict",
        "copyreg._reconstructor",
        "datetime.datetime",
        "decimal.Decimal",
    ];

    [Theory]
    [MemberData(nameof(BenignGlobals))]
    public void Benign_checkpoint_global_is_clean_under_the_default_profile(string global)
    {
        var policy = new PicklePolicy(Catalog, new PolicyOptions());
        Assert.Equal(GlobalStatus.Allowed, policy.Judge(global).Status);
        var script = AnalysisScript.Parse($"import {global}; call {global}(1)");
        Assert.Empty(policy.Evaluate(script.Analysis, "ckpt.pt", "archive/data.pkl"));
    }

    [Theory]
    [InlineData("numpy.core.multiarray._reconstruct", ProfileNames.TorchWeights)]
    [InlineData("numpy.dtype", ProfileNames.TorchWeights)]
    [InlineData("collections.defaultdict", ProfileNames.TorchWeights)]
    [InlineData("transformers.training_args.TrainingArguments", ProfileNames.TorchWeights)]
    [InlineData("torch._utils._rebuild_tensor_v2", ProfileNames.Numpy)]
    [InlineData("torch.FloatStorage", ProfileNames.Plain)]
    [InlineData("_codecs.encode", ProfileNames.HfTrainer)]
    [InlineData("datetime.datetime", ProfileNames.Numpy)]
    [InlineData("copyreg._reconstructor", ProfileNames.TorchWeights)]
    public void Same_global_is_suspicious_under_a_profile_that_lacks_it(string global, string profile)
    {
        var policy = new PicklePolicy(Catalog, new PolicyOptions { Profile = ProfileNames.Parse(profile) });
        var findings = policy.Evaluate(AnalysisScript.Parse($"import {global}").Analysis, "ckpt.pt", null);
        var finding = Assert.Single(findings);
        Assert.Equal(RuleIds.UnknownGlobal, finding.RuleId);
        Assert.Equal(Verdict.Suspicious, finding.Verdict);
        Assert.Contains($"'{profile}' allowlist", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Allow_option_makes_an_unknown_global_clean()
    {
        var analysis = AnalysisScript.Parse("import mypkg.Thing; call mypkg.Thing(3)").Analysis;
        Assert.Single(new PicklePolicy(Catalog, new PolicyOptions()).Evaluate(analysis, "a.pkl", null), f => f.RuleId == RuleIds.UnknownGlobal);
        Assert.Empty(new PicklePolicy(Catalog, new PolicyOptions { ExtraAllowed = ["mypkg.Thing"] }).Evaluate(analysis, "a.pkl", null));
    }

    [Theory]
    [InlineData("mypkg.Thing", GlobalStatus.Allowed)]
    [InlineData("mypkg.sub.Thing", GlobalStatus.Unknown)]
    [InlineData("mypkg.__secret__", GlobalStatus.Unknown)]
    [InlineData("mypkg.Thing.fromkeys", GlobalStatus.Unknown)]
    [InlineData("mypkg.Thing.__init__.__globals__", GlobalStatus.Dangerous)]
    public void Module_wildcard_allow_covers_only_names_defined_directly_in_the_module(string global, GlobalStatus expected) =>
        Assert.Equal(expected, new PicklePolicy(Catalog, new PolicyOptions { ExtraAllowed = ["mypkg.*"] }).Judge(global).Status);

    [Fact]
    public void Wildcard_allow_never_allows_a_dangerous_global_and_says_so()
    {
        var policy = new PicklePolicy(Catalog, new PolicyOptions { ExtraAllowed = ["os.*"] });
        var findings = policy.Evaluate(AnalysisScript.Parse("call os.system('echo pwned')").Analysis, "a.pkl", null);
        var finding = Assert.Single(findings);
        Assert.Equal(RuleIds.ProcessExecution, finding.RuleId);
        Assert.Equal(Verdict.Malicious, finding.Verdict);
        Assert.Contains("os.*", finding.Evidence!["allow_ignored"], StringComparison.Ordinal);
    }

    [Fact]
    public void Exact_allow_of_a_dangerous_global_yields_only_an_informational_note()
    {
        var policy = new PicklePolicy(Catalog, new PolicyOptions { ExtraAllowed = ["os.system"] });
        var findings = policy.Evaluate(AnalysisScript.Parse("call os.system('true')").Analysis, "a.pkl", null);
        var finding = Assert.Single(findings);
        Assert.Equal(RuleIds.AllowedDangerousGlobal, finding.RuleId);
        Assert.Equal(Severity.Info, finding.Severity);
        Assert.Equal(Verdict.Clean, finding.Verdict);
        Assert.Equal(RuleIds.ProcessExecution, finding.Evidence!["dangerous_rule"]);
    }

    [Fact]
    public void Hugging_Face_rng_state_is_clean_under_default()
    {
        // torch.save({"python": random.getstate(), "numpy": np.random.get_state(), "cpu": torch.get_rng_state(), "cuda": [...]})
        var analysis = new PickleAnalysis { PickleCount = 1, EndOffset = 0x400 };
        var reconstruct = Add(analysis, "numpy.core.multiarray", "_reconstruct", 0x40);
        var ndarray = Add(analysis, "numpy", "ndarray", 0x70);
        var encode = Add(analysis, "_codecs", "encode", 0x80);
        var dtype = Add(analysis, "numpy", "dtype", 0xa0);
        var rebuild = Add(analysis, "torch._utils", "_rebuild_tensor_v2", 0x200);
        var storage = Add(analysis, "torch", "ByteStorage", 0x220);
        var ordered = Add(analysis, "collections", "OrderedDict", 0x260);
        analysis.Calls.Add(new PickleCall("_codecs.encode", "_codecs.encode", "_codecs.encode('b', 'latin1')", "REDUCE", 0x90, [encode]));
        analysis.Calls.Add(new PickleCall("numpy.core.multiarray._reconstruct", "numpy.core.multiarray._reconstruct", "numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), b'b')", "REDUCE", 0x98, [reconstruct, ndarray, encode]));
        analysis.Calls.Add(new PickleCall("numpy.dtype", "numpy.dtype", "numpy.dtype('u4', False, True)", "REDUCE", 0xb0, [dtype]));
        analysis.Calls.Add(new PickleCall("numpy.dtype('u4', False, True).__setstate__", null, "numpy.dtype('u4', False, True).__setstate__((3, '<', ...))", "BUILD", 0xc0, [dtype]));
        analysis.Calls.Add(new PickleCall("collections.OrderedDict", "collections.OrderedDict", "collections.OrderedDict()", "REDUCE", 0x270, [ordered]));
        analysis.Calls.Add(new PickleCall("torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v2(persistent_load(('storage', torch.ByteStorage, '0', 'cpu', 5056)), 0, (5056,), (1,), False, collections.OrderedDict())", "REDUCE", 0x280, [rebuild, storage, ordered]));
        analysis.PersistentIds.Add(new PicklePersistentId(0x240, "('storage', torch.ByteStorage, '0', 'cpu', 5056)", ["storage", "torch.ByteStorage", "0", "cpu", "5056"]));

        Assert.Empty(new PicklePolicy(Catalog, new PolicyOptions()).Evaluate(analysis, "checkpoint-500/rng_state.pth", "rng_state/data.pkl"));
        var torchOnly = new PicklePolicy(Catalog, new PolicyOptions { Profile = PolicyProfile.TorchWeights }).Evaluate(analysis, "rng_state.pth", "rng_state/data.pkl");
        Assert.Equal(["numpy.core.multiarray._reconstruct", "numpy.dtype", "numpy.ndarray"], torchOnly.Select(f => f.Global!).Order(StringComparer.Ordinal));
        Assert.All(torchOnly, f => Assert.Equal(RuleIds.UnknownGlobal, f.RuleId));
    }

    [Fact]
    public void Training_args_with_enum_members_fetched_by_getattr_is_clean_under_hf_trainer()
    {
        const string Script = """
            import transformers.training_args.TrainingArguments;
            call transformers.training_args.TrainingArguments();
            getattr transformers.trainer_utils.IntervalStrategy STEPS;
            getattr transformers.training_args.OptimizerNames ADAMW_TORCH;
            call transformers.trainer_utils.SchedulerType('linear');
            call torch.device('cuda', 0);
            build transformers.training_args.TrainingArguments
            """;
        var analysis = AnalysisScript.Parse(Script).Analysis;
        Assert.Empty(new PicklePolicy(Catalog, new PolicyOptions { Profile = PolicyProfile.HfTrainer }).Evaluate(analysis, "training_args.bin", "training_args/data.pkl"));
        Assert.Empty(new PicklePolicy(Catalog, new PolicyOptions()).Evaluate(analysis, "training_args.bin", "training_args/data.pkl"));

        // torch.load(weights_only=True) refuses it, and so does the torch-weights profile.
        var strict = new PicklePolicy(Catalog, new PolicyOptions { Profile = PolicyProfile.TorchWeights }).Evaluate(analysis, "training_args.bin", null);
        Assert.Contains(strict, f => f.RuleId == RuleIds.DynamicAccess && f.Verdict == Verdict.Malicious);
    }

    [Fact]
    public void Build_whose_state_holds_enum_members_is_not_blamed_on_getattr()
    {
        // What the pickle machine reports for torch.save(TrainingArguments(...)) on Python 3.11+.
        var analysis = new PickleAnalysis { PickleCount = 1, EndOffset = 0x700 };
        var args = Add(analysis, "transformers.training_args", "TrainingArguments", 0x10);
        var getattr = Add(analysis, "builtins", "getattr", 0x40);
        var strategy = Add(analysis, "transformers.trainer_utils", "IntervalStrategy", 0x60);
        analysis.Calls.Add(new PickleCall("transformers.training_args.TrainingArguments", "transformers.training_args.TrainingArguments", "transformers.training_args.TrainingArguments()", "NEWOBJ", 0x20, [args]));
        analysis.Calls.Add(new PickleCall("getattr", "builtins.getattr", "getattr(transformers.trainer_utils.IntervalStrategy, 'NO')", "REDUCE", 0x80, [getattr, strategy]));
        analysis.Calls.Add(new PickleCall(
            "transformers.training_args.TrainingArguments().__setstate__",
            "transformers.training_args.TrainingArguments.__setstate__",
            "transformers.training_args.TrainingArguments().__setstate__({'eval_strategy': getattr(transformers.trainer_utils.IntervalStrategy, 'NO'), …})",
            "BUILD",
            0x669,
            [args, getattr, strategy]));

        Assert.Empty(new PicklePolicy(Catalog, new PolicyOptions()).Evaluate(analysis, "training_args.bin", "training_args/data.pkl"));
    }

    [Fact]
    public void Joblib_arrays_are_clean_and_an_inline_object_array_is_judged_by_its_contents()
    {
        var analysis = AnalysisScript.Parse("call joblib.numpy_pickle.NumpyArrayWrapper(); build joblib.numpy_pickle.NumpyArrayWrapper; nested joblib inline { call builtins.set([1]) }").Analysis;
        Assert.Empty(new PicklePolicy(Catalog, new PolicyOptions()).Evaluate(analysis, "model.joblib", null));

        var hostile = AnalysisScript.Parse("call joblib.numpy_pickle.NumpyArrayWrapper(); nested joblib inline { call os.system('id') }").Analysis;
        var finding = Assert.Single(new PicklePolicy(Catalog, new PolicyOptions()).Evaluate(hostile, "model.joblib", null));
        Assert.Equal(RuleIds.ProcessExecution, finding.RuleId);
        Assert.Equal("pickle@0x30", finding.Location.Member);
    }

    [Theory]
    [InlineData("posixpath.os.system", RuleIds.ProcessExecution)]
    [InlineData("torch.serialization.os.system", RuleIds.ProcessExecution)]
    [InlineData("numpy.testing._private.utils.builtins.eval", RuleIds.CodeExecution)]
    [InlineData("mypkg.helpers.subprocess.Popen", RuleIds.ProcessExecution)]
    public void Dangerous_name_reached_through_another_module_is_still_dangerous(string global, string rule)
    {
        var policy = new PicklePolicy(Catalog, new PolicyOptions { ExtraAllowed = ["posixpath.*", "mypkg.helpers.*"] });
        var judgement = policy.Judge(global);
        Assert.Equal(GlobalStatus.Dangerous, judgement.Status);
        Assert.Equal(rule, judgement.Rule!.Id);
        Assert.Contains("attribute path", judgement.Pattern, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("numpy.random._pickle.__randomstate_ctor", ProfileNames.TorchWeights)]
    [InlineData("scipy.signal._ltisys.TransferFunction", ProfileNames.Default)]
    [InlineData("mylib.code.Encoder", ProfileNames.Default)]
    public void Module_names_that_merely_look_dangerous_stay_unknown(string global, string profile) =>
        Assert.Equal(GlobalStatus.Unknown, new PicklePolicy(Catalog, new PolicyOptions { Profile = ProfileNames.Parse(profile) }).Judge(global).Status);

    [Theory]
    [InlineData("getattr transformers.trainer_utils.IntervalStrategy __class__")]
    [InlineData("getattr transformers.trainer_utils.IntervalStrategy _missing_")]
    [InlineData("getattr collections.OrderedDict fromkeys")]
    [InlineData("getattr numpy.ndarray tofile")]
    [InlineData("getattr os.path join")]
    public void Getattr_other_than_a_public_enum_member_is_malicious(string script)
    {
        var findings = new PicklePolicy(Catalog, new PolicyOptions()).Evaluate(AnalysisScript.Parse(script).Analysis, "a.pkl", null);
        Assert.Contains(findings, f => f.RuleId == RuleIds.DynamicAccess && f.Verdict == Verdict.Malicious && f.Call is not null);
    }

    [Fact]
    public void Getattr_import_that_is_never_called_is_still_reported()
    {
        var findings = new PicklePolicy(Catalog, new PolicyOptions()).Evaluate(AnalysisScript.Parse("import builtins.getattr").Analysis, "a.pkl", null);
        Assert.Equal(RuleIds.DynamicAccess, Assert.Single(findings).RuleId);
    }

    private static PickleGlobal Add(PickleAnalysis analysis, string module, string name, long offset)
    {
        var global = new PickleGlobal(module, name, offset, "GLOBAL");
        analysis.Globals.Add(global);
        return global;
    }
}
