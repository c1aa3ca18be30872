using TrainGuard.Pickle.Tests.Support;

namespace TrainGuard.Pickle.Tests;

/// <summary>Malformed and hostile input: every case ends in <see cref="PickleAnalysis.Error"/>, never an exception.</summary>
public class HostileInputTests
{
    private static readonly byte[] Payload =
        PickleBuilder.Create(2).Global("os", "system").Str("echo pwned").Tuple1().Reduce().Stop().ToArray();

    private static PickleAnalysis AssertError(byte[] data, string messagePart, PickleLimits? limits = null)
    {
        var a = PickleMachine.Analyze(data, limits);
        Assert.NotNull(a.Error);
        Assert.Contains(messagePart, a.Error.Message, StringComparison.Ordinal);
        Assert.NotNull(a.Error.Offset);
        Assert.DoesNotContain(PickleMachine.InternalErrorPrefix, a.Error.Message, StringComparison.Ordinal);
        return a;
    }

    [Fact]
    public void Truncation_at_every_byte_is_an_error_that_keeps_what_came_before()
    {
        var globalEnd = 2 + "cos\nsystem\n".Length;
        var reduceEnd = Payload.Length - 1;
        for (var cut = 0; cut < Payload.Length; cut++)
        {
            var a = PickleMachine.Analyze(Payload.AsSpan(0, cut));

            Assert.NotNull(a.Error);
            Assert.InRange(a.Error.Offset!.Value, 0, cut);
            Assert.Equal(cut >= globalEnd ? 1 : 0, a.Globals.Count);
            Assert.Equal(cut >= reduceEnd ? 1 : 0, a.Calls.Count);
        }
    }

