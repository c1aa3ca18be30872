using TrainGuard.Pickle.Tests.Support;

namespace TrainGuard.Pickle.Tests;

/// <summary>The ways a payload reaches a dangerous callable, each hand-assembled opcode by opcode.</summary>
public class EvasionTests
{
    [Fact]
    public void Records_os_system_called_through_global_and_reduce()
    {
        var data = PickleBuilder.Create(2).Global("os", "system").Str("echo pwned").Tuple1().Reduce().Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        var g = Assert.Single(a.Globals);
        Assert.Equal(("os", "system", 2L, "GLOBAL"), (g.Module, g.Name, g.Offset, g.Opcode));
        var call = Assert.Single(a.Calls);
        Assert.Equal("os.system", call.ResolvedGlobal);
        Assert.Equal("os.system", call.Callable);
        Assert.Equal("os.system('echo pwned')", call.Rendered);
        Assert.Equal("REDUCE", call.Opcode);
        Assert.Equal(data.Length - 2, call.Offset);
        Assert.Same(g, Assert.Single(call.Globals));
    }

    [Fact]
    public void Records_os_system_from_a_protocol_0_text_pickle()
    {
        var data = "cos\nsystem\n(S'echo pwned'\ntR."u8.ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        Assert.Equal("os.system", Assert.Single(a.Globals).FullName);
        Assert.Equal("os.system('echo pwned')", Assert.Single(a.Calls).Rendered);
        Assert.Equal(0, a.Protocol);
    }

    [Fact]
    public void Scan_flags_os_system_reached_through_memoized_stack_global()
    {
        var data = PickleBuilder.Create(4)
            .Str("os").Memoize().Pop()
            .Str("system").Memoize().Pop()
            .BinGet(0).BinGet(1).StackGlobal()
            .Str("id").Tuple1().Reduce().Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        var g = Assert.Single(a.Globals);
        Assert.Equal(("os", "system", "STACK_GLOBAL"), (g.Module, g.Name, g.Opcode));
        Assert.Equal("os.system('id')", Assert.Single(a.Calls).Rendered);
    }

    [Fact]
    public void Stack_global_names_from_long_binget_and_text_get_are_resolved()
    {
        var data = PickleBuilder.Create(4)
            .Str("subprocess").LongBinPut(70000).Pop()
            .Str("check_output").Put(9).Pop()
            .LongBinGet(70000).Get(9).StackGlobal().Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        Assert.Equal("subprocess.check_output", Assert.Single(a.Globals).FullName);
    }

    [Fact]
    public void Getattr_of_import_module_resolves_to_the_attribute()
    {
        var data = PickleBuilder.Create(2)
            .Global("builtins", "getattr")
            .Global("importlib", "import_module").Str("os").Tuple1().Reduce()
            .Str("system").Tuple2().Reduce()
            .Str("id").Tuple1().Reduce().Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        Assert.Equal(3, a.Calls.Count);
        Assert.Equal("importlib.import_module", a.Calls[0].ResolvedGlobal);
        Assert.Equal("builtins.getattr", a.Calls[1].ResolvedGlobal);
        var final = a.Calls[2];
        Assert.Equal("os.system", final.ResolvedGlobal);
        Assert.Equal("getattr(importlib.import_module('os'), 'system')", final.Callable);
        Assert.Equal("getattr(importlib.import_module('os'), 'system')('id')", final.Rendered);
        Assert.Equal(["builtins.getattr", "importlib.import_module"], final.Globals.Select(g => g.FullName).Order());
    }

    [Fact]
    public void Getattr_of_dunder_import_in_a_python2_pickle_resolves_after_name_mapping()
    {
        var data = PickleBuilder.Create(2)
            .Global("__builtin__", "getattr")
            .Global("__builtin__", "__import__").Str("os").Tuple1().Reduce()
            .Str("system").Tuple2().Reduce()
            .Str("id").Tuple1().Reduce().Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        Assert.Equal(["builtins.getattr", "builtins.__import__"], a.Globals.Select(g => g.FullName));
        Assert.Equal("os.system", a.Calls[^1].ResolvedGlobal);
        Assert.Equal("getattr(__import__('os'), 'system')('id')", a.Calls[^1].Rendered);
    }

    [Fact]
    public void Python3_protocol_pickles_keep_python2_names_as_written()
    {
        var data = PickleBuilder.Create(3).Global("__builtin__", "eval").Stop().ToArray();

        Assert.Equal("__builtin__.eval", Assert.Single(PickleMachine.Analyze(data).Globals).FullName);
    }

