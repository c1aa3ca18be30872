using TrainGuard.Pickle.Tests.Support;

namespace TrainGuard.Pickle.Tests;

/// <summary>
/// Value flow through state the pickle itself changes: extension codes it registers, module and function state it
/// builds, sys.modules entries it sets, and the code a torch.fx GraphModule pickle carries.
/// </summary>
public class StateFlowTests
{
    [Fact]
    public void Ext1_resolves_to_what_copyreg_add_extension_registered_earlier_in_the_pickle()
    {
        var data = PickleBuilder.Create(2)
            .Global("copyreg", "add_extension").Mark().Str("os").Str("system").Int(240).Tuple().Reduce().Pop()
            .Ext1(240).Str("id").Tuple1().Reduce().Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        Assert.Contains(a.Globals, g => g.FullName == "os.system" && g.Opcode == "EXT1");
        Assert.Contains(a.Calls, c => c.ResolvedGlobal == "os.system" && c.Rendered == "os.system('id')");
        Assert.Contains(a.Calls, c => c.ResolvedGlobal == "copyreg.add_extension" && c.Mutates == "copyreg._inverted_registry");
    }

    [Fact]
    public void Ext2_resolves_through_an_inverted_registry_entry_set_by_setitem_which_is_a_mutation()
    {
        var data = PickleBuilder.Create(2)
            .Global("copyreg", "_inverted_registry").Int(1000).Str("os").Str("system").Tuple2().SetItem().Pop()
            .Ext2(1000).Str("id").Tuple1().Reduce().Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        Assert.Contains(a.Calls, c => c.Opcode == "SETITEM" && c.Mutates == "copyreg._inverted_registry");
        Assert.Contains(a.Calls, c => c.ResolvedGlobal == "os.system");
    }

    [Fact]
    public void An_unregistered_extension_code_stays_an_unknown_copyreg_extension()
    {
        var a = PickleMachine.Analyze(PickleBuilder.Create(2).Ext1(7).Stop().ToArray());

        Assert.Equal("copyreg.extension.7", Assert.Single(a.Globals).FullName);
    }

    [Fact]
    public void Build_on_a_module_redirects_a_later_stack_global_through_the_name_it_set()
    {
        var data = PickleBuilder.Create(4)
            .Str("mylib").Str("config").StackGlobal()
            .EmptyDict().Str("alias").Str("posixpath").Str("os").StackGlobal().SetItem().Build().Pop()
            .Str("mylib").Str("config.alias.system").StackGlobal().Str("id").Tuple1().Reduce().Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        Assert.Contains(a.Calls, c => c.Opcode == "BUILD" && c.Mutates == "mylib.config");
        var redirected = Assert.Single(a.Globals, g => g.FullName == "mylib.config.alias.system");
        Assert.Equal("posixpath.os.system", redirected.Target);
        Assert.Contains("BUILD", redirected.Via, StringComparison.Ordinal);
        Assert.Contains(a.Calls, c => c.ResolvedGlobal == "posixpath.os.system");
    }

    [Fact]
    public void Setitem_into_sys_modules_redirects_imports_of_that_module()
    {
        var data = PickleBuilder.Create(2)
            .Global("sys", "modules").Str("harmless").Global("posixpath", "os").SetItem().Pop()
            .Global("harmless", "system").Str("id").Tuple1().Reduce().Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Equal("posixpath.os.system", Assert.Single(a.Globals, g => g.FullName == "harmless.system").Target);
    }

    [Fact]
    public void Setitem_into_an_object_the_pickle_built_is_not_a_mutation()
    {
        var data = PickleBuilder.Create(2)
            .Global("collections", "OrderedDict").EmptyTuple().Reduce().Str("a").Int(1).SetItem().Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.All(a.Calls, c => Assert.Null(c.Mutates));
    }

    [Fact]
    public void A_graph_module_pickle_carries_its_import_block_and_code_even_past_the_entries_kept_per_container()
    {
        var body = PickleBuilder.Create(2).Global("torch.fx.graph_module", "reduce_graph_module").Mark().EmptyDict().Mark();
        for (var i = 0; i < 40; i++)
        {
            body.Str($"attr{i}").Int(i);
        }

        var data = body.Str("_code").Str("def forward(self, x):\n    return x\n").SetItems()
            .Str("import os\nos.system('id')\n").Tuple().Reduce().Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        var call = Assert.Single(a.Calls, c => c.ResolvedGlobal == "torch.fx.graph_module.reduce_graph_module");
        Assert.Equal("import os\nos.system('id')\n\ndef forward(self, x):\n    return x\n", call.Code);
    }
}