    [Fact]
    public void Truncating_every_real_fixture_never_escapes_as_an_exception()
    {
        foreach (var name in new[] { "benign-plain-p0.pkl", "benign-plain-p5.pkl", "benign-joblib.pkl", "benign-torch-legacy.pt" })
        {
            var data = Fixture.Read(name);
            for (var cut = 0; cut < data.Length; cut += Math.Max(1, data.Length / 400))
            {
                var a = PickleMachine.Analyze(data.AsSpan(0, cut));
                Assert.True(a.Error is not null || a.PickleCount > 0, $"{name} cut at {cut}");
                Assert.DoesNotContain(PickleMachine.InternalErrorPrefix, a.Error?.Message ?? string.Empty, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public void Empty_input_is_an_error() => AssertError([], "empty input");

    [Fact]
    public void Garbage_is_an_error()
    {
        AssertError("\0\u0001 not a pickle"u8.ToArray(), "unknown opcode 0x00");
        AssertError("hello world, not a pickle"u8.ToArray(), "memo value not found");
    }

    [Theory]
    [InlineData(new byte[] { 0xff }, "unknown opcode 0xff")]
    [InlineData(new byte[] { 0x80, 0x04, 0x00 }, "unknown opcode 0x00")]
    [InlineData(new byte[] { 0x80, 0x06, (byte)'N', (byte)'.' }, "unsupported pickle protocol: 6")]
    public void Unknown_opcodes_and_protocols_are_errors(byte[] data, string message)
    {
        var a = AssertError(data, message);
        Assert.Equal(data.Length - (message.Contains("protocol", StringComparison.Ordinal) ? 4 : 1), a.Error!.Offset);
    }

    [Theory]
    [InlineData("R", "stack underflow")]
    [InlineData("0", "stack underflow")]
    [InlineData(".", "stack underflow")]
    [InlineData("N(R", "stack underflow")]
    [InlineData("Nt.", "without a preceding MARK")]
    [InlineData("N1", "without a preceding MARK")]
    [InlineData("(N.", "MARK(s) are still open")]
    [InlineData("h\u0005", "memo value not found at index 5")]
    [InlineData("g12\n", "memo value not found at index 12")]
    [InlineData("Np-1\n", "negative PUT argument")]
    [InlineData("(I1\nI2\nI3\nd.", "odd number of items for DICT")]
    [InlineData("}(I1\nu.", "odd number of items for SETITEMS")]
    [InlineData("I1\nI2\na.", "APPEND applied to a int")]
    [InlineData("Iabc\n.", "INT argument is not an integer")]
    [InlineData("Fx\n.", "FLOAT argument is not a number")]
    [InlineData("Sabc\n.", "must be quoted")]
    [InlineData("S'\\x4'\n.", "bad escape")]
    [InlineData("V\\u12\n.", "raw-unicode-escape")]
    [InlineData("cos\nsys", "no terminating newline")]
    [InlineData("\u0093", "stack underflow")]
    [InlineData("K\u0001K\u0002\u0093", "STACK_GLOBAL requires str")]
    public void Misused_opcodes_are_errors_with_a_clear_message(string latin1, string message) =>
        AssertError(System.Text.Encoding.Latin1.GetBytes(latin1), message);

    [Fact]
    public void Invalid_utf8_is_an_error()
    {
        AssertError(PickleBuilder.Create(4).Raw(0x8c, 2, 0xc3, 0x28).Stop().ToArray(), "not valid UTF-8");
        AssertError([(byte)'c', 0xff, (byte)'\n', (byte)'x', (byte)'\n', (byte)'.'], "valid UTF-8");
    }

    [Theory]
    [InlineData(new byte[] { 0x8d, 0, 0, 0, 0, 0, 0, 0, 0x40 })]
    [InlineData(new byte[] { 0x8e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff })]
    [InlineData(new byte[] { 0x96, 0, 0, 0, 0, 0, 0, 0, 0x7f })]
    [InlineData(new byte[] { 0x95, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f })]
    [InlineData(new byte[] { (byte)'X', 0xff, 0xff, 0xff, 0xff })]
    [InlineData(new byte[] { (byte)'B', 0xff, 0xff, 0xff, 0x7f })]
    [InlineData(new byte[] { 0x8b, 0xff, 0xff, 0xff, 0x7f })]
    [InlineData(new byte[] { (byte)'T', 0xff, 0xff, 0xff, 0x7f })]
    public void Huge_declared_lengths_are_truncation_without_allocating_them(byte[] data)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();

        var a = PickleMachine.Analyze(data);

        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 4_000_000);
        Assert.NotNull(a.Error);
        Assert.StartsWith("truncated", a.Error.Message, StringComparison.Ordinal);
        Assert.Equal(0, a.Error.Offset);
    }

    [Theory]
    [InlineData(new byte[] { (byte)'T', 0xff, 0xff, 0xff, 0xff }, "negative byte count")]
    [InlineData(new byte[] { 0x8b, 0xff, 0xff, 0xff, 0xff }, "negative byte count")]
    public void Negative_lengths_are_errors(byte[] data, string message) => AssertError(data, message);

    [Fact]
    public void Stack_bomb_hits_the_stack_limit()
    {
        var data = Enumerable.Repeat((byte)'N', 100_000).ToArray();

        var a = AssertError(data, "stack depth", new PickleLimits { MaxStackDepth = 10_000 });

        Assert.True(a.Error!.LimitExceeded);
    }

    [Fact]
    public void Mark_bomb_hits_the_mark_limit()
    {
        var a = AssertError(Enumerable.Repeat((byte)'(', 200_001).ToArray(), "number of open MARKs");

        Assert.True(a.Error!.LimitExceeded);
    }

    [Fact]
    public void Memo_bomb_hits_the_memo_limit()
    {
        var b = PickleBuilder.Create(4).None();
        for (var i = 0; i < 2000; i++)
        {
            b.Memoize();
        }

        var a = AssertError(b.Stop().ToArray(), "memo entries", new PickleLimits { MaxMemoEntries = 1000 });

        Assert.True(a.Error!.LimitExceeded);
    }

    [Fact]
    public void Sparse_memo_indices_do_not_allocate_pages_for_the_gap()
    {
        var b = PickleBuilder.Create(4).None();
        for (uint i = 0; i < 2000; i++)
        {
            b.LongBinPut(i * 2_000_000);
        }

        var data = b.LongBinGet(1999u * 2_000_000).Stop().ToArray();
        var before = GC.GetAllocatedBytesForCurrentThread();

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 8_000_000);
    }

    [Fact]
    public void Container_bomb_hits_the_object_limit()
    {
        var data = Enumerable.Repeat((byte)']', 50_000).ToArray();

        var a = AssertError(data, "number of containers", new PickleLimits { MaxObjects = 10_000 });

        Assert.True(a.Error!.LimitExceeded);
    }

    [Fact]
    public void Deeply_nested_containers_render_without_recursing_without_bound()
    {
        var b = PickleBuilder.Create(2).Global("t", "f");
        for (var i = 0; i < 100_000; i++)
        {
            b.EmptyList();
        }

        for (var i = 0; i < 99_999; i++)
        {
            b.Append();
        }

        var a = PickleMachine.Analyze(b.Tuple1().Reduce().Stop().ToArray());

        Assert.Null(a.Error);
        Assert.Equal("t.f([[[[…]]]])", Assert.Single(a.Calls).Rendered);
    }

    [Fact]
    public void Deep_call_chains_stay_bounded()
    {
        var b = PickleBuilder.Create(2).Global("os", "system").BinPut(0).Pop().Str("x").BinPut(1).Pop();
        for (var i = 0; i < 20_000; i++)
        {
            b.BinGet(0).BinGet(1).Tuple1().Reduce().BinPut(1).Pop();
        }

        b.BinGet(1);

        var a = PickleMachine.Analyze(b.Stop().ToArray());

        Assert.Null(a.Error);
        Assert.Equal(20_000, a.Calls.Count);
        Assert.All(a.Calls, c => Assert.True(c.Rendered.Length < 1000));
    }

    [Fact]
    public void Imports_inside_an_old_container_survive_the_recycling_of_its_children()
    {
        var b = PickleBuilder.Create(4).Global("t", "f")
            .EmptyList().Memoize().Mark().Int(1).Global("os", "system").Int(2).Appends().Pop();
        for (var i = 0; i < 40_000; i++)
        {
            // Lists of two, each taking a block of the ring (a tuple of two keeps its children beside the window).
            b.Mark().Int(i).Int(i).List().Pop();
        }

        var data = b.BinGet(0).Int(3).Append().Tuple1().Reduce().Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        var call = Assert.Single(a.Calls);
        Assert.Contains(call.Globals, g => g.FullName == "os.system");
        Assert.Equal("t.f([1, …])", call.Rendered);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Imports_inside_a_small_tuple_survive_it_leaving_the_window(int size)
    {
        var b = PickleBuilder.Create(4).Global("t", "f").Int(1);
        for (var i = 1; i < size; i++)
        {
            b.Global("os", "system");
        }

        b = (size == 2 ? b.Tuple2() : b.Tuple3()).Memoize().Pop();
        for (var i = 0; i < 300_000; i++)
        {
            b.EmptyList().Pop();
        }

        var data = b.BinGet(0).Tuple1().Reduce().Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        var call = Assert.Single(a.Calls);
        Assert.Contains(call.Globals, g => g.FullName == "os.system");
        Assert.Equal("t.f((1, …))", call.Rendered);
    }

    [Fact]
    public void A_small_tuple_in_the_window_keeps_all_its_children()
    {
        var data = PickleBuilder.Create(4).Global("t", "f").Int(1).Global("os", "system").Int(2).Tuple3()
            .Int(3).Int(4).Tuple2().Tuple2().Tuple1().Reduce().Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        Assert.Equal("t.f(((1, os.system, 2), (3, 4)))", Assert.Single(a.Calls).Rendered);
    }

    [Fact]
    public void Too_many_pickles_back_to_back_is_a_limit_error()
    {
        var one = PickleBuilder.Create(2).None().Stop().ToArray();

        var a = PickleMachine.Analyze([.. one, .. one, .. one], new PickleLimits { MaxPickles = 2 });

        Assert.NotNull(a.Error);
        Assert.True(a.Error.LimitExceeded);
        Assert.Equal(2, a.PickleCount);
    }

    [Fact]
    public void Analysis_past_its_time_limit_stops_with_a_limit_error()
    {
        var data = PickleBuilder.Create(4).Raw([.. Enumerable.Repeat((byte)'N', 300_000)]).Stop().ToArray();

        var a = PickleMachine.Analyze(data, new PickleLimits { Timeout = TimeSpan.Zero });

        Assert.NotNull(a.Error);
        Assert.True(a.Error.LimitExceeded);
        Assert.Contains("analysis time", a.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Cancellation_is_not_swallowed_as_bad_input()
    {
        var data = PickleBuilder.Create(4).Raw([.. Enumerable.Repeat((byte)'N', 300_000)]).Stop().ToArray();
        using var cts = new CancellationTokenSource();
        cts.Cancel();

        Assert.ThrowsAny<OperationCanceledException>(() => PickleMachine.Analyze(data, null, cts.Token));
    }

    [Fact]
    public void Input_over_the_size_limit_is_refused()
    {
        var a = PickleMachine.Analyze(new byte[100], new PickleLimits { MaxBytes = 10 });

        Assert.NotNull(a.Error);
        Assert.True(a.Error.LimitExceeded);
    }

    [Fact]
    public void Record_limit_bounds_imports_and_calls()
    {
        var b = PickleBuilder.Create(4).Str("os").Memoize().Str("system").Memoize().Pop().Pop();
        for (var i = 0; i < 1000; i++)
        {
            b.BinGet(0).BinGet(1).StackGlobal().Pop();
        }

        var a = AssertError(b.Stop().ToArray(), "number of recorded", new PickleLimits { MaxRecords = 100 });

        Assert.Equal(100, a.Globals.Count);
    }

    [Fact]
    public void Nested_zip_archive_is_not_misread_as_a_pickle()
    {
        var zip = "PK\u0003\u0004rest-of-a-zip"u8.ToArray();
        var data = PickleBuilder.Create(2).Global("torch", "load").Global("io", "BytesIO").Bytes(zip).Tuple1().Reduce().Tuple1().Reduce().Stop().ToArray();

        var nested = Assert.Single(PickleMachine.Analyze(data).Nested);

        Assert.NotNull(nested.Analysis.Error);
        Assert.Contains("zip archive", nested.Analysis.Error.Message, StringComparison.Ordinal);
    }
}