    [Fact]
    public void Dunder_import_of_a_dotted_name_returns_the_top_package()
    {
        var a = PickleMachine.Analyze(PickleBuilder.Create(2)
            .Global("builtins", "getattr")
            .Global("builtins", "__import__").Str("os.path").Tuple1().Reduce()
            .Str("system").Tuple2().Reduce()
            .EmptyTuple().Reduce().Stop().ToArray());
        Assert.Equal("os.system", a.Calls[^1].ResolvedGlobal);
    }

    [Fact]
    public void Getattr_on_a_global_resolves_to_a_nested_attribute()
    {
        var data = PickleBuilder.Create(2)
            .Global("builtins", "getattr").Global("os", "path").Str("join").Tuple2().Reduce()
            .Str("a").Tuple1().Reduce().Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Equal("os.path.join", a.Calls[^1].ResolvedGlobal);
    }

    [Fact]
    public void Attrgetter_applied_to_an_imported_module_resolves_best_effort()
    {
        var data = PickleBuilder.Create(2)
            .Global("operator", "attrgetter").Str("system").Tuple1().Reduce()
            .Global("importlib", "import_module").Str("os").Tuple1().Reduce()
            .Tuple1().Reduce()
            .Str("id").Tuple1().Reduce().Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        Assert.Equal("os.system", a.Calls[^1].ResolvedGlobal);
        Assert.Equal("operator.attrgetter('system')(importlib.import_module('os'))('id')", a.Calls[^1].Rendered);
    }

    [Fact]
    public void Sys_modules_lookup_gives_the_module()
    {
        var data = PickleBuilder.Create(2)
            .Global("builtins", "getattr")
            .Global("operator", "getitem").Global("sys", "modules").Str("posix").Tuple2().Reduce()
            .Str("system").Tuple2().Reduce()
            .Str("id").Tuple1().Reduce().Stop().ToArray();

        Assert.Equal("posix.system", PickleMachine.Analyze(data).Calls[^1].ResolvedGlobal);
    }

    [Fact]
    public void Stack_global_with_a_module_name_only_known_at_load_time_is_recorded_as_dynamic()
    {
        var data = PickleBuilder.Create(4).Global("os", "name").Str("system").StackGlobal().Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        Assert.Equal("<dynamic: os.name>", a.Globals[1].Module);
        Assert.Equal("system", a.Globals[1].Name);
    }

    [Fact]
    public void Nested_pickle_passed_to_pickle_loads_is_analysed_with_its_own_offsets()
    {
        var inner = PickleBuilder.Create(2).Global("os", "system").Str("echo pwned").Tuple1().Reduce().Stop().ToArray();
        var outer = PickleBuilder.Create(3).Global("pickle", "loads");
        var bytesOffset = outer.Length;
        var data = outer.Bytes(inner).Tuple1().Reduce().Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        Assert.Equal("pickle.loads", Assert.Single(a.Globals).FullName);
        var nested = Assert.Single(a.Nested);
        Assert.Equal("pickle.loads", nested.Via);
        Assert.Equal(bytesOffset, nested.Offset);
        Assert.Null(nested.Analysis.Error);
        Assert.Equal("os.system('echo pwned')", Assert.Single(nested.Analysis.Calls).Rendered);
        Assert.Equal(2, nested.Analysis.Globals[0].Offset);
    }

    [Fact]
    public void Nested_pickle_written_as_protocol_2_latin1_text_is_decoded_and_analysed()
    {
        var inner = PickleBuilder.Create(2).Global("os", "system").Str("id").Tuple1().Reduce().Stop().ToArray();
        var latin1 = System.Text.Encoding.Latin1.GetString(inner);
        var data = PickleBuilder.Create(2).Global("_pickle", "loads")
            .Global("_codecs", "encode").Str(latin1).Str("latin1").Tuple2().Reduce()
            .Tuple1().Reduce().Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        var nested = Assert.Single(a.Nested);
        Assert.Equal("_pickle.loads", nested.Via);
        Assert.Equal("os.system", Assert.Single(nested.Analysis.Calls).ResolvedGlobal);
    }

    [Fact]
    public void Torch_load_of_a_bytesio_is_analysed_as_a_nested_pickle()
    {
        var inner = PickleBuilder.Create(2).Global("os", "system").Str("id").Tuple1().Reduce().Stop().ToArray();
        var data = PickleBuilder.Create(2).Global("torch", "load")
            .Global("io", "BytesIO").Bytes(inner).Tuple1().Reduce()
            .Tuple1().Reduce().Stop().ToArray();

        var nested = Assert.Single(PickleMachine.Analyze(data).Nested);

        Assert.Equal("torch.load", nested.Via);
        Assert.Equal("os.system", Assert.Single(nested.Analysis.Calls).ResolvedGlobal);
    }

