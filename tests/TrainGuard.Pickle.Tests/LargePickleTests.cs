using TrainGuard.Pickle.Tests.Support;

namespace TrainGuard.Pickle.Tests;

/// <summary>
/// Pickles of millions of containers: the machine keeps only the most recent containers (and every one that
/// holds an import or call), so memory stays bounded while nothing a policy judges is lost.
/// </summary>
public class LargePickleTests
{
    /// <summary>More containers than the machine keeps in its window (<c>ObjectStore.WindowNodes</c>).</summary>
    private const int MoreThanTheWindow = 300_000;

    private static PickleBuilder Junk(PickleBuilder b)
    {
        for (var i = 0; i < MoreThanTheWindow; i++)
        {
            b.EmptyDict().Pop();
        }

        return b;
    }

    [Fact]
    public void Call_appended_to_a_list_built_long_before_is_still_found_through_it()
    {
        var b = PickleBuilder.Create(4).EmptyList().Memoize().Pop();
        Junk(b).BinGet(0).Global("os", "system").Str("id").Tuple1().Reduce().Append().Pop();
        var data = b.Global("t", "f").BinGet(0).Tuple1().Reduce().Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        var outer = a.Calls[^1];
        Assert.Equal("t.f", outer.ResolvedGlobal);
        Assert.Contains(outer.Globals, g => g.FullName == "os.system");
        Assert.Equal("t.f([…])", outer.Rendered);
    }

    [Fact]
    public void Container_holding_an_import_keeps_it_and_its_rendering_after_many_newer_containers()
    {
        var b = PickleBuilder.Create(4).Global("os", "system").Tuple1().Memoize().Pop();
        var data = Junk(b).Global("t", "f").BinGet(0).Reduce().Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        var call = Assert.Single(a.Calls);
        Assert.Equal("t.f(os.system)", call.Rendered);
        Assert.Contains(call.Globals, g => g.FullName == "os.system");
    }

    [Fact]
    public void Plain_container_fetched_from_the_memo_long_after_is_rendered_elided()
    {
        var b = PickleBuilder.Create(4).EmptyList().Memoize().Mark().Int(1).Int(2).Appends().Pop();
        b.Global("t", "recent").BinGet(0).Tuple1().Reduce().Pop();
        var data = Junk(b).Global("t", "f").BinGet(0).Tuple1().Reduce().Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        Assert.Equal("t.recent([1, 2])", a.Calls[0].Rendered);
        Assert.Equal("t.f([…])", a.Calls[1].Rendered);
        Assert.DoesNotContain(a.Calls[1].Globals, g => g.FullName != "t.f");
    }

    [Fact]
    public void Stack_global_names_memoized_before_many_containers_still_resolve()
    {
        var b = PickleBuilder.Create(4).Str("os").Memoize().Pop().Str("system").Memoize().Pop();
        var data = Junk(b).BinGet(0).BinGet(1).StackGlobal().Str("id").Tuple1().Reduce().Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        Assert.Equal("os.system('id')", Assert.Single(a.Calls).Rendered);
    }

    [Fact]
    public void Millions_of_small_memoized_dicts_cost_the_memo_and_a_bounded_window()
    {
        // [{'a': i} for i in range(1_000_000)] as CPython's protocol 4 pickler writes it.
        const int Items = 1_000_000;
        var b = PickleBuilder.Create(4).EmptyList().Memoize().Mark();
        for (var i = 0; i < Items; i++)
        {
            if (i > 0 && i % 1000 == 0)
            {
                b.Appends().Mark();
            }

            b.EmptyDict().Memoize();
            if (i == 0)
            {
                b.Str("a").Memoize();
            }
            else
            {
                b.BinGet(2);
            }

            b.Int(i).SetItem();
        }

        var data = b.Appends().Stop().ToArray();
        var before = GC.GetAllocatedBytesForCurrentThread();

        var a = PickleMachine.Analyze(data);

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Null(a.Error);
        Assert.True(a.OpcodeCount > 5 * Items);

        // The memo (4 bytes an entry) plus fixed-size parts (the window of recent containers, the children ring,
        // each allocated while doubling); keeping 8 bytes for each of the million dicts would be 8 MB more.
        Assert.True(allocated < (4L * Items) + 10_000_000, $"allocated {allocated:N0} bytes");
    }
}