    [Fact]
    public void Unpickler_load_bound_through_getattr_is_analysed_as_a_nested_pickle()
    {
        var inner = PickleBuilder.Create(2).Global("os", "system").Str("id").Tuple1().Reduce().Stop().ToArray();
        var data = PickleBuilder.Create(2)
            .Global("builtins", "getattr")
            .Global("pickle", "Unpickler").Global("io", "BytesIO").Bytes(inner).Tuple1().Reduce().Tuple1().Reduce()
            .Str("load").Tuple2().Reduce()
            .EmptyTuple().Reduce().Stop().ToArray();

        var nested = Assert.Single(PickleMachine.Analyze(data).Nested);

        Assert.Equal("pickle.Unpickler.load", nested.Via);
        Assert.Equal("os.system", Assert.Single(nested.Analysis.Calls).ResolvedGlobal);
    }

    [Fact]
    public void Nesting_beyond_the_limit_is_reported_in_the_innermost_analysis()
    {
        var payload = PickleBuilder.Create(2).Global("os", "system").Str("id").Tuple1().Reduce().Stop().ToArray();
        for (var i = 0; i < 5; i++)
        {
            payload = PickleBuilder.Create(3).Global("pickle", "loads").Bytes(payload).Tuple1().Reduce().Stop().ToArray();
        }

        var a = PickleMachine.Analyze(payload, new PickleLimits { MaxNestingDepth = 3 });

        var level = a;
        for (var depth = 0; depth <= 3; depth++)
        {
            Assert.Null(level.Error);
            level = Assert.Single(level.Nested).Analysis;
        }

        Assert.NotNull(level.Error);
        Assert.True(level.Error.LimitExceeded);
    }

    [Fact]
    public void Payload_after_the_first_stop_is_analysed_as_a_second_pickle()
    {
        var benign = PickleBuilder.Create(4).Str("weights").Stop().ToArray();
        var payload = PickleBuilder.Create(2).Global("os", "system").Str("echo pwned").Tuple1().Reduce().Stop().ToArray();

        var a = PickleMachine.Analyze([.. benign, .. payload]);

        Assert.Null(a.Error);
        Assert.Equal(2, a.PickleCount);
        Assert.Null(a.TrailingDataOffset);
        Assert.Equal(benign.Length + payload.Length, a.EndOffset);
        var call = Assert.Single(a.Calls);
        Assert.Equal(benign.Length + payload.Length - 2, call.Offset);
    }

    [Fact]
    public void Payload_in_trailing_data_that_is_not_a_complete_pickle_is_still_reported()
    {
        var benign = PickleBuilder.Create(4).Str("weights").Stop().ToArray();
        var payload = PickleBuilder.Create(2).Global("os", "system").Str("id").Tuple1().Reduce().Raw(0xff).ToArray();

        var a = PickleMachine.Analyze([.. benign, .. payload]);

        Assert.Null(a.Error);
        Assert.Equal(1, a.PickleCount);
        Assert.Equal(benign.Length, a.TrailingDataOffset);
        Assert.Equal("os.system", Assert.Single(a.Calls).ResolvedGlobal);
    }

    [Fact]
    public void Inst_builds_and_calls_in_one_opcode()
    {
        var data = "(S'echo pwned'\nios\nsystem\n."u8.ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        var g = Assert.Single(a.Globals);
        Assert.Equal(("os.system", "INST"), (g.FullName, g.Opcode));
        var call = Assert.Single(a.Calls);
        Assert.Equal(("INST", "os.system", "os.system('echo pwned')"), (call.Opcode, call.ResolvedGlobal, call.Rendered));
    }

    [Fact]
    public void Obj_calls_the_class_after_its_mark()
    {
        var data = "(cos\nsystem\nS'id'\no."u8.ToArray();

        var call = Assert.Single(PickleMachine.Analyze(data).Calls);

        Assert.Equal(("OBJ", "os.system", "os.system('id')"), (call.Opcode, call.ResolvedGlobal, call.Rendered));
    }

    [Fact]
    public void Newobj_ex_renders_positional_and_keyword_arguments()
    {
        var data = PickleBuilder.Create(4)
            .Global("subprocess", "Popen").Str("id").Tuple1()
            .EmptyDict().Str("shell").True().SetItem()
            .NewObjEx().Stop().ToArray();

        var call = Assert.Single(PickleMachine.Analyze(data).Calls);

        Assert.Equal(("NEWOBJ_EX", "subprocess.Popen"), (call.Opcode, call.ResolvedGlobal));
        Assert.Equal("subprocess.Popen('id', shell=True)", call.Rendered);
    }

    [Fact]
    public void Build_is_recorded_as_a_setstate_call_of_the_objects_class()
    {
        var data = PickleBuilder.Create(2)
            .Global("evil", "Thing").EmptyTuple().NewObj()
            .EmptyDict().Str("cmd").Str("id").SetItem()
            .Build().Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Equal(2, a.Calls.Count);
        Assert.Equal(("NEWOBJ", "evil.Thing()"), (a.Calls[0].Opcode, a.Calls[0].Rendered));
        var build = a.Calls[1];
        Assert.Equal("BUILD", build.Opcode);
        Assert.Equal("evil.Thing().__setstate__", build.Callable);
        Assert.Equal("evil.Thing.__setstate__", build.ResolvedGlobal);
        Assert.Equal("evil.Thing().__setstate__({'cmd': 'id'})", build.Rendered);
    }

    [Fact]
    public void Build_on_a_copyreg_reconstructed_object_names_the_reconstructed_class()
    {
        var data = "ccopy_reg\n_reconstructor\n(cevil\nThing\nc__builtin__\nobject\nNtR(dS'a'\nI1\nsb."u8.ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        Assert.Equal("copyreg._reconstructor", a.Calls[0].ResolvedGlobal);
        Assert.Equal("evil.Thing.__setstate__", a.Calls[1].ResolvedGlobal);
    }

    [Fact]
    public void Extension_codes_are_recorded_as_registry_imports()
    {
        var data = PickleBuilder.Create(2).Ext1(1).Ext2(300).Ext4(70000).Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        Assert.Equal(
            [("copyreg.extension", "1", "EXT1"), ("copyreg.extension", "300", "EXT2"), ("copyreg.extension", "70000", "EXT4")],
            a.Globals.Select(g => (g.Module, g.Name, g.Opcode)));
    }

    [Fact]
    public void Extension_code_zero_is_malformed()
    {
        var a = PickleMachine.Analyze(PickleBuilder.Create(2).Ext4(0).Stop().ToArray());

        Assert.NotNull(a.Error);
        Assert.Contains("EXT specifies code <= 0", a.Error.Message, StringComparison.Ordinal);
        Assert.Equal(2, a.Error.Offset);
    }

    [Fact]
    public void Binpersid_torch_storage_tuple_is_rendered_into_parts()
    {
        var data = PickleBuilder.Create(2)
            .Mark().Str("storage").Global("torch", "FloatStorage").Str("0").Str("cpu").Int(4).Tuple().BinPersId()
            .Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        var pid = Assert.Single(a.PersistentIds);
        Assert.Equal(["storage", "torch.FloatStorage", "0", "cpu", "4"], pid.Parts);
        Assert.Equal("('storage', torch.FloatStorage, '0', 'cpu', 4)", pid.Rendered);
        Assert.Equal(data.Length - 2, pid.Offset);
    }

    [Fact]
    public void Text_persid_is_one_part()
    {
        var pid = Assert.Single(PickleMachine.Analyze("P0\n."u8.ToArray()).PersistentIds);

        Assert.Equal(["0"], pid.Parts);
        Assert.Equal("'0'", pid.Rendered);
    }

    [Fact]
    public void Dangerous_global_passed_as_an_argument_is_listed_in_the_calls_globals()
    {
        var data = PickleBuilder.Create(2)
            .Global("functools", "partial").Mark().Global("os", "system").Str("id").Tuple().Reduce()
            .EmptyTuple().Reduce().Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Contains(a.Calls[0].Globals, g => g.FullName == "os.system");
        Assert.Contains(a.Calls[1].Globals, g => g.FullName == "os.system");
        Assert.Equal("functools.partial(os.system, 'id')()", a.Calls[1].Rendered);
    }

    [Fact]
    public void Global_hidden_deep_in_a_large_container_still_reaches_the_calls_globals()
    {
        var b = PickleBuilder.Create(2).Global("builtins", "list").Mark().EmptyList().Mark();
        for (var i = 0; i < 5000; i++)
        {
            b.Int(i);
        }

        var data = b.Global("os", "system").Appends().Tuple().Reduce().Stop().ToArray();

        var call = Assert.Single(PickleMachine.Analyze(data).Calls);

        Assert.Contains(call.Globals, g => g.FullName == "os.system");
        Assert.Contains("…", call.Rendered, StringComparison.Ordinal);
    }

    [Fact]
    public void Rendered_strings_are_escaped_and_shortened()
    {
        var data = PickleBuilder.Create(2).Global("os", "system")
            .Str("echo 'x'\n\u001b[31m" + new string('A', 500)).Tuple1().Reduce().Stop().ToArray();

        var rendered = Assert.Single(PickleMachine.Analyze(data).Calls).Rendered;

        Assert.StartsWith("os.system('echo \\'x\\'\\n\\x1b[31mAAAA", rendered, StringComparison.Ordinal);
        Assert.EndsWith("…')", rendered, StringComparison.Ordinal);
        Assert.True(rendered.Length < 200);
    }
}
